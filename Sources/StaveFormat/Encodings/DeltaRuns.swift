// Encoding 6, DELTA_RUNS: ascending runs stored as small steps.
//
//   offset size
//   0      4    run count s (u32); s = 0 exactly when the chunk has 0 rows
//   4      4    zero
//   8      ...  FOR_BITPACK block of the s run lengths (each >= 1, sum = rows)
//   ...    ...  FOR_BITPACK block of the s run first values
//   ...    ...  FOR_BITPACK block of the rows - s steps v[i] - v[i-1]
//               (wrapping) of every row that does not start a run, in row order
//
// Pays on a column that ascends in short stretches and jumps between them:
// event ids clustered by customer (each customer's events of a month, in
// file order) step by about rows / events-per-customer, far less than their
// range. The writer picks a step width w and starts a new run wherever the
// step is negative or needs more than w bits, choosing the w that makes the
// payload smallest.

public struct DeltaRunsChunk: Sendable {
    /// ends[k] is one past the last row of run k; strictly increasing.
    public let ends: [Int]
    public let firsts: [Int64]
    public let steps: FORBlock

    // MARK: Analyze

    /// The step width that minimizes the estimated size, or nil when the
    /// encoding is not a candidate: the chunk never steps down, or no width
    /// beats plain bit packing.
    public static func chooseWidth(_ values: UnsafeBufferPointer<Int64>, min lo: Int64, max hi: Int64) -> Int? {
        let n = values.count
        guard n > 1 else { return nil }
        // steps[b]: steps that need exactly b bits (b = 0 for a step of 0);
        // negative steps always start a run.
        var byWidth = [Int](repeating: 0, count: 65)
        var negative = 0
        var prev = values[0]
        for i in 1..<n {
            let d = values[i] &- prev
            prev = values[i]
            if d < 0 { negative += 1 } else { byWidth[64 - d.leadingZeroBitCount] += 1 }
        }
        return chooseWidth(count: n, negativeSteps: negative, stepsByWidth: byWidth, min: lo, max: hi)
    }

    /// `chooseWidth` from the step histogram of `count` values spanning
    /// lo...hi: `negativeSteps` steps below zero, `stepsByWidth[b]` (65
    /// entries) non-negative steps needing exactly b bits.
    static func chooseWidth(count n: Int, negativeSteps negative: Int, stepsByWidth byWidth: [Int], min lo: Int64, max hi: Int64) -> Int? {
        guard n > 1 else { return nil }
        // A chunk that never steps down is DELTA's (or RLE's) case: sorted
        // customer ids must stay RLE, whose runs the kernel reads.
        guard negative > 0 else { return nil }
        let valueBits = BitPacking.width(forRange: UInt64(bitPattern: hi &- lo))
        var best: (w: Int, bits: Int)? = nil
        var above = n - 1 - negative  // steps needing more than w bits
        for w in 0..<64 {
            above -= byWidth[w]
            let runs = 1 + negative + above
            // A run costs its first value and its length (estimated at the
            // bits of four times the mean length).
            let lengthBits = BitPacking.width(forRange: UInt64(4 * n / runs))
            let bits = (n - runs) * w + runs * (valueBits + lengthBits)
            if best == nil || bits < best!.bits { best = (w, bits) }
            if above == 0 { break }
        }
        guard let best, best.bits < n * valueBits else { return nil }
        return best.w
    }

    /// The largest step that stays inside a run under step width `w`.
    static func stepLimit(width w: Int) -> UInt64 { w >= 64 ? .max : (1 << UInt64(w)) - 1 }

    /// Whether a step starts a new run: it is negative, or needs more bits
    /// than the width whose `stepLimit` is `limit`. The one rule of both
    /// `forEachRun` (encoding) and `encodedSize` (sizing).
    @inline(__always)
    static func startsRun(step d: Int64, limit: UInt64) -> Bool { d < 0 || UInt64(d) > limit }

    /// Calls `body(start, end)` for each run of `values` under step width `w`.
    static func forEachRun(_ values: UnsafeBufferPointer<Int64>, width w: Int, _ body: (Int, Int) -> Void) {
        let n = values.count
        guard n > 0 else { return }
        let limit = stepLimit(width: w)
        var start = 0
        for i in 1..<n {
            if startsRun(step: values[i] &- values[i - 1], limit: limit) {
                body(start, i)
                start = i
            }
        }
        body(start, n)
    }

