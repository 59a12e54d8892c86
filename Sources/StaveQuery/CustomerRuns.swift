// Where each customer's rows lie in the loaded row groups: fragmented
// groups coalesced, runs found and ordered by customer (one counting sort).

import Dispatch
import StaveFormat
import StaveIO
import CStaveSupport

extension ProfileKernel {
    /// A group is fragmented when its runs average fewer rows than this.
    static let fragmentedRunRows = 8

    /// Returns `groups` with every fragmented group (runs averaging fewer
    /// than `fragmentedRunRows` rows, or loaded with `rowCustomers`)
    /// replaced by one group holding all their rows, sorted by customer
    /// (stably), with one run per customer. Groups with runs are left as
    /// they are when fewer than two are fragmented; groups with row
    /// customers are always merged (the kernel reads runs only). Profiles
    /// do not depend on row order within a customer, so the result gives
    /// the same profile as the input. The counting and the moving of rows
    /// run on up to `threads` threads, each on its own share of the groups.
    static func coalesceFragmented(_ groups: [RowGroupData], threads: Int = 1) -> [RowGroupData] {
        var fragmented: [Int] = []
        var rows = 0, byRow = false
        for (k, g) in groups.enumerated() {
            if !g.rowCustomers.isEmpty {
                byRow = true
            } else if g.runs.isEmpty || g.rowCount >= fragmentedRunRows * g.runs.count {
                continue
            }
            fragmented.append(k)
            rows += g.rowCount
        }
        guard byRow || fragmented.count >= 2 else { return groups }
        // Each worker takes a contiguous share of the fragmented groups, of
        // about equal rows.
        let workers = max(1, min(threads, fragmented.count, rows / 16_384 + 1))
        var shares: [Range<Int>] = []
        var from = 0, acc = 0
        for (j, k) in fragmented.enumerated() {
            acc += groups[k].rowCount
            if shares.count < workers - 1 && acc * workers >= rows * (shares.count + 1) {
                shares.append(from..<(j + 1))
                from = j + 1
            }
        }
        shares.append(from..<fragmented.count)
        let ctx = CoalesceShares(groups: groups, fragmented: fragmented, shares: shares)
        // 1. The customer range.
        let ranges = ctx.perShare { ctx.customerRange(of: $0) }
        let lo = ranges.map(\.lo).min()!, hi = ranges.map(\.hi).max()!
        let span = lo <= hi ? Int(hi - lo) + 1 : 1
        guard span <= max(4 * rows, 1 << 16), rows <= Int(Int32.max) else {
            // Too sparse for a counting sort: give row-customer groups their
            // runs back. (A group's runs name its index in `groups`.)
            return groups.enumerated().map { k, g in
                guard !g.rowCustomers.isEmpty else { return g }
                var g = g
                g.runs = runsOf(g.rowCustomers, group: Int32(k))
                g.rowCustomers = []
                return g
            }
        }
        // 2. Rows per customer in each share; then each share's first row
        //    for each customer: customers in order, shares in order within one.
        var counts = ctx.perShare { ctx.count(share: $0, lo: lo, span: span) }
        let index = Int32(groups.count - fragmented.count)
        var runs: [CustomerRun] = []
        assignSlots(&counts, span: span) { i, slots in
            runs.append(CustomerRun(customer: lo &+ UInt32(i), group: index, start: Int32(slots.lowerBound), end: Int32(slots.upperBound)))
        }
        // 3. Every share moves its rows.
        let wide = fragmented.contains { !groups[$0].track32.isEmpty }
        let anyTracks = fragmented.contains { !groups[$0].track16.isEmpty || !groups[$0].track32.isEmpty }
        let merged = MergedRows(rows: rows, track16: anyTracks && !wide, track32: anyTracks && wide)
        defer { merged.deallocate() }
        _ = ctx.perShare { w in ctx.scatter(share: w, lo: lo, pos: counts[w], wide: wide, into: merged) }
        var out: [RowGroupData] = []
        out.reserveCapacity(Int(index) + 1)
        var f = 0
        for k in groups.indices {
            if f < fragmented.count && fragmented[f] == k { f += 1; continue }
            var g = groups[k]
            let at = Int32(out.count)
            if at != Int32(k) { for j in g.runs.indices { g.runs[j].group = at } }
            out.append(g)
        }
        let full = fragmented.allSatisfy { groups[$0].full }
        let maxTrack = fragmented.reduce(Int64(0)) { max($0, groups[$1].maxTrack) }
        out.append(RowGroupData(codes: Array(merged.codes), track16: Array(merged.track16), track32: Array(merged.track32),
                                runs: runs, full: full, maxTrack: maxTrack))
        return out
    }

