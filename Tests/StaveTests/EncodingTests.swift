import XCTest
@testable import StaveFormat

final class EncodingTests: XCTestCase {
    /// Adversarial and ordinary inputs.
    static func dataSets() -> [(String, [Int64])] {
        var rng = TestRNG(99)
        var sets: [(String, [Int64])] = [
            ("empty", []),
            ("one", [42]),
            ("one negative", [-7]),
            ("all equal", [Int64](repeating: 5, count: 1000)),
            ("extremes", [Int64.min, Int64.max, 0, Int64.min, Int64.max]),
            ("max only", [Int64.max, Int64.max]),
            ("min and zero", [Int64.min, 0, Int64.min]),
            ("sorted", (0..<3000).map { Int64($0 * 3) }),
            ("reversed", (0..<3000).reversed().map { Int64($0) }),
            ("runs", (0..<5000).map { Int64($0 / 37) }),
            ("few distinct wide", (0..<4000).map { _ in Int64(rng.below(20)) * 4999 }),
            ("random 20 bits", (0..<5000).map { _ in Int64(rng.below(1 << 20)) }),
            ("random 64 bits", (0..<700).map { _ in Int64(bitPattern: rng.next()) }),
        ]
        sets.append(("ascending stretches", Self.ascendingStretches(&rng, rows: 4000)))
        sets.append(("usual values with exceptions", Self.usualWithExceptions(&rng, rows: 4000)))
        for w in [1, 7, 8, 31, 32, 33, 55, 56, 57, 63] {
            let mask: UInt64 = (1 << UInt64(w)) - 1
            sets.append(("width \(w)", (0..<(100 + w)).map { _ in Int64(bitPattern: rng.next() & mask) }))
        }
        return sets
    }

    /// Event ids as a part lays them out: per customer, an ascending sample
    /// of a wide range (file order), customers one after another.
    static func ascendingStretches(_ rng: inout TestRNG, rows: Int) -> [Int64] {
        var out: [Int64] = []
        while out.count < rows {
            let n = min(1 + rng.below(120), rows - out.count)
            out += (0..<n).map { _ in Int64(rng.below(1_000_000)) }.sorted()
        }
        return out
    }

    /// Listening zips as a part lays them out: per customer a home value
    /// most of the time, 20% others (now and then the same one twice).
    static func usualWithExceptions(_ rng: inout TestRNG, rows: Int) -> [Int64] {
        var out: [Int64] = []
        while out.count < rows {
            let home = Int64(rng.below(100_000))
            for _ in 0..<min(1 + rng.below(90), rows - out.count) {
                if rng.below(5) == 0 {
                    let other = Int64(rng.below(100_000))
                    out.append(other)
                    if rng.below(10) == 0 && out.count < rows { out.append(other) }
                } else {
                    out.append(home)
                }
            }
        }
        return Array(out.prefix(rows))
    }

    /// Booleans from a 1-bit FOR_BITPACK chunk, over ranges with every
    /// start and end offset within a byte, short and long.
    func testDecodeBoolRanges() throws {
        var rng = TestRNG(17)
        let values = (0..<1000).map { _ in Int64(rng.below(2)) }
        let r = ChunkEncoder.encode(values, forcing: .forBitpack)
        try r.payload.withUnsafeBytes { payload in
            let layout = try ChunkLayout.parse(payload, encoding: .forBitpack, count: values.count, file: "t", what: "c")
            for lo in 0..<17 {
                for hi in [lo, lo + 1, lo + 7, lo + 8, lo + 9, lo + 63, 500, 993, 999, 1000] where hi >= lo && hi <= values.count {
                    var out = [UInt8](repeating: 9, count: hi - lo + 1)
                    try out.withUnsafeMutableBufferPointer { try layout.decodeBool(lo..<hi, into: $0.baseAddress!, file: "t", what: "c") }
                    XCTAssertEqual(out.dropLast().map(Int64.init), Array(values[lo..<hi]), "\(lo)..<\(hi)")
                    XCTAssertEqual(out.last, 9, "nothing written past the range")
                }
            }
        }
    }

