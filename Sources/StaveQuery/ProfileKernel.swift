// The profile of every customer over decoded row groups: a walk over
// customer runs, in parallel slices of customers.

import Dispatch
import StaveFormat
import StaveIO
import CStaveSupport

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
        let customers = starts.count - 1

        // 2. Split customers into contiguous slices of about equal rows.
        let workers = max(1, min(threads, customers / 64 + 1))
        let bounds = shares(rowsBefore: rowsBefore, workers: workers)

        // 3. Kernels. Each worker writes only output slots bounds[w]..<bounds[w+1].
        let out = ProfileBuffers(count: customers)
        defer { out.deallocate() }
        let maxTrack = groups.reduce(Int64(0)) { max($0, $1.maxTrack) }
        withExtendedLifetime(groups) {
            let views = groups.map(GroupView.init)
            _ = Parallel.slots(workers) { w in
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
            _ = Parallel.slots(workers) { w in
                views.withUnsafeBufferPointer { views in
                    mergeSlice(views: views, chains: streams.chains, from: cursors[w], to: bounds[w + 1], lo: streams.lo,
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

}
