/// The runs of decoded row groups as a few streams, each a chain of groups
/// whose runs never descend by customer. In a part sorted by (month,
/// customer) the groups of one month form one stream, so a store of three
/// months has three. Walking the streams side by side visits each
/// customer's runs in customer order without sorting them: a counting sort
/// of all runs writes them to a second array in a strided order, which at
/// 10M rows (150,000 runs, 2.4 MB) no longer fits in cache and cost 14% of
/// the profile kernel.
struct RunStreams {
    /// Per stream, the indices (into the groups) of its groups, in order.
    let chains: [[Int]]
    /// Per stream, the last run's customer of each of its groups.
    let lastCustomer: [[UInt32]]
    /// Per stream, the rows of its runs before each of its groups, plus one
    /// entry: all its rows.
    let rowsBefore: [[Int]]
    /// The smallest and largest customer of all runs.
    let lo: UInt32, hi: UInt32
    let totalRows: Int

    /// More streams than this (many unsorted parts) take the counting sort:
    /// the merge compares every stream's next customer for each customer.
    static let maxStreams = 16

    /// nil when some group's runs descend, when more than `maxStreams`
    /// chains would be needed, when there are no runs, or when the customer
    /// ids span too far for one output slot per id (`maxSpan`).
    init?(_ groups: [RowGroupData], maxSpan: (Int) -> Int) {
        var lo = UInt32.max, hi = UInt32.min, runCount = 0, total = 0
        var used: [Int] = [], groupRows = [Int](repeating: 0, count: groups.count)
        for (k, g) in groups.enumerated() where !g.runs.isEmpty {
            var ascending = true
            g.runs.withUnsafeBufferPointer { runs in
                var previous = runs[0].customer
                for r in runs {
                    ascending = ascending && r.customer >= previous
                    previous = r.customer
                    groupRows[k] &+= Int(r.end) &- Int(r.start)
                }
            }
            guard ascending else { return nil }
            lo = min(lo, g.runs[0].customer)
            hi = max(hi, g.runs[g.runs.count - 1].customer)
            runCount += g.runs.count
            total += groupRows[k]
            used.append(k)
        }
        guard let chains = RunStreams.chains(used, first: { groups[$0].runs[0].customer },
                                              last: { groups[$0].runs[groups[$0].runs.count - 1].customer }, limit: Self.maxStreams),
              !chains.isEmpty, Int(hi - lo) + 1 <= maxSpan(runCount) else { return nil }
        self.chains = chains
        self.lastCustomer = chains.map { $0.map { groups[$0].runs[groups[$0].runs.count - 1].customer } }
        self.rowsBefore = chains.map { chain in chain.reduce(into: [0]) { $0.append($0[$0.count - 1] + groupRows[$1]) } }
        self.lo = lo
        self.hi = hi
        self.totalRows = total
    }

    /// `items` (in their order) laid into the fewest chains in which each
    /// item's `first` customer is >= the previous item's `last`: each item
    /// goes after the chain end that is the largest one <= its first, as in
    /// patience sorting. Nil when more than `limit` chains would be needed.
    static func chains(_ items: [Int], first: (Int) -> UInt32, last: (Int) -> UInt32, limit: Int) -> [[Int]]? {
        var chains: [[Int]] = [], ends: [UInt32] = []
        for item in items {
            let start = first(item)
            var best = -1
            for s in chains.indices where ends[s] <= start {
                if best < 0 || ends[s] > ends[best] { best = s }
            }
            if best < 0 {
                guard chains.count < limit else { return nil }
                chains.append([])
                ends.append(0)
                best = chains.count - 1
            }
            chains[best].append(item)
            ends[best] = last(item)
        }
        return chains
    }

    /// A place in one stream: the position in its chain and the run in
    /// that group (position == chain count at the end).
    struct Cursor {
        var position: Int
        var run: Int
    }

    /// The first run of stream `s` whose customer is >= `x`, and about how
    /// many of the stream's rows lie before it (exact at group starts; inside
    /// a group, by the run's first row, for balancing work only).
    func seek(_ s: Int, _ x: UInt64, groups: [RowGroupData]) -> (Cursor, rows: Int) {
        let last = lastCustomer[s]
        // The first group whose last customer is >= x.
        var a = 0, b = last.count
        while a < b {
            let m = (a + b) / 2
            if UInt64(last[m]) < x { a = m + 1 } else { b = m }
        }
        guard a < last.count else { return (Cursor(position: a, run: 0), rowsBefore[s][a]) }
        let runs = groups[chains[s][a]].runs
        var i = 0, j = runs.count
        while i < j {
            let m = (i + j) / 2
            if UInt64(runs[m].customer) < x { i = m + 1 } else { j = m }
        }
        // i < runs.count: the group's last customer is >= x.
        return (Cursor(position: a, run: i), rowsBefore[s][a] + Int(runs[i].start - runs[0].start))
    }

    /// About how many rows belong to customers below `x`, over all streams.
    func rows(below x: UInt64, groups: [RowGroupData]) -> Int {
        chains.indices.reduce(0) { $0 + seek($1, x, groups: groups).rows }
    }

    /// Customer bounds splitting lo...hi into `workers` ranges of about
    /// equal rows: bounds[w]..<bounds[w + 1] (as 64-bit, hi + 1 may be 2^32).
    func split(workers: Int, groups: [RowGroupData]) -> [UInt64] {
        var bounds = [UInt64(lo)]
        for w in 1..<max(1, workers) {
            let target = totalRows * w / workers
            // The smallest x with rows(below: x) >= target.
            var a = bounds[bounds.count - 1], b = UInt64(hi) + 1
            while a < b {
                let m = (a + b) / 2
                if rows(below: m, groups: groups) < target { a = m + 1 } else { b = m }
            }
            bounds.append(a)
        }
        bounds.append(UInt64(hi) + 1)
        return bounds
    }
}

/// One customer's runs, gathered from the streams by a walk: a buffer
/// reused from customer to customer that grows when needed (rarely: a
/// customer has about one run per stream).
struct RunBuffer {
    private(set) var base: UnsafeMutablePointer<CustomerRun>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 4)
        base = .allocate(capacity: self.capacity)
    }

    @inline(__always)
    mutating func append(_ run: CustomerRun) {
        if count == capacity {
            let grown = UnsafeMutablePointer<CustomerRun>.allocate(capacity: 2 * capacity)
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
            base = grown
            capacity *= 2
        }
        (base + count).initialize(to: run)
        count += 1
    }

    /// Empties the buffer (CustomerRun is a trivial type: nothing to deinitialize).
    mutating func removeAll() { count = 0 }

    var runs: UnsafeBufferPointer<CustomerRun> { UnsafeBufferPointer(start: base, count: count) }

    func deallocate() { base.deallocate() }
}
