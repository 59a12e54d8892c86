// Bit packing: the bottom layer of every encoding.
//
// A bit stream of `count` values of `width` bits stores value i in stream
// bits [i*width, i*width + width), least significant bit first, where stream
// bit k is bit (k % 8) of byte k / 8. The stream is ceil(count*width / 8)
// bytes followed by 8 zero bytes of padding, so that a reader may always load
// 8 bytes at the byte holding a value's first bit.

public enum BitPacking {
    /// Bits needed to hold every value in 0...range.
    @inline(__always)
    public static func width(forRange range: UInt64) -> Int {
        range == 0 ? 0 : 64 - range.leadingZeroBitCount
    }

    /// Length in bytes of a stream including its 8 padding bytes, or nil if
    /// the size overflows.
    public static func streamLength(count: Int, width: Int) -> Int? {
        let (bits, o1) = count.multipliedReportingOverflow(by: width)
        guard !o1, count >= 0, (0...64).contains(width) else { return nil }
        let (withPad, o2) = (bits / 8 + (bits % 8 == 0 ? 0 : 1)).addingReportingOverflow(8)
        return o2 ? nil : withPad
    }

    // MARK: - Encode

    /// Packs `values[i] &- reference` (as unsigned) with `width` bits each.
    /// - Precondition: every difference fits in `width` bits.
    public static func pack(_ values: UnsafeBufferPointer<Int64>, reference: Int64, width: Int, into out: inout ByteWriter) {
        let length = streamLength(count: values.count, width: width)!
        let start = out.count
        // The stream's bytes are added zeroed in one step, then written a
        // word at a time (not appended word by word: the appends cost about
        // as much as the packing itself).
        out.appendZeros(length)
        guard width > 0 else { return }
        out.bytes.withUnsafeMutableBytes { raw in
            // Invariant: word k (k = 0, 1, ...) goes to byte offset 8k of the
            // stream, and k < n*width/64, so 8k + 8 <= ceil(n*width/8); the
            // last, partial word at 8k <= n*width/8 fits in the 8 padding
            // bytes (its bits past the values are 0, the padding's value).
            let stream = raw.baseAddress! + start
            var acc: UInt64 = 0
            var filled = 0
            var offset = 0
            for v in values {
                let u = UInt64(bitPattern: v &- reference)
                acc |= u &<< UInt64(filled)          // filled < 64 here
                filled &+= width
                if filled >= 64 {
                    stream.storeBytes(of: acc.littleEndian, toByteOffset: offset, as: UInt64.self)
                    offset &+= 8
                    filled &-= 64
                    acc = filled > 0 ? u &>> UInt64(width &- filled) : 0
                }
            }
            if filled > 0 { stream.storeBytes(of: acc.littleEndian, toByteOffset: offset, as: UInt64.self) }
        }
    }

    // MARK: - Decode

    /// Unpacks values `range` as unsigned `width`-bit integers into `out[0...]`.
    /// - Precondition: `stream` is at least streamLength(count, width) bytes for
    ///   some count >= range.upperBound (validated by `FORBlock.parse`).
    @inline(__always)
    public static func unpack(_ stream: UnsafeRawBufferPointer, width: Int, range: Range<Int>, into out: UnsafeMutablePointer<UInt64>) {
        let base = stream.baseAddress!
        if width == 0 {
            out.update(repeating: 0, count: range.count)
            return
        }
        let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) &- 1
        var o = 0
        if width <= 56 {
            for i in range {
                let bit = i &* width
                // Safe: bit/8 + 8 <= ceil(count*width/8) + 8 = stream length.
                let word = UInt64(littleEndian: (base + (bit &>> 3)).loadUnaligned(as: UInt64.self))
                out[o] = (word &>> UInt64(bit & 7)) & mask
                o &+= 1
            }
        } else {
            for i in range {
                let bit = i &* width
                let byte = bit &>> 3
                let shift = UInt64(bit & 7)
                // Safe: byte + 8 < stream length (padding), see above.
                let lo = UInt64(littleEndian: (base + byte).loadUnaligned(as: UInt64.self))
                var v = lo &>> shift
                if shift != 0 {
                    let hi = UInt64(base.load(fromByteOffset: byte &+ 8, as: UInt8.self))
                    v |= hi &<< (64 &- shift)
                }
                out[o] = v & mask
                o &+= 1
            }
        }
    }

    /// Unpacks values `range` and adds `add` to each, as UInt32.
    /// - Precondition: width <= 32 and add + (2^width - 1) <= UInt32.max, so
    ///   nothing wraps (checked by callers); stream as in `unpack`.
    @inline(__always)
    public static func unpack32(_ stream: UnsafeRawBufferPointer, width: Int, range: Range<Int>, add: UInt32, into out: UnsafeMutablePointer<UInt32>) {
        let base = stream.baseAddress!
        if width == 0 {
            out.update(repeating: add, count: range.count)
            return
        }
        // Whole 32-value blocks through the width-specialized unpackers.
        var range = range
        var out = out
        let headEnd = min(range.upperBound, (range.lowerBound + 31) & ~31)
        scalar32(stream, width: width, range: range.lowerBound..<headEnd, add: add, into: out)
        out += headEnd - range.lowerBound
        range = headEnd..<range.upperBound
        let blocks = range.count / 32
        if blocks > 0 {
            unpack32Blocks(base, width: width, firstBlock: range.lowerBound / 32, blocks: blocks, add: add, into: out)
            out += blocks * 32
        }
        scalar32(stream, width: width, range: (range.lowerBound + blocks * 32)..<range.upperBound, add: add, into: out)
    }

    /// The scalar path of `unpack32`, for heads and tails of ranges.
    @inline(__always)
    static func scalar32(_ stream: UnsafeRawBufferPointer, width: Int, range: Range<Int>, add: UInt32, into out: UnsafeMutablePointer<UInt32>) {
        let base = stream.baseAddress!
        let mask: UInt64 = (1 << UInt64(width)) &- 1
        var o = 0
        for i in range {
            let bit = i &* width
            // Safe: as in `unpack`; width <= 32 so shift + width <= 39 bits.
            let word = UInt64(littleEndian: (base + (bit &>> 3)).loadUnaligned(as: UInt64.self))
            out[o] = UInt32(truncatingIfNeeded: (word &>> UInt64(bit & 7)) & mask) &+ add
            o &+= 1
        }
    }
}
