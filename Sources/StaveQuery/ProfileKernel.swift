import Dispatch
import StaveFormat
import StaveIO
import CStaveSupport

/// Per-customer listening profiles, sorted by customer id.
public struct Profile: Sendable, Equatable {
    public var customer: [UInt32] = []
    public var uniqueTracks: [Int64] = []
    public var morning: [Int64] = []
    public var afternoon: [Int64] = []
    public var evening: [Int64] = []
    public var night: [Int64] = []
    public var mobile: [Int64] = []

    public init() {}

    public var count: Int { customer.count }

    public func total(_ i: Int) -> Int64 { morning[i] + afternoon[i] + evening[i] + night[i] }

    /// The customers from `first` on (the profile is in customer order).
    public func customers(from first: UInt32) -> Profile {
        var a = 0, b = count
        while a < b { let m = (a + b) / 2; if customer[m] < first { a = m + 1 } else { b = m } }
        var p = Profile()
        p.customer = Array(customer[a...]); p.uniqueTracks = Array(uniqueTracks[a...]); p.morning = Array(morning[a...])
        p.afternoon = Array(afternoon[a...]); p.evening = Array(evening[a...]); p.night = Array(night[a...]); p.mobile = Array(mobile[a...])
        return p
    }

    /// The seven numeric columns in output order.
    public static let columnNames = ["unique_tracks", "morning", "afternoon", "evening", "night", "mobile_tracks", "total_tracks"]

    public func column(_ k: Int) -> [Int64] {
        switch k {
        case 0: return uniqueTracks
        case 1: return morning
        case 2: return afternoon
        case 3: return evening
        case 4: return night
        case 5: return mobile
        default: return (0..<count).map(total)
        }
    }
}

/// Parts of the day by the hour written in the datetime, as seconds of the day.
public enum DayParts {
    public static let morningStart: UInt32 = 5 * 3600     // 05:00:00
    public static let afternoonStart: UInt32 = 12 * 3600  // 12:00:00
    public static let eveningStart: UInt32 = 17 * 3600    // 17:00:00
    public static let nightStart: UInt32 = 22 * 3600      // 22:00:00
}

