import ArgumentParser
import StaveFormat
import StaveInterop
import StaveIngest
import StaveIO
import StaveQuery
import StaveReports
#if canImport(Glibc)
import Glibc
#endif

extension OutputFormat: ExpressibleByArgument {}
extension ColumnNaming: ExpressibleByArgument {}

/// Runs a command body, turning StaveError into one line on stderr and its
/// exit code.
/// With `cleanupOnSignal` (all but follow, which commits on a signal, and
/// serve, which hands its signals to the server it runs), SIGINT and
/// SIGTERM remove the command's temporary files before it exits.
func guarded(cleanupOnSignal: Bool = true, _ body: () throws -> Void) throws {
    if cleanupOnSignal { Temporaries.enableSignalCleanup() }
    do {
        try body()
    } catch let e as StaveError {
        printError("stave: \(e)")
        throw ExitCode(e.exitCode)
    } catch let e as ParquetError {
        // A Parquet input stave cannot read (mapped where it is read; this
        // is the net for a path that forgot to).
        printError("stave: \(e)")
        throw ExitCode(65)
    } catch let e as ParameterError {
        printError("stave: \(e.message)")
        throw ExitCode(64)
    } catch where error is ExitCode || error is ValidationError || error is CleanExit {
        throw error
    } catch {
        // Anything else is a bug in stave: EX_SOFTWARE, never a code that
        // claims bad input or a damaged store.
        printError("stave: internal error: \(error) (please report it)")
        throw ExitCode(70)
    }
}

func printError(_ text: String) {
    var line = Array(text.utf8)
    line.append(10)
    line.withUnsafeBytes { _ = try? Sys.writeAll(2, $0, path: "<stderr>") }
}

var defaultThreads: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: csv, json, ndjson, table, parquet or arrow (an Arrow IPC stream). Default: from the -o name's extension (.csv, .json, .ndjson, .parquet, .arrow/.arrows), else table on a terminal and csv otherwise.")
    var format: OutputFormat?

    @Option(name: .shortAndLong, help: "Write to this file (atomically, creating missing folders) instead of standard output.")
    var output: String?

    @Option(help: "Column names: current (plays, mobile_plays, first_play...) or v1, the names of stave's first releases (total_tracks, mobile_tracks, events, mobile_events...), for scripts that read them. Default: $STAVE_COLUMN_NAMES, else current.")
    var columnNames: ColumnNaming?

    func validate() throws {
        _ = try checkedFormat(explicit: format, output: output, allowed: OutputFormat.allCases)
        _ = try naming()
    }

    /// --column-names, else $STAVE_COLUMN_NAMES, else current.
    func naming() throws -> ColumnNaming { try Self.naming(columnNames) }

    static func naming(_ columnNames: ColumnNaming?) throws -> ColumnNaming {
        if let columnNames { return columnNames }
        guard let text = getenv("STAVE_COLUMN_NAMES").map({ String(cString: $0) }), !text.isEmpty else { return .current }
        guard let n = ColumnNaming(rawValue: text) else { throw ValidationError("STAVE_COLUMN_NAMES='\(text)' is not current or v1") }
        return n
    }

    func resolvedFormat() -> OutputFormat { (try? checkedFormat(explicit: format, output: output, allowed: OutputFormat.allCases)) ?? .csv }

    func open() throws -> OutputFile { try OutputFile(path: output) }
}

/// The format an output is written in: --format when given, else the one
/// the -o name's extension says, else table on a terminal and csv
/// otherwise. A --format that contradicts the extension, a format the
/// command does not write, and a binary format bound for a terminal are
/// usage errors.
func checkedFormat(explicit: OutputFormat?, output: String?, allowed: [OutputFormat]) throws -> OutputFormat {
    let named = output.flatMap(OutputFormat.init(fileName:))
    if let explicit, let named, explicit != named {
        throw ValidationError("--format \(explicit.rawValue) contradicts -o \(output!), a .\(extensionOf(output!)) name: drop --format or rename the output")
    }
    let format = explicit ?? named ?? ((output == nil && Sys.isTerminal(1)) ? .table : .csv)
    guard allowed.contains(format) else {
        throw ValidationError("this command writes \(allowed.map(\.rawValue).joined(separator: ", ")), not \(format.rawValue)" + (explicit == nil ? " (chosen by the -o name)" : ""))
    }
    if format.isBinary, output == nil || output == "-", Sys.isTerminal(1) {
        throw ValidationError("--format \(format.rawValue) is binary: write it to a file with -o FILE (or pipe it)")
    }
    return format
}

