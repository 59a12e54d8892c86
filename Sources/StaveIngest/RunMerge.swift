import Dispatch
import StaveFormat
import StaveIO

/// Lays the rows of several parts out as one *run*: new parts whose
/// customer ranges follow one another without overlapping (a customer's
/// rows are in one part, or for a customer larger than a part in
/// consecutive parts of that customer alone), each sorted like any part
/// (month, customer, input order). A profile then walks the run's months as
/// a few chains, one customer range at a time, however many parts the rows
/// came from (formats/STAVE.md, "Runs").
///
/// Memory is bounded by the part size, not the input: the customer ranges
/// are planned from the inputs' row-group statistics alone, then each range
/// is gathered (only the row groups whose customer statistics overlap it
/// are read and decoded, a few at a time), sorted and written while the
/// next one is gathered.
public enum RunMerge {
    /// Rows of a part of the run (the converter's buffer size by default).
    public static let defaultPartRows = 4_000_000

    /// With `consumesInputs`: a file's spent bytes are punched once they
    /// add up to this many (see Spent.batch).
    public static let releaseBytes = 4 << 20

    /// One input row group: where it is and its customer statistics.
    struct GroupRef {
        let part: Int
        let group: Int
        let lo: UInt32
        let hi: UInt32
        let rows: Int
    }

    /// The input row groups, in input order (part, then group).
    static func groups(_ inputs: [Part]) throws -> [GroupRef] {
        var out: [GroupRef] = []
        for (p, part) in inputs.enumerated() {
            for (g, desc) in part.footer.rowGroups.enumerated() where desc.rowCount > 0 {
                let c = desc.chunks[EventsSchema.customerID]
                // The footer checked the statistics against the UINT32 domain.
                out.append(GroupRef(part: p, group: g, lo: UInt32(c.min), hi: UInt32(c.max), rows: desc.rowCount))
            }
        }
        return out
    }

    /// Consecutive customer ranges (inclusive, ascending, covering every
    /// group's statistics) of about `targetRows` rows each, taking a group's
    /// rows as spread evenly over its customer range. Planned in one sweep
    /// over the groups' ends.
    static func ranges(_ groups: [GroupRef], targetRows: Int) -> [ClosedRange<UInt64>] {
        guard let first = groups.map(\.lo).min(), let last = groups.map(\.hi).max() else { return [] }
        let total = groups.reduce(0) { $0 + $1.rows }
        let count = max(1, (total + targetRows - 1) / targetRows)
        guard count > 1 else { return [UInt64(first)...UInt64(last)] }
        let share = Double(total) / Double(count)
        // Density changes: +rows/width at lo, -rows/width at hi + 1.
        var events: [(at: UInt64, delta: Double)] = []
        events.reserveCapacity(2 * groups.count)
        for g in groups {
            let d = Double(g.rows) / Double(UInt64(g.hi) - UInt64(g.lo) + 1)
            events.append((UInt64(g.lo), d))
            events.append((UInt64(g.hi) + 1, -d))
        }
        events.sort { $0.at < $1.at }
        var cuts: [UInt64] = []   // the first customer of each range after the first
        var below = 0.0, density = 0.0
        var k = 0
        var next = share
        while k < events.count && cuts.count < count - 1 {
            let at = events[k].at
            while k < events.count && events[k].at == at { density += events[k].delta; k += 1 }
            let end = k < events.count ? events[k].at : UInt64(last) + 1
            let gain = density * Double(end - at)
            // Every cut inside [at, end).
            while cuts.count < count - 1 && below + gain >= next && density > 0 {
                let x = at + UInt64(max(0, ((next - below) / density).rounded(.up)))
                let cut = min(max(x, (cuts.last ?? UInt64(first)) + 1), UInt64(last))
                if cut > (cuts.last ?? UInt64(first)) { cuts.append(cut) }
                next += share
            }
            below += gain
        }
        var out: [ClosedRange<UInt64>] = []
        var lo = UInt64(first)
        for c in cuts where c > lo {
            out.append(lo...(c - 1))
            lo = c
        }
        out.append(lo...UInt64(last))
        return out
    }

