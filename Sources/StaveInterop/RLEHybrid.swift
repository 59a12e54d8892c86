// Parquet's RLE / bit-packing hybrid (Encodings.md, "Run Length Encoding /
// Bit-Packing Hybrid (RLE = 3)"), used for dictionary indices and
// definition levels:
//
//   run := rle-run | bit-packed-run
//   rle-run := varint(count << 1) value-in-ceil(width/8)-bytes-little-endian
//   bit-packed-run := varint(groups << 1 | 1) groups*8 values, `width` bits
//                     each, packed from the least significant bit
//
// A bit-packed run holds a multiple of 8 values; only the last run of a page
// may be padded (the page header says how many values are real).

public enum RLEHybrid {
    /// Encodes `values` (each below 2^width; width 0...32).
    public static func encode(_ values: UnsafeBufferPointer<UInt32>, width: Int, into out: inout [UInt8]) {
        let n = values.count
        var i = 0
        func varint(_ v: Int) {
            var x = UInt64(v)
            while x >= 0x80 { out.append(UInt8(truncatingIfNeeded: x) | 0x80); x >>= 7 }
            out.append(UInt8(x))
        }
        func runLength(at start: Int) -> Int {
            let v = values[start]
            var e = start + 1
            while e < n && values[e] == v { e += 1 }
            return e - start
        }
        let valueBytes = (width + 7) / 8
        while i < n {
            let run = runLength(at: i)
            if run >= 8 {
                varint(run << 1)
                var v = values[i]
                for _ in 0..<valueBytes { out.append(UInt8(truncatingIfNeeded: v)); v >>= 8 }
                i += run
                continue
            }
            // Groups of 8 until a run of 8 or more starts at a group boundary.
            var end = i
            repeat {
                end = min(n, end + 8)
            } while end < n && runLength(at: end) < 8 && (end - i) / 8 < 1 << 20
            let groups = (end - i + 7) / 8
            varint(groups << 1 | 1)
            var acc: UInt64 = 0, bits = 0
            for k in 0..<(groups * 8) {
                let v = i + k < n ? UInt64(values[i + k]) : 0
                acc |= v << UInt64(bits)
                bits += width
                while bits >= 8 {
                    out.append(UInt8(truncatingIfNeeded: acc))
                    acc >>= 8
                    bits -= 8
                }
            }
            if bits > 0 { out.append(UInt8(truncatingIfNeeded: acc)) }
            i = end
        }
    }

    public static func encode(_ values: [UInt32], width: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count * max(width, 1) / 8 + 16)
        values.withUnsafeBufferPointer { encode($0, width: width, into: &out) }
        return out
    }

    /// The bits needed for values up to `maxValue`.
    public static func width(_ maxValue: UInt32) -> Int { maxValue == 0 ? 0 : 32 - maxValue.leadingZeroBitCount }

    /// Decodes exactly `count` values of `width` bits from `bytes` into
    /// `out` (which has room for `count`). Returns the bytes consumed.
    /// Throws on truncated input or a width over 32.
    public static func decode(_ bytes: UnsafeRawBufferPointer, width: Int, count: Int, into out: UnsafeMutablePointer<UInt32>) throws -> Int {
        guard width >= 0 && width <= 32 else { throw ThriftError(message: "bit width \(width) over 32") }
        var p = 0, done = 0
        let valueBytes = (width + 7) / 8
        let mask: UInt64 = width == 32 ? 0xFFFF_FFFF : (1 << UInt64(width)) - 1
        while done < count {
            guard p < bytes.count else { throw ThriftError(message: "RLE data ends after \(done) of \(count) values") }
            let header = try Varint.read(bytes, &p)
            if header & 1 == 0 {
                let run = Int(clamping: header >> 1)
                guard run > 0 else { throw ThriftError(message: "empty RLE run") }
                guard p + valueBytes <= bytes.count else { throw ThriftError(message: "RLE value truncated") }
                var v: UInt64 = 0
                for k in 0..<valueBytes { v |= UInt64(bytes[p + k]) << UInt64(8 * k) }
                p += valueBytes
                guard v <= mask else { throw ThriftError(message: "RLE value \(v) wider than \(width) bits") }
                let take = min(run, count - done)
                (out + done).initialize(repeating: UInt32(v), count: take)
                done += take
            } else {
                // A group is 8 values of `width` bits: exactly `width` bytes.
                // The header's group count comes from the file: it is
                // checked against the bytes left before any product is
                // formed (a count times the width used to overflow and trap).
                let groups = Int(clamping: header >> 1)
                if width > 0 {
                    guard groups <= (bytes.count - p) / width else {
                        throw ThriftError(message: "bit-packed run of \(groups) groups of \(width) bytes with \(bytes.count - p) bytes left")
                    }
                } else {
                    // Width 0: values take no bytes; only the count matters.
                    guard groups <= Int.max / 8 else { throw ThriftError(message: "bit-packed run of \(groups) groups") }
                }
                let needed = groups * width
                var acc: UInt64 = 0, bits = 0, q = p
                let take = min(groups * 8, count - done)
                for k in 0..<take {
                    while bits < width {
                        acc |= UInt64(bytes[q]) << UInt64(bits)
                        q += 1
                        bits += 8
                    }
                    out[done + k] = UInt32(truncatingIfNeeded: acc & mask)
                    acc >>= UInt64(width)
                    bits -= width
                }
                done += take
                p += needed
            }
        }
        return p
    }
}
