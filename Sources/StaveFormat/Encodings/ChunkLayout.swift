// Dispatch over the encodings when reading: parsing and decoding a chunk
// payload (ChunkEncoder.swift chooses one when writing).

/// A parsed, validated chunk payload (after decompression).
public enum ChunkLayout: Sendable {
    case forBitpack(FORBlock)
    case rle(RLEChunk)
    case dictionary(DictionaryChunk)
    case delta(DeltaChunk)
    case deltaRuns(DeltaRunsChunk)
    case patchedRLE(PatchedRLEChunk)
    /// A STRING column's chunk; its integer view is the byte lengths.
    case string(StringChunk)

    /// Parses `payload` (exactly the encoded bytes) of a chunk of `count` rows.
    /// Every length is checked; the payload must be consumed exactly.
    /// - Warning: the result points into `payload`; keep its owner alive.
    public static func parse(_ payload: UnsafeRawBufferPointer, encoding: EncodingID, count: Int, file: String, what: String) throws -> ChunkLayout {
        var r = ByteReader(payload, file: file, what: what)
        let layout: ChunkLayout
        switch encoding {
        case .forBitpack: layout = .forBitpack(try FORBlock.parse(&r, count: count, file: file, what: what))
        case .rle: layout = .rle(try RLEChunk.parse(&r, count: count, file: file, what: what))
        case .dictionary: layout = .dictionary(try DictionaryChunk.parse(&r, count: count, file: file, what: what))
        case .delta: layout = .delta(try DeltaChunk.parse(&r, count: count, file: file, what: what))
        case .deltaRuns: layout = .deltaRuns(try DeltaRunsChunk.parse(&r, count: count, file: file, what: what))
        case .patchedRLE: layout = .patchedRLE(try PatchedRLEChunk.parse(&r, count: count, file: file, what: what))
        case .string: layout = .string(try StringChunk.parse(&r, count: count, file: file, what: what))
        }
        guard r.remaining == 0 else {
            throw StaveError.corrupt(file: file, what: "\(what): \(r.remaining) unexpected bytes after the \(encoding.name) payload")
        }
        return layout
    }

    /// Decodes rows `range` as Int64 into `out[0..<range.count]`.
    public func decode(_ range: Range<Int>, into out: UnsafeMutablePointer<Int64>, file: String, what: String) throws {
        switch self {
        case .forBitpack(let b): b.decode(range, into: out)
        case .rle(let r):
            var o = 0
            r.forEachRun(in: range) { v, rows in
                (out + o).update(repeating: v, count: rows.count)
                o += rows.count
            }
        case .dictionary(let d): try d.decode(range, into: out, file: file, what: what)
        case .delta(let d): d.decode(range, into: out)
        case .deltaRuns(let d): d.decode(range, into: out)
        case .patchedRLE(let p): p.decode(range, into: out)
        case .string(let s): s.lengths.decode(range, into: out)
        }
    }

    public func decodeAll(count: Int, file: String, what: String) throws -> [Int64] {
        // (An empty array is not built through unsafeUninitializedCapacity:
        // that writes to the shared empty-array storage, a race between threads.)
        guard count > 0 else { return [] }
        return try [Int64](unsafeUninitializedCapacity: count) { buf, n in
            if count > 0 { try decode(0..<count, into: buf.baseAddress!, file: file, what: what) }
            n = count
        }
    }

    /// Decodes rows `range` as `value - base` into UInt32. Throws `corrupt`
    /// if a value does not fit (only a damaged or hostile file can do that:
    /// callers pick `base` from validated chunk statistics).
    public func decode32(_ range: Range<Int>, base: Int64, into out: UnsafeMutablePointer<UInt32>, file: String, what: String) throws {
        @inline(__always) func narrow(_ v: Int64) throws -> UInt32 {
            let (d, o) = v.subtractingReportingOverflow(base)
            guard !o, d >= 0, d <= Int64(UInt32.max) else {
                throw StaveError.corrupt(file: file, what: "\(what): value \(v) outside the chunk's range")
            }
            return UInt32(d)
        }
        switch self {
        case .forBitpack(let b):
            if b.decode32IfFits(range, base: base, into: out) { return }
        case .rle(let r):
            try ChunkLayout.fillRuns(r, range, into: out, narrow: narrow)
            return
        case .patchedRLE(let p):
            try ChunkLayout.fillRuns(p.runs, range, into: out, narrow: narrow)
            let first = p.exceptionsBefore(range.lowerBound)
            let m = p.exceptionsBefore(range.upperBound) - first
            guard m > 0 else { return }
            var exceptions = [UInt32](repeating: 0, count: m)
            try exceptions.withUnsafeMutableBufferPointer { e in
                if !p.exceptions.decode32IfFits(first..<(first + m), base: base, into: e.baseAddress!) {
                    let wide = UnsafeMutablePointer<Int64>.allocate(capacity: m)
                    defer { wide.deallocate() }
                    p.exceptions.decode(first..<(first + m), into: wide)
                    for k in 0..<m { e[k] = try narrow(wide[k]) }
                }
                // Flagged rows of `range` are exceptions first..<first + m.
                p.forEachException(in: range) { i, j in out[i &- range.lowerBound] = e[j &- first] }
            }
            return
        case .dictionary(let d):
            let dict32 = try d.dictionary.map(narrow)
            // The indices straight into `out`, all checked at once (one max,
            // which vectorizes), then replaced by their values in place: no
            // branch per row.
            if !d.indices.decode32IfFits(range, base: 0, into: out) {
                throw StaveError.corrupt(file: file, what: "\(what): dictionary indices too wide")
            }
            let n = range.count
            var top: UInt32 = 0
            for i in 0..<n { top = max(top, out[i]) }
            guard n == 0 || Int(top) < dict32.count else {
                throw StaveError.corrupt(file: file, what: "\(what): dictionary index out of range")
            }
            dict32.withUnsafeBufferPointer { dict in
                // Every index is <= top < dict.count (checked above).
                let p = dict.baseAddress!
                for i in 0..<n { out[i] = p[Int(out[i])] }
            }
            return
        case .delta(let d):
            if try d.decode32(range, base: base, into: out, file: file, what: what) { return }
        case .deltaRuns, .string:
            break
        }
        // General path: decode as Int64, then narrow with a check per value.
        let wide = UnsafeMutablePointer<Int64>.allocate(capacity: max(range.count, 1))
        defer { wide.deallocate() }
        try decode(range, into: wide, file: file, what: what)
        for i in 0..<range.count { out[i] = try narrow(wide[i]) }
    }