    /// The merged group's buffers, written by the shares at disjoint rows.
    final class MergedRows: @unchecked Sendable {
        // @unchecked Sendable: each share writes only the rows its positions
        // give it (disjoint by construction in coalesceFragmented).
        let codes: UnsafeMutableBufferPointer<UInt8>
        let track16: UnsafeMutableBufferPointer<UInt16>
        let track32: UnsafeMutableBufferPointer<UInt32>
        init(rows: Int, track16 t16: Bool, track32 t32: Bool) {
            codes = .allocate(capacity: rows)
            track16 = .allocate(capacity: t16 ? rows : 0)
            track32 = .allocate(capacity: t32 ? rows : 0)
        }
        func deallocate() { codes.deallocate(); track16.deallocate(); track32.deallocate() }
    }

    /// The fragmented groups split into shares, one per worker.
    struct CoalesceShares: @unchecked Sendable {
        // @unchecked Sendable: read-only while the workers run.
        let groups: [RowGroupData]
        let fragmented: [Int]
        let shares: [Range<Int>]

        /// `body(w)` for every share w, in parallel; the results in share order.
        func perShare<T>(_ body: (Int) -> T) -> [T] { Parallel.slots(shares.count, body) }

        func customerRange(of w: Int) -> (lo: UInt32, hi: UInt32) {
            var lo = UInt32.max, hi = UInt32.min
            for j in shares[w] {
                let g = groups[fragmented[j]]
                for c in g.rowCustomers { lo = min(lo, c); hi = max(hi, c) }
                for r in g.runs { lo = min(lo, r.customer); hi = max(hi, r.customer) }
            }
            return (lo, hi)
        }

        /// Rows per customer (index customer - lo) in share w.
        /// - Precondition: every customer of the share is in lo..<lo + span.
        func count(share w: Int, lo: UInt32, span: Int) -> [Int] {
            var c = [Int](repeating: 0, count: span)
            c.withUnsafeMutableBufferPointer { c in
                for j in shares[w] {
                    let g = groups[fragmented[j]]
                    if g.rowCustomers.isEmpty {
                        for r in g.runs { c[Int(r.customer &- lo)] &+= Int(r.end &- r.start) }
                    } else {
                        for x in g.rowCustomers { c[Int(x &- lo)] &+= 1 }
                    }
                }
            }
            return c
        }

