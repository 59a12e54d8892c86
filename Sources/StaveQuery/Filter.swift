import StaveFormat

/// What a query keeps: events with from <= datetime < to, of the listed
/// customers (all when nil).
public struct QueryFilter: Sendable, Hashable {
    public var from: Int64?
    public var to: Int64?
    /// Sorted, without duplicates.
    public private(set) var customers: [UInt32]?

    public init(from: Int64? = nil, to: Int64? = nil, customers: [UInt32]? = nil) {
        self.from = from
        self.to = to
        self.customers = customers.map { Array(Set($0)).sorted() }
    }

    public var lowerBound: Int64 { from ?? Int64.min }
    public var upperBound: Int64 { to ?? Int64.max }

    /// True when some listed customer lies in lo...hi (always without a list).
    public func mayContainCustomer(in lo: Int64, _ hi: Int64) -> Bool {
        guard let customers else { return true }
        var a = 0, b = customers.count
        while a < b {
            let m = (a + b) / 2
            if Int64(customers[m]) < lo { a = m + 1 } else { b = m }
        }
        return a < customers.count && Int64(customers[a]) <= hi
    }

    public func wants(customer: UInt32) -> Bool {
        guard let customers else { return true }
        var a = 0, b = customers.count
        while a < b {
            let m = (a + b) / 2
            if customers[m] < customer { a = m + 1 } else { b = m }
        }
        return a < customers.count && customers[a] == customer
    }

    /// Calls `body` with the position in `ids` (ascending without repeats,
    /// as a customer table's) of each customer the filter wants, in order:
    /// every position without a list, else one merge pass over the two
    /// sorted lists (no search per id).
    public func forEachWanted(inSorted ids: [UInt32], _ body: (Int) -> Void) {
        guard let customers else {
            for r in ids.indices { body(r) }
            return
        }
        var j = 0
        for (r, id) in ids.enumerated() {
            while j < customers.count && customers[j] < id { j += 1 }
            if j == customers.count { return }
            if customers[j] == id { body(r) }
        }
    }

    /// Parses "ID[,ID...]"; `option` names the parameter in the error.
    public static func parseCustomers(_ text: String, option: String = "--customer") -> Result<[UInt32], StaveError> {
        var out: [UInt32] = []
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            let t = piece.trimmingPrefix(while: { $0 == " " })
            guard let v = UInt32(t.trimmingSuffix()), !t.isEmpty else {
                return .failure(.usage("\(option): '\(piece)' is not a customer id (0...\(UInt32.max))"))
            }
            out.append(v)
        }
        return .success(out)
    }
}

extension Substring {
    func trimmingSuffix() -> Substring {
        var s = self
        while s.last == " " { s = s.dropLast() }
        return s
    }
}

/// How a row group takes part in a query.
public enum RowGroupUse: Sendable, Equatable {
    case skip
    /// Every row passes the time filter.
    case full
    /// Rows must be tested against the time filter.
    case partial
}

public enum ScanPlanner {
    /// Decides from the chunk statistics alone.
    public static func use(_ group: RowGroupDescriptor, filter: QueryFilter) -> RowGroupUse {
        let dt = group.chunks[EventsSchema.datetime]
        let cu = group.chunks[EventsSchema.customerID]
        if dt.max < filter.lowerBound || dt.min >= filter.upperBound { return .skip }
        if !filter.mayContainCustomer(in: cu.min, cu.max) { return .skip }
        return (dt.min >= filter.lowerBound && dt.max < filter.upperBound) ? .full : .partial
    }
}
