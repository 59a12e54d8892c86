import Dispatch
import StaveFormat
import Synchronization
import StaveIO

/// Which columns a query needs beyond the code byte and the customer runs.
public struct LoadColumns: Sendable, Equatable {
    /// Track ids (the profile's unique tracks).
    public var tracks = true
    /// The hour 0...23 of each row.
    public var hours = false
    /// The listening zip of each row.
    public var zips = false
    /// The part of the day in the code byte (bits 0-1). Without it (and
    /// without hours) a row group wholly inside the time window skips its
    /// datetime chunk, and bits 0-1 are 0.
    public var dayParts = true
    /// A group cut into short runs (see `ProfileKernel.fragmentedRunRows`)
    /// comes with the customer of each row in `rowCustomers` instead of
    /// `runs`, for a caller that merges such groups (the profile kernel).
    /// Ignored with a customer filter.
    public var rowCustomers = false
    public init(tracks: Bool = true, hours: Bool = false, zips: Bool = false, dayParts: Bool = true, rowCustomers: Bool = false) {
        self.tracks = tracks
        self.hours = hours
        self.zips = zips
        self.dayParts = dayParts
        self.rowCustomers = rowCustomers
    }
}

/// A customer's run of rows inside one decoded row group.
public struct CustomerRun: Sendable {
    public var customer: UInt32
    public var group: Int32
    public var start: Int32
    public var end: Int32
}

/// The columns a profile needs from one row group, decoded into compact,
/// contiguous buffers: one code byte per row and the track ids. With a
/// customer filter only the wanted customers' rows are decoded, packed one
/// run after another.
public struct RowGroupData: Sendable {
    /// Per row: bits 0-1 the part of the day (0 night, 1 morning,
    /// 2 afternoon, 3 evening), bit 2 mobile, bit 3 inside the query's time
    /// window. Bits 4-7 are zero.
    public var codes: [UInt8]
    /// Track ids when every id of the row group is below 65,536 (else empty).
    public var track16: [UInt16]
    /// Track ids otherwise (else empty).
    public var track32: [UInt32]
    /// The customer runs, in row order; empty when `rowCustomers` is used.
    public var runs: [CustomerRun]
    /// Per row, the customer id: only for a fragmented group loaded with
    /// `LoadColumns.rowCustomers` (then `runs` is empty).
    public var rowCustomers: [UInt32] = []
    /// True when every row is inside the time window (bit 3 set everywhere).
    public var full: Bool
    /// The largest decoded track id (sizes the kernel's bitmap).
    public var maxTrack: Int64
    /// Per row, the hour 0...23 (only when loaded with `hours`).
    public var hours: [UInt8] = []
    /// Per row, the listening zip 0...99,999 (only when loaded with `zips`
    /// and `zipRuns` is nil).
    public var zips: [UInt32] = []
    /// The listening zips as runs (when loaded with `zips` from an RLE chunk
    /// read whole): a consumer counts a run at once instead of row by row.
    public var zipRuns: ZipRuns? = nil

    public var rowCount: Int { codes.count }

    public static let windowBit: UInt8 = 8
    public static let mobileBit: UInt8 = 4

    /// Part of the day of a second of the day, branch-free:
    /// [0, 5h) night 0, [5h, 12h) morning 1, [12h, 17h) afternoon 2,
    /// [17h, 22h) evening 3, [22h, 24h) night 0.
    @inline(__always)
    public static func dayPart(_ secondOfDay: UInt32) -> UInt8 {
        let a: UInt8 = secondOfDay >= DayParts.morningStart ? 1 : 0
        let b: UInt8 = secondOfDay >= DayParts.afternoonStart ? 1 : 0
        let c: UInt8 = secondOfDay >= DayParts.eveningStart ? 1 : 0
        let d: UInt8 = secondOfDay >= DayParts.nightStart ? 3 : 0
        return a &+ b &+ c &- d
    }

    /// Reusable decode buffers of one worker (a row group at a time).
    /// They start empty and grow to the largest decode asked of them, so a
    /// one-customer query does not pay for whole row groups.
    final class Scratch {
        var time: [UInt32] = []
        var track: [UInt32] = []
        var mobile: [UInt8] = []

