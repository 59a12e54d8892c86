import Foundation
import XCTest
import StaveFormat
import StaveIO
@testable import StaveInterop

/// The Parquet building blocks against simple references: Thrift values
/// round-trip and hostile Thrift fails cleanly; the RLE/bit-packing hybrid
/// round-trips every width; the writer's files read back exactly (and the
/// interop tests show DuckDB, PyArrow, Polars and Spark agree); damaged
/// files give errors, never crashes or wrong values.
final class InteropTests: XCTestCase {
    // MARK: Thrift

    func testThriftRoundTripsEveryKindOfValue() throws {
        var w = ThriftWriter()
        w.element { s in
            s.i32(1, -7)
            s.i64(2, Int64.min)
            s.bool(3, true)
            s.bool(4, false)
            s.string(20, "héllo")          // a field id jump of more than 15
            s.listHeader(21, .i64, count: 20)
            for k in 0..<20 { s.element(Int64(k) * -1_000_000_007) }
            s.structure(22) { inner in inner.i32(1, 42); inner.structure(300) { deep in deep.i64(1, 1) } }
            s.listHeader(23, .structure, count: 2)
            s.element { e in e.i32(5, 5) }
            s.element { _ in }
            s.field(24, .byte); s.appendRaw([0xFE])
            s.i32(-3, 9)                     // a negative field id
        }
        let bytes = w.bytes
        let s = try bytes.withUnsafeBytes { raw -> ThriftStruct in
            var r = ThriftReader(raw)
            let s = try r.readStruct()
            XCTAssertEqual(r.position, raw.count)
            return s
        }
        XCTAssertEqual(s.int(1), -7)
        XCTAssertEqual(s.int(2), Int64.min)
        XCTAssertEqual(s.bool(3), true)
        XCTAssertEqual(s.bool(4), false)
        XCTAssertEqual(s.string(20), "héllo")
        XCTAssertEqual(s.list(21), (0..<20).map { ThriftValue.int(Int64($0) * -1_000_000_007) })
        XCTAssertEqual(s.structure(22)?.int(1), 42)
        XCTAssertEqual(s.structure(22)?.structure(300)?.int(1), 1)
        XCTAssertEqual(s.structs(23)?.count, 2)
        XCTAssertEqual(s.structs(23)?[0].int(5), 5)
        XCTAssertEqual(s.int(24), -2)
        XCTAssertEqual(s.int(-3), 9)
    }

    func testHostileThriftFailsCleanly() {
        let cases: [(String, [UInt8])] = [
            ("truncated", [0x15]),
            ("a list claiming 2^40 elements", [0x19, 0xF6, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]),
            ("a binary longer than the input", [0x18, 0xFF, 0xFF, 0x03, 0x41]),
            ("a varint of 11 bytes", [0x16] + [UInt8](repeating: 0xFF, count: 11)),
            ("nested structs 100 deep", [UInt8](repeating: 0x1C, count: 100)),
            ("an unknown type", [0x1D, 0x00]),
            ("a list of stops", [0x19, 0x20]),
        ]
        for (what, bytes) in cases {
            XCTAssertThrowsError(try bytes.withUnsafeBytes { raw -> ThriftStruct in var r = ThriftReader(raw); return try r.readStruct() }, what)
        }
    }

    // MARK: RLE / bit-packing hybrid

