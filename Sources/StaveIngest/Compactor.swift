import StaveFormat
import StaveIO

/// Compaction: the parts of a store laid out again as one run
/// (RunMerge), in bounded memory, as one transaction (new parts written and
/// fsynced, MANIFEST replaced, old parts deleted once no reader is opening
/// the store). Query results are unchanged: the same rows, in other parts.
///
/// A store is a few *runs*: sets of parts whose customer ranges do not
/// overlap (a conversion writes one; each append adds one). A profile walks
/// a run's months as a few chains, so its cost grows with the number of
/// runs, not of parts. `stave compact` merges every run into one; after each
/// append and each commit of `follow`, `autoPlan` merges the runs that
/// tiering picks, so that a live store keeps a bounded number of runs (and
/// of parts) without any user action, and the smaller runs are not
/// rewritten at every append (see `autoPlan`).
public enum Compactor {
    public struct Summary: Sendable {
        public var partsBefore: Int
        public var partsAfter: Int
        public var runsBefore: Int
        public var runsAfter: Int
        /// Parts merged (0: nothing to do).
        public var merged: Int
        public var rowsMoved: Int
        public var seconds: Double
    }

    /// The run of each part (derived from the parts' customer statistics;
    /// nothing about runs is stored): parts grouped into the fewest sets
    /// whose customer ranges do not overlap, each set in customer order.
    /// Ranges that only touch (one customer larger than a part, split
    /// over consecutive parts) may share a run: a walk takes that
    /// customer's rows from both, as the chains of a profile do.
    public static func runs(_ parts: [Part]) -> [[Int]] {
        let ranges: [(lo: Int64, hi: Int64)] = parts.map { p in
            let c = p.footer.rowGroups.map { $0.chunks[EventsSchema.customerID] }
            return (c.map(\.min).min() ?? 0, c.map(\.max).max() ?? 0)
        }
        var runs: [[Int]] = []
        // Interval partitioning: by start, each part joins the run whose last
        // end is the largest one at or below its start.
        for k in ranges.indices.sorted(by: { (ranges[$0].lo, ranges[$0].hi, $0) < (ranges[$1].lo, ranges[$1].hi, $1) }) {
            var best = -1
            for r in runs.indices where ranges[runs[r].last!].hi <= ranges[k].lo {
                if best < 0 || ranges[runs[r].last!].hi > ranges[runs[best].last!].hi { best = r }
            }
            if best < 0 { runs.append([k]) } else { runs[best].append(k) }
        }
        return runs
    }

    /// Tiering: runs are in tier 0 below `tierBase` rows, then one tier per
    /// factor of `fanout`. A tier holding `fanout` runs is merged into one
    /// run of the next tier. Beyond `maxRuns` runs, the smallest runs are
    /// merged, and with them each next larger run (never the largest) that
    /// is less than `ladderRatio` times what is merged so far: the runs keep
    /// to a ladder, each at least `ladderRatio` times the next smaller one,
    /// and a new batch is merged into the smallest rung. (Merging only the
    /// two smallest runs let the smaller runs grow to equal sizes, each
    /// rewritten at nearly every append; CompactionPolicyTests bounds the
    /// rows rewritten per row appended.)
    /// Returns the runs (indices into `runRows`) to merge, or none.
    public static let fanout = 4
    public static let tierBase = 16_384
    public static let maxRuns = 4
    public static let ladderRatio = 8

