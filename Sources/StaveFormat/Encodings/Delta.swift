// Encoding 4, DELTA: first value plus frame-of-reference packed differences.
//
//   offset size
//   0      8    first value (i64; 0 when the chunk has 0 rows)
//   8      ...  FOR_BITPACK block of the n-1 differences v[i] - v[i-1]
//               (two's-complement wrapping), or of 0 values when n <= 1
//
// Pays on sorted or nearly sorted columns (event ids in file order).

public struct DeltaChunk: Sendable {
    public let first: Int64
    public let deltas: FORBlock

    // MARK: Analyze

    public static func encodedSize(_ values: UnsafeBufferPointer<Int64>) -> Int {
        guard values.count > 1 else { return 8 + FORBlock.encodedSize(count: 0, min: 0, max: 0) }
        var lo = Int64.max, hi = Int64.min
        var prev = values[0]
        for v in values.dropFirst() {
            let d = v &- prev
            lo = min(lo, d); hi = max(hi, d)
            prev = v
        }
        return encodedSize(count: values.count, stepLo: lo, stepHi: hi)
    }

    /// The exact payload size for `count` values whose steps span stepLo...stepHi.
    static func encodedSize(count: Int, stepLo: Int64, stepHi: Int64) -> Int {
        count > 1 ? 8 + FORBlock.encodedSize(count: count - 1, min: stepLo, max: stepHi)
            : 8 + FORBlock.encodedSize(count: 0, min: 0, max: 0)
    }

    // MARK: Encode

    public static func encode(_ values: UnsafeBufferPointer<Int64>, into out: inout ByteWriter) {
        out.append(values.first ?? 0)
        var deltas: [Int64] = []
        deltas.reserveCapacity(max(values.count - 1, 0))
        if values.count > 1 {
            for i in 1..<values.count { deltas.append(values[i] &- values[i - 1]) }
        }
        FORBlock.encode(deltas, into: &out)
    }

    // MARK: Decode

    public static func parse(_ r: inout ByteReader, count: Int, file: String, what: String) throws -> DeltaChunk {
        let first: Int64 = try r.read()
        let deltas = try FORBlock.parse(&r, count: max(count - 1, 0), file: file, what: what)
        return DeltaChunk(first: first, deltas: deltas)
    }

    /// Decodes `range` as `value - base` into UInt32: deltas unpacked 32
    /// bits wide (as offsets from the block's reference), summed in Int64,
    /// each value checked to fit. Returns false, writing nothing useful,
    /// when the deltas are wider than 32 bits (the caller takes the
    /// general path); throws `corrupt` for a value that does not fit.
    public func decode32(_ range: Range<Int>, base: Int64, into out: UnsafeMutablePointer<UInt32>, file: String, what: String) throws -> Bool {
        guard !range.isEmpty else { return true }
        guard deltas.width <= 32, deltas.maxRepresentable != nil else { return false }
        @inline(__always) func narrow(_ v: Int64) throws -> UInt32 {
            let (d, o) = v.subtractingReportingOverflow(base)
            guard !o, d >= 0, d <= Int64(UInt32.max) else {
                throw StaveError.corrupt(file: file, what: "\(what): value \(v) outside the chunk's range")
            }
            return UInt32(truncatingIfNeeded: d)
        }
        let reference = deltas.reference
        var acc = first
        var o = 0
        if range.lowerBound == 0 { out[0] = try narrow(first); o = 1 }
        var scratch = [UInt32](repeating: 0, count: 1024)
        var i = 1
        while i < range.upperBound {
            let n = min(1024, range.upperBound - i)
            let unpacked = try scratch.withUnsafeMutableBufferPointer { s -> Bool in
                // Offsets from `reference` fit 32 bits (width <= 32, checked
                // above), so this succeeds.
                guard deltas.decode32IfFits((i - 1)..<(i - 1 + n), base: reference, into: s.baseAddress!) else { return false }
                for k in 0..<n {
                    acc = acc &+ (reference &+ Int64(s[k]))
                    if i + k >= range.lowerBound { out[o] = try narrow(acc); o += 1 }
                }
                return true
            }
            guard unpacked else { return false }
            i += n
        }
        return true
    }

    /// Decodes `range` (a prefix sum from row 0).
    public func decode(_ range: Range<Int>, into out: UnsafeMutablePointer<Int64>) {
        guard !range.isEmpty else { return }
        var acc = first
        var scratch = [Int64](repeating: 0, count: 1024)
        var i = 1
        var o = 0
        if range.lowerBound == 0 { out[0] = first; o = 1 }
        while i < range.upperBound {
            let n = min(1024, range.upperBound - i)
            scratch.withUnsafeMutableBufferPointer { s in
                deltas.decode((i - 1)..<(i - 1 + n), into: s.baseAddress!)
                for k in 0..<n {
                    acc = acc &+ s[k]
                    if i + k >= range.lowerBound { out[o] = acc; o += 1 }
                }
            }
            i += n
        }
    }
}