func extensionOf(_ path: String) -> String {
    let name = path.split(separator: "/").last.map(String.init) ?? path
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
    return String(name[name.index(after: dot)...])
}

extension OutputFormat {
    /// The format a file name's extension names (case-insensitive), or nil.
    init?(fileName: String) {
        switch extensionOf(fileName).lowercased() {
        case "csv": self = .csv
        case "json": self = .json
        case "ndjson", "jsonl": self = .ndjson
        case "parquet": self = .parquet
        case "arrow", "arrows": self = .arrow
        default: return nil
        }
    }
}

struct FilterOptions: ParsableArguments {
    // Arrays, so that a repeated option is seen: --from and --to once at
    // most (as the API refuses a repeated parameter), --customer as often as
    // wanted (the lists join, as in the API).
    @Option(name: .customLong("from"), help: "Only plays at or after this time: YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]' (or with a T).")
    var fromValues: [String] = []

    @Option(name: .customLong("to"), help: "Only plays before this time, same forms as --from (the range is half-open: --to 2014-12-01 ends at November's last second).")
    var toValues: [String] = []

    @Option(name: .customLong("customer"), help: "Only these customers: ID[,ID...]; may be repeated (the lists join).")
    var customerValues: [String] = []

    var from: String? { fromValues.last }
    var to: String? { toValues.last }

    func validate() throws {
        if fromValues.count > 1 { throw ValidationError("--from is given more than once") }
        if toValues.count > 1 { throw ValidationError("--to is given more than once") }
        _ = try makeFilter()
    }

    func makeFilter() throws -> QueryFilter { try Self.makeFilter(from: from, to: to, customerValues: customerValues) }

    static func makeFilter(from: String?, to: String?, customerValues: [String]) throws -> QueryFilter {
        let from = try cli(from.map { QueryParameters.bound("--from", $0) })
        let to = try cli(to.map { QueryParameters.bound("--to", $0) })
        if let e = QueryParameters.range(from: from, to: to, fromName: "--from", toName: "--to") { throw ValidationError("\(e.parameter) \(e.message)") }
        let joined = customerValues.isEmpty ? nil : customerValues.joined(separator: ",")
        let customers = try cli(joined.map { QueryParameters.customers("--customer", $0) })
        return QueryFilter(from: from, to: to, customers: customers)
    }
}

/// A shared parameter parser's result as a command-line error
/// ("--from '2014-13-01': month out of range").
func cli<T>(_ r: Result<T, ParameterError>?) throws -> T? {
    guard let r else { return nil }
    switch r {
    case .success(let v): return v
    case .failure(let e): throw ValidationError("\(e.parameter): \(e.message)")
    }
}

/// What every query command takes: the time range and customer list, and
/// the attribute filters.
func makeScope(_ filter: FilterOptions, _ attributes: CustomerFilterOptions) throws -> QueryScope {
    let f = try filter.makeFilter()
    return QueryScope(from: f.from, to: f.to, customers: f.customers, attributes: try attributes.makeFilter())
}

/// One query command with its options resolved: the store, the request,
/// and how to run and write it. The query commands build it from their
/// parsed options; `FastQueryArguments` builds it straight from the
/// command line for the common forms, so both reach `execute` alike.
struct QueryInvocation: Equatable {
    var store: String
    var request: QueryRequest
    var threads: Int
    var format: OutputFormat
    var output: String?
    var limit: Int? = nil
    var verbose = false

    /// From a query command's parsed options (which `validate()` checked).
    init(store: String, _ kind: QueryKind, scope: QueryScope, output: OutputOptions, threads: ThreadOptions,
         limit: Int? = nil, verbose: Bool = false) throws {
        self.init(store: store, request: QueryRequest(kind, scope: scope, naming: try output.naming()), threads: threads.count,
                  format: output.resolvedFormat(), output: output.output, limit: limit, verbose: verbose)
    }

