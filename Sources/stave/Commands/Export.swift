import ArgumentParser
import StaveFormat
import StaveIO
import StaveQuery
import StaveReports
import StaveInterop

extension Stave {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write every event (or every customer) back out, losslessly.",
            discussion: """
            CSV is written in the original export's shape (datetime and zip quoted,
            LF); with --no-header and --order event it reproduces a tracks.csv
            byte for byte. Store order groups events by month, then customer;
            --order event sorts by event id (holds the whole table in memory).

            --table customers writes the customer table instead: as CSV in the
            original cust.csv shape (header, CRLF, quoted strings, MM/DD/YYYY), so
            a generated cust.csv comes back byte for byte; JSON, NDJSON and table
            with stave's column names (sign_date in ISO form, level and campaign
            by name).

            --format parquet writes standard Apache Parquet (zstd, row groups of
            about a million rows with statistics): event_id, customer_id,
            track_id INT64; datetime TIMESTAMP (microseconds, local time); mobile
            INT32; listening_zip STRING (five digits). DuckDB, PyArrow, Polars and
            Spark read it without options. With --partitions N, -o names a
            directory that receives part-00000.parquet ... one per partition, and
            every event of a customer lands in the same file. The layout is
            described in formats/PARQUET.md.

            Examples:
              stave export music.stave -o music.parquet
              stave export music.stave --customer 48 --from 2014-12-01 --format csv
              stave export music.stave --table customers -o cust.csv
            """
        )

        enum Order: String, ExpressibleByArgument { case store, event }
        enum Table: String, ExpressibleByArgument { case events, customers }

        /// What export writes: every OutputFormat but arrow (an Arrow stream is
        /// for query results).
        enum Format: String, CaseIterable, ExpressibleByArgument {
            case csv, json, ndjson, table, parquet
            var outputFormat: OutputFormat { OutputFormat(rawValue: rawValue)! }
        }

        struct ExportOutputOptions: ParsableArguments {
            @Option(name: .long, help: "Output format. Default: from the -o name's extension (.csv, .json, .ndjson, .parquet), else table on a terminal and csv otherwise.")
            var format: Format?

            @Option(name: .shortAndLong, help: "Write to this file (atomically, creating missing folders) instead of standard output; with --partitions, the directory to create.")
            var output: String?

            static let allowed = Format.allCases.map(\.outputFormat)

            func validate() throws { _ = try checkedFormat(explicit: format?.outputFormat, output: output, allowed: Self.allowed) }

            func resolvedFormat() -> OutputFormat { (try? checkedFormat(explicit: format?.outputFormat, output: output, allowed: Self.allowed)) ?? .csv }

            func open() throws -> OutputFile { try OutputFile(path: output) }
        }

        @Argument(help: "The store directory.")
        var store: String

        @OptionGroup var filter: FilterOptions

        @Option(help: "At most this many events (the first in the chosen order).")
        var limit: Int?

        @OptionGroup var output: ExportOutputOptions

        @Option(help: "Row order: store or event.")
        var order: Order = .store

        @Flag(inversion: .prefixedNo, help: "Write a CSV header line.")
        var header = true

        @Option(help: "Which table: events or customers.")
        var table: Table = .events

        @Option(help: "With --format parquet: split the events into this many files by customer (-o is then a directory).")
        var partitions: Int?

        @OptionGroup var threads: ThreadOptions

        func validate() throws {
            if let limit, limit < 0 { throw ValidationError("--limit must be >= 0") }
            if table == .customers, limit != nil || !filter.fromValues.isEmpty || !filter.toValues.isEmpty || !filter.customerValues.isEmpty {
                throw ValidationError("--from, --to, --customer and --limit select events; --table customers writes the whole customer table (one customer's attributes: stave customer STORE ID)")
            }
            if let partitions {
                guard output.resolvedFormat() == .parquet else { throw ValidationError("--partitions needs --format parquet") }
                guard (1...1024).contains(partitions) else { throw ValidationError("--partitions must be 1...1024") }
                guard table == .events else { throw ValidationError("--partitions splits the events table") }
                guard let o = output.output, o != "-" else { throw ValidationError("--partitions needs -o DIRECTORY") }
            }
        }

        func run() throws {
            try guarded {
                let s = try Store.open(store)
                let format = output.resolvedFormat()
                if format == .parquet { return try exportParquet(s) }
                if table == .customers {
                    let t = try Queries.customerTable(s)
                    let out = try output.open()
                    if format == .csv {
                        try CustomerExport.writeCSV(t, header: header, to: out)
                    } else {
                        try CustomerExport.table(t).write(format, to: out, header: header)
                    }
                    try out.commit(isCommitPoint: true)
                    return
                }
                let out = try output.open()
                try EventExport.writeHeader(format: format, header: header, to: out)
                var first = true
                try forEachSelectedRowGroup(s) { try EventExport.writeRows($0, format: format, first: &first, to: out) }
                try EventExport.writeFooter(format: format, wroteAny: !first, to: out)
                try out.commit(isCommitPoint: true)
            }
        }

        /// The events the filters and --limit select, in --order, a row group
        /// at a time (store order) or all at once (event order).
        func forEachSelectedRowGroup(_ s: Store, _ body: (EventColumns) throws -> Void) throws {
            let filter = try self.filter.makeFilter()
            var left = limit ?? Int.max
            func deliver(_ cols: EventColumns) throws -> Bool {
                guard left > 0 else { return false }
                let take = min(left, cols.count)
                try body(take == cols.count ? cols : EventColumns(columns: cols.columns.map { Array($0.prefix(take)) }))
                left -= take
                return left > 0
            }
            switch order {
            case .store: try RowReader.forEachRowGroup(s, filter: filter, deliver)
            case .event: _ = try deliver(try RowReader.allRowsByEventID(s, filter: filter))
            }
        }

        /// Parquet: one file, or with --partitions a directory of files built
        /// under a temporary name and renamed into place when all are written.
        func exportParquet(_ s: Store) throws {
            if table == .customers {
                let out = try output.open()
                try ParquetExport.writeCustomers(try Queries.customerTable(s), to: out, threads: threads.count)
                try out.commit(isCommitPoint: true)
                return
            }
            let n = partitions ?? 1
            var files: [ParquetExport.EventFile] = []
            var directory: String? = nil
            var cleanupToken: Int? = nil
            defer { if let cleanupToken { Temporaries.unregister(cleanupToken) } }
            if let partitions {
                let final = output.output!
                Temporaries.cleanStale(final)
                guard Sys.kind(final) == .missing else { throw StaveError.outputExists(path: final) }
                let temp = final + ".tmp-\(Sys.pid)"
                // Registered before it exists (see OutputFile); the defer above unregisters it.
                cleanupToken = Temporaries.register(temp, directory: true)
                try Sys.mkdir(temp)
                directory = temp
                for k in 0..<partitions {
                    let name = "part-" + String(repeating: "0", count: max(0, 5 - String(k).count)) + String(k) + ".parquet"
                    files.append(try ParquetExport.EventFile(out: try OutputFile(path: temp + "/" + name),
                                                             groupRows: max(1 << 13, ParquetExport.rowGroupRows / partitions), threads: threads.count))
                }
            } else {
                files.append(try ParquetExport.EventFile(out: try output.open(), threads: threads.count))
            }
            do {
                func add(_ cols: EventColumns) throws {
                    if n == 1 { return try files[0].append(cols.columns, rows: 0..<cols.count) }
                    let customers = cols.columns[EventsSchema.customerID]
                    for i in 0..<cols.count { try files[ParquetExport.partition(of: customers[i], among: n)].append(row: cols.columns, i) }
                }
                try forEachSelectedRowGroup(s) { try add($0) }
                for f in files { try f.finish() }
            } catch {
                if let directory { Sys.removeFlatDirectory(directory) }
                throw error
            }
            if let directory {
                try Sys.fsyncDirectory(directory)
                try Sys.rename(directory, output.output!)
                try Sys.fsyncDirectory(parentDirectory(of: output.output!))
            }
        }
    }
}