        func ensure(_ n: Int) {
            if time.count < n {
                time = [UInt32](repeating: 0, count: n)
                track = [UInt32](repeating: 0, count: n)
                mobile = [UInt8](repeating: 0, count: n)
            }
        }
    }

    /// Checks that `values` (offsets from `base`) lie within a chunk's
    /// statistics. The footer proved the statistics lie in the column's
    /// domain, but a damaged chunk with a valid checksum can decode to values
    /// they do not admit, which would index tables out of bounds (zips) or
    /// give a wrong answer (a datetime outside the group's month): an error.
    /// (decodeAllChecked does the same for the row reader.)
    static func checkWithin(_ values: UnsafeBufferPointer<UInt32>, base: Int64, _ d: ChunkDescriptor, file: String, what: String) throws {
        guard let p = values.baseAddress, !values.isEmpty else { return }
        // One plain pass over a raw pointer (a SIMD16 version was slower:
        // its pointwise min and max were not inlined).
        let n = values.count
        var lo = UInt32.max, hi = UInt32.min
        for i in 0..<n { let v = p[i]; lo = v < lo ? v : lo; hi = v > hi ? v : hi }
        guard base &+ Int64(lo) >= d.min, base &+ Int64(hi) <= d.max else {
            throw StaveError.corrupt(file: file, what: "\(what): values \(base &+ Int64(lo))...\(base &+ Int64(hi)) outside its statistics \(d.min)...\(d.max)")
        }
    }