        /// Moves share w's rows to their places in `merged`.
        /// - Precondition: `pos[customer - lo]` is where this share's rows
        ///   of the customer start, with room for all of them.
        func scatter(share w: Int, lo: UInt32, pos: [Int], wide: Bool, into merged: MergedRows) {
            var pos = pos
            pos.withUnsafeMutableBufferPointer { pos in
                for j in shares[w] {
                    let g = groups[fragmented[j]]
                    let place = Placement(runs: g.runs, rowCustomers: g.rowCustomers, lo: lo, pos: pos)
                    g.codes.withUnsafeBufferPointer { src in
                    g.track16.withUnsafeBufferPointer { t16 in
                    g.track32.withUnsafeBufferPointer { t32 in
                        if !t16.isEmpty && !wide {
                            place.scatter(src, merged.codes, t16, merged.track16)
                        } else if !t16.isEmpty {
                            place.scatter(src, merged.codes, t16, merged.track32)
                        } else if !t32.isEmpty {
                            place.scatter(src, merged.codes, t32, merged.track32)
                        } else {
                            place.scatter(src, merged.codes, t32, UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0))
                        }
                    }
                    }
                    }
                }
            }
        }
    }

    /// The runs of a row-customer column.
    static func runsOf(_ customers: [UInt32], group: Int32) -> [CustomerRun] {
        var runs: [CustomerRun] = []
        var s = 0
        while s < customers.count {
            var e = s + 1
            while e < customers.count && customers[e] == customers[s] { e += 1 }
            runs.append(CustomerRun(customer: customers[s], group: group, start: Int32(s), end: Int32(e)))
            s = e
        }
        return runs
    }

    /// Where one group's rows go in the merged group: by its runs, or by its
    /// row customers. `pos[customer - lo]` is the next free row of each
    /// customer and advances as rows are placed.
    struct Placement {
        let runs: [CustomerRun]
        let rowCustomers: [UInt32]
        let lo: UInt32
        let pos: UnsafeMutableBufferPointer<Int>

        /// Moves each row's code and, when `tracks` is not empty, its track.
        /// - Precondition: the runs or row customers lie inside `codes` (and
        ///   `tracks`), and `pos` leaves room for them in `outCodes` (and
        ///   `outTracks`).
        @inline(__always)
        func scatter<T: FixedWidthInteger, U: FixedWidthInteger>(_ codes: UnsafeBufferPointer<UInt8>, _ outCodes: UnsafeMutableBufferPointer<UInt8>,
                                                                 _ tracks: UnsafeBufferPointer<T>, _ outTracks: UnsafeMutableBufferPointer<U>) {
            let withTracks = !tracks.isEmpty
            if !rowCustomers.isEmpty {
                rowCustomers.withUnsafeBufferPointer { cs in
                    for i in 0..<cs.count {
                        let slot = Int(cs[i] &- lo)
                        let at = pos[slot]
                        outCodes[at] = codes[i]
                        if withTracks { outTracks[at] = U(truncatingIfNeeded: tracks[i]) }
                        pos[slot] = at &+ 1
                    }
                }
                return
            }
            runs.withUnsafeBufferPointer { runs in
                for r in runs {
                    let slot = Int(r.customer &- lo)
                    var at = pos[slot]
                    var i = Int(r.start)
                    let e = Int(r.end)
                    while i < e {
                        outCodes[at] = codes[i]
                        if withTracks { outTracks[at] = U(truncatingIfNeeded: tracks[i]) }
                        at &+= 1
                        i &+= 1
                    }
                    pos[slot] = at
                }
            }
        }
    }

    /// All runs of `groups` sorted by customer, stably (a customer's runs in
    /// group order); `starts[c]` is the index of customer c's first run
    /// (plus one entry: the run count), `rowsBefore[c]` the rows of the
    /// customers before c (plus one entry: all rows). A counting sort on up
    /// to `threads` threads, each counting and moving the runs of a
    /// contiguous share of the groups; a serial sort when the ids span too far.
    static func runsByCustomer(_ groups: [RowGroupData], threads: Int) -> (runs: [CustomerRun], starts: [Int], rowsBefore: [Int]) {
        let total = groups.reduce(0) { $0 + $1.runs.count }
        guard total > 0 else { return ([], [0], [0]) }
        let workers = max(1, min(threads, groups.count, total / 16_384 + 1))
        var shares: [Range<Int>] = []
        var from = 0, acc = 0
        for (k, g) in groups.enumerated() {
            acc += g.runs.count
            if shares.count < workers - 1 && acc * workers >= total * (shares.count + 1) {
                shares.append(from..<(k + 1))
                from = k + 1
            }
        }
        shares.append(from..<groups.count)
        // 1. The customer range.
        let ranges = Parallel.slots(shares.count) { w -> (UInt32, UInt32) in
            var lo = UInt32.max, hi = UInt32.min
            for k in shares[w] { for r in groups[k].runs { lo = min(lo, r.customer); hi = max(hi, r.customer) } }
            return (lo, hi)
        }
        let lo = ranges.map(\.0).min()!, hi = ranges.map(\.1).max()!
        let span = Int(hi - lo) + 1
        guard span <= max(4 * total, 1 << 16) else {
            var runs: [CustomerRun] = []
            runs.reserveCapacity(total)
            for g in groups { runs.append(contentsOf: g.runs) }
            runs = sortByCustomer(runs)
            var starts: [Int] = [0], rowsBefore: [Int] = [0]
            var rows = 0
            for k in runs.indices {
                if k > 0 && runs[k].customer != runs[k - 1].customer {
                    starts.append(k)
                    rowsBefore.append(rows)
                }
                rows += Int(runs[k].end - runs[k].start)
            }
            starts.append(runs.count)
            rowsBefore.append(rows)
            return (runs, starts, rowsBefore)
        }
        // 2. Runs and rows per customer in each share (index customer - lo,
        //    inside 0..<span by the range above).
        let counted = Parallel.slots(shares.count) { w -> ([Int], [Int]) in
            var runCount = [Int](repeating: 0, count: span)
            var rowCount = [Int](repeating: 0, count: span)
            runCount.withUnsafeMutableBufferPointer { rc in
                rowCount.withUnsafeMutableBufferPointer { ro in
                    for k in shares[w] {
                        for r in groups[k].runs {
                            let i = Int(r.customer &- lo)
                            rc[i] &+= 1
                            ro[i] &+= Int(r.end &- r.start)
                        }
                    }
                }
            }
            return (runCount, rowCount)
        }
        // 3. Each share's first slot for each customer: customers in order,
        //    shares in order within a customer.
        var positions = counted.map(\.0)
        var starts: [Int] = [], rowsBefore: [Int] = []
        var rows = 0
        assignSlots(&positions, span: span) { i, slots in
            starts.append(slots.lowerBound)
            rowsBefore.append(rows)
            for c in counted { rows += c.1[i] }
        }
        starts.append(total)
        rowsBefore.append(rows)
        // 4. Every share moves its runs to their slots (disjoint by step 3).
        let runs = [CustomerRun](unsafeUninitializedCapacity: total) { out, n in
            // Slots 0..<total of `out`, each initialized by exactly one share.
            let base = out.baseAddress!
            _ = Parallel.slots(shares.count) { w -> Bool in
                var pos = positions[w]
                pos.withUnsafeMutableBufferPointer { p in
                    for k in shares[w] {
                        for r in groups[k].runs {
                            let i = Int(r.customer &- lo)
                            (base + p[i]).initialize(to: r)
                            p[i] &+= 1
                        }
                    }
                }
                return true
            }
            n = total
        }
        return (runs, starts, rowsBefore)
    }

    /// The counting sort's middle step, shared by both of its uses (rows of
    /// fragmented groups, runs of all groups). Items lie in shares (each a
    /// worker's contiguous slice of the input, in input order) and have a
    /// key in 0..<span (customer - lo); `counts[w][i]` is how many items of
    /// share w have key i. Replaces each count by share w's first slot for
    /// key i: keys in order, shares in order within a key, so the sort is
    /// stable. Calls `key(i, slots)` for each key with items, in order.
    /// - Precondition: every `counts[w]` has `span` entries.
    static func assignSlots(_ counts: inout [[Int]], span: Int, _ key: (Int, Range<Int>) -> Void) {
        var at = 0
        for i in 0..<span {
            let first = at
            for w in counts.indices {
                let n = counts[w][i]
                counts[w][i] = at
                at += n
            }
            if at > first { key(i, first..<at) }
        }
    }

    /// Customer bounds for `workers` shares of about equal rows, from the
    /// rows before each customer (`rowsBefore[c]`, with the total last):
    /// share w is customers bounds[w]..<bounds[w + 1].
    static func shares(rowsBefore: [Int], workers: Int) -> [Int] {
        let customers = rowsBefore.count - 1
        var bounds = [0]
        var c = 0
        for w in 1..<max(1, workers) {
            let target = rowsBefore[customers] * w / workers
            while c < customers && rowsBefore[c] < target { c += 1 }
            bounds.append(c)
        }
        bounds.append(customers)
        return bounds
    }

    /// Sorts runs by customer, keeping the order of runs of one customer:
    /// a comparison sort, for ids that span too far for the counting sort
    /// of `runsByCustomer` (its only caller).
    static func sortByCustomer(_ runs: [CustomerRun]) -> [CustomerRun] {
        return runs.enumerated().sorted { ($0.element.customer, $0.offset) < ($1.element.customer, $1.offset) }.map(\.element)
    }

}