    init(store: String, request: QueryRequest, threads: Int, format: OutputFormat, output: String?, limit: Int? = nil, verbose: Bool = false) {
        self.store = store
        self.request = request
        self.threads = threads
        self.format = format
        self.output = output
        self.limit = limit
        self.verbose = verbose
    }
}

/// Runs one query request against its store and writes its result: the
/// code path `stave serve` shares.
func execute(_ q: QueryInvocation) throws {
    try guarded {
        let phases = PhaseTimer(enabled: q.verbose)
        let context = QueryContext(store: try Store.open(q.store), threads: q.threads)
        phases.mark("open")
        let out = try OutputFile(path: q.output)
        try QueryRunner.write(q.request, in: context, format: q.format, to: out, limit: q.limit, phase: phases.enabled ? phases.mark : nil)
        try out.commit(isCommitPoint: true)
        phases.mark("output")
        phases.report()
    }
}

/// Runs one query command (see `QueryInvocation`).
func runQuery(store: String, _ kind: QueryKind, scope: QueryScope, output: OutputOptions, threads: ThreadOptions,
              limit: Int? = nil, verbose: Bool = false) throws {
    try execute(QueryInvocation(store: store, kind, scope: scope, output: output, threads: threads, limit: limit, verbose: verbose))
}

/// --limit for the query commands without paging of their own.
struct LimitOptions: ParsableArguments {
    @Option(help: "At most this many rows (the first ones).")
    var limit: Int?

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be >= 0") }
    }
}

struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: "Worker threads (default: the number of cores).")
    var threads: Int?

    func validate() throws {
        if let threads, !Self.allowed.contains(threads) { throw ValidationError("--threads must be 1...256") }
    }

    static let allowed = 1...256

    var count: Int { threads ?? defaultThreads }
}

/// A one-line progress display on stderr, only when stderr is a terminal:
/// the amount done (of the total, with a bar, when known), rows when
/// counted, and the rate since the first update (not since the display
/// was made, so a phase that starts late is not shown slow).
final class Progress {
    let label: String
    let enabled: Bool
    var last = 0.0
    /// When the first update came, and the amount done then.
    var start: Double?
    var startDone = 0

    init(label: String, quiet: Bool) {
        self.label = label
        enabled = !quiet && Sys.isTerminal(2)
    }

    /// `force`: draw even if the last drawing was under 0.1 s ago (the
    /// final counts of a phase).
    func update(done: Int, total: Int?, unit: String = "MB", scale: Double = 1e6, rows: Int? = nil, force: Bool = false) {
        guard enabled else { return }
        let now = Sys.monotonicSeconds()
        if start == nil { (start, startDone) = (now, done) }
        guard force || now - last >= 0.1 else { return }
        last = now
        let rate = Double(done - startDone) / scale / max(now - start!, 1e-3)
        var text = "\r\(label)  \(format(Double(done) / scale)) \(unit)"
        if let total, total > 0 {
            let frac = min(1, Double(done) / Double(total))
            let width = 30
            let filled = Int(frac * Double(width))
            text += " / \(format(Double(total) / scale)) \(unit)  [" + String(repeating: "=", count: filled)
                + String(repeating: " ", count: width - filled) + "] \(Int(frac * 100))%"
        }
        if let rows { text += "  \(groupedThousands(rows)) rows" }
        if now - start! >= 0.2 { text += "  \(format(rate)) \(unit)/s" }
        text += "\u{1B}[K"
        var bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = try? Sys.writeAll(2, $0, path: "<stderr>") }
        bytes.removeAll()
    }

    func finish() {
        guard enabled, start != nil else { return }
        var bytes = Array("\r\u{1B}[K".utf8)
        bytes.withUnsafeBytes { _ = try? Sys.writeAll(2, $0, path: "<stderr>") }
        bytes.removeAll()
        start = nil
    }

    func format(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r.description
    }
}

func humanBytes(_ n: Double) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = n
    var k = 0
    while v >= 1000 && k < units.count - 1 { v /= 1000; k += 1 }
    return k == 0 ? "\(Int(v)) B" : "\((v * 10).rounded() / 10) \(units[k])"
}