public enum ProfileKernel {
    /// Computes the profile of every customer with at least one event in the
    /// decoded row groups (their windows applied).
    public static func compute(groups loaded: [RowGroupData], threads: Int) -> Profile {
        // 0. Row groups cut into short runs (small appended parts span many
        //    customers with a row or two each) are merged into one group
        //    sorted by customer, so the kernel sees one run per customer
        //    instead of one per row.
        let groups = coalesceFragmented(loaded, threads: threads)
        // 1. The usual case: a few chains of groups sorted by customer,
        //    walked side by side.
        if let streams = RunStreams(groups, maxSpan: { max(4 * $0, 1 << 16) }) {
            return computeMerged(groups, streams, threads: threads)
        }
        // Otherwise all runs, grouped by customer (stable: group order is kept).
        let (runs, starts, rowsBefore) = runsByCustomer(groups, threads: threads)
        guard !runs.isEmpty else { return Profile() }
        let rowCount = rowsBefore.last!
        let customers = starts.count - 1

        // 2. Split customers into contiguous slices of about equal rows.
        let workers = max(1, min(threads, customers / 64 + 1))
        var bounds = [0]
        var c = 0
        for w in 1..<workers {
            let target = rowCount * w / workers
            while c < customers && rowsBefore[c] < target { c += 1 }
            bounds.append(c)
        }
        bounds.append(customers)

        // 3. Kernels. Each worker writes only output slots bounds[w]..<bounds[w+1].
        let out = ProfileBuffers(count: customers)
        defer { out.deallocate() }
        let maxTrack = groups.reduce(Int64(0)) { max($0, $1.maxTrack) }
        withExtendedLifetime(groups) {
            let views = groups.map(GroupView.init)
            let shared = SendableBox((views, runs, starts, bounds, out))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let (views, runs, starts, bounds, out) = shared.value
                runSlice(customers: bounds[w]..<bounds[w + 1], views: views, runs: runs, starts: starts,
                         maxTrack: maxTrack, out: out)
            }
        }
        return out.profile()
    }

    /// The kernel over `streams` (built from `groups`): worker w profiles
    /// the customers in bounds[w]..<bounds[w + 1] (about equal rows each)
    /// and writes slot customer - lo of a buffer one slot per customer id.
    static func computeMerged(_ groups: [RowGroupData], _ streams: RunStreams, threads: Int) -> Profile {
        let span = Int(streams.hi - streams.lo) + 1
        let workers = max(1, min(threads, streams.totalRows / 4096 + 1))
        let bounds = streams.split(workers: workers, groups: groups)
        let cursors = (0..<workers).map { w in streams.chains.indices.map { streams.seek($0, bounds[w], groups: groups).0 } }
        let out = ProfileBuffers(count: span)
        defer { out.deallocate() }
        let maxTrack = groups.reduce(Int64(0)) { max($0, $1.maxTrack) }
        withExtendedLifetime(groups) {
            let views = groups.map(GroupView.init)
            let shared = SendableBox((views, streams.chains, cursors, bounds, out))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let (views, chains, cursors, bounds, out) = shared.value
                views.withUnsafeBufferPointer { views in
                    mergeSlice(views: views, chains: chains, from: cursors[w], to: bounds[w + 1], lo: streams.lo,
                               maxTrack: maxTrack, out: out)
                }
            }
        }
        return out.profile()
    }

    /// Profiles, from the cursors on, every customer below `bound`, taking
    /// each customer's runs from every stream whose next run is theirs.
    /// - Precondition: `views` are the views of the groups `chains` index
    ///   (every chained group has runs, non-descending by customer, and its
    ///   chain's groups follow in customer order); every customer below
    ///   `bound` and >= lo has slot customer - lo in `out`.
    static func mergeSlice(views: UnsafeBufferPointer<GroupView>, chains: [[Int]], from cursors: [RunStreams.Cursor], to bound: UInt64,
                           lo: UInt32, maxTrack: Int64, out: ProfileBuffers) {
        let n = chains.count
        // Per stream: its groups' views in chain order (`links`, flattened,
        // stream s at linkStart[s]..<linkStart[s + 1]), the current link and
        // run, and the customer of that run (UInt64.max at the stream's end).
        var linkArray: [GroupView] = []
        var linkStartArray = [0]
        for chain in chains {
            for k in chain { linkArray.append(views[k]) }
            linkStartArray.append(linkArray.count)
        }
        let link = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let run = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let next = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
        var mine = RunBuffer(capacity: 4 * n)
        defer { link.deallocate(); run.deallocate(); next.deallocate(); mine.deallocate() }
        let state = CustomerState(maxTrack: maxTrack)
        linkArray.withUnsafeBufferPointer { links in
        linkStartArray.withUnsafeBufferPointer { linkStart in
            for s in 0..<n {
                link[s] = linkStart[s] + cursors[s].position
                run[s] = cursors[s].run
                next[s] = link[s] < linkStart[s + 1] ? UInt64(links[link[s]].runs[run[s]].customer) : .max
            }
            while true {
                var c = UInt64.max
                for s in 0..<n { c = min(c, next[s]) }
                guard c < bound else { break }
                mine.removeAll()
                for s in 0..<n where next[s] == c {
                    // Every run of c in stream s (consecutive in it).
                    repeat {
                        let v = links[link[s]]
                        mine.append(v.runs[run[s]])
                        run[s] += 1
                        prefetch(v, run: run[s] &+ prefetchRuns)
                        if run[s] == v.runCount {
                            link[s] += 1
                            run[s] = 0
                        }
                        next[s] = link[s] < linkStart[s + 1] ? UInt64(links[link[s]].runs[run[s]].customer) : .max
                    } while next[s] == c
                }
                out.set(Int(c) - Int(lo), customer: UInt32(truncatingIfNeeded: c), state.profile(mine.runs, views: views))
            }
        }
        }
    }

    /// How many runs ahead of the one being read `mergeSlice` asks for a
    /// stream's rows. Each stream moves by one run per customer, a cache line
    /// or two at a time, too slowly for the hardware prefetcher to follow
    /// the three streams of a three-month store (measured: without the hint,
    /// the kernel at 10M rows waited on memory at each stream's next run).
    static let prefetchRuns = 2

    /// Hints the cache to load run k of group `v` (its codes and tracks) and
    /// the run record eight further on; nothing when k is past the last run.
    @inline(__always)
    static func prefetch(_ v: GroupView, run k: Int) {
        // stave_prefetch never faults: addresses past a buffer are harmless.
        stave_prefetch(v.runs + (k &+ 8))
        guard k < v.runCount else { return }
        let r = v.runs[k]
        let s = Int(r.start), e = Int(r.end)
        var i = s
        while i < e { stave_prefetch(v.codes + i); i &+= 64 }
        if let t = v.track16 {
            i = s
            while i < e { stave_prefetch(t + i); i &+= 32 }
            stave_prefetch(t + (e &- 1))
        } else if let t = v.track32 {
            i = s
            while i < e { stave_prefetch(t + i); i &+= 16 }
            stave_prefetch(t + (e &- 1))
        }
    }

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
        var at = 0
        for i in 0..<span {
            let start = at
            for w in counts.indices {
                let n = counts[w][i]
                counts[w][i] = at
                at += n
            }
            if at > start { runs.append(CustomerRun(customer: lo &+ UInt32(i), group: index, start: Int32(start), end: Int32(at))) }
        }
        // 3. Every share moves its rows.
        let wide = fragmented.contains { !groups[$0].track32.isEmpty }
        let anyTracks = fragmented.contains { !groups[$0].track16.isEmpty || !groups[$0].track32.isEmpty }
        let merged = MergedRows(rows: rows, track16: anyTracks && !wide, track32: anyTracks && wide)
        defer { merged.deallocate() }
        let positions = SendableBox(counts)
        _ = ctx.perShare { w in ctx.scatter(share: w, lo: lo, pos: positions.value[w], wide: wide, into: merged) }
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
        func perShare<T>(_ body: (Int) -> T) -> [T] { ProfileKernel.perIndex(shares.count, body) }

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
        let ctx = SendableBox((groups, shares))
        // 1. The customer range.
        let ranges = perIndex(shares.count) { w -> (UInt32, UInt32) in
            let (groups, shares) = ctx.value
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
        let counted = perIndex(shares.count) { w -> ([Int], [Int]) in
            let (groups, shares) = ctx.value
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
        var at = 0, rows = 0
        for i in 0..<span {
            let first = at
            var customerRows = 0
            for w in positions.indices {
                let n = positions[w][i]
                positions[w][i] = at
                at += n
                customerRows += counted[w].1[i]
            }
            if at > first {
                starts.append(first)
                rowsBefore.append(rows)
                rows += customerRows
            }
        }
        starts.append(at)
        rowsBefore.append(rows)
        // 4. Every share moves its runs to their slots (disjoint by step 3).
        let runs = [CustomerRun](unsafeUninitializedCapacity: total) { out, n in
            let target = SendableBox((out, positions))
            _ = perIndex(shares.count) { w -> Bool in
                let (groups, shares) = ctx.value
                var pos = target.value.1[w]
                let out = target.value.0
                pos.withUnsafeMutableBufferPointer { p in
                    for k in shares[w] {
                        for r in groups[k].runs {
                            let i = Int(r.customer &- lo)
                            (out.baseAddress! + p[i]).initialize(to: r)
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

    /// `body(i)` for i in 0..<n, in parallel; the results in order.
    static func perIndex<T>(_ n: Int, _ body: (Int) -> T) -> [T] {
        let out = UnsafeMutableBufferPointer<T?>.allocate(capacity: n)
        out.initialize(repeating: nil)
        defer { out.deinitialize(); out.deallocate() }
        let box = SendableBox(out)  // each iteration writes only its own slot
        withoutActuallyEscaping(body) { body in
            let f = SendableBox(body)
            DispatchQueue.concurrentPerform(iterations: n) { i in box.value[i] = f.value(i) }
        }
        return out.map { $0! }
    }

    /// Sorts runs by customer, keeping the order of runs of one customer.
    static func sortByCustomer(_ runs: [CustomerRun]) -> [CustomerRun] {
        guard !runs.isEmpty else { return [] }
        var lo = UInt32.max, hi = UInt32.min
        for r in runs { lo = min(lo, r.customer); hi = max(hi, r.customer) }
        let span = Int(hi - lo) + 1
        if span <= max(4 * runs.count, 1 << 16) {
            // Counting sort: stable, one pass to count, one to place.
            var counts = [Int](repeating: 0, count: span + 1)
            return [CustomerRun](unsafeUninitializedCapacity: runs.count) { out, n in
                runs.withUnsafeBufferPointer { src in
                    counts.withUnsafeMutableBufferPointer { c in
                        // Every index below is customer - lo in 0..<span, plus one.
                        for r in src { c[Int(r.customer &- lo) &+ 1] &+= 1 }
                        for k in 1...span { c[k] &+= c[k &- 1] }
                        for r in src {
                            let k = Int(r.customer &- lo)
                            (out.baseAddress! + c[k]).initialize(to: r)
                            c[k] &+= 1
                        }
                    }
                }
                n = runs.count
            }
        }
        return runs.enumerated().sorted { ($0.element.customer, $0.offset) < ($1.element.customer, $1.offset) }.map(\.element)
    }

    /// Raw views of one group's buffers, valid while `groups` is alive.
    struct GroupView {
        let codes: UnsafePointer<UInt8>
        let track16: UnsafePointer<UInt16>?
        let track32: UnsafePointer<UInt32>?
        let full: Bool
        let runs: UnsafePointer<CustomerRun>
        let runCount: Int

        init(_ g: RowGroupData) {
            // Safe while `groups` is kept alive (withExtendedLifetime in compute):
            // the arrays are never mutated after load.
            codes = g.codes.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 8)! }
            track16 = g.track16.isEmpty ? nil : g.track16.withUnsafeBufferPointer { $0.baseAddress }
            track32 = g.track32.isEmpty ? nil : g.track32.withUnsafeBufferPointer { $0.baseAddress }
            full = g.full
            runs = g.runs.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 16)! }
            runCount = g.runs.count
        }
    }

    static let bitmapLimit: Int64 = 1 << 28
    /// Bitmaps of at most this many words (track ids below 4,096) are zeroed
    /// whole after each customer.
    static let smallBitmapWords = 64

    static func runSlice(customers: Range<Int>, views viewArray: [GroupView], runs runArray: [CustomerRun], starts startArray: [Int],
                         maxTrack: Int64, out: ProfileBuffers) {
        viewArray.withUnsafeBufferPointer { views in
        runArray.withUnsafeBufferPointer { runs in
        startArray.withUnsafeBufferPointer { starts in
            let state = CustomerState(maxTrack: maxTrack)
            for c in customers {
                let mine = UnsafeBufferPointer(rebasing: runs[starts[c]..<starts[c + 1]])
                out.set(c, customer: mine[0].customer, state.profile(mine, views: views))
            }
        }
        }
        }
    }

    /// One customer's figures, before `night` is derived from the total.
    struct CustomerCounts {
        var unique: Int64 = 0, morning: Int64 = 0, afternoon: Int64 = 0, evening: Int64 = 0, total: Int64 = 0, mobile: Int64 = 0
    }

    /// A worker's reusable state for profiling one customer after another:
    /// the lane table, the track bitmap (kept all zero between customers)
    /// or, for track ids too large for it, a list to sort.
    final class CustomerState {
        let useBitmap: Bool
        /// A copy of `laneTable` (16 entries), owned.
        let lanes: UnsafeMutablePointer<UInt64>
        /// Owned; empty without the bitmap.
        let bm: UnsafeMutableBufferPointer<UInt64>
        var scratch: [UInt32] = []

        init(maxTrack: Int64) {
            useBitmap = maxTrack < ProfileKernel.bitmapLimit
            lanes = .allocate(capacity: 16)
            lanes.initialize(from: ProfileKernel.laneTable, count: 16)
            bm = .allocate(capacity: useBitmap ? Int(maxTrack >> 6) + 1 : 0)
            bm.initialize(repeating: 0)
        }

        deinit {
            lanes.deallocate()
            bm.deallocate()
        }

        /// The usual customer of a high-cardinality store (a few short runs,
        /// every row inside the window, tracks in the bitmap): the runs'
        /// rows added into one packed word, unpacked once, instead of per
        /// run (the per-run work cost more than the rows of a run of 3).
        /// nil when the customer is not that case.
        /// - Precondition: as for `profile`.
        @inline(__always)
        func profileSmall(_ runs: UnsafeBufferPointer<CustomerRun>, views: UnsafeBufferPointer<GroupView>) -> CustomerCounts? {
            guard useBitmap else { return nil }
            var rows = 0
            for run in runs {
                let v = views[Int(run.group)]
                guard v.full, v.track16 != nil || v.track32 != nil else { return nil }
                rows &+= Int(run.end) &- Int(run.start)
            }
            guard rows <= ProfileKernel.smallCustomerRows else { return nil }
            let lanes = UnsafePointer(self.lanes), bm = self.bm
            var acc: UInt64 = 0
            var fresh: Int64 = 0
            @inline(__always) func add<T: FixedWidthInteger & UnsignedInteger>(_ codes: UnsafePointer<UInt8>, _ tr: UnsafePointer<T>, _ s: Int, _ e: Int) {
                for k in s..<e {
                    acc &+= lanes[Int(codes[k] & 15)]
                    let x = Int(tr[k])
                    let w = x &>> 6
                    let bit = UInt64(1) &<< UInt64(x & 63)
                    let word = bm[w]
                    fresh &+= (word & bit) == 0 ? 1 : 0
                    bm[w] = word | bit
                }
            }
            for run in runs {
                let v = views[Int(run.group)]
                if let t = v.track16 { add(v.codes, t, Int(run.start), Int(run.end)) } else { add(v.codes, v.track32!, Int(run.start), Int(run.end)) }
            }
            if bm.count <= ProfileKernel.smallBitmapWords {
                bm.update(repeating: 0)
            } else {
                for run in runs {
                    let v = views[Int(run.group)]
                    if let t = v.track16 { ProfileKernel.clear(t, Int(run.start), Int(run.end), bm) } else { ProfileKernel.clear(v.track32!, Int(run.start), Int(run.end), bm) }
                }
            }
            var r = CustomerCounts()
            r.morning = Int64(acc & 0xFFF)
            r.afternoon = Int64((acc &>> 12) & 0xFFF)
            r.evening = Int64((acc &>> 24) & 0xFFF)
            r.total = Int64((acc &>> 36) & 0xFFF)
            r.mobile = Int64((acc &>> 48) & 0xFFF)
            r.unique = fresh
            return r
        }

        /// The figures of the customer whose runs are `runs`.
        /// - Precondition: every run's group indexes `views`, its rows lie
        ///   inside that group, and its tracks are <= the maxTrack given
        ///   to init (the views and runs come from the same groups).
        @inline(__always)
        func profile(_ runs: UnsafeBufferPointer<CustomerRun>, views: UnsafeBufferPointer<GroupView>) -> CustomerCounts {
            if let r = profileSmall(runs, views: views) { return r }
            var r = CustomerCounts()
            let useBitmap = self.useBitmap, lanes = UnsafePointer(self.lanes), bm = self.bm
            for run in runs {
                let v = views[Int(run.group)]
                let s = Int(run.start), e = Int(run.end)
                guard e > s else { continue }
                if useBitmap && v.full && (v.track16 != nil || v.track32 != nil) {
                    // The common case in one pass over the run.
                    let x = v.track16.map { ProfileKernel.countAndMark(v.codes, $0, s, e, lanes, bm) }
                        ?? ProfileKernel.countAndMark(v.codes, v.track32!, s, e, lanes, bm)
                    r.morning += Int64(x.0); r.afternoon += Int64(x.1); r.evening += Int64(x.2)
                    r.total += Int64(x.3); r.mobile += Int64(x.4); r.unique += x.5
                    continue
                }
                let x = ProfileKernel.count(v.codes, s, e, lanes)
                r.morning += Int64(x.0); r.afternoon += Int64(x.1); r.evening += Int64(x.2)
                r.total += Int64(x.3); r.mobile += Int64(x.4)
                if useBitmap {
                    if let t = v.track16 {
                        r.unique += v.full ? ProfileKernel.mark(t, s, e, bm) : ProfileKernel.mark(t, v.codes, s, e, bm)
                    } else if let t = v.track32 {
                        r.unique += v.full ? ProfileKernel.mark(t, s, e, bm) : ProfileKernel.mark(t, v.codes, s, e, bm)
                    }
                } else if let t = v.track32 {
                    for i in s..<e where v.codes[i] & RowGroupData.windowBit != 0 { scratch.append(t[i]) }
                } else if let t = v.track16 {
                    // A group of small ids next to one with huge ids.
                    for i in s..<e where v.codes[i] & RowGroupData.windowBit != 0 { scratch.append(UInt32(t[i])) }
                }
            }
            if useBitmap && bm.count <= ProfileKernel.smallBitmapWords {
                // A small bitmap is cheaper to zero whole than to walk
                // the customer's tracks again.
                bm.update(repeating: 0)
            } else if useBitmap {
                // Clear exactly the words this customer touched.
                for run in runs {
                    let v = views[Int(run.group)]
                    if let t = v.track16 {
                        ProfileKernel.clear(t, Int(run.start), Int(run.end), bm)
                    } else if let t = v.track32 {
                        ProfileKernel.clear(t, Int(run.start), Int(run.end), bm)
                    }
                }
            } else {
                scratch.sort()
                for i in scratch.indices where i == 0 || scratch[i] != scratch[i - 1] { r.unique += 1 }
                scratch.removeAll(keepingCapacity: true)
            }
            return r
        }
    }

    /// Rows of a customer whose figures `CustomerState.profileSmall`
    /// accumulates in one packed word (every lane stays below 4,096).
    static let smallCustomerRows = 4095

    /// For each of the 16 codes (see RowGroupData.codes), the increments it
    /// makes in five 12-bit lanes: 0 morning, 1 afternoon, 2 evening,
    /// 3 inside the window (total), 4 mobile. Rows outside the window add 0.
    static let laneTable: [UInt64] = (0..<16).map { (c: Int) -> UInt64 in
        guard c & Int(RowGroupData.windowBit) != 0 else { return 0 }
        var v: UInt64 = 1 << 36
        switch c & 3 {
        case 1: v |= 1
        case 2: v |= 1 << 12
        case 3: v |= 1 << 24
        default: break
        }
        if c & Int(RowGroupData.mobileBit) != 0 { v |= 1 << 48 }
        return v
    }

    /// (morning, afternoon, evening, total, mobile) of rows s..<e inside the
    /// window: one table load and one add per row, no branches; the lanes are
    /// emptied every 4,095 rows, before any can overflow.
    /// - Precondition: `lanes` points at `laneTable`; every code is < 16.
    @inline(__always)
    static func count(_ codes: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ lanes: UnsafePointer<UInt64>) -> (UInt32, UInt32, UInt32, UInt32, UInt32) {
        var m: UInt32 = 0, a: UInt32 = 0, ev: UInt32 = 0, tot: UInt32 = 0, mob: UInt32 = 0
        var i = s
        while i < e {
            let end = min(e, i + 4095)
            var acc: UInt64 = 0
            for k in i..<end { acc &+= lanes[Int(codes[k] & 15)] }
            m &+= UInt32(acc & 0xFFF)
            a &+= UInt32((acc &>> 12) & 0xFFF)
            ev &+= UInt32((acc &>> 24) & 0xFFF)
            tot &+= UInt32((acc &>> 36) & 0xFFF)
            mob &+= UInt32((acc &>> 48) & 0xFFF)
            i = end
        }
        return (m, a, ev, tot, mob)
    }

    /// `count` and `mark` (all rows inside the window) in one pass.
    /// - Precondition: as for `count` and `mark`.
    @inline(__always)
    static func countAndMark<T: FixedWidthInteger & UnsignedInteger>(_ codes: UnsafePointer<UInt8>, _ tr: UnsafePointer<T>, _ s: Int, _ e: Int, _ lanes: UnsafePointer<UInt64>,
                             _ bm: UnsafeMutableBufferPointer<UInt64>) -> (UInt32, UInt32, UInt32, UInt32, UInt32, Int64) {
        var m: UInt32 = 0, a: UInt32 = 0, ev: UInt32 = 0, tot: UInt32 = 0, mob: UInt32 = 0
        var fresh: Int64 = 0
        var i = s
        while i < e {
            let end = min(e, i + 4095)
            var acc: UInt64 = 0
            for k in i..<end {
                acc &+= lanes[Int(codes[k] & 15)]
                let x = Int(tr[k])
                let w = x &>> 6
                let bit = UInt64(1) &<< UInt64(x & 63)
                let word = bm[w]
                fresh &+= (word & bit) == 0 ? 1 : 0
                bm[w] = word | bit
            }
            m &+= UInt32(acc & 0xFFF)
            a &+= UInt32((acc &>> 12) & 0xFFF)
            ev &+= UInt32((acc &>> 24) & 0xFFF)
            tot &+= UInt32((acc &>> 36) & 0xFFF)
            mob &+= UInt32((acc &>> 48) & 0xFFF)
            i = end
        }
        return (m, a, ev, tot, mob, fresh)
    }

    /// Sets the bit of each track of s..<e; returns how many were new.
    /// - Precondition: every track <= maxTrack, so `>> 6` indexes inside `bm`
    ///   (maxTrack is the maximum of the decoded values).
    @inline(__always)
    static func mark<T: FixedWidthInteger & UnsignedInteger>(_ tr: UnsafePointer<T>, _ s: Int, _ e: Int, _ bm: UnsafeMutableBufferPointer<UInt64>) -> Int64 {
        var fresh: Int64 = 0
        for i in s..<e {
            let x = Int(tr[i])
            let w = x &>> 6
            let bit = UInt64(1) &<< UInt64(x & 63)
            let word = bm[w]
            fresh &+= (word & bit) == 0 ? 1 : 0
            bm[w] = word | bit
        }
        return fresh
    }

    /// As `mark`, for rows inside the window only.
    @inline(__always)
    static func mark<T: FixedWidthInteger & UnsignedInteger>(_ tr: UnsafePointer<T>, _ codes: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ bm: UnsafeMutableBufferPointer<UInt64>) -> Int64 {
        var fresh: Int64 = 0
        for i in s..<e where codes[i] & RowGroupData.windowBit != 0 {
            let x = Int(tr[i])
            let w = x &>> 6
            let bit = UInt64(1) &<< UInt64(x & 63)
            let word = bm[w]
            fresh &+= (word & bit) == 0 ? 1 : 0
            bm[w] = word | bit
        }
        return fresh
    }

    @inline(__always)
    static func clear<T: FixedWidthInteger & UnsignedInteger>(_ tr: UnsafePointer<T>, _ s: Int, _ e: Int, _ bm: UnsafeMutableBufferPointer<UInt64>) {
        for i in s..<e { bm[Int(tr[i]) &>> 6] = 0 }
    }
}

/// Output columns written in disjoint slices by the kernel's workers.
final class ProfileBuffers: @unchecked Sendable {
    // @unchecked Sendable: each worker writes only its own index range.
    let count: Int
    let customer: UnsafeMutableBufferPointer<UInt32>
    let unique, morning, afternoon, evening, night, mobile: UnsafeMutableBufferPointer<Int64>
    let present: UnsafeMutableBufferPointer<Bool>

    init(count: Int) {
        self.count = count
        customer = .allocate(capacity: count); customer.initialize(repeating: 0)
        func make() -> UnsafeMutableBufferPointer<Int64> {
            let b = UnsafeMutableBufferPointer<Int64>.allocate(capacity: count)
            b.initialize(repeating: 0)
            return b
        }
        unique = make(); morning = make(); afternoon = make(); evening = make(); night = make(); mobile = make()
        present = .allocate(capacity: count); present.initialize(repeating: false)
    }

    /// Writes slot `k`: the customer and its figures.
    @inline(__always)
    func set(_ k: Int, customer id: UInt32, _ r: ProfileKernel.CustomerCounts) {
        customer[k] = id
        unique[k] = r.unique
        morning[k] = r.morning
        afternoon[k] = r.afternoon
        evening[k] = r.evening
        night[k] = r.total - r.morning - r.afternoon - r.evening
        mobile[k] = r.mobile
        present[k] = r.total > 0
    }

    func deallocate() {
        customer.deallocate(); unique.deallocate(); morning.deallocate(); afternoon.deallocate()
        evening.deallocate(); night.deallocate(); mobile.deallocate(); present.deallocate()
    }

    /// Customers with at least one event in range, in customer order.
    func profile() -> Profile {
        var n = 0
        for k in 0..<count where present[k] { n += 1 }
        var p = Profile()
        // One pass writing the seven columns (each exactly n long).
        func column<T>(_ src: UnsafeMutableBufferPointer<T>) -> [T] {
            [T](unsafeUninitializedCapacity: n) { out, written in
                var j = 0
                for k in 0..<count where present[k] { (out.baseAddress! + j).initialize(to: src[k]); j += 1 }
                written = j
            }
        }
        p.customer = column(customer)
        p.uniqueTracks = column(unique)
        p.morning = column(morning)
        p.afternoon = column(afternoon)
        p.evening = column(evening)
        p.night = column(night)
        p.mobile = column(mobile)
        return p
    }
}
