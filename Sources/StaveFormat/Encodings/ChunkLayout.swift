// Dispatch over the encodings: choosing one when writing, parsing and
// decoding a payload when reading.

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

    /// True when rows can be decoded from any offset without touching earlier rows.
    public var isRandomAccess: Bool {
        switch self {
        case .delta, .deltaRuns: return false
        default: return true
        }
    }
}

/// How much a column's decode speed counts in the writer's choice
/// (formats/STAVE.md, "How the writer chooses").
public struct DecodeWeight: Sendable, Equatable {
    /// Bytes of payload per row worth paying to save one nanosecond of
    /// decoding per row; 0: size alone decides.
    public var bytesPerNanosecond: Double
    /// The column's runs are what queries walk (customer_id): any encoding
    /// but RLE makes every query rebuild them row by row.
    public var runColumn: Bool

    public init(bytesPerNanosecond: Double, runColumn: Bool = false) {
        self.bytesPerNanosecond = bytesPerNanosecond
        self.runColumn = runColumn
    }

    /// Size alone (columns queries do not scan: event ids; customer tables).
    public static let size = DecodeWeight(bytesPerNanosecond: 0)
    /// The columns every profile decodes (track, datetime, mobile, zip).
    public static let scanned = DecodeWeight(bytesPerNanosecond: 0.5)
    /// customer_id: scanned, and walked as runs.
    public static let runs = DecodeWeight(bytesPerNanosecond: 0.5, runColumn: true)

    /// Decoding cost of each encoding to UInt32, ns per row on the
    /// reference machine (`stave-timer --only decode_encodings`, rounded;
    /// the figures are in formats/STAVE.md); rebuilding runs row by row
    /// adds `rebuildRuns`.
    public static let nanosecondsPerRow: [EncodingID: Double] = [
        .forBitpack: 0.6, .rle: 0.2, .dictionary: 0.8, .delta: 1.8, .deltaRuns: 2.2, .patchedRLE: 0.5,
    ]
    public static let rebuildRuns = 5.0
    /// zstd decompression, ns per byte of payload.
    public static let zstdNanosecondsPerByte = 1.0

    /// The cost of `encoding` for `rows` rows, in bytes (added to its size).
    func penalty(_ encoding: EncodingID, rows: Int) -> Double {
        guard bytesPerNanosecond > 0 else { return 0 }
        var ns = Self.nanosecondsPerRow[encoding] ?? 1
        if runColumn && encoding != .rle { ns += Self.rebuildRuns }
        return bytesPerNanosecond * ns * Double(rows)
    }

    /// Whether a zstd frame of `compressed` bytes is worth keeping over a
    /// payload of `payload` bytes: without a weight when it saves at least
    /// `minGain`; with one, when what it saves is worth more than the time
    /// it takes to decompress.
    public func keepsZstd(payload: Int, compressed: Int, minGain: Double) -> Bool {
        let saved = Double(payload - compressed)
        guard saved >= Double(payload) * minGain else { return false }
        return saved > bytesPerNanosecond * Self.zstdNanosecondsPerByte * Double(payload)
    }
}

/// Picks the encoding for a column chunk: the smallest, or with a decode
/// weight the smallest size plus the weighted cost of decoding it (ties go
/// to the earlier encoding, FOR_BITPACK first: the fastest to decode), and
/// encodes it.
public enum ChunkEncoder {
    public struct Result: Sendable {
        public var encoding: EncodingID
        public var payload: [UInt8]
        public var min: Int64
        public var max: Int64
    }

    /// Exact payload size of each candidate encoding the writer sized (nil:
    /// not a candidate, or ruled out without sizing because it cannot win;
    /// see `analysis`).
    public static func analyze(_ values: UnsafeBufferPointer<Int64>) -> [EncodingID: Int] {
        analysis(values, weight: .size).sizes
    }

    /// The sizes, the values' range, and the DELTA_RUNS step width the size
    /// was computed for, so that encoding the choice does not redo them.
    struct Analysis {
        var sizes: [EncodingID: Int] = [:]
        var lo: Int64 = 0, hi: Int64 = 0
        var deltaRunsWidth: Int? = nil
        /// Size plus weighted decode cost; the choice is the smallest.
        var scores: [EncodingID: Int] = [:]
    }