func groupedThousands(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (k, ch) in s.enumerated() {
        if k > 0 && (s.count - k) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// Filters on customer attributes (need the store's customer table).
struct CustomerFilterOptions: ParsableArguments {
    // Each may be repeated: the lists join (as the API's repeated parameters do).
    @Option(name: .customLong("level"), help: "Only customers of these levels: Free, Silver, Gold (or 0-2), comma-separated; may be repeated.")
    var levels: [String] = []

    @Option(name: .customLong("campaign"), help: "Only customers of these sign-up campaigns: NONE, 30DAYFREE, SUPERBOWL, RETAILSTORE, WEBOFFER (or 0-4); may be repeated.")
    var campaigns: [String] = []

    @Option(name: .customLong("gender"), help: "Only customers of this gender code: 0 or 1; may be repeated.")
    var genders: [String] = []

    @Option(name: .customLong("status"), help: "Only customers of this status: 0 (closed) or 1 (active); may be repeated.")
    var statuses: [String] = []

    func validate() throws { _ = try makeFilter() }

    static func joined(_ values: [String]) -> String? { values.isEmpty ? nil : values.joined(separator: ",") }

    func makeFilter() throws -> CustomerFilter {
        CustomerFilter(levels: try cli(Self.joined(levels).map { QueryParameters.codes("--level", $0, attribute: "level") }),
                       campaigns: try cli(Self.joined(campaigns).map { QueryParameters.codes("--campaign", $0, attribute: "campaign") }),
                       genders: try cli(Self.joined(genders).map { QueryParameters.codes("--gender", $0, attribute: "gender") }),
                       statuses: try cli(Self.joined(statuses).map { QueryParameters.codes("--status", $0, attribute: "status") }))
    }
}

extension BreakdownKey: ExpressibleByArgument {}

/// How events CSV is read: shared by convert and append.
/// How rows are read and which are set aside: the options `convert`,
/// `append` and `follow` share.
struct CSVRowOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "The first line is (--header) or is not (--no-header) a header. Default: detected.")
    var header: Bool?

    @Flag(help: "Keep good rows and set bad ones aside instead of stopping at the first.")
    var skipBadRows = false

    @Option(help: "With --skip-bad-rows: write bad rows here, with line number and reason (follow appends to the file).")
    var rejects: String?

    @Flag(help: "Keep rows whose event id is already in the store or earlier in the input (by default: an error, or a reject with --skip-bad-rows).")
    var allowDuplicateIds = false

    func validate() throws {
        if rejects != nil && !skipBadRows { throw ValidationError("--rejects needs --skip-bad-rows") }
    }

    var headerMode: HeaderMode { header.map { $0 ? .present : .absent } ?? .auto }
}

/// The CSV options of `convert` and `append`: the shared row options and
/// the bounds of a conversion.
struct CSVInputOptions: ParsableArguments {
    @OptionGroup var rows: CSVRowOptions

    var skipBadRows: Bool { rows.skipBadRows }
    var rejects: String? { rows.rejects }

    @Option(help: "With --skip-bad-rows: stop (exit 65, nothing written) after this many bad rows.")
    var maxErrors: Int?

    @Option(help: "Rows held in memory before they are sorted and set aside in scratch parts (bounds memory: 24 bytes a row in a buffer, about 140 bytes a row at the peak, while one buffer fills and the previous one is sorted and written: under 512 MiB with the default).")
    var bufferRows = 3_500_000

    func validate() throws {
        if maxErrors != nil && !skipBadRows { throw ValidationError("--max-errors needs --skip-bad-rows") }
        if let maxErrors, maxErrors < 1 { throw ValidationError("--max-errors must be >= 1") }
        guard bufferRows >= 1 && bufferRows <= 100_000_000 else { throw ValidationError("--buffer-rows must be 1...100000000") }
    }

    /// The converter options these flags set.
    func apply(to options: inout ConvertOptions) {
        options.header = rows.headerMode
        options.skipBadRows = rows.skipBadRows
        options.rejectsPath = rows.rejects
        options.maxErrors = maxErrors
        options.bufferRows = bufferRows
        options.allowDuplicateIDs = rows.allowDuplicateIds
    }

    /// "; N bad rows skipped (see FILE)" for summaries, or "".
    func skippedNote(_ n: Int) -> String {
        guard skipBadRows else { return "" }
        return "; \(groupedThousands(n)) bad row\(n == 1 ? "" : "s") skipped" + (rejects.map { " (see \($0))" } ?? "")
    }
}
