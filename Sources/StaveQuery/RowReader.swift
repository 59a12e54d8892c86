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