    /// The exact payload size of `encode(values, width: w)`.
    public static func encodedSize(_ values: UnsafeBufferPointer<Int64>, width w: Int) -> Int {
        let n = values.count
        guard let v = values.baseAddress, n > 0 else {
            return 8 + 3 * FORBlock.encodedSize(count: 0, min: 0, max: 0)
        }
        // One pass, the runs cut by `startsRun` as in `forEachRun`, without
        // its closure call per run. Invariant: 1 <= i < n inside the loop.
        let limit = stepLimit(width: w)
        var runs = 1, runStart = 0, shortest = Int.max, longest = 0
        var flo = v[0], fhi = v[0], slo = Int64.max, shi = Int64.min
        var i = 1
        while i < n {
            let d = v[i] &- v[i &- 1]
            if startsRun(step: d, limit: limit) {
                let length = i &- runStart
                shortest = Swift.min(shortest, length); longest = Swift.max(longest, length)
                flo = Swift.min(flo, v[i]); fhi = Swift.max(fhi, v[i])
                runs &+= 1
                runStart = i
            } else {
                slo = Swift.min(slo, d); shi = Swift.max(shi, d)
            }
            i &+= 1
        }
        shortest = Swift.min(shortest, n &- runStart); longest = Swift.max(longest, n &- runStart)
        if slo > shi { slo = 0; shi = 0 }
        return 8 + FORBlock.encodedSize(count: runs, min: Int64(shortest), max: Int64(longest))
            + FORBlock.encodedSize(count: runs, min: flo, max: fhi)
            + FORBlock.encodedSize(count: n - runs, min: slo, max: shi)
    }

    // MARK: Encode

    public static func encode(_ values: UnsafeBufferPointer<Int64>, width w: Int, into out: inout ByteWriter) {
        var lengths: [Int64] = [], firsts: [Int64] = [], steps: [Int64] = []
        steps.reserveCapacity(values.count)
        forEachRun(values, width: w) { s, e in
            lengths.append(Int64(e - s))
            firsts.append(values[s])
            var i = s + 1
            while i < e { steps.append(values[i] &- values[i - 1]); i += 1 }
        }
        out.append(UInt32(lengths.count))
        out.append(UInt32(0))
        FORBlock.encode(lengths, into: &out)
        FORBlock.encode(firsts, into: &out)
        FORBlock.encode(steps, into: &out)
    }

    // MARK: Decode

    public static func parse(_ r: inout ByteReader, count: Int, file: String, what: String) throws -> DeltaRunsChunk {
        let runCount = Int(try r.read(UInt32.self))
        try r.expectZero(UInt32.self, field: "DELTA_RUNS reserved")
        guard runCount <= count, (runCount == 0) == (count == 0) else {
            throw StaveError.corrupt(file: file, what: "\(what): DELTA_RUNS run count \(runCount) for \(count) rows")
        }
        let lengthBlock = try FORBlock.parse(&r, count: runCount, file: file, what: what)
        let firstBlock = try FORBlock.parse(&r, count: runCount, file: file, what: what)
        let steps = try FORBlock.parse(&r, count: count - runCount, file: file, what: what)
        let ends = try RLEChunk.runEnds(lengthBlock.decodeAll(), count: count, encoding: "DELTA_RUNS", file: file, what: what)
        return DeltaRunsChunk(ends: ends, firsts: firstBlock.decodeAll(), steps: steps)
    }

    /// Decodes rows `range`: each overlapping run summed from its first row.
    public func decode(_ range: Range<Int>, into out: UnsafeMutablePointer<Int64>) {
        guard !range.isEmpty else { return }
        precondition(range.lowerBound >= 0 && range.upperBound <= ends.last ?? 0)
        // Run k covers rows start..<ends[k]; its row i > start has step
        // index i - (k + 1) (one first value per run so far). ends strictly
        // increases to the row count (parse), so the indices stay inside
        // 0..<steps.count.
        var k = RLEChunk.runIndex(ends, containing: range.lowerBound)
        var start = k == 0 ? 0 : ends[k - 1]
        let scratch = UnsafeMutablePointer<Int64>.allocate(capacity: 1024)
        defer { scratch.deallocate() }
        while start < range.upperBound {
            let end = min(ends[k], range.upperBound)
            var acc = firsts[k]
            if start >= range.lowerBound { out[start - range.lowerBound] = acc }
            var i = start + 1
            while i < end {
                let n = min(1024, end - i)
                steps.decode((i - k - 1)..<(i - k - 1 + n), into: scratch)
                for j in 0..<n {
                    acc = acc &+ scratch[j]
                    if i + j >= range.lowerBound { out[i + j - range.lowerBound] = acc }
                }
                i += n
            }
            start = ends[k]
            k += 1
        }
    }
}
