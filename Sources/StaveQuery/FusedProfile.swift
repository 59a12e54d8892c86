import Dispatch
import StaveFormat
import StaveIO

/// The profile of a large store, decoding each row group only when the
/// kernel reaches its customers and dropping it once they are done.
///
/// The general path decodes every row group (3 bytes per row: a code and a
/// 16-bit track) and then runs the kernel over all of them. At 10M rows
/// that is 30 MB, as large as the last-level cache: the kernel then reads
/// everything back from memory, and took 14x its 1M time for 10x the rows.
/// Here each worker takes a range of customers and walks the chains of row
/// groups (one per month in a part sorted by customer) side by side, as
/// `ProfileKernel.mergeSlice` does, but decodes a group when a chain enters
/// it. The decoded groups in use at any time are a few per chain, and the
/// memory of a dropped group is reused by the next one, still in cache.
///
/// It plans from the footers alone: the chains and the split between
/// workers come from each group's customer_id statistics, and the bitmap
/// size from the track_id statistics (decoding checks every value against
/// them). A decoded group whose runs descend (a writer that did not sort
/// by customer) stops the fused path; the caller then takes the general one.
public enum FusedProfile {
    /// Below this many rows the general path is as fast: everything it
    /// decodes stays in cache.
    public static let minRows = 1 << 21

    /// One row group to read, with its statistics.
    struct Job {
        let part: Int
        let group: Int
        let use: RowGroupUse
        let lo: UInt32
        let hi: UInt32
        let rows: Int
    }

    /// A decoded group whose runs descend: not a store this path can walk.
    struct Unsorted: Error {}

    /// The row groups a walk reads, chained, with what sizes the walk.
    struct Plan {
        let jobs: [Job]
        let chains: [[Int]]
        let lo: UInt32
        let hi: UInt32
        let total: Int
        let maxTrack: Int64

        /// About how many rows of the plan belong to customers below `x`,
        /// a group's rows taken as spread evenly over its customer range.
        func rowsBelow(_ x: UInt64) -> Double {
            jobs.reduce(0.0) { acc, j in
                let width = Double(j.hi - j.lo) + 1
                let below = min(max(Double(x) - Double(j.lo), 0), width)
                return acc + Double(j.rows) * below / width
            }
        }

        /// Customer bounds from `lo` to `hi` + 1 cutting the rows in
        /// `parts` shares of about equal rows (`parts` + 1 values).
        func bounds(_ parts: Int, from lo: UInt64, to end: UInt64) -> [UInt64] {
            let first = rowsBelow(lo), all = rowsBelow(end) - first
            var bounds = [lo]
            for w in 1..<max(1, parts) {
                let target = first + all * Double(w) / Double(parts)
                var a = bounds.last!, b = end
                while a < b {
                    let m = a + (b - a) / 2
                    if rowsBelow(m) < target { a = m + 1 } else { b = m }
                }
                bounds.append(a)
            }
            bounds.append(end)
            return bounds
        }
    }

    /// The most chains a walk takes. A chain costs the walk one decoded
    /// group per worker (about 5 bytes a row of a group) and one comparison
    /// per customer, and a store has about (runs) x (months) of them: the
    /// four runs tiering allows over three months are 12 chains, over a year
    /// 48. The general path's merge (`RunStreams.maxStreams`, 16) compares
    /// every stream for each customer too, but holds every decoded group.
    public static let maxChains = 128

    /// Plans the walk over the groups `filter` needs whose customers meet
    /// `range` (all when nil), or nil when the walk does not apply (more
    /// than `maxChains` chains: parts that overlap in many ways).
    static func plan(store: Store, filter: QueryFilter, range: ClosedRange<UInt64>? = nil) -> Plan? {
        var jobs: [Job] = []
        var total = 0
        var maxTrack: Int64 = 0
        for (p, part) in store.parts.enumerated() {
            for (g, desc) in part.footer.rowGroups.enumerated() where desc.rowCount > 0 {
                let use = ScanPlanner.use(desc, filter: filter)
                guard use != .skip else { continue }
                let c = desc.chunks[EventsSchema.customerID]
                // The footer checked statistics against the column's domain.
                guard c.min >= 0, c.max <= Int64(UInt32.max), c.min <= c.max else { return nil }
                if let range, UInt64(c.max) < range.lowerBound || UInt64(c.min) > range.upperBound { continue }
                jobs.append(Job(part: p, group: g, use: use, lo: UInt32(c.min), hi: UInt32(c.max), rows: desc.rowCount))
                total += desc.rowCount
                maxTrack = max(maxTrack, desc.chunks[EventsSchema.trackID].max)
            }
        }
        guard !jobs.isEmpty, total <= Int(Int32.max) else { return nil }
        // Chains: each group after the one whose largest customer is the
        // largest <= its smallest (the fewest chains).
        guard let chains = RunStreams.chains(Array(jobs.indices), first: { jobs[$0].lo }, last: { jobs[$0].hi },
                                             limit: maxChains) else { return nil }
        return Plan(jobs: jobs, chains: chains, lo: jobs.map(\.lo).min()!, hi: jobs.map(\.hi).max()!, total: total, maxTrack: maxTrack)
    }