    func testRLEHybridRoundTripsEveryWidth() throws {
        var rng = TestRNG(3)
        for width in 0...32 {
            let limit: UInt64 = width == 0 ? 1 : 1 << UInt64(width)
            for n in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
                // Runs and noise mixed: some runs long enough for RLE.
                var values: [UInt32] = []
                while values.count < n {
                    let v = UInt32(truncatingIfNeeded: rng.next() % limit)
                    let run = rng.below(3) == 0 ? 1 + rng.below(20) : 1
                    values += [UInt32](repeating: v, count: min(run, n - values.count))
                }
                let encoded = RLEHybrid.encode(values, width: width)
                var decoded = [UInt32](repeating: 0, count: n)
                let used = try encoded.withUnsafeBytes { raw in
                    try decoded.withUnsafeMutableBufferPointer { try RLEHybrid.decode(raw, width: width, count: n, into: $0.baseAddress!) }
                }
                XCTAssertEqual(decoded, values, "width \(width) n \(n)")
                XCTAssertEqual(used, encoded.count, "width \(width) n \(n)")
            }
        }
        // A long run is one RLE run (header + value), not a packed block.
        XCTAssertEqual(RLEHybrid.encode([UInt32](repeating: 5, count: 10_000), width: 3), [0xA0, 0x9C, 0x01, 0x05])
        // Truncated and impossible input: errors.
        var out = [UInt32](repeating: 0, count: 16)
        for bad: [UInt8] in [[], [0x03], [0x10], [0x00]] {
            XCTAssertThrowsError(try bad.withUnsafeBytes { raw in try out.withUnsafeMutableBufferPointer { try RLEHybrid.decode(raw, width: 4, count: 16, into: $0.baseAddress!) } }, "\(bad)")
        }
    }

    func testCRC32MatchesTheStandardCheckValue() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        // The eight-byte steps agree with the byte loop at every length and offset.
        var rng = TestRNG(5)
        let data = (0..<300).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        func slow(_ b: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for x in b { c ^= UInt32(x); for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 } }
            return ~c
        }
        for start in 0..<9 { for end in stride(from: start, to: 300, by: 13) { XCTAssertEqual(CRC32.checksum(Array(data[start..<end])), slow(data[start..<end])) } }
    }

    // MARK: Parquet round trips

    func write(_ schema: [ParquetColumnSpec], groups: [([ParquetColumnData], Int)], pageRows: Int = 1 << 17) throws -> [UInt8] {
        let out = OutputFile.memory()
        let w = try ParquetFileWriter(output: out, schema: schema)
        w.pageRows = pageRows
        for (columns, rows) in groups { try w.writeRowGroup(columns, rows: rows) }
        try w.finish()
        return out.bytes()
    }

    func testWriterOutputReadsBackExactly() throws {
        var rng = TestRNG(11)
        let schema = [
            ParquetColumnSpec("dense", .int64), ParquetColumnSpec("wide", .int64), ParquetColumnSpec("small", .int32),
            ParquetColumnSpec("x", .double), ParquetColumnSpec("s", .byteArray, logical: .string),
            ParquetColumnSpec("maybe", .int64, optional: true), ParquetColumnSpec("t", .int64, logical: .timestampMicros),
        ]
        var groups: [([ParquetColumnData], Int)] = []
        var expected: [[Int64]] = [[], [], [], [], [], [], []]
        var doubles: [Double] = [], strings: [String] = [], present: [Bool] = []
        for rows in [0, 1, 1000, 40_000] {
            let dense = (0..<rows).map { _ in Int64(rng.below(50)) }                    // dictionary
            let wide = (0..<rows).map { _ in Int64(bitPattern: rng.next()) }            // plain
            let small = (0..<rows).map { _ in Int32(rng.below(3)) - 1 }
            let x = (0..<rows).map { _ in Double(rng.below(1000)) / 7 }
            let s = (0..<rows).map { _ in String(repeating: "ab", count: rng.below(4)) + (rng.below(2) == 0 ? "é" : "") }
            let p = (0..<rows).map { _ in rng.below(4) != 0 }
            let maybe = p.filter { $0 }.map { _ in Int64(rng.below(1 << 30)) }
            let t = (0..<rows).map { _ in Int64(rng.below(1 << 40)) * 1_000_000 }
            var offsets = [0], bytes: [UInt8] = []
            for v in s { bytes += Array(v.utf8); offsets.append(bytes.count) }
            groups.append(([ParquetColumnData(.int64(dense)), ParquetColumnData(.int64(wide)), ParquetColumnData(.int32(small)),
                            ParquetColumnData(.double(x)), ParquetColumnData(.byteArray(offsets: offsets, bytes: bytes)),
                            ParquetColumnData(.int64(maybe), present: p), ParquetColumnData(.int64(t))], rows))
            expected[0] += dense; expected[1] += wide; expected[2] += small.map(Int64.init); expected[5] += maybe; expected[6] += t
            doubles += x; strings += s; present += p
        }
        let bytes = try write(schema, groups: groups, pageRows: 3_000)
        let f = try ParquetFile(bytes: bytes, name: "mem.parquet")
        XCTAssertEqual(f.columns.map(\.name), schema.map(\.name))
        XCTAssertEqual(f.columns[6].timestampUnit, .micros)
        XCTAssertEqual(f.columns[6].timestampUTC, false)
        XCTAssertEqual(f.columns[5].optional, true)
        XCTAssertEqual(f.rowCount, 41_001)
        var got: [[Int64]] = [[], [], [], [], [], [], []]
        var gotDoubles: [Double] = [], gotStrings: [String] = [], gotPresent: [Bool] = []
        for g in 0..<f.rowGroupCount {
            for c in 0..<schema.count {
                let (values, p) = try f.read(group: g, column: c)
                switch values {
                case .integers(let v): got[c] += v
                case .doubles(let v): gotDoubles += v
                case .byteArrays(let o, let b): gotStrings += (0..<(o.count - 1)).map { String(decoding: b[o[$0]..<o[$0 + 1]], as: UTF8.self) }
                case .int96: XCTFail("no INT96 written")
                }
                if c == 5 { gotPresent += p ?? [] } else { XCTAssertNil(p) }
            }
        }
        for c in [0, 1, 2, 5, 6] { XCTAssertEqual(got[c], expected[c], schema[c].name) }
        XCTAssertEqual(gotDoubles, doubles)
        XCTAssertEqual(gotStrings, strings)
        XCTAssertEqual(gotPresent, present)
    }

    func testDamagedParquetGivesErrorsNotCrashes() throws {
        var rng = TestRNG(21)
        let rows = 5_000
        let schema = [ParquetColumnSpec("a", .int64), ParquetColumnSpec("s", .byteArray, logical: .string),
                      ParquetColumnSpec("b", .int64, optional: true)]
        let a = (0..<rows).map { _ in Int64(rng.below(40)) }
        var offsets = [0], bytes: [UInt8] = []
        for k in 0..<rows { bytes += Array(String(k % 97).utf8); offsets.append(bytes.count) }
        let present = (0..<rows).map { $0 % 3 != 0 }
        let b = present.filter { $0 }.map { _ in Int64(rng.next() >> 1) }
        let good = try write(schema, groups: [([ParquetColumnData(.int64(a)), ParquetColumnData(.byteArray(offsets: offsets, bytes: bytes)),
                                                ParquetColumnData(.int64(b), present: present)], rows)], pageRows: 700)
        func readAll(_ data: [UInt8]) throws -> [String] {
            let f = try ParquetFile(bytes: data, name: "damaged.parquet")
            var out: [String] = []
            for g in 0..<f.rowGroupCount { for c in 0..<f.columns.count { out.append("\(try f.read(group: g, column: c))") } }
            return out
        }
        let reference = try readAll(good)
        var errors = 0, same = 0, different = 0
        for trial in 0..<1_500 {
            var damaged = good
            switch trial % 3 {
            case 0: damaged[rng.below(damaged.count)] ^= UInt8(1 << rng.below(8))
            case 1: damaged.removeSubrange(rng.below(damaged.count)...)
            default:
                let at = rng.below(damaged.count - 8)
                for k in 0..<8 { damaged[at + k] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            do {
                // stave's pages carry CRC-32s: damage is an error, or lies
                // where no value is (statistics, names), never a wrong value.
                if try readAll(damaged) == reference { same += 1 } else { different += 1 }
            } catch is ParquetError {
                errors += 1
            }
        }
        print("InteropTests: 1500 damaged Parquet files: \(errors) errors, \(same) read as before, \(different) read differently")
        XCTAssertEqual(different, 0)
        XCTAssertGreaterThan(errors, 1_000)
    }

    func testHostileParquetFooterIsRejected() throws {
        let good = try write([ParquetColumnSpec("a", .int64)], groups: [([ParquetColumnData(.int64([1, 2, 3]))], 3)])
        var cases: [(String, [UInt8], String)] = []
        var b = good; b[b.count - 8] = 0xFF; b[b.count - 7] = 0xFF; b[b.count - 6] = 0xFF; b[b.count - 5] = 0x7F
        cases.append(("footer length past the start", b, "does not fit in the file"))
        b = good; b[b.count - 1] = UInt8(ascii: "E")
        cases.append(("encrypted footer magic", b, "encrypted Parquet files are not supported"))
        cases.append(("no leading magic", [0, 0, 0, 0] + good.dropFirst(4), "no PAR1 at the start"))
        cases.append(("too short", Array("PAR1PAR1".utf8), "not a Parquet file"))
        for (what, bytes, message) in cases {
            XCTAssertThrowsError(try ParquetFile(bytes: bytes, name: "h.parquet"), what) { e in
                XCTAssertTrue("\(e)".contains(message), "\(what): \(e)")
            }
        }
        // (A chunk offset pointing past the data is found when the chunk is
        // read: HostileParquetTests, chunk-offset-past-data.)
    }
}
