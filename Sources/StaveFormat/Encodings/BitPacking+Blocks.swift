// Width-specialized unpacking of 32-value blocks, the hot path of FOR_BITPACK.
//
// 32 values of w bits take exactly 4*w bytes, so block b starts at byte
// 4*w*b. With w a compile-time constant (one specialization per width, chosen
// once per call) the 32-step inner loop unrolls into loads and shifts by
// constants: no multiply, no variable shift.

protocol _BitWidth { static var bits: Int { get } }
enum _W1: _BitWidth { static var bits: Int { 1 } }
enum _W2: _BitWidth { static var bits: Int { 2 } }
enum _W3: _BitWidth { static var bits: Int { 3 } }
enum _W4: _BitWidth { static var bits: Int { 4 } }
enum _W5: _BitWidth { static var bits: Int { 5 } }
enum _W6: _BitWidth { static var bits: Int { 6 } }
enum _W7: _BitWidth { static var bits: Int { 7 } }
enum _W8: _BitWidth { static var bits: Int { 8 } }
enum _W9: _BitWidth { static var bits: Int { 9 } }
enum _W10: _BitWidth { static var bits: Int { 10 } }
enum _W11: _BitWidth { static var bits: Int { 11 } }
enum _W12: _BitWidth { static var bits: Int { 12 } }
enum _W13: _BitWidth { static var bits: Int { 13 } }
enum _W14: _BitWidth { static var bits: Int { 14 } }
enum _W15: _BitWidth { static var bits: Int { 15 } }
enum _W16: _BitWidth { static var bits: Int { 16 } }
enum _W17: _BitWidth { static var bits: Int { 17 } }
enum _W18: _BitWidth { static var bits: Int { 18 } }
enum _W19: _BitWidth { static var bits: Int { 19 } }
enum _W20: _BitWidth { static var bits: Int { 20 } }
enum _W21: _BitWidth { static var bits: Int { 21 } }
enum _W22: _BitWidth { static var bits: Int { 22 } }
enum _W23: _BitWidth { static var bits: Int { 23 } }
enum _W24: _BitWidth { static var bits: Int { 24 } }
enum _W25: _BitWidth { static var bits: Int { 25 } }
enum _W26: _BitWidth { static var bits: Int { 26 } }
enum _W27: _BitWidth { static var bits: Int { 27 } }
enum _W28: _BitWidth { static var bits: Int { 28 } }
enum _W29: _BitWidth { static var bits: Int { 29 } }
enum _W30: _BitWidth { static var bits: Int { 30 } }
enum _W31: _BitWidth { static var bits: Int { 31 } }
enum _W32: _BitWidth { static var bits: Int { 32 } }

extension BitPacking {
    /// Unpacks values [32*firstBlock, 32*(firstBlock+blocks)) and adds `add`.
    /// - Precondition: 1 <= width <= 32; the stream holds at least that many
    ///   values plus its 8 padding bytes (so every 8-byte load stays inside);
    ///   add + 2^width - 1 <= UInt32.max.
    static func unpack32Blocks(_ base: UnsafeRawPointer, width: Int, firstBlock: Int, blocks: Int, add: UInt32, into out: UnsafeMutablePointer<UInt32>) {
        switch width {
        case 1: unpackBlocks(_W1.self, base, blocks, firstBlock, add, out)
        case 2: unpackBlocks(_W2.self, base, blocks, firstBlock, add, out)
        case 3: unpackBlocks(_W3.self, base, blocks, firstBlock, add, out)
        case 4: unpackBlocks(_W4.self, base, blocks, firstBlock, add, out)
        case 5: unpackBlocks(_W5.self, base, blocks, firstBlock, add, out)
        case 6: unpackBlocks(_W6.self, base, blocks, firstBlock, add, out)
        case 7: unpackBlocks(_W7.self, base, blocks, firstBlock, add, out)
        case 8: unpackBlocks(_W8.self, base, blocks, firstBlock, add, out)
        case 9: unpackBlocks(_W9.self, base, blocks, firstBlock, add, out)
        case 10: unpackBlocks(_W10.self, base, blocks, firstBlock, add, out)
        case 11: unpackBlocks(_W11.self, base, blocks, firstBlock, add, out)
        case 12: unpackBlocks(_W12.self, base, blocks, firstBlock, add, out)
        case 13: unpackBlocks(_W13.self, base, blocks, firstBlock, add, out)
        case 14: unpackBlocks(_W14.self, base, blocks, firstBlock, add, out)
        case 15: unpackBlocks(_W15.self, base, blocks, firstBlock, add, out)
        case 16: unpackBlocks(_W16.self, base, blocks, firstBlock, add, out)
        case 17: unpackBlocks(_W17.self, base, blocks, firstBlock, add, out)
        case 18: unpackBlocks(_W18.self, base, blocks, firstBlock, add, out)
        case 19: unpackBlocks(_W19.self, base, blocks, firstBlock, add, out)
        case 20: unpackBlocks(_W20.self, base, blocks, firstBlock, add, out)
        case 21: unpackBlocks(_W21.self, base, blocks, firstBlock, add, out)
        case 22: unpackBlocks(_W22.self, base, blocks, firstBlock, add, out)
        case 23: unpackBlocks(_W23.self, base, blocks, firstBlock, add, out)
        case 24: unpackBlocks(_W24.self, base, blocks, firstBlock, add, out)
        case 25: unpackBlocks(_W25.self, base, blocks, firstBlock, add, out)
        case 26: unpackBlocks(_W26.self, base, blocks, firstBlock, add, out)
        case 27: unpackBlocks(_W27.self, base, blocks, firstBlock, add, out)
        case 28: unpackBlocks(_W28.self, base, blocks, firstBlock, add, out)
        case 29: unpackBlocks(_W29.self, base, blocks, firstBlock, add, out)
        case 30: unpackBlocks(_W30.self, base, blocks, firstBlock, add, out)
        case 31: unpackBlocks(_W31.self, base, blocks, firstBlock, add, out)
        case 32: unpackBlocks(_W32.self, base, blocks, firstBlock, add, out)
        default: preconditionFailure("width \(width) outside 1...32")
        }
    }

    @inline(__always)
    static func unpackBlocks<W: _BitWidth>(_: W.Type, _ base: UnsafeRawPointer, _ blocks: Int, _ firstBlock: Int, _ add: UInt32, _ out: UnsafeMutablePointer<UInt32>) {
        let width = W.bits
        let mask: UInt64 = (1 << UInt64(width)) &- 1
        var src = base + firstBlock &* 4 &* width
        var dst = out
        for _ in 0..<blocks {
            for j in 0..<32 {
                let bit = j &* width
                // Safe: inside the block's 4*w bytes, or in the stream's padding.
                let word = UInt64(littleEndian: (src + (bit &>> 3)).loadUnaligned(as: UInt64.self))
                dst[j] = UInt32(truncatingIfNeeded: (word &>> UInt64(bit & 7)) & mask) &+ add
            }
            src += 4 &* width
            dst += 32
        }
    }
}
