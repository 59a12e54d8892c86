import Foundation
import XCTest
@testable import StaveFormat
import StaveIO
@testable import StaveIngest
@testable import StaveInterop

/// The committed corpus of hostile Parquet files
/// (Tests/StaveTests/Corpus/hostile-parquet/): each is well formed except
/// for one damaged field, with no page CRCs, so the damage reaches the
/// decoders. `stave convert` of each gives exactly its expected error (never
/// a crash, never a store, never a temporary left behind); every file has an
/// expectation and every expectation a file.
///
/// Written by `testWriteCorpus` when STAVE_WRITE_CORPUS=1, from two small
/// files made here with stave's Parquet writer (decompressed, CRCs dropped)
/// and the damage described below; otherwise only read.
final class HostileParquetTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus/hostile-parquet").path

    /// Per corpus file: the exit code of `stave convert` and a fragment of
    /// its message ("converted N rows" for the undamaged bases).
    static let expected: [String: (Int32, String)] = [
        "base": (0, "200 rows"),
        "base-optional": (0, "200 rows"),
        // The RLE / bit-packing hybrid (dictionary indices, levels).
        "rle-groups-times-width-overflows": (65, "dictionary indices: bit-packed run of 576460752303423488 groups of 20 bytes"),
        "rle-bit-packed-run-past-page": (65, "dictionary indices: bit-packed run of 1000 groups"),
        "rle-width-over-32": (65, "dictionary indices: bit width 40 over 32"),
        "rle-value-wider-than-width": (65, "dictionary indices: RLE value"),
        "rle-data-ends-early": (65, "dictionary indices: RLE data ends after"),
        "dictionary-index-past-dictionary": (65, "dictionary index 63 of"),
        "definition-levels-longer-than-page": (65, "definition levels longer than the page"),
        "definition-levels-bit-packed-run-past-page": (65, "definition levels: bit-packed run of"),
        // Page headers.
        "page-stored-size-past-chunk": (65, "page header with missing or impossible sizes"),
        "page-raw-size-over-cap": (65, "page header with missing or impossible sizes"),
        "page-negative-size": (65, "page header with missing or impossible sizes"),
        "page-values-past-row-group": (65, "a page of 201 values past the row group's 200 rows"),
        "page-header-unknown-type": (65, "unreadable page header: unknown type 13"),
        "pages-end-early": (65, "pages end after"),
        "dictionary-page-count-over-size": (65, "bad dictionary page header"),
        "dictionary-page-missing": (65, "dictionary-encoded page without a dictionary page"),
        "data-page-v2-levels-past-page": (65, "bad data page v2 header"),
        "plain-values-truncated": (65, "values of 8 bytes in"),
        "byte-array-length-past-page": (65, "a byte array of"),
        "delta-binary-packed-bad-block-size": (65, "DELTA_BINARY_PACKED: bad block sizes 100/4"),
        "delta-binary-packed-count-disagrees": (65, "DELTA_BINARY_PACKED: 7 values where the page has"),
        "delta-binary-packed-miniblock-truncated": (65, "DELTA_BINARY_PACKED: miniblock truncated"),
        "encoding-byte-stream-split": (65, "encoding BYTE_STREAM_SPLIT is not supported"),
        "codec-gzip": (65, "compression GZIP is not supported"),
        "snappy-length-disagrees": (65, "snappy data does not decode to the page's"),
        "zstd-frame-claims-100GB": (65, "zstd"),
        // The footer.
        "footer-length-past-file": (65, "does not fit in the file"),
        "footer-list-count-past-bytes": (65, "unreadable footer: a count of 1073741824 with"),
        "footer-nested-too-deep": (65, "unreadable footer: nested deeper than 32"),
        "footer-varint-too-long": (65, "unreadable footer: varint longer than 10 bytes"),
        "footer-field-unknown-type": (65, "unreadable footer: unknown type 13"),
        "schema-nested": (65, "nested schemas are not supported"),
        "schema-repeated-column": (65, "repeated columns are not supported"),
        "schema-fixed-len-byte-array": (65, "column 'listening_zip' is FIXED_LEN_BYTE_ARRAY"),
        "schema-missing-column": (65, "no column 'track_id'"),
        "row-group-rows-over-limit": (65, "a row count outside 0..."),
        "row-counts-disagree": (65, "row groups hold 200 rows, the footer says 201"),
        "chunk-offset-past-data": (65, "lies outside the data"),
        "chunk-negative-size": (65, "lies outside the data"),
        "chunk-in-another-file": (65, "data in another file is not supported"),
        "chunk-encrypted": (65, "encrypted columns are not supported"),
        "chunk-type-differs-from-schema": (65, "metadata type differs from the schema"),
        "chunk-value-count-disagrees": (65, "199 values in a row group of 200 rows"),
        "encrypted-file": (65, "encrypted Parquet files are not supported"),
        // Values stave cannot store: the CSV rules (line = row).
        "zip-not-five-digits": (65, "listening_zip is not five digits"),
        "datetime-fraction-of-a-second": (65, "datetime has a fraction of a second"),
        "customer-id-negative": (65, "customer_id out of range"),
        "mobile-not-a-flag": (65, "mobile must be 0 or 1"),
        "null-in-optional-column": (65, "track_id is null"),
    ]

    func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Self.corpus).filter { $0.hasSuffix(".parquet") }
            .map { String($0.dropLast(".parquet".count)) }.sorted()
    }

    /// The guard: no corpus file without an expectation, none the other way.
    func testCorpusAndExpectationsMatch() throws {
        XCTAssertEqual(Set(try entries()), Set(Self.expected.keys))
    }

    func testEveryCorpusFileGivesItsExactError() throws {
        let names = try entries()
        XCTAssertFalse(names.isEmpty)
        for name in names {
            guard let (code, fragment) = Self.expected[name] else { continue }
            let work = temporaryDirectory(self)
            let out = work + "/out.stave"
            do {
                let summary = try Converter(input: Self.corpus + "/" + name + ".parquet", output: out, options: ConvertOptions()).run()
                XCTAssertEqual(code, 0, "\(name): converted \(summary.rows) rows, expected an error")
                XCTAssertEqual("\(summary.rows) rows", fragment, name)
            } catch let e as StaveError {
                XCTAssertEqual(e.exitCode, code, "\(name): \(e)")
                XCTAssertTrue(e.description.contains(fragment), "\(name): \(e)")
                // Nothing is left behind: no store, no temporary.
                XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work), [], name)
            }
        }
    }

    /// Every corpus file read straight through ParquetFile: a ParquetError
    /// or values, and the values are as many as the rows say.
    func testReaderGivesErrorsOrConsistentValues() throws {
        for name in try entries() {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/" + name + ".parquet")))
            do {
                let f = try ParquetFile(bytes: bytes, name: name)
                for g in 0..<f.rowGroupCount {
                    for c in 0..<f.columns.count {
                        let (values, present) = try f.read(group: g, column: c)
                        let nulls = present.map { $0.filter { !$0 }.count } ?? 0
                        let count: Int
                        switch values {
                        case .integers(let v): count = v.count
                        case .doubles(let v): count = v.count
                        case .int96(let v): count = v.count
                        case .byteArrays(let o, _): count = o.count - 1
                        }
                        XCTAssertEqual(count + nulls, f.rows(inGroup: g), name)
                    }
                }
            } catch is ParquetError {
                continue
            }
        }
    }

    /// ParquetSurgery takes a file apart and puts it back so that it reads
    /// the same (offsets recomputed, CRCs dropped, pages decompressed).
    func testSurgeryRoundTrips() throws {
        let base = try Self.baseFile(optional: false)
        let original = try Self.readAll(base)
        var s = try ParquetSurgery(bytes: base)
        XCTAssertEqual(try Self.readAll(s.assemble()), original)
        s.dropChecksums()
        try s.decompress()
        let rebuilt = s.assemble()
        XCTAssertEqual(try Self.readAll(rebuilt), original)
        XCTAssertGreaterThan(rebuilt.count, base.count, "decompressed")
        XCTAssertGreaterThan(s.integerCount, 50)
    }

    static func readAll(_ bytes: [UInt8]) throws -> [String] {
        let f = try ParquetFile(bytes: bytes, name: "x.parquet")
        var out: [String] = []
        for g in 0..<f.rowGroupCount { for c in 0..<f.columns.count { out.append("\(try f.read(group: g, column: c))") } }
        return out
    }

    // MARK: Writing the corpus (STAVE_WRITE_CORPUS=1)

    /// 200 events in stave's export shape (dictionary pages for the
    /// columns with few values, PLAIN for event_id and datetime, pages of 50
    /// rows); with `optional`, track_id is OPTIONAL (every row present).
    static func baseFile(optional: Bool) throws -> [UInt8] {
        var rng = TestRNG(77)
        let rows = 200
        let schema = [
            ParquetColumnSpec("event_id", .int64), ParquetColumnSpec("customer_id", .int64),
            ParquetColumnSpec("track_id", .int64, optional: optional), ParquetColumnSpec("datetime", .int64, logical: .timestampMicros),
            ParquetColumnSpec("mobile", .int32), ParquetColumnSpec("listening_zip", .byteArray, logical: .string),
        ]
        let start = Int64(1_412_121_600)  // 2014-10-01
        var zips = [0], zipBytes: [UInt8] = []
        for _ in 0..<rows {
            let z = ["04042", "72132", "17307", "66216"][rng.below(4)]
            zipBytes += Array(z.utf8); zips.append(zipBytes.count)
        }
        let columns = [
            ParquetColumnData(.int64((0..<rows).map { Int64($0) })),
            ParquetColumnData(.int64((0..<rows).map { _ in Int64(rng.below(7)) })),
            ParquetColumnData(.int64((0..<rows).map { _ in Int64(rng.below(60)) }), present: optional ? [Bool](repeating: true, count: rows) : nil),
            ParquetColumnData(.int64((0..<rows).map { _ in (start + Int64(rng.below(90 * 86_400))) * 1_000_000 })),
            ParquetColumnData(.int32((0..<rows).map { _ in Int32(rng.below(2)) })),
            ParquetColumnData(.byteArray(offsets: zips, bytes: zipBytes)),
        ]
        let out = OutputFile.memory()
        let w = try ParquetFileWriter(output: out, schema: schema)
        w.pageRows = 50
        try w.writeRowGroup(columns, rows: rows)
        try w.finish()
        return out.bytes()
    }

    func testWriteCorpus() throws {
        guard ProcessInfo.processInfo.environment["STAVE_WRITE_CORPUS"] == "1" else {
            throw XCTSkip("writes the corpus only with STAVE_WRITE_CORPUS=1")
        }
        try? FileManager.default.removeItem(atPath: Self.corpus)
        try FileManager.default.createDirectory(atPath: Self.corpus, withIntermediateDirectories: true)
        func clean(_ bytes: [UInt8]) throws -> ParquetSurgery {
            var s = try ParquetSurgery(bytes: bytes)
            s.dropChecksums()
            try s.decompress()
            return s
        }
        let base = try clean(try Self.baseFile(optional: false))
        let optional = try clean(try Self.baseFile(optional: true))
        func put(_ name: String, _ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: Self.corpus + "/" + name + ".parquet"))
        }
        /// A copy of `from` changed by `edit`, pages' sizes fitted to their
        /// bodies unless `fit` is false.
        func make(_ name: String, from: ParquetSurgery = base, fit: Bool = true, keepOffsets: Bool = false,
                  _ edit: (inout ParquetSurgery) throws -> Void = { _ in }, footer: ((inout ThriftStruct) -> Void)? = nil) throws {
            var s = from
            try edit(&s)
            if fit { s.fitSizes(raw: true) }
            try put(name, s.assemble(keepFooterOffsets: keepOffsets, editFooter: footer))
        }
        /// Column index by name.
        func col(_ name: String) -> Int { ["event_id", "customer_id", "track_id", "datetime", "mobile", "listening_zip"].firstIndex(of: name)! }
        /// The k-th data page (not dictionary) of a column in row group 0.
        func dataPage(_ s: inout ParquetSurgery, _ column: String, _ k: Int = 0, _ edit: (inout ParquetSurgery.Page) -> Void) {
            let pages = s.pages[0][col(column)]
            let data = pages.indices.filter { pages[$0].header.int(1) != 2 }
            edit(&s.pages[0][col(column)][data[k]])
        }
        func dictionaryPage(_ s: inout ParquetSurgery, _ column: String, _ edit: (inout ParquetSurgery.Page) -> Void) {
            let pages = s.pages[0][col(column)]
            edit(&s.pages[0][col(column)][pages.firstIndex { $0.header.int(1) == 2 }!])
        }
        func varint(_ v: UInt64) -> [UInt8] {
            var x = v, out: [UInt8] = []
            while x >= 0x80 { out.append(UInt8(truncatingIfNeeded: x) | 0x80); x >>= 7 }
            out.append(UInt8(x))
            return out
        }
        func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
        func setStruct(_ h: inout ThriftStruct, _ id: Int16, _ field: Int16, _ value: ThriftValue?) {
            var inner = h.structure(id)!
            inner.fields[field] = value
            h.fields[id] = .structure(inner)
        }
        /// Edits column chunk metadata of column `c` in row group 0.
        func chunkMeta(_ f: inout ThriftStruct, _ c: Int, _ edit: (inout ThriftStruct, inout ThriftStruct) -> Void) {
            var groups = f.structs(4)!
            var chunks = groups[0].structs(1)!
            var md = chunks[c].structure(3)!
            edit(&chunks[c], &md)
            chunks[c].fields[3] = .structure(md)
            groups[0].fields[1] = .list(chunks.map { .structure($0) })
            f.fields[4] = .list(groups.map { .structure($0) })
        }
        func schemaElement(_ f: inout ThriftStruct, _ k: Int, _ edit: (inout ThriftStruct) -> Void) {
            var schema = f.structs(2)!
            edit(&schema[k])
            f.fields[2] = .list(schema.map { .structure($0) })
        }

        try make("base")
        try make("base-optional", from: optional)

        // The RLE / bit-packing hybrid. customer_id is dictionary encoded:
        // its data page body is [width][runs].
        try make("rle-groups-times-width-overflows") { s in
            dataPage(&s, "customer_id") { $0.body = [20] + varint((UInt64(1) << 60) | 1) + [UInt8](repeating: 0, count: 16) }
        }
        try make("rle-bit-packed-run-past-page") { s in
            dataPage(&s, "customer_id") { $0.body = [3] + varint(1000 << 1 | 1) + [UInt8](repeating: 0, count: 12) }
        }
        try make("rle-width-over-32") { s in dataPage(&s, "customer_id") { $0.body[0] = 40 } }
        try make("rle-value-wider-than-width") { s in
            dataPage(&s, "customer_id") { $0.body = [2] + varint(50 << 1) + [0xFF] }
        }
        try make("rle-data-ends-early") { s in
            dataPage(&s, "customer_id") { $0.body = [3] + varint(10 << 1) + [1] }
        }
        try make("dictionary-index-past-dictionary") { s in
            dataPage(&s, "customer_id") { $0.body = [6] + varint(50 << 1) + [63] }
        }
        try make("definition-levels-longer-than-page", from: optional) { s in
            dataPage(&s, "track_id") { $0.body.replaceSubrange(0..<4, with: [0xFF, 0xFF, 0, 0]) }
        }
        try make("definition-levels-bit-packed-run-past-page", from: optional) { s in
            dataPage(&s, "track_id") { p in
                let levels = varint((UInt64(1) << 41) | 1)
                p.body = [UInt8(levels.count), 0, 0, 0] + levels + Array(p.body[(4 + Int(p.body[0]))...])
            }
        }

        // Page headers (sizes fitted first, then damaged: fit false).
        var damaged = base
        damaged.fitSizes(raw: true)
        try make("page-stored-size-past-chunk", from: damaged, fit: false) { s in
            dataPage(&s, "event_id", 3) { $0.header.fields[3] = .int(Int64($0.body.count + 1000)) }
        }
        try make("page-raw-size-over-cap", from: damaged, fit: false) { s in
            dataPage(&s, "event_id") { $0.header.fields[2] = .int(1 << 40) }
        }
        try make("page-negative-size", from: damaged, fit: false) { s in
            dataPage(&s, "event_id") { $0.header.fields[3] = .int(-5) }
        }
        try make("page-values-past-row-group") { s in
            dataPage(&s, "event_id") { setStruct(&$0.header, 5, 1, .int(201)) }
        }
        try make("page-header-unknown-type", from: damaged, fit: false) { s in
            // A byte after the first data page that its stored size does
            // not cover: the next page header is read from it, and its type
            // nibble is 13.
            dataPage(&s, "mobile") { $0.body.append(0x1D) }
        }
        try make("pages-end-early") { s in s.pages[0][col("event_id")].removeLast() }
        try make("dictionary-page-count-over-size") { s in
            dictionaryPage(&s, "customer_id") { setStruct(&$0.header, 7, 1, .int(1 << 20)) }
        }
        try make("dictionary-page-missing") { s in s.pages[0][col("customer_id")].removeFirst() }
        try make("data-page-v2-levels-past-page") { s in
            dataPage(&s, "event_id") { p in
                let n = p.header.structure(5)!.int(1)!
                p.header.fields[5] = nil
                p.header.fields[1] = .int(3)
                var v2 = ThriftStruct()
                v2.fields = [1: .int(n), 2: .int(0), 3: .int(n), 4: .int(0), 5: .int(Int64(p.body.count + 1)), 6: .int(0), 7: .bool(false)]
                p.header.fields[8] = .structure(v2)
            }
        }
        try make("plain-values-truncated") { s in dataPage(&s, "event_id") { $0.body.removeLast(9) } }
        try make("byte-array-length-past-page") { s in
            dictionaryPage(&s, "listening_zip") { $0.body.replaceSubrange(0..<4, with: [0xFF, 0xFF, 0xFF, 0x7F]) }
        }
        func deltaPage(_ body: [UInt8]) -> (inout ParquetSurgery) -> Void {
            { s in
                dataPage(&s, "event_id") { p in
                    setStruct(&p.header, 5, 2, .int(5))
                    p.body = body
                }
            }
        }
        try make("delta-binary-packed-bad-block-size", deltaPage(varint(100) + varint(4) + varint(50) + varint(0)))
        try make("delta-binary-packed-count-disagrees", deltaPage(varint(128) + varint(4) + varint(7) + varint(0)))
        try make("delta-binary-packed-miniblock-truncated", deltaPage(varint(128) + varint(4) + varint(50) + varint(0) + varint(zigzag(1)) + [8, 8, 8, 8] + [1, 2]))
        try make("encoding-byte-stream-split") { s in dataPage(&s, "event_id") { setStruct(&$0.header, 5, 2, .int(9)) } }
        try make("codec-gzip", footer: { f in chunkMeta(&f, col("event_id")) { _, md in md.fields[4] = .int(2) } })
        try make("snappy-length-disagrees", { s in
            dataPage(&s, "event_id") { $0.body = [0x10, 0x00] }   // a snappy stream of 16 bytes (truncated)
        }, footer: { f in chunkMeta(&f, col("event_id")) { _, md in md.fields[4] = .int(1) } })
        try make("zstd-frame-claims-100GB", { s in
            dataPage(&s, "event_id") { p in
                // A zstd frame header: magic, descriptor (single segment,
                // 8-byte content size), then 100 GB as the content size.
                let size: UInt64 = 100_000_000_000
                p.body = [0x28, 0xB5, 0x2F, 0xFD, 0xE0] + (0..<8).map { UInt8(truncatingIfNeeded: size >> (8 * UInt64($0))) } + [1, 0, 0]
                p.header.fields[2] = .int(400)
            }
        }, footer: { f in chunkMeta(&f, col("event_id")) { _, md in md.fields[4] = .int(6) } })
        // fitSizes set raw size = stored: the zstd page keeps its 400.
        var z = try ParquetSurgery(bytes: try Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/zstd-frame-claims-100GB.parquet")).map { $0 })
        dataPage(&z, "event_id") { $0.header.fields[2] = .int(400) }
        try put("zstd-frame-claims-100GB", z.assemble())

        // The footer.
        let good = base.assemble()
        func withFooter(_ footerBytes: [UInt8]) -> [UInt8] {
            var length = 0
            for k in 0..<4 { length |= Int(good[good.count - 8 + k]) << (8 * k) }
            let n = UInt32(footerBytes.count)
            return Array(good[..<(good.count - 8 - length)]) + footerBytes
                + [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + Array("PAR1".utf8)
        }
        var b = good
        b.replaceSubrange((b.count - 8)..<(b.count - 4), with: [0xF0, 0xFF, 0xFF, 0x7F])
        try put("footer-length-past-file", b)
        // field 1 (i32 version 1), then field 2 a list of structs whose count is 2^30.
        try put("footer-list-count-past-bytes", withFooter([0x15, 0x02, 0x19, 0xFC] + varint(1 << 30) + [0, 0]))
        try put("footer-nested-too-deep", withFooter([UInt8](repeating: 0x1C, count: 40) + [UInt8](repeating: 0, count: 41)))
        try put("footer-varint-too-long", withFooter([0x16] + [UInt8](repeating: 0xFF, count: 11) + [0x01, 0]))
        try put("footer-field-unknown-type", withFooter([0x1D, 0x00, 0x00]))
        try make("schema-nested", footer: { f in schemaElement(&f, 0) { $0.fields[5] = .int(9) } })
        try make("schema-repeated-column", footer: { f in schemaElement(&f, 3) { $0.fields[3] = .int(2) } })
        try make("schema-fixed-len-byte-array", footer: { f in
            schemaElement(&f, 6) { $0.fields[1] = .int(7) }
            chunkMeta(&f, col("listening_zip")) { _, md in md.fields[1] = .int(7) }
        })
        try make("schema-missing-column", footer: { f in schemaElement(&f, 3) { $0.fields[4] = .binary(Array("track".utf8)) } })
        try make("row-group-rows-over-limit", footer: { f in
            var groups = f.structs(4)!
            groups[0].fields[3] = .int(1 << 40)
            f.fields[4] = .list(groups.map { .structure($0) })
            f.fields[3] = .int(1 << 40)
        })
        try make("row-counts-disagree", footer: { f in f.fields[3] = .int(201) })
        try make("chunk-offset-past-data", footer: { f in chunkMeta(&f, col("datetime")) { _, md in md.fields[9] = .int(1 << 40) } })
        try make("chunk-negative-size", footer: { f in chunkMeta(&f, col("datetime")) { _, md in md.fields[7] = .int(-1) } })
        try make("chunk-in-another-file", footer: { f in chunkMeta(&f, col("mobile")) { c, _ in c.fields[1] = .binary(Array("other.parquet".utf8)) } })
        try make("chunk-encrypted", footer: { f in chunkMeta(&f, col("mobile")) { c, _ in c.fields[8] = .structure(ThriftStruct()) } })
        try make("chunk-type-differs-from-schema", footer: { f in chunkMeta(&f, col("mobile")) { _, md in md.fields[1] = .int(2) } })
        try make("chunk-value-count-disagrees", footer: { f in chunkMeta(&f, col("mobile")) { _, md in md.fields[5] = .int(199) } })
        b = good
        b.replaceSubrange((b.count - 4)..., with: Array("PARE".utf8))
        try put("encrypted-file", b)

        // Values stave cannot store.
        try make("zip-not-five-digits") { s in
            dictionaryPage(&s, "listening_zip") { $0.body[4] = UInt8(ascii: "x") }
        }
        try make("datetime-fraction-of-a-second") { s in
            dataPage(&s, "datetime") { $0.body[0] &+= 1 }
        }
        try make("customer-id-negative") { s in
            dictionaryPage(&s, "customer_id") { $0.body.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8)) }
        }
        try make("mobile-not-a-flag") { s in
            dictionaryPage(&s, "mobile") { $0.body[0] = 7 }
        }
        try make("null-in-optional-column", from: optional) { s in
            // One definition level 0: the first page's levels as one RLE run
            // of a 0 then the rest present, values one fewer.
            dataPage(&s, "track_id") { p in
                let length = Int(p.body[0]) | Int(p.body[1]) << 8
                let rows = Int(p.header.structure(5)!.int(1)!)
                let levels = varint(1 << 1) + [0] + varint(UInt64(rows - 1) << 1) + [1]
                var values = Array(p.body[(4 + length)...])
                // The dictionary indices: [width][runs]; one value fewer is
                // still the same runs (the reader takes what it needs).
                if values.isEmpty { values = [0] }
                p.body = [UInt8(levels.count), 0, 0, 0] + levels + values
            }
        }
        // Check what was written (a wrong case would fail the tests below).
        XCTAssertEqual(Set(try entries()), Set(Self.expected.keys))
    }
}
