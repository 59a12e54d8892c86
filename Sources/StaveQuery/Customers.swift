import Dispatch
import CStaveSupport
import StaveFormat
import StaveIO

/// A store's customer table, decoded for lookups: the small columns as
/// arrays, the strings left in their chunks until a row is rendered.
public final class CustomerTable: @unchecked Sendable {
    // @unchecked Sendable: immutable after load; the string chunks point
    // into buffers their DecodedChunk keeps alive.
    public let path: String
    /// Strictly ascending (checked at load).
    public let ids: [UInt32]
    public let gender: [UInt8]
    public let zip: [UInt32]
    public let signDate: [Int64]
    public let status: [UInt8]
    public let level: [UInt8]
    public let campaign: [UInt8]
    public let linked: [UInt8]
    let nameChunks: [DecodedChunk]
    let addressChunks: [DecodedChunk]
    /// First row of each row group.
    let groupStarts: [Int]
    /// id -> row + 1 (0: absent), when the ids are dense enough.
    let dense: [Int32]

    public var count: Int { ids.count }

    init(path: String, ids: [UInt32], gender: [UInt8], zip: [UInt32], signDate: [Int64], status: [UInt8], level: [UInt8],
         campaign: [UInt8], linked: [UInt8], nameChunks: [DecodedChunk], addressChunks: [DecodedChunk], groupStarts: [Int]) {
        self.path = path
        self.ids = ids
        self.gender = gender
        self.zip = zip
        self.signDate = signDate
        self.status = status
        self.level = level
        self.campaign = campaign
        self.linked = linked
        self.nameChunks = nameChunks
        self.addressChunks = addressChunks
        self.groupStarts = groupStarts
        // A direct index costs 4 bytes per id value up to the largest id:
        // used when that is at most 4 entries per customer (plus slack).
        if let last = ids.last, Int(last) <= 4 * ids.count + 65_536 {
            var d = [Int32](repeating: 0, count: Int(last) + 1)
            for (row, id) in ids.enumerated() { d[Int(id)] = Int32(row + 1) }
            dense = d
        } else {
            dense = []
        }
    }

    /// Decodes the customer table of `store`, or nil if it has none.
    public static func load(_ store: Store) throws -> CustomerTable? {
        guard let part = store.customers else { return nil }
        var ids: [UInt32] = [], gender: [UInt8] = [], zip: [UInt32] = [], signDate: [Int64] = []
        var status: [UInt8] = [], level: [UInt8] = [], campaign: [UInt8] = [], linked: [UInt8] = []
        var names: [DecodedChunk] = [], addresses: [DecodedChunk] = [], starts: [Int] = []
        var previous: Int64 = -1
        for g in part.footer.rowGroups.indices {
            starts.append(ids.count)
            // decodeAllChecked: every value within the chunk's statistics,
            // which the footer check proved to lie in the column's domain
            // (so the narrowing conversions below cannot trap).
            func column(_ c: Int) throws -> [Int64] { try part.chunk(rowGroup: g, column: c).decodeAllChecked() }
            for v in try column(CustomersSchema.customerID) {
                guard v > previous else {
                    throw StaveError.corrupt(file: part.path, what: "column customer_id row group \(g): ids not strictly ascending (\(v) after \(previous))")
                }
                previous = v
                ids.append(UInt32(v))
            }
            gender += try column(CustomersSchema.gender).map { UInt8($0) }
            zip += try column(CustomersSchema.zip).map { UInt32($0) }
            signDate += try column(CustomersSchema.signDate)
            status += try column(CustomersSchema.status).map { UInt8($0) }
            level += try column(CustomersSchema.level).map { UInt8($0) }
            campaign += try column(CustomersSchema.campaign).map { UInt8($0) }
            linked += try column(CustomersSchema.linkedWithApps).map { UInt8($0) }
            let name = try part.chunk(rowGroup: g, column: CustomersSchema.name)
            let address = try part.chunk(rowGroup: g, column: CustomersSchema.address)
            _ = try name.strings()
            _ = try address.strings()
            names.append(name)
            addresses.append(address)
        }
        return CustomerTable(path: part.path, ids: ids, gender: gender, zip: zip, signDate: signDate, status: status, level: level,
                             campaign: campaign, linked: linked, nameChunks: names, addressChunks: addresses, groupStarts: starts)
    }

