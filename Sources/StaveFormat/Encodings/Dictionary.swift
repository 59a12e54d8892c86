// Encoding 3, DICT: a sorted dictionary of distinct values plus indices.
//
//   offset size
//   0      4    dictionary size d (u32); d = 0 exactly when the chunk has 0 rows
//   4      4    zero
//   8      ...  FOR_BITPACK block of the d values, strictly ascending
//   ...    ...  FOR_BITPACK block of the n indices, each < d
//
// Pays when a wide-ranged column has few distinct values in a chunk (the
// listening zip of a row group holds a few thousand distinct codes out of
// 100,000).

public struct DictionaryChunk: Sendable {
    public let dictionary: [Int64]
    public let indices: FORBlock

    /// Above this value range the writer does not consider DICT (the analyze
    /// step uses a bitmap of the range).
    public static let maxAnalyzeRange: UInt64 = 1 << 22

    // MARK: Analyze

    /// Distinct count of values in min...max, or nil when the range is too
    /// wide to analyze cheaply. With `stopAbove`, the count is exact only up
    /// to that bound: the scan stops at the first distinct value past it
    /// and returns stopAbove + 1 (the writer needs no more: DICT is a
    /// candidate only with at most a quarter of the rows distinct).
    public static func distinctCount(_ values: UnsafeBufferPointer<Int64>, min: Int64, max: Int64, stopAbove: Int = .max) -> Int? {
        let range = UInt64(bitPattern: max &- min)
        guard range < maxAnalyzeRange else { return nil }
        var bits = [UInt64](repeating: 0, count: Int(range / 64) + 1)
        var distinct = 0
        for v in values {
            let k = Int(UInt64(bitPattern: v &- min))
            let (w, b) = (k >> 6, UInt64(1) << UInt64(k & 63))
            if bits[w] & b == 0 {
                if distinct == stopAbove { return stopAbove + 1 }
                distinct += 1
                bits[w] |= b
            }
        }
        return distinct
    }

    /// The largest distinct count d in 1...count / 4 (DICT's candidate
    /// rule) whose payload for `count` values in min...max is smaller than
    /// `below` and no larger than `atMost`, or nil when there is none. The
    /// size never shrinks as d grows, so a binary search finds it.
    static func largestCandidateCount(count n: Int, min: Int64, max: Int64, below: Int, atMost: Int) -> Int? {
        func passes(_ d: Int) -> Bool {
            let s = encodedSize(count: n, distinct: d, min: min, max: max)
            return s < below && s <= atMost
        }
        guard n / 4 >= 1, passes(1) else { return nil }
        var good = 1, bad = n / 4 + 1  // passes(good); bad is past the range or fails
        while bad - good > 1 {
            let mid = good + (bad - good) / 2
            if passes(mid) { good = mid } else { bad = mid }
        }
        return good
    }

    public static func encodedSize(count: Int, distinct: Int, min: Int64, max: Int64) -> Int {
        let idxWidth = BitPacking.width(forRange: UInt64(Swift.max(distinct - 1, 0)))
        return 8 + FORBlock.encodedSize(count: distinct, min: min, max: max)
            + FORBlock.headerSize + (BitPacking.streamLength(count: count, width: idxWidth) ?? Int.max / 2)
    }

    // MARK: Encode

    public static func encode(_ values: UnsafeBufferPointer<Int64>, into out: inout ByteWriter) {
        let dict = Array(Set(values)).sorted()
        var position: [Int64: Int64] = [:]
        position.reserveCapacity(dict.count)
        for (k, v) in dict.enumerated() { position[v] = Int64(k) }
        let idx = values.map { position[$0]! }
        out.append(UInt32(dict.count))
        out.append(UInt32(0))
        FORBlock.encode(dict, into: &out)
        FORBlock.encode(idx, into: &out)
    }

    // MARK: Decode

    public static func parse(_ r: inout ByteReader, count: Int, file: String, what: String) throws -> DictionaryChunk {
        let d = Int(try r.read(UInt32.self))
        try r.expectZero(UInt32.self, field: "DICT reserved")
        guard d <= count, (d == 0) == (count == 0) else {
            throw StaveError.corrupt(file: file, what: "\(what): dictionary of \(d) values for \(count) rows")
        }
        let dict = try FORBlock.parse(&r, count: d, file: file, what: what).decodeAll()
        for k in dict.indices.dropFirst() where dict[k - 1] >= dict[k] {
            throw StaveError.corrupt(file: file, what: "\(what): dictionary not strictly ascending")
        }
        let indices = try FORBlock.parse(&r, count: count, file: file, what: what)
        return DictionaryChunk(dictionary: dict, indices: indices)
    }

    /// Decodes `range`, checking every index against the dictionary size.
    public func decode(_ range: Range<Int>, into out: UnsafeMutablePointer<Int64>, file: String, what: String) throws {
        indices.decode(range, into: out)
        // Every index checked at once (the range of all of them), then
        // looked up without a branch per row.
        var lo = Int64.max, hi = Int64.min
        for i in 0..<range.count { lo = Swift.min(lo, out[i]); hi = Swift.max(hi, out[i]) }
        guard range.isEmpty || (lo >= 0 && hi < Int64(dictionary.count)) else {
            throw StaveError.corrupt(file: file, what: "\(what): dictionary index out of range")
        }
        dictionary.withUnsafeBufferPointer { dict in
            // 0 <= every index < dict.count (checked above).
            let p = dict.baseAddress!
            for i in 0..<range.count { out[i] = p[Int(out[i])] }
        }
    }
}