    /// Decodes row group `g` of `part` for `filter` (the group must not be `.skip`).
    /// With `range`, only the runs of customers in it are kept.
    static func load(part: Part, group g: Int, groupIndex: Int32, use: RowGroupUse, filter: QueryFilter, scratch: Scratch,
                     columns: LoadColumns = LoadColumns(), range: ClosedRange<UInt64>? = nil) throws -> RowGroupData {
        let desc = part.footer.rowGroups[g]
        let rows = desc.rowCount
        var (runs, rowCustomers) = try customerRuns(part: part, group: g, groupIndex: groupIndex, filter: filter, columns: columns,
                                                    range: range)
        let dtDesc = desc.chunks[EventsSchema.datetime]
        let base = CivilTime.day(of: dtDesc.min) * CivilTime.secondsPerDay
        var lo: UInt32 = 0, width: UInt32 = UInt32.max
        if use == .partial {
            let l = filter.lowerBound == Int64.min ? 0 : max(0, filter.lowerBound &- base)
            let h = filter.upperBound == Int64.max ? Int64(UInt32.max) : max(0, filter.upperBound &- base)
            lo = UInt32(clamping: l)
            let hi = UInt32(clamping: h)
            width = hi > lo ? hi - lo : 0
        }
        let needTime = columns.dayParts || columns.hours || use == .partial
        let timeChunk = needTime ? try part.chunk(rowGroup: g, column: EventsSchema.datetime) : nil
        let trackChunk = columns.tracks ? try part.chunk(rowGroup: g, column: EventsSchema.trackID) : nil
        let zipChunk = columns.zips ? try part.chunk(rowGroup: g, column: EventsSchema.zip) : nil
        let mobileChunk = try part.chunk(rowGroup: g, column: EventsSchema.mobile)
        // Which rows: all, or the wanted runs packed together.
        let packed = filter.customers != nil
        let total = packed ? runs.reduce(0) { $0 + Int($1.end - $1.start) } : rows
        // Nothing to decode (no run of this group is wanted, or no rows).
        // Returning here also keeps every buffer below non-empty: building
        // an empty array with unsafeUninitializedCapacity writes to the
        // shared empty-array storage, a data race between workers
        // (ThreadSanitizer reported it).
        guard total > 0 else {
            return RowGroupData(codes: [], track16: [], track32: [], runs: [], full: use == .full, maxTrack: 0)
        }
        // An RLE zip chunk of a group read whole stays as runs.
        let zipRuns = packed ? nil : try zipChunk.flatMap { try ZipRuns(chunk: $0, rows: rows, stats: desc.chunks[EventsSchema.zip], file: part.path, what: "column listening_zip row group \(g)") }
        let rowZipChunk = zipRuns == nil ? zipChunk : nil
        var zips = [UInt32](repeating: 0, count: rowZipChunk != nil ? total : 0)
        scratch.ensure(total)
        func decode(_ src: Range<Int>, at dst: Int) throws {
            if let timeChunk {
                try scratch.time.withUnsafeMutableBufferPointer { try timeChunk.decode32(src, base: base, into: $0.baseAddress! + dst) }
            }
            if let trackChunk {
                try scratch.track.withUnsafeMutableBufferPointer { try trackChunk.decode32(src, base: 0, into: $0.baseAddress! + dst) }
            }
            if let rowZipChunk {
                try zips.withUnsafeMutableBufferPointer { try rowZipChunk.decode32(src, base: 0, into: $0.baseAddress! + dst) }
            }
            try scratch.mobile.withUnsafeMutableBufferPointer { try mobileChunk.decodeBool(src, into: $0.baseAddress! + dst) }
        }
        if packed {
            var at = 0
            for k in runs.indices {
                let n = Int(runs[k].end - runs[k].start)
                try decode(Int(runs[k].start)..<Int(runs[k].end), at: at)
                runs[k].start = Int32(at)
                runs[k].end = Int32(at + n)
                at += n
            }
        } else if rows > 0 {
            try decode(0..<rows, at: 0)
        }
        if !zips.isEmpty {
            try zips.withUnsafeBufferPointer {
                try checkWithin($0, base: 0, desc.chunks[EventsSchema.zip], file: part.path, what: "column listening_zip row group \(g)")
            }
        }
        let (codes, tlo, thi) = makeCodes(scratch, total: total, dayParts: needTime, window: lo, width: width)
        if needTime && total > 0 {
            let dt = "column datetime row group \(g)"
            guard base &+ Int64(tlo) >= dtDesc.min, base &+ Int64(thi) <= dtDesc.max else {
                throw StaveError.corrupt(file: part.path, what: "\(dt): values \(base &+ Int64(tlo))...\(base &+ Int64(thi)) outside its statistics \(dtDesc.min)...\(dtDesc.max)")
            }
        }
        var hours: [UInt8] = []
        if columns.hours {
            hours = [UInt8](unsafeUninitializedCapacity: total) { out, n in
                scratch.time.withUnsafeBufferPointer { t in
                    for i in 0..<total { out[i] = UInt8(truncatingIfNeeded: t[i] / 3600 % 24) }
                }
                n = total
            }
        }
        // The listening zip is ZIP5 (<= 99,999), so zips index 100,000-entry
        // tables: the statistics say so and the decoded rows were checked
        // against them above (ZipRuns checks its runs). The fuzzer found a
        // crash when only the statistics were checked.
        if columns.zips, desc.chunks[EventsSchema.zip].max > 99_999 {
            throw StaveError.corrupt(file: part.path, what: "column listening_zip row group \(g): statistics above 99999")
        }
        guard columns.tracks else {
            return RowGroupData(codes: codes, track16: [], track32: [], runs: runs, rowCustomers: rowCustomers, full: use == .full, maxTrack: 0,
                                hours: hours, zips: zips, zipRuns: zipRuns)
        }
        let (track16, track32, maxTrack) = try tracks(scratch, total: total, stats: desc.chunks[EventsSchema.trackID],
                                                      file: part.path, what: "column track_id row group \(g)")
        return RowGroupData(codes: codes, track16: track16, track32: track32, runs: runs, rowCustomers: rowCustomers,
                            full: use == .full, maxTrack: maxTrack, hours: hours, zips: zips, zipRuns: zipRuns)
    }

