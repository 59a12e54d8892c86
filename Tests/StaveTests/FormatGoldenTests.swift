import Foundation
import XCTest
@testable import StaveFormat
import StaveIO
import StaveIngest

/// formats/examples/tiny.stave is the spec's worked example: converting
/// tiny.csv must reproduce it byte for byte, and its fields must be where
/// formats/examples/tiny.md says.
final class FormatGoldenTests: XCTestCase {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("formats/examples").path

    func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    func testConvertingTinyCSVReproducesTheGoldenStore() throws {
        let dir = temporaryDirectory(self)
        _ = try Converter(input: Self.examples + "/tiny.csv", output: dir + "/tiny.stave", options: ConvertOptions()).run()
        for name in ["MANIFEST", "part-000001.stp"] {
            let golden = bytes(Self.examples + "/tiny.stave/" + name)
            XCTAssertFalse(golden.isEmpty, name)
            XCTAssertEqual(bytes(dir + "/tiny.stave/" + name), golden, "\(name) differs from the spec's example")
        }
    }

    func testAnnotatedOffsets() throws {
        let p = bytes(Self.examples + "/tiny.stave/part-000001.stp")
        XCTAssertEqual(p.count, 1640)
        func u32(_ o: Int) -> UInt32 { p[o..<(o + 4)].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
        func u64(_ o: Int) -> UInt64 { p[o..<(o + 8)].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }
        // Header and tail.
        XCTAssertEqual(Array(p[0..<8]), Array("STAVPART".utf8))
        XCTAssertEqual(u32(8), 1)
        XCTAssertEqual(Array(p[(1640 - 8)...]), Array("STAVPART".utf8))
        XCTAssertEqual(u64(0x650), 0x7AB1_E957_6CBA_94FC)
        XCTAssertEqual(u32(0x658), 824)
        // Footer fields.
        XCTAssertEqual(u32(0x318), 1); XCTAssertEqual(u32(0x31C), 6); XCTAssertEqual(u32(0x320), 2); XCTAssertEqual(u64(0x328), 3)
        XCTAssertEqual(Array(p[0x330..<0x338]), Array("event_id".utf8))
        XCTAssertEqual(u32(0x3F0), 2)                 // row group 0 rows
        XCTAssertEqual(u64(0x400), 0x40)              // chunk 0 offset
        XCTAssertEqual(u32(0x408), 25); XCTAssertEqual(p[0x410], 1); XCTAssertEqual(p[0x411], 0)
        XCTAssertEqual(u64(0x428), XXH64.hash(Array(p[0x40..<(0x40 + 25)])))
        // The first chunk: FOR block 0, 1.
        XCTAssertEqual(Array(p[0x40..<0x59]), [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0])
        // The second: customer_id 48, 1081.
        XCTAssertEqual(Array(p[0x80..<0x93]), [48, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x48, 0x20])
        // And the store opens with what the page says.
        let store = try Store.open(Self.examples + "/tiny.stave")
        XCTAssertEqual(store.parts[0].footer.rowGroups.map(\.rowCount), [2, 1])
        XCTAssertEqual(store.parts[0].footerOffset, 0x318)
    }

    func testTailAndHeaderFromLiteralBytes() throws {
        let tail: [UInt8] = [0xFC, 0x94, 0xBA, 0x6C, 0x57, 0xE9, 0xB1, 0x7A, 0x38, 0x03, 0, 0, 0, 0, 0, 0] + Array("STAVPART".utf8)
        let t = try tail.withUnsafeBytes { try PartTail.parse($0, file: "x") }
        XCTAssertEqual(t, PartTail(footerChecksum: 0x7AB1_E957_6CBA_94FC, footerLength: 824))
        XCTAssertEqual(t.serialize(), tail)
        var reserved = tail
        reserved[12] = 1
        XCTAssertThrowsError(try reserved.withUnsafeBytes { try PartTail.parse($0, file: "x") }) {
            guard case StaveError.corrupt = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(PartHeader.serialize(), Array("STAVPART".utf8) + [1, 0, 0, 0, 0, 0, 0, 0])
        let v2 = Array("STAVPART".utf8) + [2, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertThrowsError(try v2.withUnsafeBytes { try PartHeader.validate($0, file: "x") }) {
            XCTAssertEqual($0 as? StaveError, .unsupportedVersion(file: "x", version: 2))
        }
    }
}