    /// The exact sizes of the candidates that can win. The choice is the
    /// smallest size, ties going to the earlier of `integerEncodings`
    /// (FOR_BITPACK first); a candidate that provably cannot win is left
    /// out before its sizing pass: PATCHED_RLE when its lower bound is no
    /// smaller than a size already found (it comes last, so it loses ties),
    /// DICT once its distinct count passes the largest count that could
    /// still win.
    static func analysis(_ values: UnsafeBufferPointer<Int64>, weight: DecodeWeight) -> Analysis {
        let n = values.count
        // A candidate's score: its size plus its weighted decode cost. The
        // bounds that rule candidates out compare scores, so pruning never
        // changes the choice.
        func penalty(_ e: EncodingID) -> Int { Int(weight.penalty(e, rows: n).rounded(.up)) }
        // One pass for FOR, RLE, DELTA and DELTA_RUNS (ChunkScan).
        let scan = ChunkScan(values)
        let lo = scan.lo, hi = scan.hi
        var a = Analysis(lo: lo, hi: hi)
        var sizes: [EncodingID: Int] = [:]
        let forSize = FORBlock.encodedSize(count: n, min: lo, max: hi)
        sizes[.forBitpack] = forSize
        // Exact: the run values keep the column's range, the lengths span
        // the shortest to the longest run (estimating them at up to the row
        // count made DELTA win on clustered customer ids, which then had to
        // be decoded whole to find a customer's rows).
        let rleSize = scan.hasRunLengths
            ? RLEChunk.encodedSize(runs: scan.runs, shortest: scan.shortest, longest: scan.longest, min: lo, max: hi) : 0
        if scan.runs * 2 <= n { sizes[.rle] = rleSize }
        sizes[.delta] = DeltaChunk.encodedSize(count: n, stepLo: scan.stepLo, stepHi: scan.stepHi)
        if let w = DeltaRunsChunk.chooseWidth(count: n, negativeSteps: scan.negativeSteps, stepsByWidth: scan.stepsByWidth, min: lo, max: hi) {
            sizes[.deltaRuns] = DeltaRunsChunk.encodedSize(values, width: w)
            a.deltaRunsWidth = w
        }
        // Worth sizing only when runs are short but not every row starts
        // one (listening zips: about one run per 2.7 rows), and when it can
        // win: without exceptions its runs are RLE's, so it is RLE plus two
        // more blocks; with exceptions it has four blocks and a flag bit
        // per row. It comes last, so a size no larger than that bound wins.
        func bestScore(_ ids: [EncodingID]? = nil) -> Int {
            sizes.filter { ids?.contains($0.key) ?? true }.map { $0.value + penalty($0.key) }.min() ?? Int.max
        }
        if scan.hasRunLengths, bestScore() > PatchedRLEChunk.sizeLowerBound(count: n, rleSize: rleSize) + penalty(.patchedRLE) {
            sizes[.patchedRLE] = PatchedRLEChunk.encodedSize(values)
        }
        // DICT: a candidate with at most a quarter of the rows distinct, and
        // only while its size (growing with the distinct count) stays below
        // FOR's and RLE's and no larger than the later encodings'. The
        // count stops past the largest count that passes (event ids are all
        // distinct; a zip chunk's few thousand codes lose to PATCHED_RLE).
        let dictPenalty = penalty(.dictionary)
        let beforeScore = bestScore([.forBitpack, .rle]) - dictPenalty
        let afterScore = bestScore([.delta, .deltaRuns, .patchedRLE])
        let afterDict = afterScore == Int.max ? Int.max : afterScore - dictPenalty
        if beforeScore > 0, afterDict > 0,
           let most = DictionaryChunk.largestCandidateCount(count: n, min: lo, max: hi, below: beforeScore, atMost: afterDict),
           let d = DictionaryChunk.distinctCount(values, min: lo, max: hi, stopAbove: most), d <= most {
            sizes[.dictionary] = DictionaryChunk.encodedSize(count: n, distinct: d, min: lo, max: hi)
        }
        a.sizes = sizes
        a.scores = sizes.reduce(into: [:]) { $0[$1.key] = $1.value + penalty($1.key) }
        return a
    }

    /// Encodes `values` with the given encoding, or the smallest by `analyze`.
    public static func encode(_ values: [Int64], forcing: EncodingID? = nil, weight: DecodeWeight = .size) -> Result {
        values.withUnsafeBufferPointer { buf in
            let choice: EncodingID
            var a = Analysis()
            if let forcing {
                choice = forcing
                var lo = Int64.max, hi = Int64.min
                for v in buf { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
                if buf.isEmpty { lo = 0; hi = 0 }
                a.lo = lo; a.hi = hi
            } else {
                a = analysis(buf, weight: weight)
                let scores = a.scores
                var best = EncodingID.forBitpack
                var bestScore = scores[.forBitpack]!
                for id in EncodingID.integerEncodings {
                    if let s = scores[id], s < bestScore { best = id; bestScore = s }
                }
                choice = best
            }
            var out = ByteWriter(capacity: 64)
            switch choice {
            case .forBitpack: FORBlock.encode(buf, into: &out)
            case .rle: RLEChunk.encode(buf, into: &out)
            case .dictionary: DictionaryChunk.encode(buf, into: &out)
            case .delta: DeltaChunk.encode(buf, into: &out)
            case .deltaRuns:
                let w = a.deltaRunsWidth ?? DeltaRunsChunk.chooseWidth(buf, min: a.lo, max: a.hi) ?? 64
                DeltaRunsChunk.encode(buf, width: w, into: &out)
            case .patchedRLE: PatchedRLEChunk.encode(PatchedRLEChunk.plan(buf), into: &out)
            case .string: preconditionFailure("STRING chunks are encoded by encodeStrings")
            }
            return Result(encoding: choice, payload: out.bytes, min: a.lo, max: a.hi)
        }
    }

    /// Encodes a STRING column's chunk: the values' byte lengths and their
    /// concatenated bytes. min and max are those of the lengths.
    public static func encodeStrings(lengths: [Int64], bytes: [UInt8]) -> Result {
        lengths.withUnsafeBufferPointer { buf in
            var lo = Int64.max, hi = Int64.min
            for v in buf { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
            if buf.isEmpty { lo = 0; hi = 0 }
            var out = ByteWriter(capacity: 64 + bytes.count + buf.count * 2)
            StringChunk.encode(lengths: buf, bytes: bytes, into: &out)
            return Result(encoding: .string, payload: out.bytes, min: lo, max: hi)
        }
    }
}
