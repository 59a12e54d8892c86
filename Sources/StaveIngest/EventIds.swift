import StaveFormat
import StaveIO

/// Event ids identify events: a conversion, an append or a follow refuses
/// an event id already in the store or seen earlier in its input (or, with
/// --skip-bad-rows, sends the row to the rejects file), so that running the
/// same append twice cannot count events twice.
///
/// Each full buffer of rows is checked before it is written (its ids sorted
/// once): against itself, against the ids of the input's earlier buffers,
/// and against the store. The ids already seen are kept as runs of
/// consecutive ids on consecutive lines (event ids 0, 1, 2, ... in file
/// order are one run however many there are); the store's are found from
/// the event_id statistics of its row groups (formats/STAVE.md, "Event
/// ids"): an append of new events, whose ids lie above every group's, reads
/// nothing, and ids inside a group's range are checked against its decoded
/// event ids.
final class DuplicateCheck {
    /// Ids seen earlier in the input: run k covers ids runs[k].id ..<
    /// runs[k].id + runs[k].count, on lines runs[k].line ..< line + count.
    struct Run {
        var id: Int64
        var line: Int
        var count: Int
        /// The last id of the run (ids reach Int64.max: no one-past-the-end).
        var last: Int64 { id + Int64(count - 1) }
        /// True when `next` (id, line) continues the run: the next id on the next line.
        func continues(_ nextID: Int64, _ nextLine: Int) -> Bool {
            nextID > id && nextID - id == Int64(count) && nextLine == line + count
        }
    }
    private(set) var runs: [Run] = []
    /// Past this many runs (about 200 MB), or once runs would take more
    /// memory than it, the ids seen are kept in `seen` instead: a bitmap
    /// over their span, one bit an id, without lines. An input in another
    /// order than its ids (a Parquet export in store order: by month and
    /// customer) has about one run a row.
    static let maxRuns = 8 << 20
    /// The widest span of ids the bitmap covers (about 200 MB); ids more
    /// scattered than that are an error that names --allow-duplicate-ids.
    static let maxBitmapIDs: Int64 = 3 << 29
    let maxRuns: Int
    let maxBitmapIDs: Int64
    private(set) var seen: IDBitmap? = nil

    let file: String
    let store: StoreEventIds?

    init(file: String, store: StoreEventIds?, maxRuns: Int = DuplicateCheck.maxRuns, maxBitmapIDs: Int64 = DuplicateCheck.maxBitmapIDs) {
        self.file = file
        self.store = store
        self.maxRuns = maxRuns
        self.maxBitmapIDs = maxBitmapIDs
    }

    /// Where an event id was seen before.
    enum Earlier {
        case line(Int)
        /// Earlier in the input, once the ids seen are a bitmap (no line).
        case input
        case store(part: String)
    }

    struct Duplicate {
        var row: Int
        var line: Int
        var id: Int64
        var earlier: Earlier

        var error: RowError {
            switch earlier {
            case .line(let l): return RowError(column: 1, message: "duplicate event id \(id) (first on line \(l))", field: String(id))
            case .input: return RowError(column: 1, message: "duplicate event id \(id) (seen earlier in the input)", field: String(id))
            case .store(let p): return RowError(column: 1, message: "event id \(id) is already in the store (\(p))", field: String(id))
            }
        }
    }

