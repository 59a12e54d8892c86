// Encoding 2, RLE: runs of equal values.
//
//   offset size
//   0      4    run count r (u32); r = 0 exactly when the chunk has 0 rows
//   4      4    zero
//   8      ...  FOR_BITPACK block of the r run values
//   ...    ...  FOR_BITPACK block of the r run lengths (each >= 1, sum = rows)
//
// Chosen for customer_id: rows are clustered by customer, so a row group of
// 65,536 rows holds a few hundred runs.

public struct RLEChunk: Sendable {
    public let values: [Int64]
    /// ends[k] is one past the last row of run k; ends is strictly increasing.
    public let ends: [Int]

    // MARK: Analyze

    /// Run count of `values`.
    public static func runCount(_ values: UnsafeBufferPointer<Int64>) -> Int {
        runStats(values).runs
    }

    /// Run count and the shortest and longest run: with the values' range,
    /// what the exact encoded size depends on.
    public static func runStats(_ values: UnsafeBufferPointer<Int64>) -> (runs: Int, shortest: Int, longest: Int) {
        guard var prev = values.first else { return (0, 0, 0) }
        var runs = 1, start = 0, shortest = Int.max, longest = 0
        for (i, v) in values.enumerated().dropFirst() where v != prev {
            shortest = min(shortest, i - start)
            longest = max(longest, i - start)
            start = i
            runs += 1
            prev = v
        }
        shortest = min(shortest, values.count - start)
        longest = max(longest, values.count - start)
        return (runs, shortest, longest)
    }

    /// The exact payload size of `encode(values)` (values spanning lo...hi).
    public static func encodedSize(_ values: UnsafeBufferPointer<Int64>, min lo: Int64, max hi: Int64) -> (runs: Int, bytes: Int) {
        let s = runStats(values)
        return (s.runs, encodedSize(runs: s.runs, shortest: s.shortest, longest: s.longest, min: lo, max: hi))
    }

    /// The exact payload size from the run statistics and the values' range.
    static func encodedSize(runs: Int, shortest: Int, longest: Int, min lo: Int64, max hi: Int64) -> Int {
        8 + FORBlock.encodedSize(count: runs, min: runs == 0 ? 0 : lo, max: runs == 0 ? 0 : hi)
            + FORBlock.encodedSize(count: runs, min: Int64(shortest), max: Int64(longest))
    }

    // MARK: Encode

    public static func encode(_ values: UnsafeBufferPointer<Int64>, into out: inout ByteWriter) {
        var runValues: [Int64] = []
        var runLengths: [Int64] = []
        var i = 0
        while i < values.count {
            var j = i + 1
            while j < values.count && values[j] == values[i] { j += 1 }
            runValues.append(values[i])
            runLengths.append(Int64(j - i))
            i = j
        }
        out.append(UInt32(runValues.count))
        out.append(UInt32(0))
        FORBlock.encode(runValues, into: &out)
        FORBlock.encode(runLengths, into: &out)
    }

    // MARK: Decode

    public static func parse(_ r: inout ByteReader, count: Int, file: String, what: String) throws -> RLEChunk {
        let runCount = Int(try r.read(UInt32.self))
        try r.expectZero(UInt32.self, field: "RLE reserved")
        guard runCount <= count, (runCount == 0) == (count == 0) else {
            throw StaveError.corrupt(file: file, what: "\(what): RLE run count \(runCount) for \(count) rows")
        }
        let valueBlock = try FORBlock.parse(&r, count: runCount, file: file, what: what)
        let lengthBlock = try FORBlock.parse(&r, count: runCount, file: file, what: what)
        let values = valueBlock.decodeAll()
        let lengths = lengthBlock.decodeAll()
        return RLEChunk(values: values, ends: try runEnds(lengths, count: count, encoding: "RLE", file: file, what: what))
    }

    /// The end row of each run from the run lengths (each >= 1, adding up
    /// to exactly `count`: checked): shared by RLE, DELTA_RUNS and PATCHED_RLE.
    static func runEnds(_ lengths: [Int64], count: Int, encoding: String, file: String, what: String) throws -> [Int] {
        var ends: [Int] = []
        ends.reserveCapacity(lengths.count)
        var total = 0
        for len in lengths {
            guard len >= 1, len <= Int64(count - total) else {
                throw StaveError.corrupt(file: file, what: "\(what): \(encoding) run lengths do not add up to \(count) rows")
            }
            total += Int(len)
            ends.append(total)
        }
        guard total == count else {
            throw StaveError.corrupt(file: file, what: "\(what): \(encoding) run lengths add up to \(total), not \(count) rows")
        }
        return ends
    }

    /// Index of the run containing row `row`.
    func runIndex(containing row: Int) -> Int {
        RLEChunk.runIndex(ends, containing: row)
    }

    /// Index of the run containing `row`, given the runs' strictly
    /// increasing end rows (non-empty, row < ends.last).
    static func runIndex(_ ends: [Int], containing row: Int) -> Int {
        var lo = 0, hi = ends.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if ends[mid] <= row { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Calls `body(value, rows)` for each run overlapping `range`, clipped to it.
    public func forEachRun(in range: Range<Int>, _ body: (Int64, Range<Int>) throws -> Void) rethrows {
        guard !range.isEmpty else { return }
        var k = runIndex(containing: range.lowerBound)
        var start = range.lowerBound
        while start < range.upperBound {
            let end = Swift.min(ends[k], range.upperBound)
            try body(values[k], start..<end)
            start = end
            k += 1
        }
    }
}
