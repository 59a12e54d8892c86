// Encoding 1, FOR_BITPACK: frame of reference plus bit packing.
//
//   offset size
//   0      8    reference (i64): the minimum value
//   8      1    bit width w (0...64)
//   9      7    zero
//   16     ...  bit stream of (value - reference) as unsigned w-bit integers
//               (see BitPacking.swift), ceil(n*w/8) + 8 bytes
//
// It is also the building block of RLE, DICT, DELTA, DELTA_RUNS and
// PATCHED_RLE.

public struct FORBlock: @unchecked Sendable {
    // @unchecked Sendable: `stream` points into an immutable payload that its
    // owner (a DecodedChunk / mapped file) keeps alive and never writes.
    public let reference: Int64
    public let width: Int
    public let count: Int
    public let stream: UnsafeRawBufferPointer

    public static let headerSize = 16

    // MARK: Analyze

    /// Encoded size in bytes for `count` values spanning `min...max`.
    public static func encodedSize(count: Int, min: Int64, max: Int64) -> Int {
        let w = BitPacking.width(forRange: UInt64(bitPattern: max &- min))
        return headerSize + (BitPacking.streamLength(count: count, width: w) ?? Int.max / 2)
    }

    // MARK: Encode

    public static func encode(_ values: UnsafeBufferPointer<Int64>, into out: inout ByteWriter) {
        var lo = Int64.max, hi = Int64.min
        for v in values { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
        if values.isEmpty { lo = 0; hi = 0 }
        let w = BitPacking.width(forRange: UInt64(bitPattern: hi &- lo))
        out.append(lo)
        out.append(UInt8(w))
        out.appendZeros(7)
        BitPacking.pack(values, reference: lo, width: w, into: &out)
    }

    public static func encode(_ values: [Int64], into out: inout ByteWriter) {
        values.withUnsafeBufferPointer { encode($0, into: &out) }
    }

    // MARK: Decode

    /// Parses a block of `count` values at the reader's position and advances
    /// past it. Validates the width and that the stream is present in full.
    public static func parse(_ r: inout ByteReader, count: Int, file: String, what: String) throws -> FORBlock {
        let reference: Int64 = try r.read()
        let w = Int(try r.read(UInt8.self))
        for _ in 0..<7 { try r.expectZero(UInt8.self, field: "FOR padding") }
        guard w <= 64 else { throw StaveError.corrupt(file: file, what: "\(what): bit width \(w) > 64") }
        guard let len = BitPacking.streamLength(count: count, width: w) else {
            throw StaveError.corrupt(file: file, what: "\(what): bit stream size overflows")
        }
        let stream = try r.readBytes(len)
        return FORBlock(reference: reference, width: w, count: count, stream: stream)
    }

    /// The largest value the block can produce: reference + 2^w - 1, or nil
    /// if that is not representable.
    public var maxRepresentable: Int64? {
        if width == 0 { return reference }
        if width >= 63 { return nil }
        let (v, o) = reference.addingReportingOverflow((Int64(1) << Int64(width)) - 1)
        return o ? nil : v
    }

    public func decode(_ range: Range<Int>, into out: UnsafeMutablePointer<Int64>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        out.withMemoryRebound(to: UInt64.self, capacity: range.count) { u in
            BitPacking.unpack(stream, width: width, range: range, into: u)
        }
        let ref = reference
        for i in 0..<range.count { out[i] = ref &+ out[i] }
    }

    public func decodeAll() -> [Int64] {
        guard count > 0 else { return [] }  // (see ChunkLayout.decodeAll)
        return [Int64](unsafeUninitializedCapacity: count) { buf, n in
            if count > 0 { decode(0..<count, into: buf.baseAddress!) }
            n = count
        }
    }

    /// Decodes `range` as `value - base` into UInt32 when every value the block
    /// can hold fits; returns false (writing nothing) when it cannot promise that.
    public func decode32IfFits(_ range: Range<Int>, base: Int64, into out: UnsafeMutablePointer<UInt32>) -> Bool {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        guard width <= 32, let top = maxRepresentable else { return false }
        let (lo, o1) = reference.subtractingReportingOverflow(base)
        let (hi, o2) = top.subtractingReportingOverflow(base)
        guard !o1, !o2, lo >= 0, hi <= Int64(UInt32.max) else { return false }
        BitPacking.unpack32(stream, width: width, range: range, add: UInt32(lo), into: out)
        return true
    }
}