    func roundTrip(_ values: [Int64], _ id: EncodingID, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = ChunkEncoder.encode(values, forcing: id)
        XCTAssertEqual(r.encoding, id)
        try r.payload.withUnsafeBytes { payload in
            let layout = try ChunkLayout.parse(payload, encoding: id, count: values.count, file: "t", what: "c")
            XCTAssertEqual(try layout.decodeAll(count: values.count, file: "t", what: "c"), values, "\(id)", file: file, line: line)
            // Every sub-range, including misaligned starts.
            if values.count > 2 {
                for (lo, hi) in [(1, values.count), (values.count / 3, values.count / 2 + 1), (values.count - 1, values.count)] {
                    var out = [Int64](repeating: 0, count: hi - lo)
                    try out.withUnsafeMutableBufferPointer { try layout.decode(lo..<hi, into: $0.baseAddress!, file: "t", what: "c") }
                    XCTAssertEqual(out, Array(values[lo..<hi]), "\(id) range \(lo)..<\(hi)", file: file, line: line)
                }
            }
            // UInt32 decoding relative to the minimum, when the range fits.
            if let lo = values.min(), let hi = values.max(), hi.subtractingReportingOverflow(lo).overflow == false, hi - lo <= Int64(UInt32.max) {
                var out = [UInt32](repeating: 0, count: values.count)
                try out.withUnsafeMutableBufferPointer { try layout.decode32(0..<values.count, base: lo, into: $0.baseAddress!, file: "t", what: "c") }
                XCTAssertEqual(out.map { Int64($0) + lo }, values, "\(id) decode32", file: file, line: line)
                // Sub-ranges (for DELTA: past a 1,024-row block, misaligned).
                for (a, b) in [(1, values.count), (values.count / 3, values.count / 2 + 1), (values.count - 1, values.count), (min(1500, values.count), values.count)] where a < b {
                    var part = [UInt32](repeating: 0, count: b - a)
                    try part.withUnsafeMutableBufferPointer { try layout.decode32(a..<b, base: lo, into: $0.baseAddress!, file: "t", what: "c") }
                    XCTAssertEqual(part.map { Int64($0) + lo }, Array(values[a..<b]), "\(id) decode32 \(a)..<\(b)", file: file, line: line)
                }
                // A base above the minimum: a value does not fit, an error.
                if lo < hi {
                    var bad = [UInt32](repeating: 0, count: values.count)
                    XCTAssertThrowsError(try bad.withUnsafeMutableBufferPointer { try layout.decode32(0..<values.count, base: lo + 1, into: $0.baseAddress!, file: "t", what: "c") },
                                         "\(id) decode32 below base", file: file, line: line)
                }
            }
        }
    }

    func testEveryEncodingRoundTripsEveryDataSet() throws {
        for (name, values) in Self.dataSets() {
            for id in EncodingID.integerEncodings {
                if id == .dictionary && Set(values).count > 70_000 { continue }
                XCTAssertNoThrow(try roundTrip(values, id), "\(name) \(id.name)")
            }
        }
    }

    func testBitPackingEveryWidthAndLength() {
        var rng = TestRNG(5)
        for width in 0...64 {
            for count in [0, 1, 2, 7, 8, 9, 63, 64, 65, 130] {
                let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
                let values = (0..<count).map { _ in rng.next() & mask }
                var w = ByteWriter()
                values.map { Int64(bitPattern: $0) }.withUnsafeBufferPointer {
                    BitPacking.pack($0, reference: 0, width: width, into: &w)
                }
                XCTAssertEqual(w.count, BitPacking.streamLength(count: count, width: width))
                w.bytes.withUnsafeBytes { stream in
                    for start in [0, 1, 3, 31, 32, 33, 64] where start <= count {
                        var out = [UInt64](repeating: 9, count: count - start)
                        out.withUnsafeMutableBufferPointer { BitPacking.unpack(stream, width: width, range: start..<count, into: $0.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!) }
                        XCTAssertEqual(out, Array(values[start...]), "width \(width) count \(count) start \(start)")
                        if width <= 32 {
                            var out32 = [UInt32](repeating: 9, count: count - start)
                            out32.withUnsafeMutableBufferPointer { BitPacking.unpack32(stream, width: width, range: start..<count, add: 0, into: $0.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!) }
                            XCTAssertEqual(out32.map(UInt64.init), Array(values[start...]))
                        }
                    }
                }
            }
        }
    }