    /// The row of customer `id`, or nil if the table does not list it.
    @inline(__always)
    public func row(of id: UInt32) -> Int? {
        if !dense.isEmpty {
            guard Int(id) < dense.count else { return nil }
            let r = dense[Int(id)]
            return r == 0 ? nil : Int(r) - 1
        }
        var a = 0, b = ids.count
        while a < b {
            let m = (a + b) / 2
            if ids[m] < id { a = m + 1 } else { b = m }
        }
        return a < ids.count && ids[a] == id ? a : nil
    }

    func string(_ chunks: [DecodedChunk], _ row: Int) throws -> String {
        var g = groupStarts.count - 1
        while groupStarts[g] > row { g -= 1 }
        let chunk = chunks[g]
        return try withExtendedLifetime(chunk) {
            try chunk.strings().value(row - groupStarts[g], file: chunk.file, what: chunk.what)
        }
    }

    public func name(_ row: Int) throws -> String { try string(nameChunks, row) }
    public func address(_ row: Int) throws -> String { try string(addressChunks, row) }

    /// Every customer id matching `filter`, ascending.
    public func ids(matching filter: CustomerFilter) -> [UInt32] {
        ids.indices.filter { filter.matches(self, row: $0) }.map { ids[$0] }
    }
}

/// Restricts a query to customers with given attributes (each set: any of
/// its values; nil: no restriction). Customers absent from the customer
/// table match no attribute filter.
public struct CustomerFilter: Sendable, Hashable {
    public var levels: Set<UInt8>?
    public var campaigns: Set<UInt8>?
    public var genders: Set<UInt8>?
    public var statuses: Set<UInt8>?

    public init(levels: Set<UInt8>? = nil, campaigns: Set<UInt8>? = nil, genders: Set<UInt8>? = nil, statuses: Set<UInt8>? = nil) {
        self.levels = levels
        self.campaigns = campaigns
        self.genders = genders
        self.statuses = statuses
    }

    public var isEmpty: Bool { levels == nil && campaigns == nil && genders == nil && statuses == nil }

    @inline(__always)
    public func matches(_ t: CustomerTable, row: Int) -> Bool {
        if let levels, !levels.contains(t.level[row]) { return false }
        if let campaigns, !campaigns.contains(t.campaign[row]) { return false }
        if let genders, !genders.contains(t.gender[row]) { return false }
        if let statuses, !statuses.contains(t.status[row]) { return false }
        return true
    }