    /// Whether the walk is the way for this store: at least `minRows` rows
    /// to read, or (with no customer filter) customers of a few rows each
    /// (high cardinality), where regrouping every row (the general path)
    /// costs more than the walk. Every profile query asks: small stores
    /// leave before any planning.
    static func applies(store: Store, filter: QueryFilter, minRows: Int) throws -> Bool {
        if filter.customers != nil {
            // A customer list (given, or from an attribute filter such as
            // --level): the general path decodes every group the list
            // needs at once, which grows with the store. Walk once that is
            // at least minRows rows; a few customers read a few groups,
            // which the general path decodes as fast.
            guard minRows != .max else { return false }
            var rows = 0
            for part in store.parts {
                for d in part.footer.rowGroups where ScanPlanner.use(d, filter: filter) != .skip { rows += d.rowCount }
            }
            return rows > 0 && rows >= minRows
        }
        let rows = store.parts.reduce(0, { $0 + $1.footer.rowCount })
        if rows >= max(minRows, 1) { return true }
        guard rows > 0, minRows != .max else { return false }
        return try isFragmented(store)
    }

    /// Rows per slice of `slices`: the profiles of a slice's customers are
    /// held at once (about 56 bytes a customer), so memory does not grow
    /// with the store.
    public static let sliceRows = 32 << 20

    /// The walk's customer ranges of about `sliceRows` rows each, in
    /// order, or nil when the walk does not apply (then the caller takes
    /// the general path, once).
    public static func slices(store: Store, filter: QueryFilter, minRows: Int = FusedProfile.minRows,
                              sliceRows: Int = FusedProfile.sliceRows) throws -> [ClosedRange<UInt64>]? {
        guard try applies(store: store, filter: filter, minRows: minRows), let plan = plan(store: store, filter: filter) else { return nil }
        let count = max(1, (plan.total + sliceRows - 1) / max(1, sliceRows))
        let bounds = plan.bounds(count, from: UInt64(plan.lo), to: UInt64(plan.hi) + 1)
        var out: [ClosedRange<UInt64>] = []
        for k in 0..<(bounds.count - 1) where bounds[k] < bounds[k + 1] { out.append(bounds[k]...(bounds[k + 1] - 1)) }
        return out
    }

    /// The profile of `store` under `filter` for the customers in `range`
    /// (all when nil), or nil when this path does not apply (fewer than
    /// `minRows` rows to read and not of high cardinality, more than
    /// `maxChains` chains, or a group not sorted by customer).
    /// Memory: the decoded groups in use (a few per chain and worker) and
    /// the profiles of the range's customers; customer ids may be anywhere
    /// in 0...2^32-1.
    static func compute(store: Store, filter: QueryFilter, threads: Int, minRows: Int = FusedProfile.minRows,
                        range: ClosedRange<UInt64>? = nil) throws -> Profile? {
        try runByWorker(store: store, filter: filter, threads: threads, minRows: minRows, range: range,
                        make: { ProfileAppender(reserve: $0) }).map { ProfileAppender.join($0.map(\.profile)) }
    }

    /// The walk over `range` (all customers when nil), each worker handing
    /// its customers' counts, in customer order, to its own sink made by
    /// `make` (given about how many customers it will see); nil when the
    /// walk does not apply (see `compute`).
    static func runByWorker<Sink: ProfileSink>(store: Store, filter: QueryFilter, threads: Int, minRows: Int = FusedProfile.minRows,
                                               range: ClosedRange<UInt64>? = nil, make: (Int) -> Sink) throws -> [Sink]? {
        guard try applies(store: store, filter: filter, minRows: minRows) else { return nil }
        guard let plan = plan(store: store, filter: filter, range: range) else {
            // No group meets the range: an empty slice, not a refusal.
            return range != nil && store.parts.count > 0 && plan(store: store, filter: filter) != nil ? [] : nil
        }
        let from = max(UInt64(plan.lo), range?.lowerBound ?? 0)
        let end = min(UInt64(plan.hi), range?.upperBound ?? UInt64.max) + 1
        guard from < end else { return [] }
        let workers = max(1, min(threads, plan.total / 65_536))
        let bounds = plan.bounds(workers, from: from, to: end)
        // About how many customers a worker will see: at most one per id in
        // its range, and (for sparse ids) one per 8 rows. Reserving more
        // than is used is not free: the heap's top grows past glibc's trim
        // threshold, is given back to the system after each query, and the
        // next query in the same process faults its pages in again.
        let rowsEach = plan.total / max(1, workers) / 8
        func reserve(_ w: Int) -> Int { Int(min(UInt64(rowsEach), bounds[w + 1] - bounds[w])) }
        // Each worker fills its own sink (a local value: no exclusivity
        // check at run time per customer); everything else is read-only.
        let results = Parallel.slots(workers) { w -> Result<Sink, Error> in
            Result {
                var out = make(reserve(w))
                try walk(store: store, filter: filter, jobs: plan.jobs, chains: plan.chains, from: bounds[w], to: bounds[w + 1],
                         maxTrack: plan.maxTrack, out: &out)
                return out
            }
        }
        var outputs: [Sink] = []
        for r in results {
            if case .failure(let e) = r, e is Unsorted { return nil }
        }
        for r in results { outputs.append(try r.get()) }
        return outputs
    }