    /// The rows of `buffer` (row i on line `lines[i]`) whose event id is a
    /// duplicate, in line order; every other id joins the ids seen.
    ///
    /// Ids are put in order once (not at all when the input has them
    /// ascending, as exports do) and walked beside the runs seen; the kept
    /// ones join them as runs (event ids 0, 1, 2, ... stay one run).
    func check(_ buffer: EventBuffer, lines: [Int]) throws -> [Duplicate] {
        let n = buffer.count
        guard n > 0 else { return [] }
        precondition(lines.count == n, "a line per row")
        // The common case of a conversion: ids consecutive on consecutive
        // lines, above every id seen and outside the store's groups. The
        // general way below (ids copied, walked beside the runs, counted
        // and made into runs) would find no duplicate and make them one
        // run: this makes that run directly, in one pass over the rows.
        if seen == nil, let run = consecutiveRun(buffer, lines: lines), !(store?.mayHold(run.id, run.last) ?? false),
           !prefersBitmap(runs: runs.count + 1, span: run.last - (runs.first?.id ?? run.id)) {
            try merge([run])
            return []
        }
        // The rows in id order, ties in input order (stable): `order` maps a
        // sorted position to its row (nil: the rows are in order already).
        var keys = [Int64](unsafeUninitializedCapacity: n) { out, written in
            buffer.rows.withUnsafeBufferPointer { r in for i in 0..<n { out[i] = r[i].eventID } }
            written = n
        }
        var ascending = true
        keys.withUnsafeBufferPointer { k in for i in 1..<max(1, n) where k[i] <= k[i - 1] { ascending = false; break } }
        var order: [UInt32]? = nil
        if !ascending {
            // Event ids are non-negative (the parser checks): their bits sort as unsigned.
            var u = keys.map { UInt64(bitPattern: $0) }
            var o = (0..<n).map { UInt32($0) }
            RadixSort.sort(keys: &u, values: &o)
            keys = u.map { Int64(bitPattern: $0) }
            order = o
        }
        @inline(__always) func row(_ k: Int) -> Int { order.map { Int($0[k]) } ?? k }
        var duplicates: [Duplicate] = []
        var dropped = [Bool](repeating: false, count: n)   // by sorted position
        // 1. Ids in the store: every row holding one (the store is where
        //    such an id was first).
        if let store {
            for (k, part) in try keys.withUnsafeBufferPointer({ try store.find($0) }) {
                let r = row(k)
                duplicates.append(Duplicate(row: r, line: lines[r], id: keys[k], earlier: .store(part: part)))
                dropped[k] = true
            }
        }
        // 2. Each group of equal ids (in input order: the sort is stable):
        //    seen in an earlier buffer, every row of it is a duplicate of
        //    that line; otherwise every row after the first is a duplicate
        //    of the first. One walk of the sorted ids beside the runs seen.
        var j = 0
        var k = 0
        while k < n {
            var end = k + 1
            while end < n && keys[end] == keys[k] { end += 1 }
            let id = keys[k]
            var first: Earlier? = nil
            if let seen {
                if seen.contains(id) { first = .input }
            } else {
                while j < runs.count && runs[j].last < id { j += 1 }
                if j < runs.count && runs[j].id <= id { first = .line(runs[j].line + Int(id - runs[j].id)) }
            }
            for g in k..<end where !dropped[g] {
                let r = row(g)
                if let f = first {
                    duplicates.append(Duplicate(row: r, line: lines[r], id: id, earlier: f))
                    dropped[g] = true
                } else {
                    first = .line(lines[r])
                }
            }
            k = end
        }
        // Kept ids are ascending.
        let kept = (0..<n).lazy.filter { !dropped[$0] }
        guard let firstKept = kept.first.map({ keys[$0] }), let lastKept = kept.last.map({ keys[$0] }) else {
            return duplicates.sorted { $0.line < $1.line }
        }
        if seen == nil {
            // How many runs the kept ids make (at most; some may continue
            // runs already seen): when runs would take more memory than a
            // bitmap over the span, the ids seen become that bitmap now,
            // before any run array is built.
            var fresh = 0
            var previous: (id: Int64, line: Int)? = nil
            for k in kept {
                let id = keys[k], line = lines[row(k)]
                if let p = previous, id - p.id == 1, line == p.line + 1 {} else { fresh += 1 }
                previous = (id, line)
            }
            let lo = min(firstKept, runs.first?.id ?? firstKept), hi = max(lastKept, runs.last?.last ?? lastKept)
            if prefersBitmap(runs: runs.count + fresh, span: hi - lo) {
                try cover(lo, hi)
                for r in runs { seen!.insert(r.id, count: r.count) }
                runs = []
            }
        }
        if seen != nil {
            try cover(firstKept, lastKept)
            for k in kept { seen!.insert(keys[k]) }
            return duplicates.sorted { $0.line < $1.line }
        }
        // The kept ids join the ids seen, as runs of consecutive ids on
        // consecutive lines.
        var fresh: [Run] = []
        for k in 0..<n where !dropped[k] {
            let id = keys[k], line = lines[row(k)]
            if var last = fresh.last, last.continues(id, line) {
                last.count += 1
                fresh[fresh.count - 1] = last
            } else {
                fresh.append(Run(id: id, line: line, count: 1))
            }
        }
        try merge(fresh)
        return duplicates.sorted { $0.line < $1.line }
    }

