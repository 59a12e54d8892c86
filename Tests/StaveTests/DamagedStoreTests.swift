import Foundation
import XCTest
@testable import StaveFormat
import StaveIO
import StaveIngest
import StaveQuery

final class DamagedStoreTests: XCTestCase {
    var dir = ""
    var store = ""
    var partPath = ""
    var events: [EventRow] = []

    override func setUpWithError() throws {
        dir = temporaryDirectory(self)
        events = randomEvents(count: 2500, customers: 30, seed: 77)
        store = try convert(csvLines(events), dir: dir)
        partPath = store + "/part-000001.stp"
    }

    func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path)!) }
    func put(_ path: String, _ b: [UInt8]) { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(b)), path) }

    /// Opens and fully queries the store: profile, stats and every row.
    func query(_ path: String) throws -> (Profile, [[Int64]]) {
        let s = try Store.open(path)
        let p = try Queries.profile(s, filter: QueryFilter(), threads: 2)
        var rows: [[Int64]] = []
        try RowReader.forEachRowGroup(s) { g in
            for i in 0..<g.count { rows.append(g.columns.map { $0[i] }) }
        }
        return (p, rows)
    }

    /// Random byte flips and truncations of the part file and the manifest:
    /// never a crash; either a StaveError (exit code 66) or exactly the
    /// right answer.
    func testRandomCorruptionGivesAnErrorOrTheRightAnswer() throws {
        let (goodProfile, goodRows) = try query(store)
        XCTAssertEqual(goodProfile, referenceProfile(events))
        let part = bytes(partPath)
        let manifestPath = store + "/MANIFEST"
        let manifest = bytes(manifestPath)
        var rng = TestRNG(2024)
        var errors = 0, correct = 0
        let trials = 1200
        for trial in 0..<trials {
            var p = part, m = manifest
            switch trial % 6 {
            case 0, 1, 2:   // flip 1-3 bits anywhere in the part
                for _ in 0...(rng.below(3)) { p[rng.below(p.count)] ^= UInt8(1 << rng.below(8)) }
            case 3:         // truncate the part
                p.removeLast(1 + rng.below(p.count))
            case 4:         // flip a bit in the last 1 KB (footer and tail)
                let k = p.count - 1 - rng.below(min(1024, p.count))
                p[k] ^= UInt8(1 << rng.below(8))
            default:        // damage the manifest
                if rng.below(2) == 0 { m[rng.below(m.count)] ^= UInt8(1 << rng.below(8)) } else { m.removeLast(1 + rng.below(m.count)) }
            }
            put(partPath, p)
            put(manifestPath, m)
            do {
                let (profile, rows) = try query(store)
                XCTAssertEqual(profile, goodProfile, "trial \(trial): wrong answer")
                XCTAssertEqual(rows, goodRows, "trial \(trial): wrong rows")
                correct += 1
            } catch let e as StaveError {
                XCTAssertEqual(e.exitCode, 66, "trial \(trial): \(e)")
                errors += 1
            }
        }
        put(partPath, part)
        put(manifestPath, manifest)
        XCTAssertEqual(errors + correct, trials)
        XCTAssertGreaterThan(errors, trials / 2)
        print("DamagedStoreTests: \(trials) random corruptions: \(errors) clear errors, \(correct) exactly right answers")
    }

    // MARK: One exact error per hostile file

    func expect(_ expected: (StaveError) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try query(store)
            XCTFail("no error", file: file, line: line)
        } catch let e as StaveError {
            XCTAssertTrue(expected(e), "got \(e)", file: file, line: line)
        } catch {
            XCTFail("not a StaveError: \(error)", file: file, line: line)
        }
    }

    /// Rewrites the footer with `change` and fixes every checksum, as a
    /// hostile writer would, so that only the structural checks remain.
    func rewriteFooter(_ change: (inout [UInt8]) -> Void) {
        var p = bytes(partPath)
        let length = Int(p[(p.count - 16)..<(p.count - 12)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) })
        let start = p.count - 24 - length
        var footer = Array(p[start..<(p.count - 24)])
        change(&footer)
        let sum = XXH64.hash(footer)
        p.replaceSubrange(start..<(p.count - 24), with: footer)
        p.replaceSubrange((p.count - 24)..<(p.count - 16), with: withUnsafeBytes(of: sum.littleEndian) { Array($0) })
        put(partPath, p)
        var m = try! Manifest.parse(bytes(store + "/MANIFEST"), path: store)
        m.parts[0].footerChecksum = sum
        put(store + "/MANIFEST", m.serialize())
    }

    static let chunk0 = FormatConstants.footerFixedSize + 6 * FormatConstants.columnSpecSize + FormatConstants.rowGroupHeaderSize

    func testBadMagicAtEitherEnd() {
        var p = bytes(partPath)
        p[0] = UInt8(ascii: "X")
        put(partPath, p)
        expect { if case .badMagic = $0 { return true }; return false }
        p[0] = UInt8(ascii: "S")
        p[p.count - 1] = 0
        put(partPath, p)
        expect { if case .badMagic = $0 { return true }; return false }
    }

    func testUnsupportedVersion() {
        var p = bytes(partPath)
        p[8] = 2
        put(partPath, p)
        expect { $0 == .unsupportedVersion(file: self.partPath, version: 2) }
    }

    func testFooterChecksumMismatch() {
        var p = bytes(partPath)
        p[p.count - 40] ^= 1
        put(partPath, p)
        expect { $0 == .checksumMismatch(file: self.partPath, what: "footer") }
    }

    func testChunkChecksumMismatchNamesColumnAndRowGroup() throws {
        let s = try Store.open(store)
        let d = s.parts[0].footer.rowGroups[1].chunks[EventsSchema.trackID]
        var p = bytes(partPath)
        p[Int(d.offset) + 20] ^= 0x10
        put(partPath, p)
        expect { $0 == .checksumMismatch(file: self.partPath, what: "column track_id row group 1") }
    }

    /// RunMerge reads its inputs with pread (Part.readRowGroup): the same
    /// columns as through the mapping, and the same checks on bytes that
    /// changed on disk after the part was opened.
    func testReadRowGroupIsDecodeRowGroupWithTheSameChecks() throws {
        let part = try Store.open(store).parts[0]
        XCTAssertGreaterThan(part.footer.rowGroups.count, 1)
        for g in part.footer.rowGroups.indices {
            XCTAssertEqual(try part.readRowGroup(g), try part.decodeRowGroup(g), "row group \(g)")
        }
        let d = part.footer.rowGroups[1].chunks[EventsSchema.trackID]
        var p = bytes(partPath)
        p[Int(d.offset) + 20] ^= 0x10
        put(partPath, p)
        XCTAssertEqual(try part.readRowGroup(0), try part.decodeRowGroup(0))
        XCTAssertThrowsError(try part.readRowGroup(1)) {
            XCTAssertEqual($0 as? StaveError, .checksumMismatch(file: self.partPath, what: "column track_id row group 1"))
        }
        let last = part.footer.rowGroups.count - 1
        let end = part.footer.rowGroups[last].chunks.map { Int($0.offset) + Int($0.storedLength) }.max()!
        put(partPath, Array(p[0..<(end - 1)]))
        XCTAssertThrowsError(try part.readRowGroup(last)) {
            guard case .truncated(let file, _) = $0 as? StaveError else { return XCTFail("\($0)") }
            XCTAssertEqual(file, self.partPath)
        }
    }

    /// A footer whose group takes a chunk from another group (checksums
    /// fixed, as a hostile writer would): readRowGroup reads the spread
    /// chunks one by one and decodes what the mapping path decodes.
    func testReadRowGroupOfSpreadChunks() throws {
        // A store of one part with three row groups (one per month) of 800 rows each.
        let months = [seconds("2014-10-01"), seconds("2014-11-01"), seconds("2014-12-01")]
        events = randomEvents(count: 2400, customers: 30, seed: 78).enumerated().map { i, e in
            var e = e
            e.datetime = months[i % 3] + e.datetime % (28 * 86_400)
            return e
        }
        try FileManager.default.removeItem(atPath: store)
        store = try convert(csvLines(events), dir: dir)
        let groups = try Store.open(store).parts[0].footer.rowGroups
        let pairs = groups.indices.flatMap { a in groups.indices.filter { $0 > a + 1 && groups[$0].rowCount == groups[a].rowCount }.map { (a, $0) } }
        let (a, b) = try XCTUnwrap(pairs.first, "two row groups of the same size, not adjacent")
        let before = try groups.indices.map { try Store.open(store).parts[0].decodeRowGroup($0) }
        let groupSize = FormatConstants.rowGroupHeaderSize + 6 * FormatConstants.chunkDescriptorSize
        func at(_ g: Int) -> Int { Self.chunk0 + g * groupSize + EventsSchema.mobile * FormatConstants.chunkDescriptorSize }
        rewriteFooter { f in
            let x = Array(f[at(a)..<(at(a) + FormatConstants.chunkDescriptorSize)])
            f.replaceSubrange(at(a)..<(at(a) + FormatConstants.chunkDescriptorSize), with: f[at(b)..<(at(b) + FormatConstants.chunkDescriptorSize)])
            f.replaceSubrange(at(b)..<(at(b) + FormatConstants.chunkDescriptorSize), with: x)
        }
        let part = try Store.open(store).parts[0]
        let chunks = part.footer.rowGroups[a].chunks
        let span = chunks.map { Int($0.offset) + Int($0.storedLength) }.max()! - chunks.map { Int($0.offset) }.min()!
        XCTAssertGreaterThan(span, chunks.reduce(0) { $0 + Int($1.storedLength) } + 6 * FormatConstants.chunkAlignment, "spread")
        let read = try part.readRowGroup(a)
        XCTAssertEqual(read, try part.decodeRowGroup(a))
        XCTAssertEqual(read[EventsSchema.mobile], before[b][EventsSchema.mobile], "group b's mobile chunk")
        XCTAssertEqual(read[EventsSchema.customerID], before[a][EventsSchema.customerID])
        XCTAssertEqual(try part.readRowGroup(b), try part.decodeRowGroup(b))
    }

    func testTruncatedPart() {
        var p = bytes(partPath)
        p.removeLast(100)
        put(partPath, p)
        expect { if case .truncated = $0 { return true }; return false }
    }

    func testManifestListsMissingPart() throws {
        try FileManager.default.removeItem(atPath: partPath)
        expect { if case .badStore(_, let d) = $0 { return d.contains("missing") }; return false }
    }

    func testPartFromAnotherStore() throws {
        let other = try convert(csvLines(randomEvents(count: 100, customers: 3, seed: 1)), dir: dir, name: "other")
        try FileManager.default.removeItem(atPath: partPath)
        try FileManager.default.copyItem(atPath: other + "/part-000001.stp", toPath: partPath)
        expect { if case .truncated = $0 { return true }; if case .badStore = $0 { return true }; return false }
    }

    func testManifestChecksum() {
        var m = bytes(store + "/MANIFEST")
        m[20] ^= 4
        put(store + "/MANIFEST", m)
        expect { if case .checksumMismatch(_, "manifest") = $0 { return true }; return false }
    }

    func testManifestCannotNameAPath() {
        let text = "stave-manifest 1\ngeneration 1\npart ../../etc/passwd rows 1 bytes 1 footer 0000000000000000\n"
        var b = Array(text.utf8)
        b += Array("checksum \(Manifest.hex16(XXH64.hash(b)))\n".utf8)
        put(store + "/MANIFEST", b)
        expect { if case .badStore(_, let d) = $0 { return d.contains("line 3") }; return false }
    }

    func testUnknownEncodingId() {
        rewriteFooter { $0[Self.chunk0 + 16] = 9 }
        expect { $0 == .unknownEncoding(file: self.partPath, what: "column event_id row group 0", id: 9) }
    }

    func testChunkOffsetPastTheEnd() {
        rewriteFooter { f in
            let far = UInt64(1) << 40
            f.replaceSubrange(Self.chunk0..<(Self.chunk0 + 8), with: withUnsafeBytes(of: far.littleEndian) { Array($0) })
        }
        expect { if case .outOfBounds = $0 { return true }; return false }
    }

    func testLengthThatOverflowsWhenAdded() {
        rewriteFooter { f in
            let off = UInt64.max - 63   // aligned, and offset + length wraps around
            f.replaceSubrange(Self.chunk0..<(Self.chunk0 + 8), with: withUnsafeBytes(of: off.littleEndian) { Array($0) })
        }
        expect { if case .outOfBounds = $0 { return true }; return false }
    }

    func testHugeDeclaredDecodedSize() {
        rewriteFooter { f in
            f.replaceSubrange((Self.chunk0 + 12)..<(Self.chunk0 + 16), with: [0xFF, 0xFF, 0xFF, 0xFF])
            f[Self.chunk0 + 17] = 1   // zstd
        }
        expect { if case .corrupt(_, let w) = $0 { return w.contains("exceeds the limit") }; return false }
    }

    func testFooterLengthPointingOutsideTheFile() {
        var p = bytes(partPath)
        p.replaceSubrange((p.count - 16)..<(p.count - 12), with: [0xF0, 0xFF, 0xFF, 0x7F])
        put(partPath, p)
        expect { if case .outOfBounds = $0 { return true }; return false }
    }

    func testStatisticsOutsideTheTypeDomain() {
        // mobile max = 2 in row group 0.
        rewriteFooter { f in
            let at = Self.chunk0 + EventsSchema.mobile * FormatConstants.chunkDescriptorSize + 32
            f.replaceSubrange(at..<(at + 8), with: withUnsafeBytes(of: Int64(2).littleEndian) { Array($0) })
        }
        expect { if case .corrupt(_, let w) = $0 { return w.contains("domain") }; return false }
    }

    /// Statistics that lie, behind valid checksums (a hostile writer): wider
    /// than the values passes queries but fails verify; narrower than the
    /// values is an error wherever the values are read.
    func testLyingStatistics() throws {
        let at = Self.chunk0 + EventsSchema.trackID * FormatConstants.chunkDescriptorSize
        let original = try Store.open(store).parts[0].footer.rowGroups[0].chunks[EventsSchema.trackID]
        rewriteFooter { f in
            f.replaceSubrange((at + 32)..<(at + 40), with: withUnsafeBytes(of: (original.max + 1000).littleEndian) { Array($0) })
        }
        XCTAssertEqual(try query(store).0, referenceProfile(events))
        XCTAssertEqual(Verifier.verify(store).problems.count, 1)
        guard case .corrupt(_, let what)? = Verifier.verify(store).problems.first else { return XCTFail() }
        XCTAssertTrue(what.contains("statistics say"), what)

        rewriteFooter { f in
            f.replaceSubrange((at + 24)..<(at + 32), with: withUnsafeBytes(of: (original.min + 1).littleEndian) { Array($0) })
        }
        expect { if case .corrupt(_, let w) = $0 { return w.contains("outside its statistics") }; return false }
    }

    func testVerifyFindsDamageAndPassesSoundStores() {
        XCTAssertTrue(Verifier.verify(store).isSound)
        var p = bytes(partPath)
        let d = try! Store.open(store).parts[0].footer.rowGroups[0].chunks[EventsSchema.datetime]
        p[Int(d.offset) + 30] ^= 1
        put(partPath, p)
        let r = Verifier.verify(store)
        XCTAssertEqual(r.problems, [.checksumMismatch(file: partPath, what: "column datetime row group 0")])
    }
}
