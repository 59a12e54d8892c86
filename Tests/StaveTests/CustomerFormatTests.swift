import Foundation
import XCTest
@testable import StaveFormat
@testable import StaveIO
@testable import StaveIngest
@testable import StaveQuery

/// The format pieces of the customer table: STRING chunks, table kind 2
/// footers, manifest version 2, and damage to any of them.
final class CustomerFormatTests: XCTestCase {
    func parseStrings(_ payload: [UInt8], count: Int) throws -> ChunkLayout {
        try payload.withUnsafeBytes { try ChunkLayout.parse($0, encoding: .string, count: count, file: "f", what: "w") }
    }

    func testStringChunkRoundTrip() throws {
        let values = ["", "a", "Zoë", String(repeating: "x", count: 300), "\"quoted\", comma"]
        var col = StringColumn()
        for v in values { col.append(v) }
        let r = ChunkEncoder.encodeStrings(lengths: col.lengths, bytes: col.bytes)
        XCTAssertEqual(r.encoding, .string)
        XCTAssertEqual(r.min, 0)
        XCTAssertEqual(r.max, 300)
        try r.payload.withUnsafeBytes { raw in
            let layout = try ChunkLayout.parse(raw, encoding: .string, count: values.count, file: "f", what: "w")
            guard case .string(let s) = layout else { return XCTFail("layout") }
            XCTAssertEqual(try (0..<values.count).map { try s.value($0, file: "f", what: "w") }, values)
            // The integer view is the byte lengths.
            XCTAssertEqual(try layout.decodeAll(count: values.count, file: "f", what: "w"), values.map { Int64($0.utf8.count) })
        }
    }

    func testDamagedStringChunks() throws {
        var col = StringColumn()
        for v in ["ab", "cde"] { col.append(v) }
        let good = ChunkEncoder.encodeStrings(lengths: col.lengths, bytes: col.bytes).payload
        // Missing text bytes: truncated.
        XCTAssertThrowsError(try parseStrings(Array(good.dropLast()), count: 2)) { e in
            guard case StaveError.truncated = e else { return XCTFail("\(e)") }
        }
        // Extra bytes after the text: corrupt.
        XCTAssertThrowsError(try parseStrings(good + [0], count: 2)) { e in
            guard case StaveError.corrupt = e else { return XCTFail("\(e)") }
        }
        // A length above 65,535.
        var big = ByteWriter()
        FORBlock.encode([70_000, 1] as [Int64], into: &big)
        XCTAssertThrowsError(try parseStrings(big.bytes + [UInt8](repeating: 65, count: 70_001), count: 2)) { e in
            guard case StaveError.corrupt(_, let what) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(what.contains("string length 70000"), what)
        }
        // A negative length (reference below zero).
        var negative = ByteWriter()
        FORBlock.encode([-1, 2] as [Int64], into: &negative)
        XCTAssertThrowsError(try parseStrings(negative.bytes + [65, 66], count: 2))
        // Invalid UTF-8 is an error on read, never replaced.
        let bad = ChunkEncoder.encodeStrings(lengths: [2], bytes: [0xC3, 0x28]).payload
        guard case .string(let s) = try parseStrings(bad, count: 1) else { return XCTFail("layout") }
        XCTAssertThrowsError(try bad.withUnsafeBytes { _ in try s.value(0, file: "f", what: "w") })
    }

