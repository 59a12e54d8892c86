import ArgumentParser
import StaveFormat
import StaveIO
import StaveReports

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a store's parts and, per column, encodings, sizes and value ranges.")

    @Argument(help: "The store directory.")
    var store: String

    @Option(help: "text or json.")
    var format: String = "text"

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        guard format == "text" || format == "json" || format == "table" else { throw ValidationError("--format must be text or json") }
    }

    func run() throws {
        try guarded {
            let info = StoreInfo(try Store.open(store))
            let out = try OutputFile(path: output)
            try out.write(format == "json" ? info.json() : info.text())
            try out.commit()
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum and structural rule of a store.",
        discussion: "Exit 0 only when the store is sound; otherwise each problem is printed and the exit code is 66.")

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