    /// Parses "A[,B...]" where each item is a number below `names.count` or
    /// (case-insensitively) one of `names`; `option` names the parameter in
    /// the error.
    public static func parseCodes(_ text: String, option: String, names: [String]) -> Result<Set<UInt8>, StaveError> {
        var out = Set<UInt8>()
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            let t = piece.trimmingPrefix(while: { $0 == " " }).trimmingSuffix()
            if let v = UInt8(t), Int(v) < names.count {
                out.insert(v)
            } else if let i = names.firstIndex(where: { $0.uppercased() == t.uppercased() }) {
                out.insert(UInt8(i))
            } else {
                let allowed = names.count == 2 && names == ["0", "1"] ? "0 or 1" : names.joined(separator: ", ") + " (or 0...\(names.count - 1))"
                return .failure(.usage("\(option): '\(piece)' is not one of \(allowed)"))
            }
        }
        return .success(out)
    }

    /// The query filter restricted to the matching customers (intersected
    /// with its own customer list, if any).
    public func apply(to filter: QueryFilter, table: CustomerTable) -> QueryFilter {
        guard !isEmpty else { return filter }
        var ids = table.ids(matching: self)
        if filter.customers != nil { ids = ids.filter { filter.wants(customer: $0) } }
        return QueryFilter(from: filter.from, to: filter.to, customers: ids)
    }
}

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

    /// The profile, restricted by `customers` when it is not empty.
    public static func profile(_ store: Store, filter: QueryFilter, customers: CustomerFilter, table: CustomerTable?, threads: Int) throws -> Profile {
        guard !customers.isEmpty else { return try profile(store, filter: filter, threads: threads) }
        let t = try table ?? customerTable(store)
        return try profile(store, filter: customers.apply(to: filter, table: t), threads: threads)
    }

    /// Per group of `key`: customers in the table, active customers, events
    /// and the profile sums. Events of customer ids absent from the table
    /// form a last group `unknown` (only when there are any). Groups with
    /// neither customers nor events are left out.
    public static func breakdown(_ store: Store, table: CustomerTable, by key: BreakdownKey, filter: QueryFilter,
                                 customers: CustomerFilter, threads: Int) throws -> [BreakdownRow] {
        let grouping = CustomerGrouping(table, by: key)
        let g = grouping.labels.count
        var rows = (0...g).map { k in
            BreakdownRow(group: k == g ? "unknown" : grouping.labels[k], customers: 0, activeCustomers: 0, events: 0,
                         sums: [Int64](repeating: 0, count: Profile.columnNames.count))
        }
        for r in 0..<table.count where customers.matches(table, row: r) {
            if filter.customers != nil, !filter.wants(customer: table.ids[r]) { continue }
            rows[Int(grouping.groupOfRow[r])].customers += 1
        }
        let p = try profile(store, filter: filter, customers: customers, table: table, threads: threads)
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
        return rows.filter { $0.customers > 0 || $0.activeCustomers > 0 }
    }
}

/// Listening zips ranked by events.
public struct ZipRow: Sendable, Equatable {
    public var zip: UInt32
    public var events: Int64
    /// Distinct customers with an event from this zip.
    public var customers: Int
    public var mobileEvents: Int64
    public var mobileShare: Double { events > 0 ? Double(mobileEvents) / Double(events) : 0 }
}

/// Events per hour of the day, per group.
public struct HoursResult: Sendable, Equatable {
    /// Group labels (one group, "all", without a breakdown key).
    public var groups: [String]
    /// events[group][hour], hour 0...23.
    public var events: [[Int64]]
    public var mobile: [[Int64]]
}