    /// The customer runs of row group `g` (only the filter's customers), or
    /// for a fragmented group loaded with `rowCustomers`, each row's customer.
    static func customerRuns(part: Part, group g: Int, groupIndex: Int32, filter: QueryFilter,
                             columns: LoadColumns, range: ClosedRange<UInt64>? = nil) throws -> (runs: [CustomerRun], rowCustomers: [UInt32]) {
        // Rows by customer (rowCustomers) cannot leave customers out.
        precondition(range == nil || !columns.rowCustomers, "a customer range keeps runs, not rows")
        let desc = part.footer.rowGroups[g]
        let rows = desc.rowCount
        let customerChunk = try part.chunk(rowGroup: g, column: EventsSchema.customerID)
        var runs: [CustomerRun] = []
        let customerDesc = desc.chunks[EventsSchema.customerID]
        func addRun(_ v: Int64, _ r: Range<Int>) throws {
            guard v >= customerDesc.min, v <= customerDesc.max, v >= 0, v <= Int64(UInt32.max) else {
                throw StaveError.corrupt(file: part.path, what: "column customer_id row group \(g): value \(v) out of range")
            }
            if let range, !range.contains(UInt64(v)) { return }
            if filter.customers == nil || filter.wants(customer: UInt32(v)) {
                runs.append(CustomerRun(customer: UInt32(v), group: groupIndex, start: Int32(r.lowerBound), end: Int32(r.upperBound)))
            }
        }
        var rowCustomers: [UInt32] = []
        if case .rle(let rle) = customerChunk.layout {
            if columns.rowCustomers, filter.customers == nil, rows > 0, rows < ProfileKernel.fragmentedRunRows * rle.values.count {
                // Fragmented: each row's customer, written run by run.
                // rle.ends is strictly increasing and ends at `rows` (checked
                // when the chunk was parsed), so every write is inside 0..<rows.
                rowCustomers = try [UInt32](unsafeUninitializedCapacity: rows) { out, n in
                    var start = 0
                    for k in rle.values.indices {
                        let v = rle.values[k]
                        guard v >= customerDesc.min, v <= customerDesc.max, v >= 0, v <= Int64(UInt32.max) else {
                            throw StaveError.corrupt(file: part.path, what: "column customer_id row group \(g): value \(v) out of range")
                        }
                        let end = rle.ends[k]
                        (out.baseAddress! + start).initialize(repeating: UInt32(v), count: end - start)
                        start = end
                    }
                    n = rows
                }
            } else {
                runs.reserveCapacity(filter.customers == nil ? rle.values.count : 0)
                var start = 0
                for k in rle.values.indices {
                    try addRun(rle.values[k], start..<rle.ends[k])
                    start = rle.ends[k]
                }
            }
        } else if columns.rowCustomers, filter.customers == nil, rows > 0 {
            // Not RLE: the writer found RLE larger than another encoding,
            // which happens when runs are short (usually under 2 rows).
            // Row customers are right whatever the runs; decode32 checks
            // each value fits.
            rowCustomers = [UInt32](repeating: 0, count: rows)
            try rowCustomers.withUnsafeMutableBufferPointer { try customerChunk.decode32(0..<rows, base: 0, into: $0.baseAddress!) }
            try rowCustomers.withUnsafeBufferPointer {
                try checkWithin($0, base: 0, customerDesc, file: part.path, what: "column customer_id row group \(g)")
            }
        } else {
            let values = try customerChunk.decodeAll()
            var s = 0
            while s < rows {
                var e = s + 1
                while e < rows && values[e] == values[s] { e += 1 }
                try addRun(values[s], s..<e)
                s = e
            }
        }
        return (runs, rowCustomers)
    }

