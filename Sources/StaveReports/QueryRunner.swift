// Running a QueryRequest: the store it runs against (QueryContext), its
// answer (QueryResult) and the one runner the CLI, the server and the C
// library share (QueryRunner).

import StaveFormat
import StaveIO
import StaveQuery

/// A store opened for queries, with its customer table decoded at most
/// once (on first use).
public final class QueryContext: Sendable {
    public let store: Store
    public let threads: Int
    /// nil: not loaded yet; .some(nil): the store has none.
    private let table = Locked<CustomerTable??>(nil)

    public init(store: Store, threads: Int) {
        self.store = store
        self.threads = threads
    }

    /// The customer table, or nil if the store has none.
    public func customerTableIfAny() throws -> CustomerTable? {
        try table.withLock { table in
            if let loaded = table { return loaded }
            let t = try CustomerTable.load(store)
            table = .some(t)
            return t
        }
    }

    /// The customer table, or a clear error if the store has none.
    public func customerTable() throws -> CustomerTable {
        guard let t = try customerTableIfAny() else { return try Queries.customerTable(store) }
        return t
    }
}

/// What a query returns, ready to be written in any output format.
public enum QueryResult: Sendable {
    /// Rows (JSON: an array of objects). `total`: the rows before paging.
    case rows(ResultTable, total: Int)
    /// A whole profile in customer order (written straight from its columns).
    case profile(Profile)
    /// One row (JSON: one object).
    case object(ResultTable)
    /// colStats (JSON: one object keyed by column).
    case stats([ColumnStats])

    public func write(_ format: OutputFormat, to out: OutputFile) throws {
        switch self {
        case .rows(let t, _): try t.write(format, to: out)
        case .profile(let p): try ProfileReport.write(p, format: format, to: out)
        case .object(let t): try t.writeObject(format, to: out)
        case .stats(let s): try StatsReport.write(s, format: format, to: out)
        }
    }

    /// The result with its columns (and the stats' column values) named as
    /// `naming` says.
    public func named(_ naming: ColumnNaming, kind: QueryKind) -> QueryResult {
        guard naming != .current else { return self }
        func rename(_ t: ResultTable) -> ResultTable {
            ResultTable(columns: t.columns.map { naming.name($0, in: kind) }, rows: t.rows)
        }
        switch self {
        case .rows(let t, let total): return .rows(rename(t), total: total)
        case .profile(let p): return .rows(rename(ProfileReport.table(p)), total: p.count)
        case .object(let t): return .object(rename(t))
        case .stats(let s):
            return .stats(s.map { var c = $0; c.column = naming.name(c.column, in: kind); return c })
        }
    }

    /// At most `n` rows (the first ones), for --limit on commands whose
    /// query has no paging of its own.
    public func limited(_ n: Int?) -> QueryResult {
        guard let n else { return self }
        switch self {
        case .rows(var t, let total):
            t.rows = Array(t.rows.prefix(n))
            return .rows(t, total: total)
        case .profile(let p):
            return .rows(ProfileReport.table(p).prefix(n), total: p.count)
        case .object(let t): return .object(t.prefix(n))
        case .stats(let s): return .stats(Array(s.prefix(n)))
        }
    }

    /// The rows before paging (profile), or the rows written.
    public var total: Int {
        switch self {
        case .rows(_, let total): return total
        case .profile(let p): return p.count
        case .object: return 1
        case .stats(let s): return s.count
        }
    }
}

public enum QueryRunner {
    /// The row filter of `request`: its time range and customers, with the
    /// attribute filters applied as a customer list.
    static func filter(_ request: QueryRequest, in context: QueryContext) throws -> QueryFilter {
        let scope = request.scope
        guard !scope.attributes.isEmpty else { return scope.rows }
        return scope.attributes.apply(to: scope.rows, table: try context.customerTable())
    }