    /// The buffer as one run when its ids are consecutive on consecutive
    /// lines and above every id in `runs`; else nil.
    private func consecutiveRun(_ buffer: EventBuffer, lines: [Int]) -> Run? {
        let n = buffer.count
        let id = buffer.rows[0].eventID, line = lines[0]
        if let last = runs.last, id <= last.last { return nil }
        guard id <= Int64.max - Int64(n - 1) else { return nil }
        let consecutive = buffer.rows.withUnsafeBufferPointer { r in
            lines.withUnsafeBufferPointer { l in
                for i in 0..<n where r[i].eventID != id &+ Int64(i) || l[i] != line &+ i { return false }
                return true
            }
        }
        return consecutive ? Run(id: id, line: line, count: n) : nil
    }

    /// Merges sorted, disjoint `fresh` runs (none overlapping `runs`).
    private func merge(_ fresh: [Run]) throws {
        guard !fresh.isEmpty else { return }
        var out: [Run] = []
        out.reserveCapacity(runs.count + fresh.count)
        var a = 0, b = 0
        func push(_ r: Run) {
            if var last = out.last, last.continues(r.id, r.line) {
                last.count += r.count
                out[out.count - 1] = last
            } else {
                out.append(r)
            }
        }
        while a < runs.count || b < fresh.count {
            if b == fresh.count || (a < runs.count && runs[a].id < fresh[b].id) { push(runs[a]); a += 1 } else { push(fresh[b]); b += 1 }
        }
        // (check() turned to the bitmap where it could: these ids span more
        // than it may cover.)
        guard out.count <= maxRuns else { throw scattered() }
        runs = out
    }

    /// Whether `runs` runs over ids `span` apart take more memory than a
    /// bitmap over that span would (a run is 24 bytes, an id one bit), or
    /// are more than maxRuns; never when the bitmap could not cover the
    /// span. A few thousand runs stay runs: they keep the lines of earlier
    /// ids for the error messages.
    private func prefersBitmap(runs: Int, span: Int64) -> Bool {
        // (cover() widens the span to whole words: up to 63 ids below it.)
        guard span < maxBitmapIDs - 64 else { return false }
        return runs > maxRuns || (runs > 4_096 && span / 8 < Int64(runs) * Int64(MemoryLayout<Run>.stride))
    }

    private func scattered() -> StaveError {
        .unreadableInput(file: file, detail: "event ids too scattered to check for duplicates in bounded memory (more than \(maxRuns) runs of consecutive ids over more than \(maxBitmapIDs) ids); pass --allow-duplicate-ids to convert without the check")
    }

    /// Makes the bitmap (created if need be) cover ids lo...hi, or throws
    /// when that spans more than maxBitmapIDs ids.
    private func cover(_ lo: Int64, _ hi: Int64) throws {
        let from = min(lo, seen?.first ?? lo), to = max(hi, seen?.last ?? hi)
        // Ids are >= 0, so to - from cannot overflow.
        guard to - from < maxBitmapIDs else { throw scattered() }
        if seen == nil { seen = IDBitmap(from: from, to: to) } else { seen!.extend(from: from, to: to) }
    }
}

/// A set of event ids as a bitmap over first...last (one bit an id).
struct IDBitmap {
    /// The first id of word 0 (a multiple of 64).
    private(set) var base: Int64
    private(set) var words: [UInt64]
    /// The span covered: base ... base + 64 * words.count - 1.
    var first: Int64 { base }
    var last: Int64 { base + Int64(words.count) * 64 - 1 }

