import ArgumentParser
import StaveFormat
import StaveIO
import StaveReports

extension Stave {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show a store's parts and, per column, encodings, sizes and value ranges.",
            discussion: """
            Examples:
              stave inspect music.stave
              stave inspect music.stave -o layout.json
            """)

        @Argument(help: "The store directory.")
        var store: String

        /// Inspect writes a nested report (parts, then columns), not a table:
        /// text for people, json for programs. `table` is accepted for text, the
        /// name the query commands give their output for people.
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case text, json, table
            static var allValueStrings: [String] { ["text", "json"] }
        }

        @Option(help: "text (for people; table is the same) or json (for programs). The other commands' csv, ndjson, parquet and arrow do not apply: the report is nested, not a table. Default: json when -o names a .json file, else text.")
        var format: Format?

        @Option(name: .shortAndLong, help: "Write to this file (atomically, creating missing folders) instead of standard output.")
        var output: String?

        func run() throws {
            try guarded {
                let json = format == .json || (format == nil && output.map { extensionOf($0).lowercased() == "json" } == true)
                let info = StoreInfo(try Store.open(store))
                let out = try OutputFile(path: output)
                try out.write(json ? info.json() : info.text())
                try out.commit()
            }
        }
    }
}

extension Stave {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check every checksum and structural rule of a store.",
            discussion: """
            Exit 0 only when the store is sound; otherwise each problem is printed and the exit code is 66.

            Examples:
              stave verify music.stave
              stave verify music.stave && cp -r music.stave /backup/
            """)

        @Argument(help: "The store directory.")
        var store: String

        @Flag(help: "Print nothing when the store is sound.")
        var quiet = false

        func run() throws {
            let report = Verifier.verify(store)
            if report.isSound {
                if !quiet { print("\(store): OK (\(report.chunksChecked) chunks, \(report.rowsChecked) rows checked)") }
                return
            }
            for p in report.problems { printError("stave: \(p)") }
            printError("stave: \(store): \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s") found")
            throw ExitCode(report.problems.first?.exitCode ?? 66)
        }
    }
}
