// Choosing an encoding for a chunk when writing: the decode weight and the
// encoder that tries the candidates (ChunkLayout.swift parses and decodes).

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
        /// PATCHED_RLE's plan, when it was built to size it.
        var patchedPlan: PatchedRLEChunk.Plan? = nil
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
        // A run column sizes it without building the plan (its runs are
        // what RLE or DELTA keep, and it seldom wins there); any other
        // column keeps the plan it sized, for the encoding: PATCHED_RLE
        // wins nearly every listening-zip chunk, which then is not split
        // twice. Either way the size is exact, so the choice is the same.
        if scan.hasRunLengths, bestScore() > PatchedRLEChunk.sizeLowerBound(count: n, rleSize: rleSize) + penalty(.patchedRLE) {
            if weight.runColumn {
                sizes[.patchedRLE] = PatchedRLEChunk.encodedSize(values)
            } else {
                let plan = PatchedRLEChunk.plan(values)
                sizes[.patchedRLE] = PatchedRLEChunk.size(of: plan)
                a.patchedPlan = plan
            }
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
            case .patchedRLE: PatchedRLEChunk.encode(a.patchedPlan ?? PatchedRLEChunk.plan(buf), into: &out)
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