extension Queries {
    /// The `limit` zips with the most events (ties: smaller zip first).
    public static func topZips(_ store: Store, filter: QueryFilter, customers: CustomerFilter, table: CustomerTable?,
                               limit: Int, threads: Int) throws -> [ZipRow] {
        var f = filter
        if !customers.isEmpty { f = customers.apply(to: filter, table: try table ?? customerTable(store)) }
        let groups = try RowGroupData.loadAll(store: store, filter: f, threads: threads, columns: LoadColumns(tracks: false, zips: true, dayParts: false))
        // A customer's runs one after another, so that `last` (the sequence
        // number of the last customer counted for a zip) makes the distinct
        // count exact; the customers are split between the workers (about
        // equal rows each), each with its own counters, merged at the end.
        let (runs, starts, rowsBefore) = ProfileKernel.runsByCustomer(groups, threads: threads)
        let customerCount = starts.count - 1
        let workers = max(1, min(threads, runs.count / 64 + 1))
        var bounds = [0]
        var c = 0
        for w in 1..<workers {
            let target = rowsBefore[customerCount] * w / workers
            while c < customerCount && rowsBefore[c] < target { c += 1 }
            bounds.append(starts[c])
        }
        bounds.append(runs.count)
        let parts = bounds.count - 1
        let results = UnsafeMutableBufferPointer<ZipCounts?>.allocate(capacity: parts)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        // Each worker writes only its own slot w; inputs are read-only.
        let counts: [ZipCounts] = withExtendedLifetime(groups) {
            let views = groups.map(ZipCounts.GroupView.init)
            let box = SendableBox((results, runs, bounds, views))
            DispatchQueue.concurrentPerform(iterations: parts) { w in
                let (out, runs, bounds, views) = box.value
                out[w] = ZipCounts.count(runs[bounds[w]..<bounds[w + 1]], views: views)
            }
            return (0..<parts).map { results[$0]! }
        }
        // The top `limit` by (events descending, zip ascending), kept sorted
        // in a bounded array: most zips fail the comparison with its last.
        let limit = max(0, limit)
        var top: [ZipRow] = []
        top.reserveCapacity(min(limit, ZipCounts.zipCount) + 1)
        func before(_ a: ZipRow, _ b: ZipRow) -> Bool { a.events != b.events ? a.events > b.events : a.zip < b.zip }
        let hots = counts.map(\.hot)
        let spills = counts.map(\.spilled).filter { !$0.isEmpty }
        for z in 0..<ZipCounts.zipCount {
            var t: (Int64, Int64, Int64) = (0, 0, 0)
            for h in hots {
                t.0 += Int64(h[z].events); t.1 += Int64(h[z].mobile); t.2 += Int64(h[z].customers)
            }
            for sp in spills { t.0 += sp[3 * z]; t.1 += sp[3 * z + 1]; t.2 += sp[3 * z + 2] }
            guard t.0 > 0 else { continue }
            let row = ZipRow(zip: UInt32(z), events: t.0, customers: Int(t.2), mobileEvents: t.1)
            if top.count == limit {
                guard limit > 0, before(row, top[limit - 1]) else { continue }
                top.removeLast()
            }
            var a = 0, b = top.count
            while a < b {
                let m = (a + b) / 2
                if before(top[m], row) { a = m + 1 } else { b = m }
            }
            top.insert(row, at: a)
        }
        ZipCounts.recycle(counts)
        return top
    }

