import StaveFormat
import StaveIO

/// All six columns of some rows, as Int64 in schema order.
public struct EventColumns: Sendable {
    public var columns: [[Int64]]
    public var count: Int { columns[0].count }
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

    /// Every row, ordered by event id (ties in store order). Memory: the
    /// whole table (about 48 bytes a row).
    public static func allRowsByEventID(_ store: Store) throws -> EventColumns {
        var all = [[Int64]](repeating: [], count: EventsSchema.columns.count)
        for c in all.indices { all[c].reserveCapacity(store.rowCount) }
        try forEachRowGroup(store) { g in
            for c in all.indices { all[c].append(contentsOf: g.columns[c]) }
        }
        let ids = all[EventsSchema.eventID]
        let order = ids.indices.sorted { ids[$0] != ids[$1] ? ids[$0] < ids[$1] : $0 < $1 }
        return EventColumns(columns: all.map { col in order.map { col[$0] } })
    }
}