    func testManifestVersion2() throws {
        let customers = ManifestPart(name: "customers-000003.stp", rows: 5, bytes: 999, footerChecksum: 0xABC)
        let follow = FollowState(path: "/data/live tracks.csv", offset: 12345, device: 2049, inode: 77, prefix: 0xFEED)
        let m = Manifest(generation: 3, parts: [ManifestPart(name: "part-000001.stp", rows: 7, bytes: 100, footerChecksum: 1)],
                         customers: customers, follows: [follow], nextNumber: 9)
        let bytes = m.serialize()
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self).split(separator: "\n").dropLast().joined(separator: "\n"), """
        stave-manifest 2
        generation 3
        next-number 9
        customers customers-000003.stp rows 5 bytes 999 footer 0000000000000abc
        follow offset 12345 device 2049 inode 77 prefix 000000000000feed path /data/live tracks.csv
        part part-000001.stp rows 7 bytes 100 footer 0000000000000001
        """)
        XCTAssertEqual(try Manifest.parse(bytes, path: "s"), m)
        // Version 1 implies next-number: one more than the largest listed.
        XCTAssertEqual(Manifest(generation: 1, parts: m.parts).nextNumber, 2)
        // Without a customer table the writer keeps version 1.
        XCTAssertTrue(String(decoding: Manifest(generation: 1, parts: []).serialize(), as: UTF8.self).hasPrefix("stave-manifest 1\n"))
        func signed(_ text: String) -> [UInt8] {
            var b = Array(text.utf8)
            b += Array("checksum \(Manifest.hex16(XXH64.hash(b)))\n".utf8)
            return b
        }
        let line = "customers customers-000003.stp rows 5 bytes 999 footer 0000000000000abc\n"
        let v2 = "stave-manifest 2\ngeneration 1\nnext-number 4\n"
        let fl = "follow offset 1 device 2 inode 3 prefix 0000000000000004 path /x\n"
        // A customers line in a version 1 manifest, a version 2 one without
        // next-number, a name that is not a customers file, a second
        // customers line, a next-number not above the names, a follow line
        // before the customers line, a file followed twice.
        let texts: [String] = [
            "stave-manifest 1\ngeneration 1\n" + line,
            "stave-manifest 2\ngeneration 1\n" + line,
            v2 + line.replacingOccurrences(of: "customers-000003.stp", with: "../customers-000003.stp"),
            v2 + line.replacingOccurrences(of: "customers-000003.stp", with: "part-000003.stp"),
            v2 + line + line,
            "stave-manifest 2\ngeneration 1\nnext-number 3\n" + line,
            v2 + fl + line,
            v2 + fl + fl,
            v2 + fl.replacingOccurrences(of: "prefix 0000000000000004", with: "prefix 4"),
        ]
        for text in texts {
            XCTAssertThrowsError(try Manifest.parse(signed(text), path: "s"), text) { e in
                guard case StaveError.badStore = e else { return XCTFail("\(e)") }
            }
        }
    }

    func store(_ dir: String) throws -> String {
        writeFile(dir + "/cust.csv", "1,\"Ann\",0,\"Road 1\",\"01234\",\"01/02/2013\",1,1,1,0\n2,\"Bo\",1,\"Road 2\",\"99999\",\"12/31/2011\",0,2,4,1\n")
        var o = ConvertOptions()
        o.customersPath = dir + "/cust.csv"
        return try convert("0,1,5,\"2014-10-01 10:00:00\",1,\"01234\"\n", dir: dir, options: o)
    }

    /// Rewrites a part's footer with `edit` applied, keeping every checksum
    /// consistent (tail and manifest), so only the footer rule can object.
    func rewriteFooter(_ store: String, _ name: String, _ edit: (inout PartFooter) -> Void) throws {
        let path = store + "/" + name
        let old = try Store.open(store)
        let part = name.hasPrefix("customers") ? old.customers! : old.parts[0]
        var footer = part.footer
        edit(&footer)
        var bytes = Array(UnsafeRawBufferPointer(rebasing: part.file.bytes[0..<part.footerOffset]))
        let f = footer.serialize()
        let sum = XXH64.hash(f)
        bytes += f + PartTail(footerChecksum: sum, footerLength: UInt32(f.count)).serialize()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var m = old.manifest
        if name.hasPrefix("customers") {
            m.customers!.footerChecksum = sum
            m.customers!.bytes = UInt64(bytes.count)
        } else {
            m.parts[0].footerChecksum = sum
            m.parts[0].bytes = UInt64(bytes.count)
        }
        try Data(m.serialize()).write(to: URL(fileURLWithPath: store + "/MANIFEST"))
    }

    func assertOpenFails(_ store: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Store.open(store), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(fragment), "\(e)", file: file, line: line)
        }
    }

    func testHostileCustomerFooters() throws {
        let edits: [(String, (inout PartFooter) -> Void)] = [
            // STRING encoding declared on an integer column, and the reverse.
            ("encoding STRING does not fit a BOOL column", { $0.rowGroups[0].chunks[CustomersSchema.gender].encoding = .string }),
            ("encoding FOR_BITPACK does not fit a STRING column", { $0.rowGroups[0].chunks[CustomersSchema.name].encoding = .forBitpack }),
            // A string chunk declaring a payload far beyond rows x max length.
            ("exceeds the limit", {
                $0.rowGroups[0].chunks[CustomersSchema.address].compression = .zstd
                $0.rowGroups[0].chunks[CustomersSchema.address].encodedLength = 100_000_000
            }),
            // Statistics outside Free...Gold, or longer than any string may be.
            ("outside the LEVEL domain", { $0.rowGroups[0].chunks[CustomersSchema.level].max = 3 }),
            ("outside the STRING domain", { $0.rowGroups[0].chunks[CustomersSchema.name].max = 65_536 }),
            ("expected name STRING", { $0.columns[1].type = .int64 }),
        ]
        for (k, (fragment, edit)) in edits.enumerated() {
            let dir = temporaryDirectory(self) + "/\(k)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let s = try store(dir)
            XCTAssertNotNil(try CustomerTable.load(try Store.open(s)))
            try rewriteFooter(s, "customers-000001.stp", edit)
            assertOpenFails(s, fragment)
        }
    }

    func testWrongTableKindAndDamagedTable() throws {
        let dir = temporaryDirectory(self)
        let s = try store(dir)
        // The manifest lists the events part as the customer table.
        var m = try Store.open(s).manifest
        let events = m.parts[0]
        try FileManager.default.copyItem(atPath: s + "/" + events.name, toPath: s + "/customers-000009.stp")
        m.customers = ManifestPart(name: "customers-000009.stp", rows: events.rows, bytes: events.bytes, footerChecksum: events.footerChecksum)
        m.nextNumber = 10
        let good = try Data(contentsOf: URL(fileURLWithPath: s + "/MANIFEST"))
        try Data(m.serialize()).write(to: URL(fileURLWithPath: s + "/MANIFEST"))
        assertOpenFails(s, "holds table kind 1, MANIFEST lists it as kind 2")
        try good.write(to: URL(fileURLWithPath: s + "/MANIFEST"))
        // A flipped byte in the name chunk: a checksum error naming the column.
        let store = try Store.open(s)
        let d = store.customers!.footer.rowGroups[0].chunks[CustomersSchema.name]
        let path = s + "/customers-000001.stp"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[Int(d.offset) + Int(d.storedLength) - 1] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CustomerTable.load(try Store.open(s))) { e in
            XCTAssertEqual("\(e)", "\(path): checksum mismatch in column name row group 0")
        }
        let report = Verifier.verify(s)
        XCTAssertEqual(report.problems.count, 1)
    }
}
