import Foundation
import XCTest
@testable import StaveFormat
@testable import StaveIO
@testable import StaveIngest
@testable import StaveQuery

/// The committed corpus of hostile stores (Tests/StaveTests/Corpus/hostile/):
/// each one must give exactly its expected error when opened and read in
/// full, never a crash or an answer; every corpus entry has an expectation
/// and every expectation an entry.
///
/// The corpus is written by `testWriteCorpus` when STAVE_WRITE_CORPUS=1 (from
/// a small deterministic store and the damage described below), and is
/// otherwise only read.
final class HostileCorpusTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus/hostile").path

    /// Case of StaveError and a fragment of its message, per corpus entry.
    static let expected: [String: (String, String)] = [
        "bad-magic-head": ("badMagic", "not a stave part file"),
        "bad-magic-tail": ("badMagic", "not a stave part file"),
        "unsupported-version": ("unsupportedVersion", "unsupported format version 2"),
        "footer-checksum": ("checksumMismatch", "checksum mismatch in footer"),
        "chunk-checksum": ("checksumMismatch", "checksum mismatch in column track_id row group 1"),
        "truncated-part": ("truncated", "MANIFEST says"),
        "manifest-lists-missing-part": ("badStore", "part-000001.stp listed in MANIFEST is missing"),
        "part-from-another-table": ("badStore", "is not the part MANIFEST lists"),
        "manifest-checksum": ("checksumMismatch", "checksum mismatch in manifest"),
        "manifest-names-a-path": ("badStore", "MANIFEST line 3"),
        "manifest-next-number-too-small": ("badStore", "next-number 1 is not above every file number listed"),
        "unknown-encoding": ("unknownEncoding", "unknown encoding id 9 in column event_id row group 0"),
        "offset-past-end": ("outOfBounds", "outside the data region"),
        "length-overflows-when-added": ("outOfBounds", "outside the data region"),
        "declared-size-over-limit": ("corrupt", "exceeds the limit"),
        "zstd-frame-claims-100GB": ("corrupt", "zstd frame declares 100000000000 bytes"),
        "footer-length-outside-file": ("outOfBounds", "footer length"),
        "chunk-points-into-footer": ("outOfBounds", "outside the data region"),
        "statistics-outside-domain": ("corrupt", "outside the BOOL domain"),
        "row-group-spans-two-months": ("corrupt", "spans more than one calendar month"),
        "row-group-of-zero-rows": ("corrupt", "row count 0 outside"),
        "manifest-claims-a-billion-rows": ("corrupt", "MANIFEST says 1000000000"),
        "footer-claims-a-billion-rows": ("corrupt", "footer says 1000000000"),
        "row-group-claims-a-billion-rows": ("corrupt", "row count 1000000000 outside 1...1048576"),
        "customers-file-is-an-events-part": ("badStore", "holds table kind 1, MANIFEST lists it as kind 2"),
        "customer-ids-not-ascending": ("corrupt", "ids not strictly ascending"),
        "customer-name-not-utf8": ("corrupt", "is not valid UTF-8"),
        "patched-rle-flags-disagree": ("corrupt", "PATCHED_RLE has 1 flagged rows but 2 exceptions"),
        "delta-runs-lengths-overrun": ("corrupt", "DELTA_RUNS run lengths do not add up"),
        "zip-decodes-outside-its-statistics": ("corrupt", "column listening_zip row group 0: values 150000...150000 outside its statistics"),
        "datetime-decodes-outside-its-month": ("corrupt", "column datetime row group 0: values"),
    ]

    static func caseName(_ e: StaveError) -> String {
        switch e {
        case .truncated: return "truncated"
        case .badMagic: return "badMagic"
        case .unsupportedVersion: return "unsupportedVersion"
        case .checksumMismatch: return "checksumMismatch"
        case .outOfBounds: return "outOfBounds"
        case .unknownEncoding: return "unknownEncoding"
        case .corrupt: return "corrupt"
        case .badStore: return "badStore"
        case .csv: return "csv"
        case .tooManyBadRows: return "tooManyBadRows"
        case .notFound: return "notFound"
        case .unreadableInput: return "unreadableInput"
        case .usage: return "usage"
        case .outputExists: return "outputExists"
        case .io: return "io"
        case .missingInput: return "missingInput"
        case .refusedReplace: return "refusedReplace"
        case .busy: return "busy"
        case .unavailable: return "unavailable"
        }
    }

    /// Everything a reader can do with a store: open, profile, top zips
    /// (zips as runs or rows), every row, the customer table with every string.
    static func readEverything(_ path: String) throws {
        let s = try Store.open(path)
        _ = try Queries.profile(s, filter: QueryFilter(), threads: 2)
        _ = try Queries.topZips(s, filter: QueryFilter(), limit: 5, threads: 2)
        _ = try Queries.topZips(s, filter: QueryFilter(customers: [3, 10, 17]), limit: 5, threads: 1)
        try RowReader.forEachRowGroup(s) { _ in }
        if let t = try CustomerTable.load(s) {
            for r in 0..<t.count { _ = try t.name(r); _ = try t.address(r) }
        }
    }

    func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Self.corpus).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// The fused profile path (decoding as its walk goes, taken by default
    /// only above 2M rows) on every corpus store: the same profile as the
    /// general path, or a damaged-store error where that path has one.
    func testFusedProfileAgreesOnEveryCorpusStore() throws {
        var compared = 0
        for name in try entries() {
            let copy = temporaryDirectory(self) + "/" + name
            try FileManager.default.copyItem(atPath: Self.corpus + "/" + name, toPath: copy)
            guard let s = try? Store.open(copy) else { continue }
            for filter in [QueryFilter(), QueryFilter(from: 1_414_800_000, to: 1_417_400_000)] {
                let general = Result { try Queries.profile(s, filter: filter, threads: 2, fusedFrom: .max) }
                let fused = Result { try Queries.profile(s, filter: filter, threads: 2, fusedFrom: 0) }
                switch (general, fused) {
                case (.success(let a), .success(let b)):
                    XCTAssertEqual(a, b, name)
                case (.failure(let a as StaveError), .failure(let b as StaveError)):
                    XCTAssertEqual(a.exitCode, 66, "\(name): \(a)")
                    XCTAssertEqual(b.exitCode, 66, "\(name): \(b)")
                default:
                    XCTFail("\(name): general \(general), fused \(fused)")
                }
                compared += 1
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 10, "stores that open, two windows each")
    }

    func testEveryCorpusStoreGivesItsExactError() throws {
        let names = try entries()
        XCTAssertFalse(names.isEmpty)
        for name in names {
            guard let (kind, fragment) = Self.expected[name] else { continue }
            // Read from a copy: nothing may depend on the corpus being writable.
            let copy = temporaryDirectory(self) + "/" + name
            try FileManager.default.copyItem(atPath: Self.corpus + "/" + name, toPath: copy)
            do {
                try Self.readEverything(copy)
                XCTFail("\(name): read without an error")
            } catch let e as StaveError {
                XCTAssertEqual(Self.caseName(e), kind, "\(name): \(e)")
                XCTAssertTrue(e.description.contains(fragment), "\(name): \(e)")
                XCTAssertEqual(e.exitCode, 66, name)
            }
            // verify reports it too (never "OK").
            XCTAssertFalse(Verifier.verify(copy).isSound, name)
        }
    }

    /// Values outside their chunk's statistics stop the queries themselves,
    /// not only the row reader: the zips would index a 100,000-entry table
    /// (the fuzzer's crash), the datetimes would count in the wrong month.
    func testQueriesCheckDecodedValuesAgainstStatistics() throws {
        func copy(_ name: String) throws -> Store {
            let path = temporaryDirectory(self) + "/" + name
            try FileManager.default.copyItem(atPath: Self.corpus + "/" + name, toPath: path)
            return try Store.open(path)
        }
        let zips = try copy("zip-decodes-outside-its-statistics")
        XCTAssertNoThrow(try Queries.profile(zips, filter: QueryFilter(), threads: 2), "the profile reads no zips")
        for f in [QueryFilter(), QueryFilter(customers: [3, 10, 17])] {
            XCTAssertThrowsError(try Queries.topZips(zips, filter: f, limit: 5, threads: 2)) {
                XCTAssertTrue("\($0)".contains("outside its statistics"), "\($0)")
            }
        }
        let times = try copy("datetime-decodes-outside-its-month")
        for f in [QueryFilter(), QueryFilter(customers: [3, 10, 17])] {
            XCTAssertThrowsError(try Queries.profile(times, filter: f, threads: 2)) {
                XCTAssertTrue("\($0)".contains("column datetime row group 0: values"), "\($0)")
            }
        }
    }

    /// The guard: no corpus entry without an expectation, none the other way.
    func testCorpusAndExpectationsMatch() throws {
        XCTAssertEqual(Set(try entries()), Set(Self.expected.keys))
    }

    // MARK: Writing the corpus (STAVE_WRITE_CORPUS=1)

    func testWriteCorpus() throws {
        guard ProcessInfo.processInfo.environment["STAVE_WRITE_CORPUS"] == "1" else {
            throw XCTSkip("writes the corpus only with STAVE_WRITE_CORPUS=1")
        }
        try? FileManager.default.removeItem(atPath: Self.corpus)
        try FileManager.default.createDirectory(atPath: Self.corpus, withIntermediateDirectories: true)
        let work = temporaryDirectory(self)
        // The base: 300 events over three months (three row groups) and a
        // customer table.
        var o = ConvertOptions()
        writeFile(work + "/cust.csv", "1,\"Ann\",0,\"1 Road\",\"01234\",\"01/02/2013\",1,1,1,0\n2,\"Bo\",1,\"2 Road\",\"99999\",\"12/31/2011\",0,2,4,1\n")
        o.customersPath = work + "/cust.csv"
        let base = try convert(csvLines(randomEvents(count: 300, customers: 3, seed: 5)), dir: work, name: "base", options: o)
        let other = try convert(csvLines(randomEvents(count: 300, customers: 3, seed: 6)), dir: work, name: "other")
        func make(_ name: String, _ damage: (String) throws -> Void) throws {
            let path = Self.corpus + "/" + name
            try FileManager.default.copyItem(atPath: base, toPath: path)
            for extra in ["LOCK", "READERS"] { try? FileManager.default.removeItem(atPath: path + "/" + extra) }
            try damage(path)
        }
        func bytes(_ p: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: p))) }
        func put(_ p: String, _ b: [UInt8]) throws { try Data(b).write(to: URL(fileURLWithPath: p)) }
        let part = "/part-000001.stp"
        func patchPart(_ path: String, _ edit: (inout [UInt8]) -> Void) throws {
            var b = try bytes(path + part)
            edit(&b)
            try put(path + part, b)
        }
        func manifest(_ path: String) throws -> Manifest { try Manifest.parse(try bytes(path + "/MANIFEST"), path: path) }
        func signed(_ text: String) -> [UInt8] {
            var b = Array(text.utf8)
            b += Array("checksum \(Manifest.hex16(XXH64.hash(b)))\n".utf8)
            return b
        }
        /// Rewrites part-000001's footer with `edit` applied to its bytes,
        /// keeping tail and manifest checksums consistent.
        func rewriteFooter(_ path: String, _ edit: (inout [UInt8]) throws -> Void) throws {
            var b = try bytes(path + part)
            let tail = try b.withUnsafeBytes { try PartTail.parse(UnsafeRawBufferPointer(rebasing: $0[(b.count - 24)...]), file: "") }
            let start = b.count - 24 - Int(tail.footerLength)
            var footer = Array(b[start..<(b.count - 24)])
            try edit(&footer)
            let sum = XXH64.hash(footer)
            b = Array(b[0..<start]) + footer + PartTail(footerChecksum: sum, footerLength: UInt32(footer.count)).serialize()
            try put(path + part, b)
            var m = try manifest(path)
            m.parts[0].footerChecksum = sum
            m.parts[0].bytes = UInt64(b.count)
            try put(path + "/MANIFEST", m.serialize())
        }
        let chunk0 = FormatConstants.footerFixedSize + 6 * FormatConstants.columnSpecSize + FormatConstants.rowGroupHeaderSize
        let groupSize = FormatConstants.rowGroupHeaderSize + 6 * FormatConstants.chunkDescriptorSize
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

        try make("bad-magic-head") { p in try patchPart(p) { $0[0] = UInt8(ascii: "X") } }
        try make("bad-magic-tail") { p in try patchPart(p) { $0[$0.count - 1] = 0 } }
        try make("unsupported-version") { p in try patchPart(p) { $0[8] = 2 } }
        try make("footer-checksum") { p in try patchPart(p) { $0[$0.count - 40] ^= 1 } }
        try make("chunk-checksum") { p in
            let d = try Store.open(base).parts[0].footer.rowGroups[1].chunks[EventsSchema.trackID]
            try patchPart(p) { $0[Int(d.offset) + 20] ^= 0x10 }
        }
        try make("truncated-part") { p in try patchPart(p) { $0.removeLast(100) } }
        try make("manifest-lists-missing-part") { p in try FileManager.default.removeItem(atPath: p + part) }
        try make("part-from-another-table") { p in
            // Another table's part under this name; the manifest line keeps
            // its own checksum but states the stranger's size and rows.
            try FileManager.default.removeItem(atPath: p + part)
            try FileManager.default.copyItem(atPath: other + part, toPath: p + part)
            var m = try manifest(p)
            m.parts[0].bytes = UInt64(try bytes(p + part).count)
            try put(p + "/MANIFEST", m.serialize())
        }
        try make("manifest-checksum") { p in
            var m = try bytes(p + "/MANIFEST")
            m[20] ^= 4
            try put(p + "/MANIFEST", m)
        }
        try make("manifest-names-a-path") { p in
            try put(p + "/MANIFEST", signed("stave-manifest 1\ngeneration 1\npart ../../etc/passwd rows 1 bytes 1 footer 0000000000000000\n"))
        }
        try make("manifest-next-number-too-small") { p in
            let m = try manifest(p)
            let lines = String(decoding: m.serialize(), as: UTF8.self).split(separator: "\n").dropLast()
                .map { $0.hasPrefix("next-number") ? "next-number 1" : String($0) }
            try put(p + "/MANIFEST", signed(lines.joined(separator: "\n") + "\n"))
        }
        try make("unknown-encoding") { p in try rewriteFooter(p) { $0[chunk0 + 16] = 9 } }
        try make("offset-past-end") { p in try rewriteFooter(p) { $0.replaceSubrange(chunk0..<(chunk0 + 8), with: le(UInt64(1) << 40)) } }
        try make("length-overflows-when-added") { p in
            try rewriteFooter(p) { $0.replaceSubrange(chunk0..<(chunk0 + 8), with: le(UInt64.max - 63)) }
        }
        try make("declared-size-over-limit") { p in
            try rewriteFooter(p) {
                $0.replaceSubrange((chunk0 + 12)..<(chunk0 + 16), with: [0xFF, 0xFF, 0xFF, 0xFF])
                $0[chunk0 + 17] = 1
            }
        }
        try make("zstd-frame-claims-100GB") { p in
            // A zstd frame header declaring 100 GB, as track_id of row group 0:
            // magic, descriptor (8-byte content size, single segment), size,
            // then one raw last block of 4 bytes.
            var frame: [UInt8] = le(UInt32(0xFD2F_B528)) + [0xE0] + le(UInt64(100_000_000_000))
            frame += [0x21, 0x00, 0x00] + [1, 2, 3, 4]
            let store = try Store.open(base)
            let d = store.parts[0].footer.rowGroups[0].chunks[EventsSchema.trackID]
            try patchPart(p) { b in b.replaceSubrange(Int(d.offset)..<(Int(d.offset) + frame.count), with: frame) }
            let at = chunk0 + EventsSchema.trackID * FormatConstants.chunkDescriptorSize
            try rewriteFooter(p) { f in
                f.replaceSubrange((at + 8)..<(at + 12), with: le(UInt32(frame.count)))
                f[at + 17] = 1
                f.replaceSubrange((at + 40)..<(at + 48), with: le(XXH64.hash(frame)))
            }
        }
        try make("footer-length-outside-file") { p in
            try patchPart(p) { $0.replaceSubrange(($0.count - 16)..<($0.count - 12), with: [0xF0, 0xFF, 0xFF, 0x7F]) }
        }
        try make("chunk-points-into-footer") { p in
            let store = try Store.open(base)
            let footerStart = UInt64(store.parts[0].footerOffset)
            let into = (footerStart / 64) * 64   // the last aligned offset at or before the footer
            let d = store.parts[0].footer.rowGroups[0].chunks[EventsSchema.eventID]
            try rewriteFooter(p) {
                $0.replaceSubrange(chunk0..<(chunk0 + 8), with: le(into))
                $0.replaceSubrange((chunk0 + 8)..<(chunk0 + 12), with: le(max(d.storedLength, UInt32(footerStart - into) + 8)))
            }
        }
        try make("statistics-outside-domain") { p in
            let at = chunk0 + EventsSchema.mobile * FormatConstants.chunkDescriptorSize + 32
            try rewriteFooter(p) { $0.replaceSubrange(at..<(at + 8), with: le(Int64(2))) }
        }
        try make("row-group-spans-two-months") { p in
            let at = chunk0 + EventsSchema.datetime * FormatConstants.chunkDescriptorSize + 32
            let store = try Store.open(base)
            let next = store.parts[0].footer.rowGroups[1].chunks[EventsSchema.datetime].max
            try rewriteFooter(p) { $0.replaceSubrange(at..<(at + 8), with: le(next)) }
        }
        try make("row-group-of-zero-rows") { p in
            let at = FormatConstants.footerFixedSize + 6 * FormatConstants.columnSpecSize + groupSize
            try rewriteFooter(p) { $0.replaceSubrange(at..<(at + 4), with: le(UInt32(0))) }
        }
        try make("manifest-claims-a-billion-rows") { p in
            var m = try manifest(p)
            m.parts[0].rows = 1_000_000_000
            try put(p + "/MANIFEST", m.serialize())
        }
        try make("footer-claims-a-billion-rows") { p in
            try rewriteFooter(p) { $0.replaceSubrange(16..<24, with: le(UInt64(1_000_000_000))) }
        }
        try make("row-group-claims-a-billion-rows") { p in
            let at = FormatConstants.footerFixedSize + 6 * FormatConstants.columnSpecSize
            try rewriteFooter(p) { $0.replaceSubrange(at..<(at + 4), with: le(UInt32(1_000_000_000))) }
        }
        try make("customers-file-is-an-events-part") { p in
            var m = try manifest(p)
            let name = m.customers!.name
            try FileManager.default.removeItem(atPath: p + "/" + name)
            try FileManager.default.copyItem(atPath: p + part, toPath: p + "/" + name)
            m.customers = ManifestPart(name: name, rows: m.parts[0].rows, bytes: m.parts[0].bytes, footerChecksum: m.parts[0].footerChecksum)
            try put(p + "/MANIFEST", m.serialize())
        }
        func writeCustomers(_ p: String, _ table: CustomerColumns) throws {
            var m = try manifest(p)
            let name = m.customers!.name
            try FileManager.default.removeItem(atPath: p + "/" + name)
            var entry = try CustomerTableWriter.write(table, to: p + "/" + name, policy: CompressionPolicy(level: 0))
            entry.name = name
            m.customers = entry
            try put(p + "/MANIFEST", m.serialize())
        }
        func table(ids: [Int64], names: [[UInt8]]) -> CustomerColumns {
            var t = CustomerColumns()
            for (k, id) in ids.enumerated() {
                t.ids.append(id)
                names[k].withUnsafeBufferPointer { t.names.append($0) }
                t.address.append("Road")
                t.gender.append(0); t.zip.append(501); t.signDate.append(15_000); t.status.append(1)
                t.level.append(0); t.campaign.append(0); t.linked.append(0)
            }
            return t
        }
        /// Puts `payload` (uncompressed, encoding `id`) in place of column
        /// `column`'s chunk of row group 0, with a matching descriptor and
        /// checksum: only the payload's own structure is wrong.
        func replaceChunk(_ p: String, column: Int, id: EncodingID, _ payload: (Int, Int64) -> [UInt8]) throws {
            let store = try Store.open(base)
            let d = store.parts[0].footer.rowGroups[0].chunks[column]
            let bytes = payload(store.parts[0].footer.rowGroups[0].rowCount, d.min)
            try patchPart(p) { b in b.replaceSubrange(Int(d.offset)..<(Int(d.offset) + bytes.count), with: bytes) }
            let at = chunk0 + column * FormatConstants.chunkDescriptorSize
            try rewriteFooter(p) { f in
                f.replaceSubrange((at + 8)..<(at + 12), with: le(UInt32(bytes.count)))
                f.replaceSubrange((at + 12)..<(at + 16), with: le(UInt32(bytes.count)))
                f[at + 16] = id.rawValue
                f[at + 17] = 0
                f.replaceSubrange((at + 40)..<(at + 48), with: le(XXH64.hash(bytes)))
            }
        }
        func forBlock(_ values: [Int64]) -> [UInt8] { var w = ByteWriter(); FORBlock.encode(values, into: &w); return w.bytes }
        try make("patched-rle-flags-disagree") { p in
            // One run of the zip column's minimum; one row flagged, two exceptions.
            try replaceChunk(p, column: EventsSchema.zip, id: .patchedRLE) { rows, v in
                var flags = [Int64](repeating: 0, count: rows)
                flags[1] = 1
                return le(UInt32(1)) + le(UInt32(2)) + forBlock([v]) + forBlock([Int64(rows)]) + forBlock(flags) + forBlock([v, v])
            }
        }
        try make("delta-runs-lengths-overrun") { p in
            // Two runs of event ids whose lengths add up to 4 rows too many.
            try replaceChunk(p, column: EventsSchema.eventID, id: .deltaRuns) { rows, v in
                le(UInt32(2)) + le(UInt32(0)) + forBlock([Int64(rows - 1), 5]) + forBlock([v, v])
                    + forBlock([Int64](repeating: 0, count: rows - 2))
            }
        }
        try make("zip-decodes-outside-its-statistics") { p in
            // A valid FOR block of zips 150000: 17 bits, checksum right, but
            // the statistics (in the ZIP5 domain) do not admit them.
            try replaceChunk(p, column: EventsSchema.zip, id: .forBitpack) { rows, _ in forBlock([Int64](repeating: 150_000, count: rows)) }
        }
        try make("datetime-decodes-outside-its-month") { p in
            // Datetimes a year later than the group's month says.
            try replaceChunk(p, column: EventsSchema.datetime, id: .forBitpack) { rows, v in
                forBlock([Int64](repeating: v + 365 * 86_400, count: rows))
            }
        }
        try make("customer-ids-not-ascending") { p in try writeCustomers(p, table(ids: [5, 3], names: [[65], [66]])) }
        try make("customer-name-not-utf8") { p in try writeCustomers(p, table(ids: [1, 2], names: [[65], [0xC3, 0x28]])) }
    }
}
