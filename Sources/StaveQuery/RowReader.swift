import StaveFormat
import StaveIO

/// All six columns of some rows, as Int64 in schema order.
public struct EventColumns: Sendable {
    public var columns: [[Int64]]
    public var count: Int { columns[0].count }

    public init(columns: [[Int64]]) { self.columns = columns }
}

public enum RowReader {
    /// Decodes every row group in store order and hands each to `body`.
    /// Memory: one row group at a time.
    public static func forEachRowGroup(_ store: Store, _ body: (EventColumns) throws -> Void) throws {
        for part in store.parts {
            for g in part.footer.rowGroups.indices {
                try body(EventColumns(columns: try part.decodeRowGroup(g)))
            }
        }
    }

    /// The rows `filter` keeps (from <= datetime < to, of its customers),
    /// row group by row group in store order; groups the chunk statistics
    /// rule out are not decoded, groups left without rows are not handed
    /// over. `body` returns false to stop early. Memory: one row group.
    public static func forEachRowGroup(_ store: Store, filter: QueryFilter, _ body: (EventColumns) throws -> Bool) throws {
        for part in store.parts {
            for (g, group) in part.footer.rowGroups.enumerated() {
                let use = ScanPlanner.use(group, filter: filter)
                if use == .skip { continue }
                var cols = EventColumns(columns: try part.decodeRowGroup(g))
                if use == .partial || filter.customers != nil { cols = kept(cols, filter: filter) }
                if cols.count > 0, try !body(cols) { return }
            }
        }
    }

    /// The row indices of `cols` that `filter` keeps, in their order
    /// (`cols` must hold the datetime and customer columns).
    static func keptRows(_ cols: EventColumns, filter: QueryFilter) -> [Int] {
        let dt = cols.columns[EventsSchema.datetime], cu = cols.columns[EventsSchema.customerID]
        let lo = filter.lowerBound, hi = filter.upperBound
        return (0..<dt.count).filter { i in
            dt[i] >= lo && dt[i] < hi && (filter.customers == nil || filter.wants(customer: UInt32(truncatingIfNeeded: cu[i])))
        }
    }

    /// The rows of `cols` that `filter` keeps, in their order.
    static func kept(_ cols: EventColumns, filter: QueryFilter) -> EventColumns {
        let dt = cols.columns[EventsSchema.datetime], cu = cols.columns[EventsSchema.customerID]
        let lo = filter.lowerBound, hi = filter.upperBound
        let rows = (0..<cols.count).filter { i in
            dt[i] >= lo && dt[i] < hi && (filter.customers == nil || filter.wants(customer: UInt32(truncatingIfNeeded: cu[i])))
        }
        if rows.count == cols.count { return cols }
        return EventColumns(columns: cols.columns.map { col in rows.map { col[$0] } })
    }

    /// Every row, ordered by event id (ties in store order). Memory: the
    /// whole table (about 48 bytes a row).
    public static func allRowsByEventID(_ store: Store, filter: QueryFilter = QueryFilter()) throws -> EventColumns {
        var all = [[Int64]](repeating: [], count: EventsSchema.columns.count)
        for c in all.indices { all[c].reserveCapacity(filter == QueryFilter() ? store.rowCount : 0) }
        try forEachRowGroup(store, filter: filter) { g in
            for c in all.indices { all[c].append(contentsOf: g.columns[c]) }
            return true
        }
        let ids = all[EventsSchema.eventID]
        let order = ids.indices.sorted { ids[$0] != ids[$1] ? ids[$0] < ids[$1] : $0 < $1 }
        return EventColumns(columns: all.map { col in order.map { col[$0] } })
    }
}

/// The pull form of `RowReader.forEachRowGroup(_:filter:_:)`, for a consumer
/// that asks for the next batch when it wants it (the C library's event
/// stream): the kept rows of one row group at a time, in store order.
/// Only the columns asked for are decoded, plus the datetime and customer
/// columns when the filter needs them to choose rows; the columns not asked
/// for come back empty. Row groups the chunk statistics rule out are not
/// read, groups left without rows are not returned. Memory: one row group.
public struct EventCursor: Sendable {
    public let store: Store
    public let filter: QueryFilter
    /// Per schema column: decode it for the caller.
    public let wanted: [Bool]
    var part = 0
    var group = 0

    /// `columns`: schema indices (EventsSchema) of the columns to return.
    public init(store: Store, filter: QueryFilter, columns: [Int]) {
        self.store = store
        self.filter = filter
        wanted = EventsSchema.columns.indices.map { columns.contains($0) }
    }

    /// The next row group's kept rows (the columns, empty where not
    /// wanted, and how many rows), or nil at the end of the store.
    public mutating func next() throws -> (columns: EventColumns, rows: Int)? {
        while part < store.parts.count {
            let p = store.parts[part]
            guard group < p.footer.rowGroups.count else { part += 1; group = 0; continue }
            let g = group
            group += 1
            let use = ScanPlanner.use(p.footer.rowGroups[g], filter: filter)
            if use == .skip { continue }
            let select = use == .partial || filter.customers != nil
            var columns = [[Int64]](repeating: [], count: EventsSchema.columns.count)
            for c in columns.indices {
                let needed = wanted[c] || (select && (c == EventsSchema.datetime || c == EventsSchema.customerID))
                if needed { columns[c] = try p.chunk(rowGroup: g, column: c).decodeAllChecked() }
            }
            var cols = EventColumns(columns: columns)
            var n = p.footer.rowGroups[g].rowCount
            if select {
                let rows = RowReader.keptRows(cols, filter: filter)
                if rows.isEmpty { continue }
                if rows.count < n {
                    cols = EventColumns(columns: cols.columns.map { col in col.isEmpty ? [] : rows.map { col[$0] } })
                }
                n = rows.count
            } else if n == 0 {
                continue
            }
            for c in columns.indices where !wanted[c] { cols.columns[c] = [] }
            return (cols, n)
        }
        return nil
    }
}
