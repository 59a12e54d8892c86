import Dispatch
import CStaveSupport
import StaveFormat
import StaveIO

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
    /// (Filters on customer attributes come as `filter`'s customer list.)
    public static func topZips(_ store: Store, filter f: QueryFilter, limit: Int, threads: Int,
                               sliceRows: Int = RowGroupData.sliceRows) throws -> [ZipRow] {
        // Events, mobile events and distinct customers per zip, summed over
        // customer slices (a customer's runs are all in one slice, so the
        // distinct counts add up).
        var totals = [Int64](repeating: 0, count: 3 * ZipCounts.zipCount)
        try RowGroupData.forEachSlice(store: store, filter: f, threads: threads,
                                      columns: LoadColumns(tracks: false, zips: true, dayParts: false), sliceRows: sliceRows) { groups in
            let counts = countZips(groups, threads: threads)
            totals.withUnsafeMutableBufferPointer { t in
                for h in counts.map(\.hot) {
                    for z in 0..<ZipCounts.zipCount {
                        t[3 * z] += Int64(h[z].events); t[3 * z + 1] += Int64(h[z].mobile); t[3 * z + 2] += Int64(h[z].customers)
                    }
                }
                for sp in counts.map(\.spilled) where !sp.isEmpty {
                    for k in 0..<(3 * ZipCounts.zipCount) { t[k] += sp[k] }
                }
            }
            ZipCounts.recycle(counts)
        }
        // The top `limit` by (events descending, zip ascending), kept sorted
        // in a bounded array: most zips fail the comparison with its last.
        let limit = max(0, limit)
        var top: [ZipRow] = []
        top.reserveCapacity(min(limit, ZipCounts.zipCount) + 1)
        func before(_ a: ZipRow, _ b: ZipRow) -> Bool { a.events != b.events ? a.events > b.events : a.zip < b.zip }
        for z in 0..<ZipCounts.zipCount {
            let t = (totals[3 * z], totals[3 * z + 1], totals[3 * z + 2])
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
        return top
    }

    /// The per-zip counts of `groups`, the customers split between the
    /// workers (about equal rows each), each with its own counters.
    static func countZips(_ groups: [RowGroupData], threads: Int) -> [ZipCounts] {
        // A customer's runs one after another, so that `last` (the sequence
        // number of the last customer counted for a zip) makes the distinct
        // count exact.
        let (runs, starts, rowsBefore) = ProfileKernel.runsByCustomer(groups, threads: threads)
        let workers = max(1, min(threads, runs.count / 64 + 1))
        let bounds = ProfileKernel.shares(rowsBefore: rowsBefore, workers: workers).map { starts[$0] }
        let parts = bounds.count - 1
        // Each worker counts its own slice; inputs are read-only.
        return withExtendedLifetime(groups) {
            let views = groups.map(ZipCounts.GroupView.init)
            return Parallel.slots(parts) { w in ZipCounts.count(runs[bounds[w]..<bounds[w + 1]], views: views) }
        }
    }

    /// Events (and mobile events) per hour, for all customers or per group
    /// of `by` (with an `unknown` group for ids absent from the table, when
    /// it has events).
    /// (Filters on customer attributes come as `filter`'s customer list;
    /// `table` is needed for `by`, and loaded when nil.)
    public static func hours(_ store: Store, by key: BreakdownKey?, filter f: QueryFilter,
                             table: CustomerTable?, threads: Int, sliceRows: Int = RowGroupData.sliceRows) throws -> HoursResult {
        var t = table
        if key != nil, t == nil { t = try customerTable(store) }
        let grouping = key.map { CustomerGrouping(t!, by: $0) }
        let labels = grouping.map { $0.labels + ["unknown"] } ?? ["all"]
        var counts = [Int64](repeating: 0, count: labels.count * 24)
        var mobile = [Int64](repeating: 0, count: labels.count * 24)
        // A customer range at a time, so that memory holds one slice.
        try RowGroupData.forEachSlice(store: store, filter: f, threads: threads, columns: LoadColumns(tracks: false, hours: true),
                                      sliceRows: sliceRows) { groups in
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
