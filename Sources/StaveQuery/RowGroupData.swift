import Dispatch
import StaveFormat
import StaveIO

/// A customer's run of rows inside one decoded row group.
public struct CustomerRun: Sendable {
    public var customer: UInt32
    public var group: Int32
    public var start: Int32
    public var end: Int32
}

/// The columns a profile needs from one row group, decoded into typed,
/// contiguous buffers. With a customer filter only the wanted customers'
/// rows are decoded, packed one run after another.
public struct RowGroupData: Sendable {
    /// Seconds since midnight of `baseDay` (a row group spans one month).
    public var time: [UInt32]
    public var track: [UInt32]
    public var mobile: [UInt8]
    public var runs: [CustomerRun]
    /// The day whose midnight `time` counts from (in seconds: baseDay * 86400).
    public var baseSeconds: Int64
    /// Half-open time window in `time` units; [0, UInt32.max] when `full`.
    public var lo: UInt32
    public var hi: UInt32
    public var full: Bool
    public var maxTrack: Int64

    /// Decodes row group `g` of `part` for `filter` (the group must not be `.skip`).
    public static func load(part: Part, group g: Int, groupIndex: Int32, use: RowGroupUse, filter: QueryFilter) throws -> RowGroupData {
        let desc = part.footer.rowGroups[g]
        let rows = desc.rowCount
        // Customer runs.
        let customerChunk = try part.chunk(rowGroup: g, column: EventsSchema.customerID)
        var runs: [CustomerRun] = []
        func addRun(_ v: Int64, _ r: Range<Int>) throws {
            guard v >= 0, v <= Int64(UInt32.max) else {
                throw StaveError.corrupt(file: part.path, what: "column customer_id row group \(g): value \(v) out of range")
            }
            if filter.customers == nil || filter.wants(customer: UInt32(v)) {
                runs.append(CustomerRun(customer: UInt32(v), group: groupIndex, start: Int32(r.lowerBound), end: Int32(r.upperBound)))
            }
        }
        if case .rle(let rle) = customerChunk.layout {
            try rle.forEachRun(in: 0..<rows) { v, r in try addRun(v, r) }
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
        let dtDesc = desc.chunks[EventsSchema.datetime]
        let base = CivilTime.day(of: dtDesc.min) * CivilTime.secondsPerDay
        var lo: UInt32 = 0, hi: UInt32 = UInt32.max
        if use == .partial {
            lo = UInt32(clamping: max(0, filter.lowerBound == Int64.min ? 0 : filter.lowerBound &- base))
            hi = UInt32(clamping: filter.upperBound == Int64.max ? Int64(UInt32.max) : max(0, filter.upperBound &- base))
        }
        let timeChunk = try part.chunk(rowGroup: g, column: EventsSchema.datetime)
        let trackChunk = try part.chunk(rowGroup: g, column: EventsSchema.trackID)
        let mobileChunk = try part.chunk(rowGroup: g, column: EventsSchema.mobile)
        // Which rows to decode: all, or the wanted runs packed together.
        let packed = filter.customers != nil
        let total = packed ? runs.reduce(0) { $0 + Int($1.end - $1.start) } : rows
        // Every slot of these buffers is written by `decode` below before any
        // read: the packed runs cover [0, total) exactly, and so does 0..<rows.
        var time = [UInt32](unsafeUninitializedCapacity: total) { _, n in n = total }
        var track = [UInt32](unsafeUninitializedCapacity: total) { _, n in n = total }
        var mobile = [UInt8](unsafeUninitializedCapacity: total) { _, n in n = total }
        func decode(_ src: Range<Int>, at dst: Int) throws {
            try time.withUnsafeMutableBufferPointer { try timeChunk.decode32(src, base: base, into: $0.baseAddress! + dst) }
            try track.withUnsafeMutableBufferPointer { try trackChunk.decode32(src, base: 0, into: $0.baseAddress! + dst) }
            try mobile.withUnsafeMutableBufferPointer { try mobileChunk.decodeBool(src, into: $0.baseAddress! + dst) }
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
        // The kernels index a bitmap by track id: take the maximum from the
        // decoded values, not from statistics a damaged file could misstate.
        var maxTrack: UInt32 = 0
        for t in track { maxTrack = max(maxTrack, t) }
        return RowGroupData(time: time, track: track, mobile: mobile, runs: runs, baseSeconds: base,
                            lo: lo, hi: hi, full: use == .full, maxTrack: Int64(maxTrack))
    }

    /// Plans and decodes every row group of `store` that `filter` may need,
    /// on `threads` threads.
    public static func loadAll(store: Store, filter: QueryFilter, threads: Int) throws -> [RowGroupData] {
        var jobs: [(part: Int, group: Int, use: RowGroupUse)] = []
        for (p, part) in store.parts.enumerated() {
            for (g, desc) in part.footer.rowGroups.enumerated() {
                let use = ScanPlanner.use(desc, filter: filter)
                if use != .skip { jobs.append((p, g, use)) }
            }
        }
        let results = UnsafeMutableBufferPointer<Result<RowGroupData, Error>?>.allocate(capacity: jobs.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        // Each iteration writes only its own slot j.
        let box = SendableBox(results)
        let workers = max(1, min(threads, jobs.count))
        let jobList = jobs
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var j = w
            while j < jobList.count {
                let job = jobList[j]
                box.value[j] = Result { try load(part: store.parts[job.part], group: job.group, groupIndex: Int32(j), use: job.use, filter: filter) }
                j += workers
            }
        }
        return try results.map { try $0!.get() }
    }
}