    public static func autoPlan(runRows: [Int]) -> [Int] {
        guard runRows.count >= 2 else { return [] }
        func tier(_ rows: Int) -> Int {
            var t = 0, limit = tierBase
            while rows >= limit && t < 40 { t += 1; limit = limit.multipliedReportingOverflow(by: fanout).overflow ? Int.max : limit * fanout }
            return t
        }
        var byTier: [Int: [Int]] = [:]
        for (k, rows) in runRows.enumerated() { byTier[tier(rows), default: []].append(k) }
        if let full = byTier.keys.sorted().first(where: { byTier[$0]!.count >= fanout }) {
            return byTier[full]!.sorted()
        }
        guard runRows.count > maxRuns else { return [] }
        // Largest first (ties: the earlier run first).
        let order = runRows.indices.sorted { (runRows[$0], $1) > (runRows[$1], $0) }
        var first = maxRuns - 1   // order[first...] are merged: down to maxRuns runs
        var merged = order[first...].reduce(0) { $0 + runRows[$1] }
        while first > 1 {
            let above = runRows[order[first - 1]]
            guard above / ladderRatio < merged else { break }
            first -= 1
            merged += above
        }
        return order[first...].sorted()
    }

    public enum Mode: Sendable {
        /// Every run into one (`stave compact`); nothing when there is one.
        case full
        /// The runs `autoPlan` picks, if any (after appends and commits).
        case auto
    }

    /// Compacts the store at `path`: the runs `mode` selects become one run
    /// of parts of about `partRows` rows. The new parts take the place of
    /// the first merged part in the manifest. With `lock`, the caller holds
    /// the writer lock (follow); otherwise it is taken here.
    public static func compact(store path: String, mode: Mode = .full, partRows: Int = RunMerge.defaultPartRows,
                               policy: CompressionPolicy = CompressionPolicy(), threads: Int = 2,
                               lock: WriterLock? = nil) throws -> Summary {
        Sys.tuneWriterAllocator
        let t0 = Sys.monotonicSeconds()
        let t = try StoreTransaction(path: path, policy: policy, threads: threads, lock: lock)
        var committed = false
        defer { if !committed { t.abort() } }
        let store = try Store.open(t.path)
        // We hold the writer lock, so the store cannot have changed since
        // the transaction read its manifest.
        guard store.manifest == t.base else {
            throw StaveError.badStore(path: path, detail: "MANIFEST changed under the writer lock")
        }
        let runs = Self.runs(store.parts)
        var summary = Summary(partsBefore: store.parts.count, partsAfter: store.parts.count, runsBefore: runs.count,
                              runsAfter: runs.count, merged: 0, rowsMoved: 0, seconds: 0)
        let chosen: [Int]
        switch mode {
        case .full: chosen = runs.count >= 2 ? Array(runs.indices) : []
        case .auto: chosen = autoPlan(runRows: runs.map { $0.reduce(0) { $0 + store.parts[$1].footer.rowCount } })
        }
        guard !chosen.isEmpty else {
            summary.seconds = Sys.monotonicSeconds() - t0
            return summary
        }
        // The merged parts, in manifest order (a customer's events keep
        // their order in the store).
        let merged = chosen.flatMap { runs[$0] }.sorted()
        summary.rowsMoved = merged.reduce(0) { $0 + store.parts[$1].footer.rowCount }
        try RunMerge.merge(merged.map { store.parts[$0] }, partRows: partRows, threads: threads, into: t)
        // t.manifest.parts = the old parts, then the new ones: put the new
        // ones where the first merged part was, and drop the merged ones.
        let old = t.base.parts
        let added = Array(t.manifest.parts[old.count...])
        let mergedNames = Set(merged.map { old[$0].name })
        var parts: [ManifestPart] = []
        for (k, entry) in old.enumerated() {
            if k == merged[0] { parts += added }
            if !mergedNames.contains(entry.name) { parts.append(entry) }
        }
        t.manifest.parts = parts
        guard t.manifest.rowCount == t.base.rowCount else {
            throw StaveError.corrupt(file: path, what: "compaction would change the row count (\(t.base.rowCount) -> \(t.manifest.rowCount))")
        }
        try t.commit()
        committed = true
        summary.partsAfter = parts.count
        summary.runsAfter = runs.count - chosen.count + 1
        summary.merged = merged.count
        summary.seconds = Sys.monotonicSeconds() - t0
        return summary
    }
}