    /// The code byte of each of the first `total` rows of `scratch` (see
    /// `codes`), and the smallest and largest datetime offsets among them.
    /// Without `dayParts` the datetimes were not decoded: every row is in
    /// the window, bits 0-1 are 0 and the offsets returned are meaningless.
    static func makeCodes(_ scratch: Scratch, total: Int, dayParts needTime: Bool, window lo: UInt32,
                          width: UInt32) -> (codes: [UInt8], lo: UInt32, hi: UInt32) {
        // Codes: one branch-free pass over the scratch buffers, in 32-bit
        // arithmetic the compiler vectorizes (no table lookups): each
        // "second of the day >= start" is the borrow of a subtraction.
        // The datetimes' smallest and largest offsets, taken in the same
        // pass, are returned for the caller to check against the chunk
        // statistics.
        var tlo = UInt32.max, thi = UInt32.min
        let codes = needTime ? [UInt8](unsafeUninitializedCapacity: total) { out, n in
            scratch.time.withUnsafeBufferPointer { t in
                scratch.mobile.withUnsafeBufferPointer { m in
                    var tl = UInt32.max, th = UInt32.min
                    defer { tlo = tl; thi = th }
                    for i in 0..<total {
                        let x = t[i]
                        tl = min(tl, x); th = max(th, x)
                        let sod = x % 86_400
                        // sod < 86,400, so k - 1 - sod borrows (bit 31) exactly when sod >= k.
                        let a = (DayParts.morningStart &- 1 &- sod) &>> 31
                        let b = (DayParts.afternoonStart &- 1 &- sod) &>> 31
                        let c = (DayParts.eveningStart &- 1 &- sod) &>> 31
                        let d = (DayParts.nightStart &- 1 &- sod) &>> 31
                        let part = a &+ b &+ c &- 3 &* d
                        let inside: UInt32 = (x &- lo) < width ? 8 : 0
                        out[i] = UInt8(truncatingIfNeeded: part | inside) | (m[i] &<< 2)
                    }
                }
            }
            n = total
        } : [UInt8](unsafeUninitializedCapacity: total) { out, n in
            // Every row inside the window; no day part asked for.
            scratch.mobile.withUnsafeBufferPointer { m in
                for i in 0..<total { out[i] = (m[i] &<< 2) | RowGroupData.windowBit }
            }
            n = total
        }
        return (codes, tlo, thi)
    }

    /// The first `total` decoded track ids of `scratch`, narrowed to 16
    /// bits when the statistics allow it, and their maximum (taken from the
    /// values: a damaged file could misstate it), checked against `stats`.
    static func tracks(_ scratch: Scratch, total: Int, stats trackDesc: ChunkDescriptor, file: String,
                       what: String) throws -> (track16: [UInt16], track32: [UInt32], maxTrack: Int64) {
        // Tracks: narrowed to 16 bits when the statistics allow it; the
        // maximum is taken from the values (a damaged file could misstate it).
        var maxTrack: UInt32 = 0, minTrack = UInt32.max
        var track16: [UInt16] = []
        var track32: [UInt32] = []
        if trackDesc.max <= Int64(UInt16.max) {
            track16 = [UInt16](unsafeUninitializedCapacity: total) { out, n in
                scratch.track.withUnsafeBufferPointer { t in
                    var lo = UInt32.max, hi = UInt32.min
                    for i in 0..<total { let v = t[i]; lo = min(lo, v); hi = max(hi, v); out[i] = UInt16(truncatingIfNeeded: v) }
                    minTrack = lo; maxTrack = hi
                }
                n = total
            }
        } else {
            // The decoded buffer itself (no copy): the scratch takes a fresh one.
            if scratch.track.count == total {
                swap(&track32, &scratch.track)
                scratch.track = [UInt32](repeating: 0, count: scratch.time.count)
            } else {
                track32 = Array(scratch.track[0..<total])
            }
            track32.withUnsafeBufferPointer { t in
                var lo = UInt32.max, hi = UInt32.min
                for v in t { lo = min(lo, v); hi = max(hi, v) }
                minTrack = lo; maxTrack = hi
            }
        }
        // Against the statistics (which also keeps 16-bit tracks exact).
        guard Int64(minTrack) >= trackDesc.min, Int64(maxTrack) <= trackDesc.max else {
            throw StaveError.corrupt(file: file, what: "\(what): values \(minTrack)...\(maxTrack) outside its statistics \(trackDesc.min)...\(trackDesc.max)")
        }
        return (track16, track32, Int64(maxTrack))
    }