    /// True when a customer has fewer than `ProfileKernel.fragmentedRunRows`
    /// rows in a row group on average, judged from the customer runs of
    /// the largest row group (its RLE run count; a chunk the writer could
    /// not make RLE has runs of about one row). One chunk is read: cheap
    /// next to the query it decides.
    static func isFragmented(_ store: Store) throws -> Bool {
        var best: (part: Part, group: Int, rows: Int)? = nil
        for part in store.parts {
            for (g, d) in part.footer.rowGroups.enumerated() where d.rowCount > (best?.rows ?? 0) { best = (part, g, d.rowCount) }
        }
        guard let best else { return false }
        let chunk = try best.part.chunk(rowGroup: best.group, column: EventsSchema.customerID)
        guard case .rle(let rle) = chunk.layout else { return true }
        return best.rows < ProfileKernel.fragmentedRunRows * rle.values.count
    }

    /// One worker: profiles every customer in from..<to, in customer
    /// order, decoding the groups of each chain as the walk reaches them.
    /// - Precondition: decoded customers lie inside their group's
    ///   statistics (load checks them) and tracks are <= maxTrack.
    static func walk<Sink: ProfileSink>(store: Store, filter: QueryFilter, jobs: [Job], chains: [[Int]], from: UInt64, to: UInt64,
                                        maxTrack: Int64, out: inout Sink) throws {
        let n = chains.count
        let scratch = RowGroupData.Scratch()
        let state = ProfileKernel.CustomerState(maxTrack: maxTrack)
        // Per chain: the position in it, the decoded group there (kept alive
        // in `current` while its view is used), the run, and that run's
        // customer (UInt64.max at the end of the chain or of this worker's
        // range). Raw buffers: the loop below touches them once per run.
        let position = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let run = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let next = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
        position.initialize(repeating: 0, count: n)
        run.initialize(repeating: 0, count: n)
        next.initialize(repeating: .max, count: n)
        var current = [RowGroupData?](repeating: nil, count: n)
        // views[j]: valid while group j is current (or retired, below).
        // (GroupView is a trivial type: slots are assigned without being
        // initialized first, and never deinitialized.)
        let views = UnsafeMutableBufferPointer<ProfileKernel.GroupView>.allocate(capacity: jobs.count)
        var mine = RunBuffer(capacity: 4 * n)
        defer { position.deallocate(); run.deallocate(); next.deallocate(); views.deallocate(); mine.deallocate() }
        // Groups left by a chain during the current customer: dropped only
        // after that customer is profiled, since its runs point into them.
        var retired: [RowGroupData] = []

        /// Moves chain s to its next group with a run >= from, below `to`.
        func enter(_ s: Int) throws {
            let chain = chains[s]
            while position[s] < chain.count {
                let j = chain[position[s]]
                let job = jobs[j]
                if UInt64(job.hi) < from { position[s] += 1; continue }
                if UInt64(job.lo) >= to { break }
                let g = try RowGroupData.load(part: store.parts[job.part], group: job.group, groupIndex: Int32(j), use: job.use,
                                              filter: filter, scratch: scratch)
                var ascending = true
                g.runs.withUnsafeBufferPointer { r in
                    for k in r.indices.dropFirst() where r[k].customer < r[k - 1].customer { ascending = false; break }
                }
                guard ascending else { throw Unsorted() }
                var i = 0, e = g.runs.count
                if UInt64(job.lo) < from {
                    while i < e {
                        let m = (i + e) / 2
                        if UInt64(g.runs[m].customer) < from { i = m + 1 } else { e = m }
                    }
                }
                if i < g.runs.count {
                    views[j] = ProfileKernel.GroupView(g)
                    current[s] = g
                    run[s] = i
                    next[s] = UInt64(g.runs[i].customer)
                    return
                }
                position[s] += 1
            }
            current[s] = nil
            next[s] = .max
        }

        for s in 0..<n { try enter(s) }
        let allViews = UnsafeBufferPointer(views)
        while true {
            var c = UInt64.max
            for s in 0..<n { c = min(c, next[s]) }
            guard c < to else { break }
            // enter(_:) skipped every run below `from` (the other worker's).
            assert(c >= from, "customer \(c) below this worker's range")
            mine.removeAll()
            for s in 0..<n where next[s] == c {
                // Every run of c in chain s (consecutive in it).
                repeat {
                    let v = views[chains[s][position[s]]]
                    mine.append(v.runs[run[s]])
                    run[s] += 1
                    if run[s] < v.runCount {
                        next[s] = UInt64(v.runs[run[s]].customer)
                    } else {
                        retired.append(current[s]!)
                        position[s] += 1
                        try enter(s)
                    }
                } while next[s] == c
            }
            out.append(UInt32(truncatingIfNeeded: c), state.profile(mine.runs, views: allViews))
            if !retired.isEmpty { retired.removeAll(keepingCapacity: true) }
        }
    }
}

