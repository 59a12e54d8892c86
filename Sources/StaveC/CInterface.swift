import CStave
import StaveFormat
import StaveIngest
import StaveInterop
import StaveIO
import StaveQuery
import StaveReports
#if canImport(Glibc)
import Glibc
#endif

// The functions of stave.h (Sources/CStave/stave.h, which documents them),
// exported with C names. Each catches every error and turns it into the
// CLI's exit code and message: nothing thrown or trapped crosses into C.

// MARK: Store handles

/// An open store: its path and the snapshot queries read, opened again when
/// MANIFEST changes (an append here or in another process), so each query
/// sees the latest commit. Safe to share between threads.
final class StoreHandle: Sendable {
    let path: String
    let threads: Int
    private let state: Locked<(stamp: Sys.FileStamp?, context: QueryContext)>

    init(path: String, threads: Int) throws {
        self.path = path
        self.threads = threads
        let stamp = Sys.stamp(path: path + "/" + FormatConstants.manifestName)
        state = Locked((stamp, QueryContext(store: try Store.open(path), threads: threads)))
    }

    /// The query context of the store's current commit.
    func context() throws -> QueryContext {
        let now = Sys.stamp(path: path + "/" + FormatConstants.manifestName)
        return try state.withLock { s in
            guard let now else {
                throw StaveError.badStore(path: path, detail: Sys.kind(path) == .missing
                                          ? "the store is gone (deleted, or being replaced)"
                                          : "it has no MANIFEST (being replaced, or not a store any more)")
            }
            if now != s.stamp { s = (now, QueryContext(store: try Store.open(path), threads: threads)) }
            return s.context
        }
    }

    static func from(_ p: OpaquePointer) -> StoreHandle {
        Unmanaged<StoreHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}

// MARK: Errors and parameters

enum CInterface {
    struct Failure {
        var code: Int32
        var message: String
    }

    /// The CLI's exit code and message for `error`.
    static func failure(_ error: any Error) -> Failure {
        switch error {
        case let e as StaveError: return Failure(code: e.exitCode, message: "\(e)")
        case let e as ParameterError: return Failure(code: 64, message: "\(e.parameter): \(e.message)")
        case let e as ParquetError: return Failure(code: 65, message: "\(e)")
        default: return Failure(code: 70, message: "internal error: \(error) (please report it)")
        }
    }

    /// Runs `body`; on failure stores its message in *error (if given) and
    /// returns its code.
    static func call(_ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ body: () throws -> Void) -> Int32 {
        do {
            try body()
            return 0
        } catch {
            let f = failure(error)
            errorOut?.pointee = strdup(f.message)
            return f.code
        }
    }

    static func string(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
        guard let p else { throw ParameterError(what, "is NULL") }
        return String(cString: p)
    }

    /// The name/value pairs of a call.
    static func parameters(_ n: Int, _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?) throws -> [(String, String)] {
        guard n > 0 else { return [] }
        guard let names, let values else { throw ParameterError("parameters", "\(n) given with NULL names or values") }
        return try (0..<n).map { i in
            let name = try string(names[i], "parameter name \(i)")
            return (name, try string(values[i], name))
        }
    }

    /// Parameters as a dictionary of those in `allowed`: an unknown one, or
    /// one given twice, is an error (a typo never silently means "not given").
    static func options(_ pairs: [(String, String)], allowed: [String], of function: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in pairs {
            guard allowed.contains(name) else {
                throw ParameterError(name, "is not a parameter of \(function) (it takes: \(allowed.joined(separator: ", ")))")
            }
            guard out[name] == nil else { throw ParameterError(name, "is given more than once") }
            out[name] = value
        }
        return out
    }

    static func flag(_ o: [String: String], _ name: String) throws -> Bool? {
        try o[name].map { try QueryParameters.flag(name, $0).get() }
    }

    static func integer(_ o: [String: String], _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        try o[name].map { try QueryParameters.integer(name, $0, in: range).get() }
    }

    /// Converter options from the parameters convert and append share.
    static func convertOptions(_ o: [String: String]) throws -> ConvertOptions {
        var options = ConvertOptions()
        options.skipBadRows = try flag(o, "skip_bad_rows") ?? false
        options.rejectsPath = o["rejects"]
        options.maxErrors = try integer(o, "max_errors", 1...Int.max)
        if (options.rejectsPath != nil || options.maxErrors != nil) && !options.skipBadRows {
            throw ParameterError(o["rejects"] != nil ? "rejects" : "max_errors", "needs skip_bad_rows")
        }
        if let header = try flag(o, "header") { options.header = header ? .present : .absent }
        options.allowDuplicateIDs = try flag(o, "allow_duplicate_ids") ?? false
        options.threads = try integer(o, "threads", 1...1024) ?? processors
        return options
    }

