import StaveFormat
import StaveIO

/// The headline numbers of a store over a query's range: what a dashboard
/// shows first.
public struct Summary: Sendable, Equatable {
    /// Customers in the customer table (after the attribute and id
    /// filters); nil when the store has no customer table.
    public var customers: Int?
    /// Customers with at least one event in range.
    public var activeCustomers: Int
    public var events: Int64
    public var mobileEvents: Int64
    /// The first and last event in range (seconds since 1970, as stored);
    /// nil when there is none.
    public var firstEvent: Int64?
    public var lastEvent: Int64?
    /// Every event of the store, whatever the range.
    public var storeEvents: Int
    public var parts: Int
    public var generation: UInt64

    public var mobileShare: Double? { events > 0 ? Double(mobileEvents) / Double(events) : nil }
}

extension Queries {
    /// The summary of `store` for `filter` (attribute filters already
    /// applied to it as a customer list), from the profile `p` of the same
    /// filter.
    public static func summary(_ store: Store, filter: QueryFilter, profile p: Profile, customersInTable: Int?) throws -> Summary {
        var events: Int64 = 0, mobile: Int64 = 0
        for i in 0..<p.count {
            events += p.total(i)
            mobile += p.mobile[i]
        }
        let span = try eventSpan(store, filter: filter)
        return Summary(customers: customersInTable, activeCustomers: p.count, events: events, mobileEvents: mobile,
                       firstEvent: span?.first, lastEvent: span?.last, storeEvents: store.rowCount,
                       parts: store.parts.count, generation: store.manifest.generation)
    }

    /// The earliest and the latest datetime of the events `filter` keeps,
    /// exactly. Row groups are visited in the order of the earliest value
    /// their statistics allow (and of the latest, for the last event), and
    /// the visit stops as soon as no further group can hold a better value,
    /// so a typical query decodes a few datetime chunks, not all of them.
    /// Statistics only bound the search: every value taken is decoded and
    /// checked to lie within them.
    public static func eventSpan(_ store: Store, filter: QueryFilter) throws -> (first: Int64, last: Int64)? {
        struct Candidate { var part: Int; var group: Int; var low: Int64; var high: Int64 }
        var candidates: [Candidate] = []
        let lower = filter.lowerBound, upper = filter.upperBound
        for (p, part) in store.parts.enumerated() {
            for (g, desc) in part.footer.rowGroups.enumerated() where ScanPlanner.use(desc, filter: filter) != .skip {
                let dt = desc.chunks[EventsSchema.datetime]
                // The values a kept row can have in this group: within the
                // statistics and within [lower, upper).
                candidates.append(Candidate(part: p, group: g, low: max(dt.min, lower), high: min(dt.max, upper == Int64.max ? Int64.max : upper - 1)))
            }
        }
        /// The datetimes of the rows of one group that the filter keeps.
        func kept(_ c: Candidate) throws -> [Int64] {
            let part = store.parts[c.part]
            let times = try part.chunk(rowGroup: c.group, column: EventsSchema.datetime).decodeAllChecked()
            var ids: [Int64]? = nil
            if filter.customers != nil {
                ids = try part.chunk(rowGroup: c.group, column: EventsSchema.customerID).decodeAllChecked()
            }
            var out: [Int64] = []
            for (i, t) in times.enumerated() where t >= lower && t < upper {
                if let ids {
                    guard ids[i] >= 0, ids[i] <= Int64(UInt32.max), filter.wants(customer: UInt32(ids[i])) else { continue }
                }
                out.append(t)
            }
            return out
        }
        var first: Int64? = nil
        for c in candidates.sorted(by: { $0.low < $1.low }) {
            if let f = first, c.low >= f { break }
            if let m = try kept(c).min() { first = min(first ?? m, m) }
        }
        guard let first else { return nil }
        var last: Int64? = nil
        for c in candidates.sorted(by: { $0.high > $1.high }) {
            if let l = last, c.high <= l { break }
            if let m = try kept(c).max() { last = max(last ?? m, m) }
        }
        // A group that held the first event holds a last one too.
        return (first, last ?? first)
    }
}