    /// Events (and mobile events) per hour, for all customers or per group
    /// of `by` (with an `unknown` group for ids absent from the table, when
    /// it has events).
    public static func hours(_ store: Store, by key: BreakdownKey?, filter: QueryFilter, customers: CustomerFilter,
                             table: CustomerTable?, threads: Int) throws -> HoursResult {
        var t = table
        if key != nil || !customers.isEmpty, t == nil { t = try customerTable(store) }
        var f = filter
        if let t, !customers.isEmpty { f = customers.apply(to: filter, table: t) }
        let groups = try RowGroupData.loadAll(store: store, filter: f, threads: threads, columns: LoadColumns(tracks: false, hours: true))
        let grouping = key.map { CustomerGrouping(t!, by: $0) }
        let labels = grouping.map { $0.labels + ["unknown"] } ?? ["all"]
        var counts = [Int64](repeating: 0, count: labels.count * 24)
        var mobile = [Int64](repeating: 0, count: labels.count * 24)
        counts.withUnsafeMutableBufferPointer { ct in
            mobile.withUnsafeMutableBufferPointer { mo in
                for data in groups {
                    data.codes.withUnsafeBufferPointer { codes in
                        data.hours.withUnsafeBufferPointer { hours in
                            for run in data.runs {
                                var base = 0
                                if let grouping {
                                    base = 24 * (t!.row(of: run.customer).map { Int(grouping.groupOfRow[$0]) } ?? grouping.labels.count)
                                }
                                for i in Int(run.start)..<Int(run.end) {
                                    let c = codes[i]
                                    let inside = Int64((c >> 3) & 1)
                                    // hours[i] < 24: computed as seconds / 3600 % 24.
                                    let k = base + Int(hours[i])
                                    ct[k] += inside
                                    mo[k] += inside & Int64((c >> 2) & 1)
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = HoursResult(groups: [], events: [], mobile: [])
        for (k, label) in labels.enumerated() {
            let ev = Array(counts[(k * 24)..<(k * 24 + 24)])
            // Groups without events are left out (but "all" always stays).
            if key != nil && ev.allSatisfy({ $0 == 0 }) { continue }
            result.groups.append(label)
            result.events.append(ev)
            result.mobile.append(Array(mobile[(k * 24)..<(k * 24 + 24)]))
        }
        return result
    }
}

/// Per-zip counts of one worker's customers.
final class ZipCounts {
    static let zipCount = 100_000

    /// Hot counters, 16 bytes a zip (four to a cache line): 32-bit counts,
    /// spilled into 64-bit totals before they could overflow.
    struct Counter {
        var events: UInt32 = 0
        var mobile: UInt32 = 0
        var customers: UInt32 = 0
        /// Sequence number (1-based) of the last customer counted here.
        var last: UInt32 = 0
    }

    /// zipCount counters, owned (deallocated in deinit).
    let hot: UnsafeMutableBufferPointer<Counter>
    /// events, mobile, customers per zip (3 x zipCount), allocated only by a
    /// spill (more than 2^32 - 1 rows or customers in one worker).
    var spilled: [Int64] = []

    init() {
        hot = .allocate(capacity: Self.zipCount)
        hot.initialize(repeating: Counter())
    }

    deinit { hot.deallocate() }

    /// Counters kept between queries (a fresh 1.6 MB table costs a page
    /// fault per 4 KB on first touch; a used one is cleared with one
    /// memset). At most `poolLimit` are kept.
    private static let pool = Locked<[ZipCounts]>([])
    private static let poolLimit = 4

    /// A zeroed counter table, from the pool when it has one.
    static func take() -> ZipCounts {
        pool.withLock { $0.popLast() } ?? ZipCounts()
    }

    /// Returns tables to the pool, zeroed, once their counts are read.
    static func recycle(_ tables: [ZipCounts]) {
        for t in tables {
            t.hot.update(repeating: Counter())
            t.spilled = []
            pool.withLock { if $0.count < poolLimit { $0.append(t) } }
        }
    }

    func spill() {
        if spilled.isEmpty { spilled = [Int64](repeating: 0, count: 3 * Self.zipCount) }
        for z in 0..<Self.zipCount {
            spilled[3 * z] += Int64(hot[z].events)
            spilled[3 * z + 1] += Int64(hot[z].mobile)
            spilled[3 * z + 2] += Int64(hot[z].customers)
            hot[z].events = 0; hot[z].mobile = 0; hot[z].customers = 0
        }
    }

    /// Raw views of one group's codes and zips, valid while the groups are
    /// alive (withExtendedLifetime in topZips; never mutated after load).
    struct GroupView {
        let codes: UnsafePointer<UInt8>
        let zips: UnsafePointer<UInt32>
        /// Zip runs (RowGroupData.zipRuns), else nil.
        let runValues: UnsafePointer<UInt32>?
        let runEnds: UnsafePointer<Int32>?
        let runCount: Int
        let full: Bool
        init(_ g: RowGroupData) {
            codes = g.codes.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 8)! }
            zips = g.zips.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 8)! }
            runValues = g.zipRuns.flatMap { r in r.values.withUnsafeBufferPointer { $0.baseAddress } }
            runEnds = g.zipRuns.flatMap { r in r.ends.withUnsafeBufferPointer { $0.baseAddress } }
            runCount = g.zipRuns?.values.count ?? 0
            full = g.full
        }
    }

    /// Counts `runs` (sorted by customer: all runs of a customer adjacent).
    /// - Precondition: every run lies inside its group's codes and zips
    ///   (RowGroupData.load), and every zip is at most 99,999.
    static func count(_ runs: ArraySlice<CustomerRun>, views: [GroupView]) -> ZipCounts {
        let out = ZipCounts.take()
        let acc = out.hot
        var sequence: UInt32 = 0
        var previous: UInt32? = nil
        var sinceSpill = 0
        // Per group, the zip run reached (runs of one group come in row order).
        var cursors = [Int](repeating: -1, count: views.count)
        for run in runs {
            if run.customer != previous {
                previous = run.customer
                // More customers than a UInt32 sequence tells apart: spill and
                // restart the numbering (resetting every zip's `last`).
                if sequence == UInt32.max {
                    out.spill()
                    for z in 0..<zipCount { out.hot[z].last = 0 }
                    sequence = 0
                }
                sequence += 1
            }
            let n = Int(run.end - run.start)
            if sinceSpill + n >= Int(UInt32.max) { out.spill(); sinceSpill = 0 }
            sinceSpill += n
            let g = Int(run.group)
            let v = views[g]
            let tag = sequence
            if let values = v.runValues, let ends = v.runEnds {
                // By zip run: one counter update per run of a zip. The runs
                // cover the group's rows (ZipRuns.init) and run.end <= rows,
                // so k stays below runCount while rows remain.
                let s = Int(run.start), e = Int(run.end)
                var k = cursors[g]
                if k < 0 || k >= v.runCount || (k > 0 && Int(ends[k - 1]) > s) {
                    var lo = 0, hi = v.runCount - 1
                    while lo < hi {
                        let m = (lo + hi) / 2
                        if Int(ends[m]) <= s { lo = m + 1 } else { hi = m }
                    }
                    k = lo
                } else {
                    while Int(ends[k]) <= s { k += 1 }
                }
                var a = s
                while a < e {
                    // Cache hints: the counter of the zip run 8 ahead (a
                    // customer's other zips are random entries of the 1.6
                    // MB table; values[ahead] <= 99,999, and a prefetch never
                    // faults anyway), and this group's zip runs and codes
                    // further on (the walk takes a few runs from each group
                    // in turn). Measured at 10M rows, 2 threads: 46 ms
                    // without hints, 44 with the counter's, 36 with all.
                    let ahead = k &+ 8
                    if ahead < v.runCount { stave_prefetch(acc.baseAddress! + Int(values[ahead])) }
                    stave_prefetch(values + (k &+ 32))
                    stave_prefetch(ends + (k &+ 32))
                    stave_prefetch(v.codes + (a &+ 128))
                    let b = min(Int(ends[k]), e)
                    var n: UInt32 = 0, mobile: UInt32 = 0
                    if v.full {
                        n = UInt32(b - a)
                        for i in a..<b { mobile &+= UInt32((v.codes[i] >> 2) & 1) }
                    } else {
                        for i in a..<b {
                            let c = v.codes[i]
                            let inside = UInt32((c >> 3) & 1)
                            n &+= inside
                            mobile &+= inside & UInt32((c >> 2) & 1)
                        }
                    }
                    if n > 0 {
                        let z = Int(values[k])  // <= 99,999 (ZipRuns.init)
                        acc[z].events &+= n
                        acc[z].mobile &+= mobile
                        if acc[z].last != tag { acc[z].last = tag; acc[z].customers &+= 1 }
                    }
                    if b == Int(ends[k]) { k += 1 }
                    a = b
                }
                cursors[g] = k
                continue
            }
            for i in Int(run.start)..<Int(run.end) {
                let c = v.codes[i]
                guard c & RowGroupData.windowBit != 0 else { continue }
                // zips[i] <= 99,999: RowGroupData.load checked the chunk
                // statistics and decoding checks values against them.
                let z = Int(v.zips[i])
                acc[z].events &+= 1
                acc[z].mobile &+= UInt32((c >> 2) & 1)
                if acc[z].last != tag { acc[z].last = tag; acc[z].customers &+= 1 }
            }
        }
        return out
    }
}
