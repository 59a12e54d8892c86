/// XXH64 (seed 0 unless given), the checksum of every chunk, footer and
/// manifest. Specification: https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md
/// (the same function zstd uses for its frame checksums).
public enum XXH64 {
    static let p1: UInt64 = 11_400_714_785_074_694_791
    static let p2: UInt64 = 14_029_467_366_897_019_727
    static let p3: UInt64 = 1_609_587_929_392_839_161
    static let p4: UInt64 = 9_650_029_242_287_828_579
    static let p5: UInt64 = 2_870_177_450_012_600_261

    @inline(__always) static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x &<< r) | (x &>> (64 &- r)) }

    @inline(__always) static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        var a = acc &+ input &* p2
        a = rotl(a, 31)
        return a &* p1
    }

    @inline(__always) static func merge(_ acc: UInt64, _ val: UInt64) -> UInt64 {
        let v = round(0, val)
        return (acc ^ v) &* p1 &+ p4
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    public static func hash(_ buf: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let n = buf.count
        var i = 0
        var h: UInt64
        // Every load below reads [i, i + size) with i + size <= n.
        @inline(__always) func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        if n >= 32 {
            var v1 = seed &+ p1 &+ p2
            var v2 = seed &+ p2
            var v3 = seed
            var v4 = seed &- p1
            while i + 32 <= n {
                v1 = round(v1, u64(i))
                v2 = round(v2, u64(i + 8))
                v3 = round(v3, u64(i + 16))
                v4 = round(v4, u64(i + 24))
                i += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(h, v1)
            h = merge(h, v2)
            h = merge(h, v3)
            h = merge(h, v4)
        } else {
            h = seed &+ p5
        }
        return finish(h &+ UInt64(n), UnsafeRawBufferPointer(rebasing: buf[i...]))
    }

    /// Folds the last (fewer than 32) bytes into `h` and avalanches.
    static func finish(_ h0: UInt64, _ rest: UnsafeRawBufferPointer) -> UInt64 {
        var h = h0
        let n = rest.count
        var i = 0
        // Every load reads [i, i + size) with i + size <= n.
        while i + 8 <= n {
            h ^= round(0, UInt64(littleEndian: rest.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            h = rotl(h, 27) &* p1 &+ p4
            i += 8
        }
        if i + 4 <= n {
            h ^= UInt64(UInt32(littleEndian: rest.loadUnaligned(fromByteOffset: i, as: UInt32.self))) &* p1
            h = rotl(h, 23) &* p2 &+ p3
            i += 4
        }
        while i < n {
            h ^= UInt64(rest[i]) &* p5
            h = rotl(h, 11) &* p1
            i += 1
        }
        h ^= h >> 33
        h = h &* p2
        h ^= h >> 29
        h = h &* p3
        h ^= h >> 32
        return h
    }

    /// Incremental XXH64: `update` with the bytes in any pieces, `digest`
    /// gives what `hash` gives for their concatenation.
    public struct Stream: Sendable, Equatable {
        let seed: UInt64
        var v1: UInt64, v2: UInt64, v3: UInt64, v4: UInt64
        var total: UInt64 = 0
        /// Fewer than 32 bytes not yet folded into v1...v4.
        var pending: [UInt8] = []

        public init(seed: UInt64 = 0) {
            self.seed = seed
            v1 = seed &+ XXH64.p1 &+ XXH64.p2
            v2 = seed &+ XXH64.p2
            v3 = seed
            v4 = seed &- XXH64.p1
        }

        public var count: UInt64 { total }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            total += UInt64(bytes.count)
            var i = 0
            @inline(__always) func lane(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt64 {
                UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt64.self))
            }
            if !pending.isEmpty {
                let take = min(32 - pending.count, bytes.count)
                pending += bytes[0..<take]
                i = take
                guard pending.count == 32 else { return }
                pending.withUnsafeBytes { b in
                    v1 = XXH64.round(v1, lane(b, 0)); v2 = XXH64.round(v2, lane(b, 8))
                    v3 = XXH64.round(v3, lane(b, 16)); v4 = XXH64.round(v4, lane(b, 24))
                }
                pending.removeAll(keepingCapacity: true)
            }
            // Every load reads [i, i + 32) with i + 32 <= bytes.count.
            while i + 32 <= bytes.count {
                v1 = XXH64.round(v1, lane(bytes, i)); v2 = XXH64.round(v2, lane(bytes, i + 8))
                v3 = XXH64.round(v3, lane(bytes, i + 16)); v4 = XXH64.round(v4, lane(bytes, i + 24))
                i += 32
            }
            if i < bytes.count { pending += bytes[i...] }
        }

        public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

        public func digest() -> UInt64 {
            var h: UInt64
            if total >= 32 {
                h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
                h = merge(h, v1); h = merge(h, v2); h = merge(h, v3); h = merge(h, v4)
            } else {
                h = seed &+ p5
            }
            let folded = h &+ total
            return pending.withUnsafeBytes { XXH64.finish(folded, $0) }
        }
    }
}