    /// Runs `request` and writes its answer: what the CLI does. A whole
    /// profile as CSV is written a customer range at a time as it is
    /// computed, formatted by the walk itself where it applies, so memory
    /// does not grow with the number of customers (Queries.forEachProfileCSV);
    /// everything else is `run`, then written.
    /// `limit`: at most this many rows (the first), for the commands whose
    /// query has no paging of its own (--limit of stats, breakdown, hours).
    public static func write(_ request: QueryRequest, in context: QueryContext, format: OutputFormat, to out: OutputFile,
                             limit: Int? = nil, phase: ((String) -> Void)? = nil) throws {
        Sys.tuneAllocator
        if case .profile(let page) = request.kind, page.isWhole, !page.withCustomers, format == .csv, limit == nil {
            let filter = try filter(request, in: context)
            try ProfileReport.writeCSVHeader(to: out, naming: request.naming)
            try Queries.forEachProfileCSV(context.store, filter: filter, threads: context.threads, phase: phase,
                                          rows: { try out.write($0) },
                                          profile: { try ProfileReport.writeCSVRows($0, to: out, threads: context.threads) })
            return
        }
        try run(request, in: context, phase: phase).limited(limit).write(format, to: out)
    }

    /// Runs `request`. `phase`, if given, hears what the profile pass did
    /// (for --verbose).
    public static func run(_ request: QueryRequest, in context: QueryContext, phase: ((String) -> Void)? = nil) throws -> QueryResult {
        try answer(request, in: context, phase: phase).named(request.naming, kind: request.kind)
    }

    static func answer(_ request: QueryRequest, in context: QueryContext, phase: ((String) -> Void)? = nil) throws -> QueryResult {
        Sys.tuneAllocator
        let store = context.store, threads = context.threads, scope = request.scope
        // The attribute filters, applied once: from here on a customer list.
        let filter = try filter(request, in: context)
        switch request.kind {
        case .summary:
            let p = try Queries.profile(store, filter: filter, threads: threads, phase: phase)
            var inTable: Int? = nil
            if let t = try context.customerTableIfAny() {
                var n = 0
                filter.forEachWanted(inSorted: t.ids) { _ in n += 1 }
                inTable = n
            }
            return .object(SummaryReport.table(try Queries.summary(store, filter: filter, profile: p, customersInTable: inTable)))
        case .profile(let page):
            let p = try Queries.profile(store, filter: filter, threads: threads, phase: phase)
            if page.isWhole && !page.withCustomers { return .profile(p) }
            let table = page.withCustomers ? try context.customerTable() : nil
            return .rows(try ProfileReport.table(p, page: page, customers: table), total: p.count)
        case .stats:
            return .stats(try Queries.stats(store, filter: filter, threads: threads, phase: phase))
        case .breakdown(let key):
            let rows = try Queries.breakdown(store, table: try context.customerTable(), by: key, filter: filter, threads: threads)
            let t = BreakdownReport.table(rows, by: key)
            return .rows(t, total: t.rows.count)
        case .hours(let key, let perPart):
            let table = key != nil ? try context.customerTable() : nil
            let h = try Queries.hours(store, by: key, filter: filter, table: table, threads: threads)
            let t = HoursReport.table(h, by: key, perPart: perPart)
            return .rows(t, total: t.rows.count)
        case .topZips(let limit):
            let rows = try Queries.topZips(store, filter: filter, limit: limit, threads: threads)
            let t = ZipReport.table(rows)
            return .rows(t, total: t.rows.count)
        case .customer(let id):
            let p = try Queries.profile(store, filter: QueryFilter(from: scope.from, to: scope.to, customers: [id]), threads: threads)
            let table = try context.customerTableIfAny()
            let row = table?.row(of: id)
            guard p.count > 0 || row != nil else {
                throw StaveError.notFound("no customer \(id): not in the customer table and no events in range")
            }
            return .object(try CustomerLookupReport.table(id: id, profile: p, customers: table))
        }
    }
}