    /// What the analysis keeps for the encoding (PATCHED_RLE's plan for a
    /// column that is not a run column, DELTA_RUNS' width) encodes what the
    /// chosen encoding forced from scratch does, under every weight (a run
    /// column sizes PATCHED_RLE without a plan), on every column shape.
    func testChosenEncodingIsTheForcedOne() {
        var patched: Set<String> = []
        for (name, values) in Self.columnShapes() {
            for (label, weight) in [("size", DecodeWeight.size), ("scanned", .scanned), ("runs", .runs)] {
                let chosen = ChunkEncoder.encode(values, weight: weight)
                XCTAssertEqual(chosen.payload, ChunkEncoder.encode(values, forcing: chosen.encoding).payload, "\(name), \(label)")
                if chosen.encoding == .patchedRLE { patched.insert(label) }
            }
        }
        // The kept plan is exercised (the weights without a run column).
        XCTAssertTrue(patched.contains("size") && patched.contains("scanned"), "\(patched)")
    }

    /// The packer's bytes are the stream formats/STAVE.md describes, built
    /// here bit by bit: value i in stream bits [i*width, i*width + width),
    /// least significant first, then zeros to the end of the padding. Every
    /// width, counts around whole 8-byte words and 32-value blocks, with a
    /// reference subtracted.
    func testBitPackingWritesTheSpecStream() {
        var rng = TestRNG(33)
        for width in 0...64 {
            for count in [1, 31, 32, 33, 63, 64, 65, 95, 96, 97, 160, 161, 1000] {
                let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
                let reference = Int64(rng.below(1000)) - 500
                let offsets = (0..<count).map { k in k % 7 == 0 ? mask : rng.next() & mask }   // the widest value too
                let values = offsets.map { Int64(bitPattern: $0 &+ UInt64(bitPattern: reference)) }
                var w = ByteWriter()
                values.withUnsafeBufferPointer { BitPacking.pack($0, reference: reference, width: width, into: &w) }
                var expected = [UInt8](repeating: 0, count: BitPacking.streamLength(count: count, width: width)!)
                for (i, v) in offsets.enumerated() {
                    for b in 0..<width where (v >> UInt64(b)) & 1 == 1 {
                        let bit = i * width + b
                        expected[bit / 8] |= 1 << UInt8(bit % 8)
                    }
                }
                XCTAssertEqual(w.bytes, expected, "width \(width) count \(count)")
            }
        }
    }

    func testChooserPicksNoLargerThanFOR() {
        for (name, values) in Self.dataSets() {
            let chosen = ChunkEncoder.encode(values)
            let forSize = ChunkEncoder.encode(values, forcing: .forBitpack).payload.count
            XCTAssertLessThanOrEqual(chosen.payload.count, forSize, name)
            XCTAssertEqual(chosen.min, values.min() ?? 0)
            XCTAssertEqual(chosen.max, values.max() ?? 0)
        }
        // The shapes the store relies on.
        XCTAssertEqual(ChunkEncoder.encode((0..<5000).map { Int64($0 / 100) }).encoding, .rle)
        XCTAssertEqual(ChunkEncoder.encode((0..<5000).map { Int64($0) * 1000 }).encoding, .delta)
        var rng = TestRNG(3)
        XCTAssertEqual(ChunkEncoder.encode((0..<5000).map { _ in Int64(rng.below(2000)) }).encoding, .forBitpack)
        XCTAssertEqual(ChunkEncoder.encode(Self.ascendingStretches(&rng, rows: 20_000)).encoding, .deltaRuns)
        XCTAssertEqual(ChunkEncoder.encode(Self.usualWithExceptions(&rng, rows: 20_000)).encoding, .patchedRLE)
        // Sorted customer ids stay RLE (the kernel reads its runs), even
        // with runs short enough that DELTA_RUNS with steps of 0 or 1 could compete.
        XCTAssertEqual(ChunkEncoder.encode((0..<65_536).map { Int64($0 / 27) }).encoding, .rle)
    }

