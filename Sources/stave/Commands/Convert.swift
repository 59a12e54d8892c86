import ArgumentParser
import StaveFormat
import StaveIngest
import StaveIO

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert tracks.csv into a new store.",
        discussion: """
        Input: RFC 4180 CSV with the columns event_id, customer_id, track_id,
        datetime (YYYY-MM-DD HH:MM:SS), mobile (0/1), listening_zip (5 digits);
        fields bare or double-quoted; LF or CRLF; a header line is detected
        (first field not a number) and checked against those names.

        The first malformed row stops the conversion (exit 65) with
        FILE:LINE:COLUMN and nothing is written. With --skip-bad-rows, bad rows
        go to --rejects as: line<TAB>column<TAB>reason<TAB>the row verbatim.

        The store appears atomically when complete.
        """
    )

    @Argument(help: "The CSV file, or - for standard input.")
    var input: String

    @Option(name: .shortAndLong, help: "The store directory to create.")
    var output: String

    @Flag(inversion: .prefixedNo, help: "The first line is (--header) or is not (--no-header) a header. Default: detected.")
    var header: Bool?

    @Flag(help: "Convert good rows and set bad ones aside instead of stopping at the first.")
    var skipBadRows = false

    @Option(help: "With --skip-bad-rows: write bad rows here, with line number and reason.")
    var rejects: String?

    @Option(help: "With --skip-bad-rows: stop (exit 65, nothing written) after this many bad rows.")
    var maxErrors: Int?

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @Option(help: "Rows buffered per part (bounds memory: about 60 bytes a row).")
    var bufferRows = 4_000_000

    @Option(help: "zstd level for chunks where it pays (0: never compress).")
    var zstdLevel: Int32 = 3

    @OptionGroup var threads: ThreadOptions

    @Flag(help: "No progress and no summary.")
    var quiet = false

    func validate() throws {
        if (rejects != nil || maxErrors != nil) && !skipBadRows {
            throw ValidationError("--rejects and --max-errors need --skip-bad-rows")
        }
        if let maxErrors, maxErrors < 1 { throw ValidationError("--max-errors must be >= 1") }
        guard bufferRows >= 1 && bufferRows <= 100_000_000 else { throw ValidationError("--buffer-rows must be 1...100000000") }
        guard (0...19).contains(zstdLevel) else { throw ValidationError("--zstd-level must be 0...19") }
    }

    func run() throws {
        try guarded {
            var options = ConvertOptions()
            options.header = header.map { $0 ? .present : .absent } ?? .auto
            options.skipBadRows = skipBadRows
            options.rejectsPath = rejects
            options.maxErrors = maxErrors
            options.bufferRows = bufferRows
            options.force = force
            options.threads = threads.count
            options.compression.level = zstdLevel
            let converter = Converter(input: input, output: output, options: options)
            let progress = Progress(label: "converting", quiet: quiet)
            converter.progress = { progress.update(done: $0, total: $1) }
            let s: ConvertSummary
            do {
                s = try converter.run()
            } catch {
                progress.finish()
                throw error
            }
            progress.finish()
            if !quiet {
                let ratio = s.outputBytes > 0 ? Double(s.inputBytes) / Double(s.outputBytes) : 0
                var line = "converted \(groupedThousands(s.rows)) rows, \(humanBytes(Double(s.inputBytes))) of CSV into \(output) "
                line += "(\(humanBytes(Double(s.outputBytes))), \((ratio * 10).rounded() / 10)x smaller, \(s.parts) part\(s.parts == 1 ? "" : "s")) "
                line += "in \((s.seconds * 100).rounded() / 100) s"
                if skipBadRows { line += "; \(groupedThousands(s.rejected)) bad row\(s.rejected == 1 ? "" : "s") skipped" + (rejects.map { " (see \($0))" } ?? "") }
                printError(line)
            }
        }
    }
}