    /// Writes every row of `inputs` (in input order: a customer's rows keep
    /// it) as the parts of one run into `sink`; returns the parts written.
    /// `progress` gets the rows written so far.
    ///
    /// `consumesInputs`: the inputs are scratch files (a conversion's
    /// spills) that nothing reads after the merge. Each input group is
    /// then freed from its file (a punched hole) once every range it
    /// overlaps has been gathered, so that their page-cache pages and
    /// blocks come back as the run's parts are written (which reuse them
    /// instead of fresh pages), and the spills' disk space no longer adds
    /// to the run's. Never for a store's own parts (compaction).
    /// `releaseBytes`: a file's spent bytes are punched in batches of at
    /// least this many.
    @discardableResult
    public static func merge(_ inputs: [Part], partRows: Int = defaultPartRows, threads: Int, into sink: PartSink,
                             consumesInputs: Bool = false, releaseBytes: Int = RunMerge.releaseBytes,
                             progress: ((Int) -> Void)? = nil) throws -> Int {
        let refs = try groups(inputs)
        let plan = ranges(refs, targetRows: partRows)
        // The inputs are read with pread (Part.readRowGroup), not through
        // their mappings; the pages opening them mapped (header, footer,
        // tail) are not needed again, and with hundreds of spills they
        // would add up.
        for part in inputs { part.file.release(0..<part.file.size) }
        var written = 0, parts = 0
        var flushes = FlushPipeline()
        defer { flushes.drain() }
        func flush(_ buffer: inout EventBuffer) throws {
            try flushes.waitForWrite()
            guard buffer.count > 0 else { return }
            let rows = buffer.count
            try flushes.submit(&buffer, to: sink, groupRows: FormatConstants.maxRowGroupRows)
            parts += 1
            written += rows
            progress?(written)
        }
        // Reserved once (ranges are planned at about partRows; a little
        // over): growing it would double its memory. The buffer a written
        // part hands back is reused with its capacity.
        var buffer = EventBuffer(capacity: min(partRows + partRows / 8, refs.reduce(0) { $0 + $1.rows }))
        // With consumesInputs: the groups in order of their largest
        // customer, and how many of them are freed already.
        let byLast = consumesInputs ? refs.indices.sorted { refs[$0].hi < refs[$1].hi } : []
        var freed = 0
        var spent = Spent(batch: releaseBytes)
        let punches = Punches()
        defer { punches.wait() }
        for (r, range) in plan.enumerated() {
            let overlapping = refs.filter { UInt64($0.hi) >= range.lowerBound && UInt64($0.lo) <= range.upperBound }
            // One customer larger than a part: its rows are in input order
            // already sorted (one customer), so they are written a part at a
            // time as gathered.
            let single = range.lowerBound == range.upperBound
            var k = 0
            while k < overlapping.count {
                let batch = Array(overlapping[k..<min(overlapping.count, k + 4 * max(1, threads))])
                k += batch.count
                let rows = try gather(batch, from: inputs, range: range, threads: threads)
                for r in rows { buffer.append(contentsOf: r, rows: 0..<r.count) }
                if single && buffer.count >= partRows { try flush(&buffer) }
            }
            if consumesInputs {
                // Ranges ascend: a group that ends below the next range
                // will not be read again (its rows are in `buffer` or
                // written).
                let next = r + 1 < plan.count ? plan[r + 1].lowerBound : UInt64.max
                var dead = freed
                while dead < byLast.count && UInt64(refs[byLast[dead]].hi) < next { dead += 1 }
                release(byLast[freed..<dead].map { refs[$0] }, of: inputs, spent: &spent, on: punches)
                freed = dead
            }
            try flush(&buffer)
        }
        try flushes.finish()
        return parts
    }

    /// The bytes of each input freed so far, as few ranges as they join
    /// into: a chunk that starts at the first aligned offset after a range
    /// (so nothing else can lie between) joins it.
    struct Spent {
        private var holes: [Int: [Range<Int>]] = [:]
        /// Holes are punched out to these boundaries where the bytes beyond
        /// are spent too, so that a block shared by groups punched at
        /// different times is freed with the second.
        static let block = 4096

