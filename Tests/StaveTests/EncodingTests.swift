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
        for w in [1, 7, 8, 31, 32, 33, 55, 56, 57, 63] {
            let mask: UInt64 = (1 << UInt64(w)) - 1
            sets.append(("width \(w)", (0..<(100 + w)).map { _ in Int64(bitPattern: rng.next() & mask) }))
        }
        return sets
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
