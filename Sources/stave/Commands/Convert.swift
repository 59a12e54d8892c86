import ArgumentParser
import StaveFormat
import StaveIngest
import StaveIO

extension Stave {
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "convert",
            abstract: "Convert tracks.csv (and cust.csv) into a new store, or replace a store's customer table.",
            discussion: """
            Input: RFC 4180 CSV with the columns event_id, customer_id, track_id,
            datetime (YYYY-MM-DD HH:MM:SS), mobile (0/1), listening_zip (5 digits);
            fields bare or double-quoted; LF or CRLF; a header line is detected
            (first field not a number) and checked against those names.

            The first malformed row stops the conversion (exit 65) with
            FILE:LINE:COLUMN and nothing is written. With --skip-bad-rows, bad rows
            go to --rejects as: line<TAB>column<TAB>reason<TAB>the row verbatim.

            The store appears atomically when complete.

            --customers FILE adds the customer table from cust.csv as exported
            (CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,
            LinkedWithApps; header detected; SignDate MM/DD/YYYY or YYYY-MM-DD;
            Level 0-2 or Free/Silver/Gold; Campaign 0-4 or NONE/30DAYFREE/
            SUPERBOWL/RETAILSTORE/WEBOFFER). A repeated CustID is an error naming
            both lines. Without an events input, `stave convert --customers
            cust.csv -o STORE` replaces the customer table of an existing store
            atomically.

            Examples:
              stave convert tracks.csv --customers cust.csv -o music.stave
              stave convert events.csv.gz -o music.stave --skip-bad-rows --rejects bad.tsv
              stave generate --rows 100000000 -o - | stave convert - -o big.stave
            """
        )

        @Argument(help: "The events CSV file (tracks.csv), or - for standard input. Omit it to replace the customer table of the store -o names.")
        var input: String?

        @Option(name: .shortAndLong, help: "The store directory to create (or, without an input, to update).")
        var output: String

        @Option(help: "cust.csv: store it as the customer table.")
        var customers: String?

        @Option(help: "With --skip-bad-rows: write bad cust.csv rows here, as --rejects does for events.")
        var customerRejects: String?

        @OptionGroup var csv: CSVInputOptions

        @Flag(help: "Replace the output if it exists.")
        var force = false

        @Option(help: "zstd level for chunks where it pays (0: never compress).")
        var zstdLevel: Int32 = 3

        @OptionGroup var threads: ThreadOptions

        @Flag(help: "No progress and no summary.")
        var quiet = false

        func validate() throws {
            if customerRejects != nil && !csv.skipBadRows { throw ValidationError("--customer-rejects needs --skip-bad-rows") }
            if input == nil && customers == nil { throw ValidationError("give an events CSV to convert, or --customers FILE to replace a store's customer table") }
            if input == nil && csv.rejects != nil { throw ValidationError("--rejects is for the events input; use --customer-rejects") }
            guard (0...19).contains(zstdLevel) else { throw ValidationError("--zstd-level must be 0...19") }
        }

        var customerOptions: CustomerLoadOptions {
            var c = CustomerLoadOptions()
            c.skipBadRows = csv.skipBadRows
            c.rejectsPath = customerRejects
            c.maxErrors = csv.maxErrors
            return c
        }

        func run() throws {
            guard let input else { return try replaceCustomers() }
            try guarded {
                var options = ConvertOptions()
                options.customersPath = customers
                options.customerOptions = customerOptions
                csv.apply(to: &options)
                options.force = force
                options.threads = threads.count
                options.compression.level = zstdLevel
                let converter = Converter(input: input, output: output, options: options)
                let progress = Progress(label: "converting", quiet: quiet)
                converter.progress = { progress.update(done: $0.bytes, total: $0.totalBytes, rows: $0.rows, force: $0.done) }
                let layout = Progress(label: "laying out", quiet: quiet)
                converter.mergeProgress = { progress.finish(); layout.update(done: $0, total: $1, unit: "M rows") }
                defer { layout.finish() }
                let s: ConvertSummary
                do {
                    s = try converter.run()
                } catch {
                    progress.finish()
                    throw error
                }
                progress.finish()
                layout.finish()
                if !quiet {
                    let ratio = s.outputBytes > 0 ? Double(s.inputBytes) / Double(s.outputBytes) : 0
                    var line = "converted \(groupedThousands(s.rows)) rows, \(humanBytes(Double(s.inputBytes))) of \(s.inputKind)"
                    if let c = s.compressed { line += " (from \(humanBytes(Double(c.bytes))) of \(c.kind))" }
                    line += " into \(output) "
                    line += "(\(humanBytes(Double(s.outputBytes))), \((ratio * 10).rounded() / 10)x smaller, \(s.parts) part\(s.parts == 1 ? "" : "s")) "
                    line += "in \((s.seconds * 100).rounded() / 100) s"
                    if s.layoutSeconds > 0 { line += " (\((s.layoutSeconds * 100).rounded() / 100) s of it laying out \(s.parts) customer ranges)" }
                    line += csv.skippedNote(s.rejected)
                    if s.blankLines > 0 { line += "; \(groupedThousands(s.blankLines)) blank line\(s.blankLines == 1 ? "" : "s") skipped" }
                    if customers != nil {
                        line += "; \(groupedThousands(s.customers)) customers"
                        if csv.skipBadRows { line += " (\(groupedThousands(s.customersRejected)) bad row\(s.customersRejected == 1 ? "" : "s") skipped" + (customerRejects.map { ", see \($0)" } ?? "") + ")" }
                    }
                    printError(line)
                }
            }
        }

        /// `stave convert --customers cust.csv -o STORE`: replace the customer table.
        func replaceCustomers() throws {
            try guarded {
                let t0 = Sys.monotonicSeconds()
                guard let path = customers else { return }
                let loaded = try CustomerLoader.load(path: path, options: customerOptions)
                var policy = CompressionPolicy()
                policy.level = zstdLevel
                let (entry, previous) = try StoreEditor.replaceCustomers(store: output, table: loaded.table, policy: policy)
                let now = loaded.table.count
                // A table much smaller than the one it replaced is more often a
                // wrong file (a sample, a filtered export) than a shrinking
                // service: said even with --quiet, with both counts.
                if let previous, now < previous / 2 {
                    printError("stave: warning: the new customer table of \(output) has \(groupedThousands(now)) customer\(now == 1 ? "" : "s"), the one it replaced had \(groupedThousands(previous)) "
                               + "(\(groupedThousands(previous - now)) fewer): attribute filters and --with-customers now know only these; "
                               + "to undo, run this command again with the previous cust.csv")
                }
                if !quiet {
                    var line = "stored \(groupedThousands(now)) customers from \(path) in \(output)/\(entry.name) (\(humanBytes(Double(entry.bytes))))"
                    if let previous { line += ", replacing \(groupedThousands(previous))," }
                    line += " "
                    line += "in \((((Sys.monotonicSeconds() - t0) * 100).rounded() / 100)) s"
                    if csv.skipBadRows { line += "; \(groupedThousands(loaded.rejected)) bad row\(loaded.rejected == 1 ? "" : "s") skipped" + (customerRejects.map { " (see \($0))" } ?? "") }
                    printError(line)
                }
            }
        }
    }
}