        /// Spent chunks not punched yet, and their bytes, per file.
        private var pending: [Int: [Range<Int>]] = [:]
        private var pendingBytes: [Int: Int] = [:]
        /// A file's spent chunks are punched once they add up to this many
        /// bytes (`releaseBytes` by default): with hundreds of spills each
        /// loses a little per range, and a punch per file and range costs
        /// more system time than it saves.
        let batch: Int

        init(batch: Int) { self.batch = batch }

        /// Adds the chunks of `groups` (of `inputs`); returns, per file
        /// whose spent bytes not yet punched reach `batch`, the ranges to
        /// punch: those chunks widened to whole blocks inside the spent
        /// range each joined.
        mutating func add(_ groups: some Sequence<GroupRef>, of inputs: [Part]) -> [Int: [Range<Int>]] {
            var touched: Set<Int> = []
            for g in groups {
                // PartFooter.parse checked offset + storedLength <= footer start.
                let chunks = inputs[g.part].footer.rowGroups[g.group].chunks.map { Int($0.offset)..<(Int($0.offset) + Int($0.storedLength)) }
                pending[g.part, default: []] += chunks
                pendingBytes[g.part, default: 0] += chunks.reduce(0) { $0 + $1.count }
                holes[g.part, default: []] += chunks
                touched.insert(g.part)
            }
            var out: [Int: [Range<Int>]] = [:]
            for p in touched {
                let joined = Self.join(holes[p]!)
                holes[p] = joined
                guard pendingBytes[p]! >= batch else { continue }
                var punch: [Range<Int>] = []
                for c in pending[p]! where !c.isEmpty {
                    // The joined range that holds c (they are sorted and disjoint).
                    var a = 0, b = joined.count
                    while a < b {
                        let m = (a + b) / 2
                        if joined[m].upperBound <= c.lowerBound { a = m + 1 } else { b = m }
                    }
                    let h = joined[a]
                    punch.append(max(h.lowerBound, c.lowerBound / Self.block * Self.block)
                                 ..< min(h.upperBound, (c.upperBound + Self.block - 1) / Self.block * Self.block))
                }
                out[p] = Self.merge(punch)
                pending[p] = []
                pendingBytes[p] = 0
            }
            return out
        }

        /// Byte ranges (not overlapping) sorted and joined.
        static func join(_ ranges: [Range<Int>]) -> [Range<Int>] {
            let align = FormatConstants.chunkAlignment
            var out: [Range<Int>] = []
            for b in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !b.isEmpty {
                if let last = out.last, b.lowerBound >= last.upperBound,
                   b.lowerBound <= (last.upperBound + align - 1) / align * align {
                    out[out.count - 1] = last.lowerBound..<max(last.upperBound, b.upperBound)
                } else {
                    out.append(b)
                }
            }
            return out
        }

        /// Ranges sorted, those that overlap or touch made one.
        static func merge(_ ranges: [Range<Int>]) -> [Range<Int>] {
            var out: [Range<Int>] = []
            for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !r.isEmpty {
                if let last = out.last, r.lowerBound <= last.upperBound {
                    out[out.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                } else {
                    out.append(r)
                }
            }
            return out
        }
    }

    /// Punches the spent bytes of `groups` out of their files, on `punches`
    /// (another thread, so that the merge does not wait for the file
    /// system), after the punches of
    /// the previous release have finished: they had a range's gathering to
    /// run, and never pile up. So once a range is released, every earlier
    /// range's spent bytes are punched. Where punching fails the bytes stay
    /// until the file is removed, as before.
    static func release(_ groups: some Sequence<GroupRef>, of inputs: [Part], spent: inout Spent, on punches: Punches) {
        punches.wait()
        let work = spent.add(groups, of: inputs).map { (inputs[$0.key].path, $0.value) }
        guard !work.isEmpty else { return }
        punches.queue.async(group: punches.group) {
            for (path, holes) in work { Sys.punchHoles(path, holes) }
        }
    }

    /// Where `release` punches: one at a time, waited for before the merge
    /// returns (the spills are removed after it).
    struct Punches {
        let queue = DispatchQueue(label: "stave.runmerge.punch")
        let group = DispatchGroup()
        func wait() { group.wait() }
    }