    /// Decodes rows `range` of a BOOL column into bytes 0/1. Throws `corrupt`
    /// for any other value.
    public func decodeBool(_ range: Range<Int>, into out: UnsafeMutablePointer<UInt8>, file: String, what: String) throws {
        if case .forBitpack(let b) = self, b.width <= 1, b.reference == 0 || (b.reference == 1 && b.width == 0) {
            if b.width == 0 {
                out.update(repeating: UInt8(b.reference), count: range.count)
                return
            }
            // One bit per row: bit i of the stream is row i. Rows up to a
            // byte boundary one by one, then 8 rows per stream byte through
            // a table of their 8 output bytes, then the tail.
            let stream = b.stream.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var i = range.lowerBound
            var o = 0
            while i < range.upperBound && i & 7 != 0 {
                out[o] = (stream[i &>> 3] &>> UInt8(i & 7)) & 1
                i &+= 1; o &+= 1
            }
            let raw = UnsafeMutableRawPointer(out)
            ChunkLayout.bitBytes.withUnsafeBufferPointer { table in
                while i &+ 8 <= range.upperBound {
                    raw.storeBytes(of: table[Int(stream[i &>> 3])], toByteOffset: o, as: UInt64.self)
                    i &+= 8; o &+= 8
                }
            }
            while i < range.upperBound {
                out[o] = (stream[i &>> 3] &>> UInt8(i & 7)) & 1
                i &+= 1; o &+= 1
            }
            return
        }
        let wide = UnsafeMutablePointer<Int64>.allocate(capacity: max(range.count, 1))
        defer { wide.deallocate() }
        try decode(range, into: wide, file: file, what: what)
        for i in 0..<range.count {
            let v = wide[i]
            guard v == 0 || v == 1 else { throw StaveError.corrupt(file: file, what: "\(what): value \(v) in a BOOL column") }
            out[i] = UInt8(v)
        }
    }

    /// Writes the values of `r`'s runs over `range` as UInt32 (through
    /// `narrow`) into `out[0..<range.count]`.
    static func fillRuns(_ r: RLEChunk, _ range: Range<Int>, into out: UnsafeMutablePointer<UInt32>,
                         narrow: (Int64) throws -> UInt32) throws {
        // Run by run in a plain loop (short runs are common: zips).
        guard !range.isEmpty else { return }
        var k = r.runIndex(containing: range.lowerBound)
        var start = range.lowerBound
        var o = 0
        try r.values.withUnsafeBufferPointer { values in
            try r.ends.withUnsafeBufferPointer { ends in
                // ends is strictly increasing up to the row count
                // (RLEChunk.parse), so k stays inside while start < end.
                let n = range.count
                while start < range.upperBound {
                    let end = Swift.min(ends[k], range.upperBound)
                    let len = end &- start
                    let v = try narrow(values[k])
                    if len <= 4 && o &+ 4 <= n {
                        // Four stores whatever the length (no loop to
                        // mispredict): the extra ones land on rows of
                        // later runs, which overwrite them.
                        out[o] = v; out[o &+ 1] = v; out[o &+ 2] = v; out[o &+ 3] = v
                    } else {
                        for j in 0..<len { out[o &+ j] = v }
                    }
                    o &+= len
                    start = end
                    k &+= 1
                }
            }
        }
    }

    /// For each byte, its 8 bits as 8 bytes of 0 or 1 (bit k in byte k of
    /// the little-endian UInt64).
    static let bitBytes: [UInt64] = (0..<256).map { (b: Int) -> UInt64 in
        var v: UInt64 = 0
        for k in 0..<8 where b & (1 << k) != 0 { v |= UInt64(1) << UInt64(8 * k) }
        return UInt64(littleEndian: v)
    }
}