    static var processors: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// A convert or append summary as a JSON object.
    static func json(_ s: ConvertSummary, extra: [(String, String)] = []) -> String {
        var fields = [("rows", String(s.rows)), ("rejected", String(s.rejected)), ("blank_lines", String(s.blankLines)),
                      ("parts", String(s.parts)), ("input_bytes", String(s.inputBytes)), ("output_bytes", String(s.outputBytes)),
                      ("seconds", String(s.seconds)), ("customers", String(s.customers)),
                      ("customers_rejected", String(s.customersRejected)), ("input_kind", CellText.jsonString(s.inputKind))]
        fields += extra
        return "{" + fields.map { CellText.jsonString($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}

// MARK: Query results and event batches as Arrow

extension CInterface {
    /// A query's answer as the columns the CLI's `--format arrow` writes.
    static func arrowColumns(_ result: QueryResult) -> (columns: [ArrowColumn], rows: Int) {
        switch result {
        case .profile(let p): return (ProfileReport.arrowColumns(p), p.count)
        case .rows(let t, _), .object(let t): return (t.arrowColumns(), t.rows.count)
        case .stats(let s):
            let t = StatsReport.table(s)
            return (t.arrowColumns(), t.rows.count)
        }
    }

    /// The scan's columns, by name, as EventsSchema indices.
    static func scanColumns(_ text: String?) throws -> [Int] {
        let names = EventsSchema.columnNames
        guard let text else { return Array(names.indices) }
        var out: [Int] = []
        for name in text.split(separator: ",", omittingEmptySubsequences: false).map({ String($0).trimmingSpaces }) {
            guard let k = names.firstIndex(of: name) else {
                throw ParameterError("columns", "'\(name)' is not one of " + names.joined(separator: ", "))
            }
            guard !out.contains(k) else { throw ParameterError("columns", "'\(name)' is given twice") }
            out.append(k)
        }
        return out
    }

    static func scanFields(_ columns: [Int]) -> [ExportField] {
        columns.map { c in
            let name = EventsSchema.columns[c].name
            switch c {
            case EventsSchema.datetime: return ExportField(name: name, format: "tsu:", nullable: false)
            case EventsSchema.mobile: return ExportField(name: name, format: "i", nullable: false)
            case EventsSchema.zip: return ExportField(name: name, format: "u", nullable: false)
            default: return ExportField(name: name, format: "l", nullable: false)
            }
        }
    }

    /// One row group's rows as a batch of `columns`, typed as the Parquet
    /// export types them.
    static func scanBatch(_ cols: EventColumns, rows: Int, columns: [Int]) -> ExportBatch {
        var batch = ExportBatch(rows: rows)
        for c in columns {
            let name = EventsSchema.columns[c].name
            // Every wanted column of a cursor's batch has `rows` values
            // (EventCursor.next), and `rows` > 0 (it returns no empty batch).
            cols.columns[c].withUnsafeBufferPointer { src in
                switch c {
                case EventsSchema.datetime:
                    // Seconds to microseconds: stored datetimes lie within
                    // years 1..9999, far from overflow.
                    batch.int64(name, format: "tsu:") { out in for i in 0..<rows { out[i] = src[i] &* 1_000_000 } }
                case EventsSchema.mobile:
                    batch.int32(name) { out in for i in 0..<rows { out[i] = Int32(truncatingIfNeeded: src[i]) } }
                case EventsSchema.zip:
                    // Five ASCII digits per zip (the column's domain is 0...99999).
                    batch.fixedWidthUTF8(name, width: 5) { out in
                        for i in 0..<rows {
                            var v = UInt32(truncatingIfNeeded: src[i])
                            for d in stride(from: 4, through: 0, by: -1) { out[5 * i + d] = UInt8(48 + v % 10); v /= 10 }
                        }
                    }
                default:
                    batch.int64(name) { out in if let base = src.baseAddress { out.initialize(from: base, count: rows) } }
                }
            }
        }
        return batch
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

// MARK: The exported functions

// nonisolated(unsafe): written once when first used (Swift's lazy global
// initialisation is thread-safe) and never again; callers only read it.
nonisolated(unsafe) private let versionText: UnsafeMutablePointer<CChar> = strdup(staveVersion)

@_cdecl("stave_version")
public func staveVersionC() -> UnsafePointer<CChar> { UnsafePointer(versionText) }

@_cdecl("stave_free")
public func staveFree(_ text: UnsafeMutablePointer<CChar>?) { free(text) }

@_cdecl("stave_open")
public func staveOpen(_ path: UnsafePointer<CChar>?, _ threads: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                      _ error: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    CInterface.call(error) {
        let path = try CInterface.string(path, "path")
        guard let out else { throw ParameterError("out", "is NULL") }
        let handle = try StoreHandle(path: path, threads: threads > 0 ? Int(threads) : CInterface.processors)
        out.pointee = OpaquePointer(Unmanaged.passRetained(handle).toOpaque())
    }
}

@_cdecl("stave_close")
public func staveClose(_ store: OpaquePointer?) {
    guard let store else { return }
    Unmanaged<StoreHandle>.fromOpaque(UnsafeRawPointer(store)).release()
}

@_cdecl("stave_query")
public func staveQuery(_ store: OpaquePointer?, _ endpoint: UnsafePointer<CChar>?, _ n: Int,
                       _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                       _ out: UnsafeMutablePointer<ArrowArrayStream>?, _ error: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    CInterface.call(error) {
        guard let store else { throw ParameterError("store", "is NULL") }
        guard let out else { throw ParameterError("out", "is NULL") }
        var endpoint = try CInterface.string(endpoint, "endpoint")
        var pairs = try CInterface.parameters(n, names, values)
        var id: String? = nil
        if endpoint == "customer" {
            guard let k = pairs.firstIndex(where: { $0.0 == "id" }) else { throw ParameterError("id", "is required: the customer's id") }
            id = pairs.remove(at: k).1
            endpoint = "customers"
        } else if endpoint == "customers" || !["summary", "profile", "stats", "breakdown", "hours", "top-zips"].contains(endpoint) {
            throw ParameterError("endpoint", "'\(endpoint)' is not one of summary, profile, stats, breakdown, hours, top-zips, customer")
        }
        let request = try QueryRequest.parse(endpoint: endpoint, id: id, query: pairs, bounded: false).get()
        let result = try QueryRunner.run(request, in: try StoreHandle.from(store).context())
        let (columns, rows) = CInterface.arrowColumns(result)
        var batch = ExportBatch(rows: rows)
        for c in columns { batch.add(c) }
        var pending: ExportBatch? = batch
        StreamSource(fields: batch.fields) { defer { pending = nil }; return pending }.export(into: out)
    }
}

@_cdecl("stave_scan")
public func staveScan(_ store: OpaquePointer?, _ n: Int,
                      _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                      _ out: UnsafeMutablePointer<ArrowArrayStream>?, _ error: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    CInterface.call(error) {
        guard let store else { throw ParameterError("store", "is NULL") }
        guard let out else { throw ParameterError("out", "is NULL") }
        let o = try CInterface.options(try CInterface.parameters(n, names, values), allowed: ["columns", "from", "to", "customer"], of: "scan")
        let from = try o["from"].map { try QueryParameters.bound("from", $0).get() }
        let to = try o["to"].map { try QueryParameters.bound("to", $0).get() }
        if let e = QueryParameters.range(from: from, to: to, fromName: "from", toName: "to") { throw e }
        let customers = try o["customer"].map { try QueryParameters.customers("customer", $0).get() }
        let columns = try CInterface.scanColumns(o["columns"])
        var cursor = EventCursor(store: try StoreHandle.from(store).context().store,
                                 filter: QueryFilter(from: from, to: to, customers: customers), columns: columns)
        StreamSource(fields: CInterface.scanFields(columns)) {
            guard let (cols, rows) = try cursor.next() else { return nil }
            return CInterface.scanBatch(cols, rows: rows, columns: columns)
        }.export(into: out)
    }
}

@_cdecl("stave_convert")
public func staveConvert(_ input: UnsafePointer<CChar>?, _ output: UnsafePointer<CChar>?, _ n: Int,
                         _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                         _ summary: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                         _ error: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    CInterface.call(error) {
        let input = try CInterface.string(input, "input"), output = try CInterface.string(output, "output")
        let o = try CInterface.options(try CInterface.parameters(n, names, values),
                                       allowed: ["customers", "force", "skip_bad_rows", "rejects", "max_errors", "header",
                                                 "allow_duplicate_ids", "zstd_level", "threads"], of: "convert")
        var options = try CInterface.convertOptions(o)
        options.customersPath = o["customers"]
        options.customerOptions.skipBadRows = options.skipBadRows
        options.customerOptions.maxErrors = options.maxErrors
        options.force = try CInterface.flag(o, "force") ?? false
        options.compression.level = Int32(try CInterface.integer(o, "zstd_level", 0...19) ?? 3)
        let s = try Converter(input: input, output: output, options: options).run()
        summary?.pointee = strdup(CInterface.json(s))
    }
}

@_cdecl("stave_append")
public func staveAppend(_ store: OpaquePointer?, _ input: UnsafePointer<CChar>?, _ n: Int,
                        _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                        _ summary: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                        _ error: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    CInterface.call(error) {
        guard let store else { throw ParameterError("store", "is NULL") }
        let input = try CInterface.string(input, "input")
        let o = try CInterface.options(try CInterface.parameters(n, names, values),
                                       allowed: ["skip_bad_rows", "rejects", "max_errors", "header", "allow_duplicate_ids",
                                                 "compact", "threads"], of: "append")
        let options = try CInterface.convertOptions(o)
        let compact = try CInterface.flag(o, "compact") ?? true
        let handle = StoreHandle.from(store)
        let s = try Converter(input: input, output: handle.path, options: options).append()
        // The rows are committed: a compaction that fails is reported in the
        // summary and the append still succeeded, as with `stave append`.
        var extra: [(String, String)] = []
        if compact {
            do {
                let c = try Compactor.compact(store: handle.path, mode: .auto, threads: options.threads)
                extra.append(("runs_merged", String(c.merged)))
            } catch let e as StaveError {
                extra.append(("compaction_error", CellText.jsonString("\(e)")))
            }
        }
        summary?.pointee = strdup(CInterface.json(s, extra: extra))
    }
}