    /// - Precondition: 0 <= from <= to.
    init(from: Int64, to: Int64) {
        base = from & ~63
        words = [UInt64](repeating: 0, count: Int((to - base) >> 6) + 1)
    }

    /// Covers from...to too (ids already in keep their bits).
    /// - Precondition: 0 <= from <= to.
    mutating func extend(from: Int64, to: Int64) {
        let newBase = min(base, from & ~63)
        let newCount = Int((max(to, last) - newBase) >> 6) + 1
        guard newBase != base || newCount != words.count else { return }
        var grown = [UInt64](repeating: 0, count: newCount)
        let shift = Int((base - newBase) >> 6)
        grown.withUnsafeMutableBufferPointer { g in
            words.withUnsafeBufferPointer { w in
                // shift + w.count <= newCount: the old span lies inside the new one.
                (g.baseAddress! + shift).update(from: w.baseAddress!, count: w.count)
            }
        }
        base = newBase
        words = grown
    }

    /// False for ids outside first...last.
    func contains(_ id: Int64) -> Bool {
        guard id >= base && id <= last else { return false }
        let x = id - base
        return words[Int(x >> 6)] & (1 << UInt64(x & 63)) != 0
    }

    /// Adds id ..< id + count.
    /// - Precondition: the ids lie in first...last.
    mutating func insert(_ id: Int64, count: Int = 1) {
        var x = id - base
        let end = x + Int64(count)
        while x < end {
            if x & 63 == 0 && end - x >= 64 {
                words[Int(x >> 6)] = ~0
                x += 64
            } else {
                words[Int(x >> 6)] |= 1 << UInt64(x & 63)
                x += 1
            }
        }
    }
}

/// The event ids of a store, found through the event_id statistics of its
/// row groups (no other structure: see formats/STAVE.md, "Event ids").
final class StoreEventIds {
    struct Group {
        let part: Int
        let group: Int
        let min: Int64
        let max: Int64
    }
    let store: Store
    /// Groups by their smallest id.
    let groups: [Group]

    init(store: Store) {
        self.store = store
        var g: [Group] = []
        for (p, part) in store.parts.enumerated() {
            for (k, d) in part.footer.rowGroups.enumerated() where d.rowCount > 0 {
                let c = d.chunks[EventsSchema.eventID]
                g.append(Group(part: p, group: k, min: c.min, max: c.max))
            }
        }
        groups = g.sorted { $0.min < $1.min }
    }

    /// Whether a row group's event_id range meets lo...hi (then ids in
    /// lo...hi may be in the store).
    func mayHold(_ lo: Int64, _ hi: Int64) -> Bool {
        groups.contains { $0.max >= lo && $0.min <= hi }
    }

    /// For each of `sorted` (ascending) that the store holds: its index
    /// and the part holding it. Reads only the groups whose id range holds
    /// one of them.
    func find(_ sorted: UnsafeBufferPointer<Int64>) throws -> [(Int, String)] {
        guard let lo = sorted.first, let hi = sorted.last else { return [] }
        var found: [(Int, String)] = []
        var hit = Set<Int>()
        for g in groups where g.max >= lo && g.min <= hi {
            // The first id >= g.min: is it <= g.max?
            var a = 0, b = sorted.count
            while a < b { let m = (a + b) / 2; if sorted[m] < g.min { a = m + 1 } else { b = m } }
            guard a < sorted.count, sorted[a] <= g.max else { continue }
            let part = store.parts[g.part]
            let ids = try part.chunk(rowGroup: g.group, column: EventsSchema.eventID).decodeAllChecked()
            let name = String(part.path.split(separator: "/").last ?? "")
            for id in ids {
                var x = 0, y = sorted.count
                while x < y { let m = (x + y) / 2; if sorted[m] < id { x = m + 1 } else { y = m } }
                // Every index holding this id (the buffer may repeat it).
                while x < sorted.count && sorted[x] == id {
                    if hit.insert(x).inserted { found.append((x, name)) }
                    x += 1
                }
            }
        }
        return found
    }
}