    /// The rows of `batch` (decoded on up to `threads` threads) whose
    /// customer lies in `range`, per group, in the batch's order.
    static func gather(_ batch: [GroupRef], from inputs: [Part], range: ClosedRange<UInt64>, threads: Int) throws -> [EventBuffer] {
        try Parallel.map(batch.count, threads: threads) { j in
            let ref = batch[j]
            var out = EventBuffer()
            out.append(columns: try inputs[ref.part].readRowGroup(ref.group), customers: range)
            return out
        }
    }
}

/// Scratch parts of a conversion larger than one buffer: each full buffer
/// is sorted and written here (`CompressionPolicy.spill`, small row groups,
/// so that a customer range decodes little beyond itself), then RunMerge
/// lays them all out as one run. Removed by `removeAll` (and with the
/// temporary directory of a new store; a dead writer's are collected by
/// the next writer of the store).
final class SpillSet: PartSink {
    let directory: String
    let threads: Int
    private(set) var entries: [ManifestPart] = []
    static let groupRows = 8_192

    init(directory: String, threads: Int) {
        self.directory = directory
        self.threads = threads
    }

    var scratchDirectory: String { directory }
    var rows: Int { entries.reduce(0) { $0 + $1.rows } }

    private var cleanupTokens: [Int] = []

    func addPart(groupCount: Int, makeGroup: @escaping @Sendable (Int) -> RowGroupColumns) throws {
        let name = "spill-\(entries.count + 1).tmp-\(Sys.pid)"
        cleanupTokens.append(Temporaries.register(directory + "/" + name, directory: false))
        entries.append(try PartWriter.write(groupCount: groupCount, to: directory + "/" + name, policy: .spill, threads: threads,
                                            makeGroup: makeGroup))
    }

    func write(_ buffer: EventBuffer) throws {
        try PartLayout.writePart(buffer, to: self, groupRows: Self.groupRows)
    }

    /// The spills, mapped and validated like any part. Each one's pages
    /// leave the resident set as soon as it is open (RunMerge reads with
    /// pread): on a freshly written file, touching the header, footer and
    /// tail maps whole folios of up to 2 MiB, and hundreds of spills held
    /// at once added a few hundred MB to the peak.
    func open() throws -> [Part] {
        try entries.map {
            let part = try Part.open(directory: directory, entry: $0, kind: FormatConstants.tableKindEvents)
            part.file.release(0..<part.file.size)
            return part
        }
    }

    func removeAll() {
        for e in entries { Sys.unlink(directory + "/" + e.name) }
        for t in cleanupTokens { Temporaries.unregister(t) }
        entries = []
        cleanupTokens = []
    }
}

extension EventBuffer {
    /// Appends the rows of decoded columns (EventsSchema order, checked
    /// against their statistics) whose customer lies in `range`.
    mutating func append(columns c: [[Int64]], customers range: ClosedRange<UInt64>) {
        let n = c[EventsSchema.eventID].count
        precondition(c.allSatisfy { $0.count == n }, "a row group's columns have one value per row")
        let lo = Int64(range.lowerBound), hi = Int64(min(range.upperBound, UInt64(UInt32.max)))
        c[EventsSchema.eventID].withUnsafeBufferPointer { ev in
        c[EventsSchema.customerID].withUnsafeBufferPointer { cu in
        c[EventsSchema.trackID].withUnsafeBufferPointer { tr in
        c[EventsSchema.datetime].withUnsafeBufferPointer { dt in
        c[EventsSchema.mobile].withUnsafeBufferPointer { mo in
        c[EventsSchema.zip].withUnsafeBufferPointer { zi in
            for i in 0..<n where cu[i] >= lo && cu[i] <= hi {
                rows.append(EventRow(eventID: ev[i], customerID: UInt32(cu[i]), trackID: UInt32(tr[i]), datetime: dt[i],
                                     mobile: UInt8(mo[i]), zip: UInt32(zi[i])))
            }
        }
        }
        }
        }
        }
        }
    }
}