    /// Plans and decodes every row group of `store` that `filter` may need,
    /// on `threads` threads.
    /// With `range`, only the groups whose customer statistics meet it,
    /// and in them only the runs of its customers.
    public static func loadAll(store: Store, filter: QueryFilter, threads: Int, columns: LoadColumns = LoadColumns(),
                               range: ClosedRange<UInt64>? = nil) throws -> [RowGroupData] {
        var jobs: [(part: Int, group: Int, use: RowGroupUse)] = []
        for (p, part) in store.parts.enumerated() {
            for (g, desc) in part.footer.rowGroups.enumerated() {
                let use = ScanPlanner.use(desc, filter: filter)
                if let range {
                    let c = desc.chunks[EventsSchema.customerID]
                    if c.max < 0 || UInt64(c.max) < range.lowerBound || (c.min >= 0 && UInt64(c.min) > range.upperBound) { continue }
                }
                if use != .skip { jobs.append((p, g, use)) }
            }
        }
        // Largest row groups first, each taken by the next free worker, so
        // the two cores finish together; each worker owns its scratch.
        let order = jobs.indices.sorted {
            let a = store.parts[jobs[$0].part].footer.rowGroups[jobs[$0].group].rowCount
            let b = store.parts[jobs[$1].part].footer.rowGroups[jobs[$1].group].rowCount
            return a != b ? a > b : $0 < $1
        }
        let scratch = (0..<Parallel.workers(threads, jobs.count)).map { _ in Scratch() }
        return try Parallel.map(jobs.count, threads: threads, order: order) { w, j in
            let job = jobs[j]
            return try load(part: store.parts[job.part], group: job.group, groupIndex: Int32(j), use: job.use, filter: filter,
                            scratch: scratch[w], columns: columns, range: range)
        }
    }

    /// Rows per slice of `forEachSlice`: what one slice holds decoded
    /// (about 6 bytes a row for top zips and hours).
    public static let sliceRows = 8 << 20

    /// The groups `filter` needs, decoded a customer range of about
    /// `sliceRows` rows at a time, in customer order: `body` gets each
    /// slice's groups (only the runs of its customers), so memory holds one
    /// slice, not the store. Every customer's runs are in exactly one
    /// slice. A group that straddles two ranges is decoded for each.
    public static func forEachSlice(store: Store, filter: QueryFilter, threads: Int, columns: LoadColumns,
                                    sliceRows: Int = RowGroupData.sliceRows, _ body: ([RowGroupData]) throws -> Void) throws {
        for range in customerSlices(store: store, filter: filter, sliceRows: sliceRows) {
            try body(try loadAll(store: store, filter: filter, threads: threads, columns: columns, range: range))
        }
    }

    /// Customer ranges of about `sliceRows` rows each covering every group
    /// `filter` needs (a group's rows taken as spread evenly over its
    /// customer statistics); one unbounded range for a store of fewer rows.
    static func customerSlices(store: Store, filter: QueryFilter, sliceRows: Int) -> [ClosedRange<UInt64>?] {
        var jobs: [FusedProfile.Job] = []
        var total = 0
        for (p, part) in store.parts.enumerated() {
            for (g, desc) in part.footer.rowGroups.enumerated() where desc.rowCount > 0 {
                let use = ScanPlanner.use(desc, filter: filter)
                guard use != .skip else { continue }
                let c = desc.chunks[EventsSchema.customerID]
                // The footer checked the statistics against the column's domain.
                guard c.min >= 0, c.max <= Int64(UInt32.max), c.min <= c.max else { return [nil] }
                jobs.append(FusedProfile.Job(part: p, group: g, use: use, lo: UInt32(c.min), hi: UInt32(c.max), rows: desc.rowCount))
                total += desc.rowCount
            }
        }
        guard total > sliceRows else { return [nil] }
        let lo = jobs.map(\.lo).min()!, hi = jobs.map(\.hi).max()!
        let plan = FusedProfile.Plan(jobs: jobs, chains: [], lo: lo, hi: hi, total: total, maxTrack: 0)
        let bounds = plan.bounds((total + sliceRows - 1) / sliceRows, from: UInt64(lo), to: UInt64(hi) + 1)
        var out: [ClosedRange<UInt64>?] = []
        for k in 0..<(bounds.count - 1) where bounds[k] < bounds[k + 1] { out.append(bounds[k]...(bounds[k + 1] - 1)) }
        return out
    }
}