    /// DELTA_RUNS and PATCHED_RLE payloads read by a decoder written from
    /// formats/STAVE.md alone (byte by byte, bit by bit), independent of
    /// the library's readers: the encoders write what the spec says.
    func testNewEncodingsMatchTheSpecByteForByte() throws {
        struct SpecReader {
            let b: [UInt8]
            var at = 0
            mutating func u32() -> Int { defer { at += 4 }; return (0..<4).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) } }
            mutating func i64() -> Int64 { defer { at += 8 }; return Int64(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << UInt64(8 * $1) }) }
            /// A FOR block of n values: reference, width, 7 zero bytes, the stream, 8 zero bytes.
            mutating func forBlock(_ n: Int) -> [Int64] {
                let ref = i64()
                let w = Int(b[at]); at += 1
                for _ in 0..<7 { XCTAssertEqual(b[at], 0); at += 1 }
                var values: [Int64] = []
                for i in 0..<n {
                    var v: UInt64 = 0
                    for k in 0..<w {
                        let bit = i * w + k
                        if b[at + bit / 8] >> UInt8(bit % 8) & 1 == 1 { v |= 1 << UInt64(k) }
                    }
                    values.append(ref &+ Int64(bitPattern: v))
                }
                at += (n * w + 7) / 8
                for _ in 0..<8 { XCTAssertEqual(b[at], 0); at += 1 }
                return values
            }
        }
        var rng = TestRNG(21)
        for rows in [0, 1, 2, 3, 700, 3000] {
            // DELTA_RUNS
            let ids = Self.ascendingStretches(&rng, rows: rows)
            var r = SpecReader(b: ChunkEncoder.encode(ids, forcing: .deltaRuns).payload)
            let s = r.u32()
            XCTAssertEqual(r.u32(), 0)
            let lengths = r.forBlock(s), firsts = r.forBlock(s), steps = r.forBlock(rows - s)
            XCTAssertEqual(r.at, r.b.count)
            var decoded: [Int64] = [], step = 0
            for k in 0..<s {
                XCTAssertGreaterThanOrEqual(lengths[k], 1)
                decoded.append(firsts[k])
                for _ in 1..<max(1, Int(lengths[k])) { decoded.append(decoded.last! &+ steps[step]); step += 1 }
            }
            XCTAssertEqual(decoded, ids, "DELTA_RUNS \(rows) rows")
            if rows >= 700 {
                XCTAssertLessThan(r.b.count * 10, ChunkEncoder.encode(ids, forcing: .forBitpack).payload.count * 9, "smaller than FOR by 10%")
            }
            // PATCHED_RLE
            let zips = Self.usualWithExceptions(&rng, rows: rows)
            r = SpecReader(b: ChunkEncoder.encode(zips, forcing: .patchedRLE).payload)
            let runs = r.u32(), e = r.u32()
            let values = r.forBlock(runs), runLengths = r.forBlock(runs), flags = r.forBlock(rows), exceptions = r.forBlock(e)
            XCTAssertEqual(r.at, r.b.count)
            XCTAssertEqual(flags.filter { $0 == 1 }.count, e)
            XCTAssertTrue(flags.allSatisfy { $0 == 0 || $0 == 1 })
            decoded = []
            var next = 0
            for k in 0..<runs {
                for _ in 0..<Int(runLengths[k]) {
                    if flags[decoded.count] == 1 { decoded.append(exceptions[next]); next += 1 } else { decoded.append(values[k]) }
                }
            }
            XCTAssertEqual(decoded, zips, "PATCHED_RLE \(rows) rows")
            if rows >= 700 { XCTAssertLessThan(e, rows * 3 / 10, "the home values are the runs") }
        }
    }

    /// Structurally wrong PATCHED_RLE and DELTA_RUNS payloads are errors
    /// that say what is wrong.
    func testHostileNewEncodingPayloads() throws {
        func block(_ values: [Int64]) -> [UInt8] { var w = ByteWriter(); FORBlock.encode(values, into: &w); return w.bytes }
        func header(_ a: UInt32, _ b: UInt32) -> [UInt8] { var w = ByteWriter(); w.append(a); w.append(b); return w.bytes }
        func error(_ payload: [UInt8], _ id: EncodingID, rows: Int) -> String? {
            payload.withUnsafeBytes { p in
                do { _ = try ChunkLayout.parse(p, encoding: id, count: rows, file: "f", what: "c"); return nil } catch { return "\(error)" }
            }
        }
        // PATCHED_RLE: a good one, then each field wrong.
        let good = header(1, 1) + block([7]) + block([4]) + block([0, 1, 0, 0]) + block([9])
        XCTAssertNil(error(good, .patchedRLE, rows: 4))
        XCTAssertEqual(try good.withUnsafeBytes { try ChunkLayout.parse($0, encoding: .patchedRLE, count: 4, file: "f", what: "c").decodeAll(count: 4, file: "f", what: "c") }, [7, 9, 7, 7])
        XCTAssertTrue(error(header(1, 1) + block([7]) + block([4]) + block([0, 2, 0, 0]) + block([9]), .patchedRLE, rows: 4)?.contains("not 0 or 1") == true)
        XCTAssertTrue(error(header(1, 2) + block([7]) + block([4]) + block([0, 1, 0, 0]) + block([9, 9]), .patchedRLE, rows: 4)?.contains("flagged rows") == true)
        XCTAssertTrue(error(header(1, 1) + block([7]) + block([3]) + block([0, 1, 0, 0]) + block([9]), .patchedRLE, rows: 4)?.contains("add up") == true)
        XCTAssertTrue(error(header(5, 1) + block([7]) + block([4]) + block([0, 1, 0, 0]) + block([9]), .patchedRLE, rows: 4)?.contains("counts") == true)
        XCTAssertNotNil(error(Array(good.dropLast(3)), .patchedRLE, rows: 4))
        // DELTA_RUNS
        let goodRuns = header(2, 0) + block([2, 2]) + block([10, 5]) + block([3, 1])
        XCTAssertEqual(try goodRuns.withUnsafeBytes { try ChunkLayout.parse($0, encoding: .deltaRuns, count: 4, file: "f", what: "c").decodeAll(count: 4, file: "f", what: "c") }, [10, 13, 5, 6])
        XCTAssertTrue(error(header(2, 0) + block([2, 3]) + block([10, 5]) + block([3, 1]), .deltaRuns, rows: 4)?.contains("add up") == true)
        XCTAssertTrue(error(header(2, 0) + block([0, 4]) + block([10, 5]) + block([3, 1]), .deltaRuns, rows: 4)?.contains("add up") == true)
        XCTAssertTrue(error(header(0, 0) + block([]) + block([]) + block([3, 1, 1, 1]), .deltaRuns, rows: 4)?.contains("run count") == true)
        XCTAssertTrue(error(header(2, 1) + block([2, 2]) + block([10, 5]) + block([3, 1]), .deltaRuns, rows: 4)?.contains("reserved") == true)
    }

    /// The chooser's estimates are the encoders' exact sizes, so it picks
    /// the truly smallest (an estimate of RLE's run lengths up to the row
    /// count once made DELTA win on clustered customer ids).
    func testEstimatesAreExactSizes() {
        var rng = TestRNG(8)
        // Customer ids as a part lays them out: sorted, runs of 10 to 40 rows.
        var clustered: [Int64] = []
        var id: Int64 = 1000
        while clustered.count < 65_536 { clustered += [Int64](repeating: id, count: min(10 + rng.below(31), 65_536 - clustered.count)); id += 1 }
        for (name, values) in Self.dataSets() + [("clustered ids", clustered)] {
            let sizes = values.withUnsafeBufferPointer { ChunkEncoder.analyze($0) }
            for (encoding, size) in sizes {
                XCTAssertEqual(size, ChunkEncoder.encode(values, forcing: encoding).payload.count, "\(name): \(encoding)")
            }
        }
        XCTAssertEqual(ChunkEncoder.encode(clustered).encoding, .rle)
        // Customer ids of a high-cardinality part (runs of 1 to 5 rows):
        // by size DELTA wins; weighted as the run column queries walk, RLE.
        var short: [Int64] = []
        id = 0
        while short.count < 65_536 { short += [Int64](repeating: id, count: min(1 + rng.below(5), 65_536 - short.count)); id += 1 + Int64(rng.below(3)) }
        XCTAssertEqual(ChunkEncoder.encode(short).encoding, .delta)
        XCTAssertEqual(ChunkEncoder.encode(short, weight: .runs).encoding, .rle)
    }

    /// zstd is kept for a scanned column only when what it saves is worth
    /// more than decompressing it; by size alone at a 10% gain.
    func testZstdWeighsDecodeTime() {
        XCTAssertTrue(DecodeWeight.size.keepsZstd(payload: 1000, compressed: 880, minGain: 0.1))
        XCTAssertFalse(DecodeWeight.size.keepsZstd(payload: 1000, compressed: 950, minGain: 0.1))
        XCTAssertFalse(DecodeWeight.scanned.keepsZstd(payload: 1000, compressed: 600, minGain: 0.1))
        XCTAssertTrue(DecodeWeight.scanned.keepsZstd(payload: 1000, compressed: 400, minGain: 0.1))
    }

    /// The shapes a part's six columns take, for the chooser's tests.
    static func columnShapes() -> [(String, [Int64])] {
        var rng = TestRNG(21)
        var sets = Self.dataSets()
        sets.append(("mobile flags", (0..<20_000).map { _ in Int64(rng.below(2)) }))
        sets.append(("mostly zeros", (0..<20_000).map { (_: Int) -> Int64 in rng.below(50) == 0 ? 1 : 0 }))
        sets.append(("zips", Self.usualWithExceptions(&rng, rows: 65_536)))
        sets.append(("event ids", Self.ascendingStretches(&rng, rows: 65_536)))
        sets.append(("few distinct in a wide range", (0..<20_000).map { _ in Int64(rng.below(40)) * 100_003 }))
        sets.append(("one exception per run", (0..<20_000).map { (i: Int) -> Int64 in i % 10 == 5 ? Int64(i % 7) * 1000 : Int64(i / 100) }))
        sets.append(("alternating", (0..<1000).map { Int64($0 % 2) * Int64.max }))
        sets.append(("wrapping steps", (0..<1000).map { (i: Int) -> Int64 in i % 3 == 0 ? Int64.min : Int64.max - Int64(i) }))
        return sets
    }

    /// The one-pass scan agrees with the simple per-encoding passes it
    /// replaced, which stay as the reference.
    func testScanAgreesWithTheSimplePasses() {
        for (name, values) in Self.columnShapes() {
            values.withUnsafeBufferPointer { buf in
                let scan = ChunkScan(buf)
                let lo = values.min() ?? 0, hi = values.max() ?? 0
                XCTAssertEqual(scan.lo, lo, name)
                XCTAssertEqual(scan.hi, hi, name)
                let runs = RLEChunk.runStats(buf)
                XCTAssertEqual(scan.runs, runs.runs, name)
                XCTAssertEqual(scan.hasRunLengths, runs.runs * 4 <= values.count * 3, name)
                if scan.hasRunLengths {
                    XCTAssertEqual(scan.runs == 0 ? 0 : scan.shortest, runs.runs == 0 ? 0 : runs.shortest, name)
                    XCTAssertEqual(scan.longest, runs.longest, name)
                }
                var negative = 0, byWidth = [Int](repeating: 0, count: 65)
                for i in values.indices.dropFirst() {
                    let d = values[i] &- values[i - 1]
                    if d < 0 { negative += 1 } else { byWidth[BitPacking.width(forRange: UInt64(d))] += 1 }
                }
                XCTAssertEqual(scan.negativeSteps, negative, name)
                XCTAssertEqual(scan.stepsByWidth, negative > 0 ? byWidth : [Int](repeating: 0, count: 65), name)
                XCTAssertEqual(DeltaChunk.encodedSize(count: buf.count, stepLo: scan.stepLo, stepHi: scan.stepHi),
                               DeltaChunk.encodedSize(buf), name)
                XCTAssertEqual(DeltaRunsChunk.chooseWidth(count: buf.count, negativeSteps: scan.negativeSteps,
                                                          stepsByWidth: scan.stepsByWidth, min: lo, max: hi),
                               DeltaRunsChunk.chooseWidth(buf, min: lo, max: hi), name)
                XCTAssertEqual(PatchedRLEChunk.encodedSize(buf), PatchedRLEChunk.size(of: PatchedRLEChunk.plan(buf)), name)
                if let all = DictionaryChunk.distinctCount(buf, min: lo, max: hi) {
                    XCTAssertEqual(all, Set(values).count, name)
                    for stop in [0, 1, 2, all - 1, all, all + 1] where stop >= 0 {
                        XCTAssertEqual(DictionaryChunk.distinctCount(buf, min: lo, max: hi, stopAbove: stop), min(all, stop + 1), "\(name) stop \(stop)")
                    }
                }
            }
        }
    }

    /// The bounds the chooser prunes with: PATCHED_RLE's lower bound never
    /// exceeds its exact size, and the largest DICT count that can still
    /// win is the one a linear search finds.
    func testChooserBoundsHold() {
        for (name, values) in Self.columnShapes() {
            values.withUnsafeBufferPointer { buf in
                let lo = values.min() ?? 0, hi = values.max() ?? 0
                let rle = RLEChunk.encodedSize(buf, min: lo, max: hi).bytes
                XCTAssertLessThanOrEqual(PatchedRLEChunk.sizeLowerBound(count: buf.count, rleSize: rle),
                                         PatchedRLEChunk.encodedSize(buf), name)
            }
        }
        var rng = TestRNG(5)
        for _ in 0..<300 {
            let n = rng.below(3) == 0 ? rng.below(40) : rng.below(70_000)
            let lo = Int64(rng.below(1000)) - 500
            let hi = lo + Int64(rng.below(1 << (1 + rng.below(40))))
            let forSize = FORBlock.encodedSize(count: n, min: lo, max: hi)
            let below = rng.below(2) == 0 ? forSize : rng.below(forSize + 100)
            let atMost = rng.below(2) == 0 ? Int.max : rng.below(forSize + 100)
            let linear = (0..<max(n / 4 + 1, 1)).dropFirst().last { d in
                let s = DictionaryChunk.encodedSize(count: n, distinct: d, min: lo, max: hi)
                return s < below && s <= atMost
            }
            XCTAssertEqual(DictionaryChunk.largestCandidateCount(count: n, min: lo, max: hi, below: below, atMost: atMost), linear,
                           "n \(n) range \(lo)...\(hi) below \(below) atMost \(atMost)")
        }
    }

    /// The chooser, which sizes candidates from one scan and leaves out
    /// those that provably cannot win, picks what encoding every candidate
    /// and keeping the smallest payload picks (ties to the earlier
    /// encoding, the same candidate rules), with the same bytes.
    func testChooserMatchesEncodingEveryCandidate() {
        for weight in [DecodeWeight.size, .scanned, .runs, DecodeWeight(bytesPerNanosecond: 0.05)] {
            chooserMatchesEveryCandidate(weight: weight)
        }
    }

    /// With a decode weight, the smallest size plus weighted decode cost:
    /// the pruning bounds never change the choice.
    func chooserMatchesEveryCandidate(weight: DecodeWeight) {
        for (name, values) in Self.columnShapes() {
            let n = values.count
            var best = EncodingID.forBitpack, bestPayload: [UInt8] = [], bestScore = Int.max
            values.withUnsafeBufferPointer { buf in
                let runs = RLEChunk.runCount(buf)
                let lo = values.min() ?? 0, hi = values.max() ?? 0
                for id in EncodingID.integerEncodings {
                    switch id {
                    case .rle where runs * 2 > n: continue
                    case .dictionary:
                        guard let d = DictionaryChunk.distinctCount(buf, min: lo, max: hi), d * 4 <= n else { continue }
                    case .deltaRuns where DeltaRunsChunk.chooseWidth(buf, min: lo, max: hi) == nil: continue
                    case .patchedRLE where runs * 4 > n * 3: continue
                    default: break
                    }
                    let payload = ChunkEncoder.encode(values, forcing: id).payload
                    let score = payload.count + Int(weight.penalty(id, rows: n).rounded(.up))
                    if id == .forBitpack || score < bestScore { best = id; bestPayload = payload; bestScore = score }
                }
            }
            let chosen = ChunkEncoder.encode(values, weight: weight)
            XCTAssertEqual(chosen.encoding, best, "\(name) \(weight)")
            XCTAssertEqual(chosen.payload, bestPayload, "\(name) \(weight)")
        }
    }

    /// Truncated and bit-flipped payloads never crash: they throw or decode.
    func testDamagedPayloadsThrowOrDecode() {
        var rng = TestRNG(11)
        for (_, values) in Self.dataSets() where values.count < 3000 {
            for id in EncodingID.integerEncodings {
                let good = ChunkEncoder.encode(values, forcing: id).payload
                for trial in 0..<40 {
                    var bad = good
                    if trial % 2 == 0 && !bad.isEmpty {
                        bad.removeLast(1 + rng.below(bad.count))
                    } else if !bad.isEmpty {
                        bad[rng.below(bad.count)] ^= UInt8(1 << rng.below(8))
                    }
                    bad.withUnsafeBytes { payload in
                        do {
                            let layout = try ChunkLayout.parse(payload, encoding: id, count: values.count, file: "t", what: "c")
                            _ = try layout.decodeAll(count: values.count, file: "t", what: "c")
                            var out = [UInt32](repeating: 0, count: values.count)
                            try out.withUnsafeMutableBufferPointer { o in
                                if let base = o.baseAddress { try layout.decode32(0..<values.count, base: 0, into: base, file: "t", what: "c") }
                            }
                        } catch let e as StaveError {
                            XCTAssertEqual(e.exitCode, 66)
                        } catch {
                            XCTFail("unexpected error \(error)")
                        }
                    }
                }
            }
        }
    }
}