/// What a worker of the walk hands each customer's counts to, in customer
/// order (the walk is generic over it and takes it inout: no dynamic
/// dispatch and no run-time exclusivity check per customer).
protocol ProfileSink {
    mutating func append(_ customer: UInt32, _ r: ProfileKernel.CustomerCounts)
}

/// One worker's profiles, appended in customer order (customers with no
/// event in the window are left out). No slot per possible customer id: the
/// memory is that of the customers found, wherever their ids lie.
struct ProfileAppender: ProfileSink {
    var profile = Profile()

    init(reserve: Int) {
        let n = max(0, reserve)
        profile.customer.reserveCapacity(n)
        profile.uniqueTracks.reserveCapacity(n)
        profile.morning.reserveCapacity(n)
        profile.afternoon.reserveCapacity(n)
        profile.evening.reserveCapacity(n)
        profile.night.reserveCapacity(n)
        profile.mobile.reserveCapacity(n)
    }

    @inline(__always)
    mutating func append(_ customer: UInt32, _ r: ProfileKernel.CustomerCounts) {
        guard r.total > 0 else { return }
        profile.customer.append(customer)
        profile.uniqueTracks.append(r.unique)
        profile.morning.append(r.morning)
        profile.afternoon.append(r.afternoon)
        profile.evening.append(r.evening)
        profile.night.append(r.total - r.morning - r.afternoon - r.evening)
        profile.mobile.append(r.mobile)
    }

    /// The workers' profiles one after another (their customer ranges are
    /// consecutive and ascending).
    static func join(_ parts: [Profile]) -> Profile {
        guard parts.count > 1 else { return parts.first ?? Profile() }
        var p = Profile()
        let n = parts.reduce(0) { $0 + $1.count }
        p.customer.reserveCapacity(n); p.uniqueTracks.reserveCapacity(n); p.morning.reserveCapacity(n)
        p.afternoon.reserveCapacity(n); p.evening.reserveCapacity(n); p.night.reserveCapacity(n); p.mobile.reserveCapacity(n)
        for a in parts {
            p.customer += a.customer
            p.uniqueTracks += a.uniqueTracks
            p.morning += a.morning
            p.afternoon += a.afternoon
            p.evening += a.evening
            p.night += a.night
            p.mobile += a.mobile
        }
        return p
    }
}

/// One worker's share of the statistics of the profile columns: each
/// customer's counts are added as they come (customers with no event in
/// the window are left out, as from the profile), and nothing per customer
/// is kept.
struct StatsSink: ProfileSink {
    var unique = StatsAccumulator.Column(), morning = StatsAccumulator.Column(), afternoon = StatsAccumulator.Column()
    var evening = StatsAccumulator.Column(), night = StatsAccumulator.Column(), mobile = StatsAccumulator.Column()
    var plays = StatsAccumulator.Column()

    @inline(__always)
    mutating func append(_ customer: UInt32, _ r: ProfileKernel.CustomerCounts) {
        guard r.total > 0 else { return }
        unique.add(r.unique)
        morning.add(r.morning)
        afternoon.add(r.afternoon)
        evening.add(r.evening)
        night.add(r.total - r.morning - r.afternoon - r.evening)
        mobile.add(r.mobile)
        plays.add(r.total)
    }

    /// The sums in Profile.columnNames order.
    var accumulator: StatsAccumulator {
        StatsAccumulator(columns: [unique, morning, afternoon, evening, night, mobile, plays])
    }
}
