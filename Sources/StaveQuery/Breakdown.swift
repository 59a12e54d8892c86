import Dispatch
import CStaveSupport
import StaveFormat
import StaveIO

/// What a breakdown groups customers by.
public enum BreakdownKey: String, CaseIterable, Sendable {
    case level, gender, campaign, status
    case linkedWithApps = "linked_with_apps"
    case signMonth = "sign_month"
}

/// One group of a breakdown.
public struct BreakdownRow: Sendable, Equatable {
    public var group: String
    /// Customers of the group in the customer table (after attribute filters).
    public var customers: Int
    /// Of those (or, for `unknown`, of the ids absent from the table), the
    /// ones with at least one event in range.
    public var activeCustomers: Int
    public var events: Int64
    /// Per profile column (Profile.columnNames order), the sum over active
    /// customers; the average is sum / activeCustomers.
    public var sums: [Int64]

    public func average(_ k: Int) -> Double? { activeCustomers > 0 ? Double(sums[k]) / Double(activeCustomers) : nil }
}

/// Groups of the customer table by a key: a group index per table row,
/// group labels in display order.
struct CustomerGrouping {
    var labels: [String]
    var groupOfRow: [Int32]

    init(_ t: CustomerTable, by key: BreakdownKey) {
        func codes(_ values: [UInt8], _ names: [String]) -> CustomerGrouping {
            CustomerGrouping(labels: names, groupOfRow: values.map { Int32($0) })
        }
        switch key {
        case .level: self = codes(t.level, CustomersSchema.levelNames)
        case .campaign: self = codes(t.campaign, CustomersSchema.campaignNames)
        case .gender: self = codes(t.gender, ["0", "1"])
        case .status: self = codes(t.status, ["0", "1"])
        case .linkedWithApps: self = codes(t.linked, ["0", "1"])
        case .signMonth:
            // Month index of each sign date; labels for the months present.
            let months = t.signDate.map { d -> Int64 in
                let (y, m, _) = CivilTime.civilFromDays(d)
                return y * 12 + (m - 1)
            }
            let distinct = Array(Set(months)).sorted()
            var index: [Int64: Int32] = [:]
            for (k, m) in distinct.enumerated() { index[m] = Int32(k) }
            labels = distinct.map { m in CivilTime.formatMonth(ofDay: CivilTime.daysFromCivil(year: m / 12, month: m % 12 + 1, day: 1)) }
            groupOfRow = months.map { index[$0]! }
        }
    }

    init(labels: [String], groupOfRow: [Int32]) {
        self.labels = labels
        self.groupOfRow = groupOfRow
    }
}

extension Queries {
    /// The customer table of `store`, or a clear error if it has none.
    public static func customerTable(_ store: Store) throws -> CustomerTable {
        guard let t = try CustomerTable.load(store) else {
            throw StaveError.badStore(path: store.path, detail: "the store has no customer table (add one: stave convert --customers cust.csv -o \(store.path))")
        }
        return t
    }

    /// Per group of `key`: customers in the table, active customers, events
    /// and the profile sums. Events of customer ids absent from the table
    /// form a last group `unknown` (only when there are any). Groups with
    /// neither customers nor events are left out. Filters on customer
    /// attributes come as `filter`'s customer list (`CustomerFilter.apply`):
    /// the table's customers counted are those the list holds.
    /// `fusedFrom` and `sliceRows` as for `forEachProfileSlice` (tests pass
    /// small values to sum many slices).
    public static func breakdown(_ store: Store, table: CustomerTable, by key: BreakdownKey, filter: QueryFilter,
                                 threads: Int, fusedFrom: Int = FusedProfile.minRows,
                                 sliceRows: Int = FusedProfile.sliceRows) throws -> [BreakdownRow] {
        let grouping = CustomerGrouping(table, by: key)
        let g = grouping.labels.count
        var rows = (0...g).map { k in
            BreakdownRow(group: k == g ? "unknown" : grouping.labels[k], customers: 0, activeCustomers: 0, events: 0,
                         sums: [Int64](repeating: 0, count: Profile.columnNames.count))
        }
        filter.forEachWanted(inSorted: table.ids) { r in rows[Int(grouping.groupOfRow[r])].customers += 1 }
        // A customer slice at a time: the profiles of every customer are
        // never held at once.
        try forEachProfileSlice(store, filter: filter, threads: threads, fusedFrom: fusedFrom, sliceRows: sliceRows) { p in
            for i in 0..<p.count {
                let k = table.row(of: p.customer[i]).map { Int(grouping.groupOfRow[$0]) } ?? g
                let total = p.total(i)
                rows[k].activeCustomers += 1
                rows[k].events += total
                rows[k].sums[0] += p.uniqueTracks[i]
                rows[k].sums[1] += p.morning[i]
                rows[k].sums[2] += p.afternoon[i]
                rows[k].sums[3] += p.evening[i]
                rows[k].sums[4] += p.night[i]
                rows[k].sums[5] += p.mobile[i]
                rows[k].sums[6] += total
            }
        }
        return rows.filter { $0.customers > 0 || $0.activeCustomers > 0 }
    }
}
