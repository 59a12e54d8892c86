import Foundation
import XCTest
@testable import StaveFormat
import StaveIO
@testable import StaveIngest

final class CSVParserTests: XCTestCase {
    func parse(_ line: String) -> Result<EventRow, RowError> {
        Array(line.utf8).withUnsafeBufferPointer { EventLineParser.parse($0) }
    }

    func assertError(_ line: String, column: Int, contains text: String, file: StaticString = #filePath, l: UInt = #line) {
        switch parse(line) {
        case .success(let r): XCTFail("accepted \(line) as \(r)", file: file, line: l)
        case .failure(let e):
            XCTAssertEqual(e.column, column, "column for \(line): \(e.message)", file: file, line: l)
            XCTAssertTrue(e.message.contains(text), "'\(e.message)' lacks '\(text)'", file: file, line: l)
        }
    }

    func testOriginalLinesParse() throws {
        let r = try parse("0,48,453,\"2014-10-23 03:26:20\",0,\"72132\"").get()
        XCTAssertEqual(r, EventRow(eventID: 0, customerID: 48, trackID: 453, datetime: 1_414_034_780, mobile: 0, zip: 72132))
        // Bare fields, quoted numbers, leading-zero zip.
        let b = try parse("\"5\",\"7\",9,2014-12-31 23:59:59,1,04042").get()
        XCTAssertEqual(b.zip, 4042)
        XCTAssertEqual(b.eventID, 5)
        XCTAssertEqual(CivilTime.format(b.datetime), "2014-12-31 23:59:59")
    }

    func testEachMalformedShape() {
        assertError("", column: 1, contains: "empty line")
        assertError("0,48,453,\"2014-10-23 03:26:20\",0", column: 33, contains: "expected 6 fields, found 5")
        assertError("0,48,453,\"2014-10-23 03:26:20\",0,\"72132\",9", column: 42, contains: "too many fields")
        assertError("0,48,453,\"2014-10-23 03:26:20\",0,\"72132\",", column: 42, contains: "too many fields")
        assertError("x,48,453,\"2014-10-23 03:26:20\",0,\"72132\"", column: 1, contains: "event_id is not a non-negative integer")
        assertError("0,-48,453,\"2014-10-23 03:26:20\",0,\"72132\"", column: 3, contains: "customer_id is not")
        assertError("0,4294967296,453,\"2014-10-23 03:26:20\",0,\"72132\"", column: 3, contains: "customer_id out of range")
        assertError("0,48,,\"2014-10-23 03:26:20\",0,\"72132\"", column: 6, contains: "empty track_id")
        assertError("99999999999999999999,48,1,\"2014-10-23 03:26:20\",0,\"72132\"", column: 1, contains: "event_id out of range")
        assertError("0,48,453,\"2014-02-30 03:26:20\",0,\"72132\"", column: 10, contains: "day 30 out of range")
        assertError("0,48,453,\"2014-10-23 24:00:00\",0,\"72132\"", column: 10, contains: "hour 24 out of range")
        assertError("0,48,453,\"2014-10-23 03:26\",0,\"72132\"", column: 10, contains: "expected YYYY-MM-DD HH:MM:SS")
        assertError("0,48,453,\"2014-10-23 03:26:20\",2,\"72132\"", column: 32, contains: "mobile must be 0 or 1")
        assertError("0,48,453,\"2014-10-23 03:26:20\",0,\"7213\"", column: 34, contains: "exactly 5 digits")
        assertError("0,48,453,\"2014-10-23 03:26:20\",0,\"7213a\"", column: 34, contains: "exactly 5 digits")
        assertError("0,48,453,\"2014-10-23 03:26:20\",0,\"72132", column: 34, contains: "unclosed quote")
        assertError("0,48,453,\"2014-10-23 03:26:20\"x,0,\"72132\"", column: 31, contains: "after closing quote")
        assertError("0,48,45\"3,\"2014-10-23 03:26:20\",0,\"72132\"", column: 8, contains: "quote inside an unquoted field")
        assertError("0,48,453,\"2014-10-23 03:26:20\",0,\"72\"\"132\"", column: 34, contains: "exactly 5 digits")
        assertError("0,48\r,453,\"2014-10-23 03:26:20\",0,\"72132\"", column: 5, contains: "carriage return")
    }

    func testErrorEchoesTheFieldText() {
        guard case .failure(let e) = parse("0,48,453,\"2014-02-30 03:26:20\",0,\"72132\"") else { return XCTFail() }
        XCTAssertEqual(e.field, "2014-02-30 03:26:20")
    }
}

final class ConverterTests: XCTestCase {
    let good = "0,48,453,\"2014-10-23 03:26:20\",0,\"72132\"\n1,1081,19,\"2014-10-15 18:32:14\",1,\"04042\"\n"

    func rows(_ store: String) throws -> [[Int64]] {
        let s = try Store.open(store)
        var out: [[Int64]] = []
        for part in s.parts {
            for g in part.footer.rowGroups.indices {
                let cols = try (0..<6).map { try part.chunk(rowGroup: g, column: $0).decodeAll() }
                for i in cols[0].indices { out.append(cols.map { $0[i] }) }
            }
        }
        return out.sorted { $0[0] < $1[0] }
    }

    func expectCSVError(_ csv: String, line: Int, column: Int, options: ConvertOptions = ConvertOptions(),
                        file: StaticString = #filePath, l: UInt = #line) {
        let dir = temporaryDirectory(self)
        XCTAssertThrowsError(try convert(csv, dir: dir, options: options), file: file, line: l) { error in
            guard case let StaveError.csv(_, gotLine, gotColumn, message, _) = error else {
                return XCTFail("not a CSV error: \(error)", file: file, line: l)
            }
            XCTAssertEqual(gotLine, line, message, file: file, line: l)
            XCTAssertEqual(gotColumn, column, message, file: file, line: l)
        }
        // Nothing is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["t.csv"], file: file, line: l)
    }

    func testGoodFileWithAndWithoutHeaderAndCRLF() throws {
        let dir = temporaryDirectory(self)
        let plain = try rows(try convert(good, dir: dir, name: "a"))
        XCTAssertEqual(plain.count, 2)
        XCTAssertEqual(plain[1], [1, 1081, 19, seconds("2014-10-15 18:32:14"), 1, 4042])
        let header = "event_id,customer_id,track_id,datetime,mobile,listening_zip\n" + good
        XCTAssertEqual(try rows(try convert(header, dir: dir, name: "b")), plain)
        let quotedHeader = "\"event_id\",\"customer_id\",\"track_id\",\"datetime\",\"mobile\",\"listening_zip\"\r\n"
            + good.split(separator: "\n").map { $0 + "\r\n" }.joined()
        XCTAssertEqual(try rows(try convert(quotedHeader, dir: dir, name: "c")), plain)
        let bom = "\u{FEFF}" + header
        XCTAssertEqual(try rows(try convert(bom, dir: dir, name: "d")), plain)
    }

    func testFileWithoutFinalNewlineKeepsTheLastRow() throws {
        let dir = temporaryDirectory(self)
        let r = try rows(try convert(String(good.dropLast()), dir: dir))
        XCTAssertEqual(r.count, 2)
    }

    func testEmptyInputMakesAnEmptyStore() throws {
        let dir = temporaryDirectory(self)
        let s = try Store.open(try convert("", dir: dir))
        XCTAssertEqual(s.rowCount, 0)
    }

    func testHeaderIsCheckedNotGuessedPast() {
        expectCSVError("id,cust,track,dt,mobile,zip\n" + good, line: 1, column: 1)
        var o = ConvertOptions()
        o.header = .present
        expectCSVError(good, line: 1, column: 1, options: o)
        o.header = .absent
        expectCSVError("event_id,customer_id,track_id,datetime,mobile,listening_zip\n" + good, line: 1, column: 1, options: o)
    }

    func testFirstBadRowStopsWithLineAndColumn() {
        expectCSVError(good + "2,5,7,\"2014-02-30 00:00:00\",1,\"12345\"\n", line: 3, column: 7)
        expectCSVError(good + "\n" + good + "2,5,7,\"2014-02-30 00:00:00\",1,\"12345\"\n", line: 6, column: 7)  // a blank line is skipped, still counted as a line
        expectCSVError(good + "2,5,7,\"2014-10-01 00:00:00\",1,\"12345\n", line: 3, column: 31) // unclosed quote
        expectCSVError("event_id,customer_id,track_id,datetime,mobile,listening_zip\r\n" + good + "2,5\r\n", line: 4, column: 4)
    }

    func testSkipBadRowsWritesRejectsVerbatim() throws {
        let dir = temporaryDirectory(self)
        var o = ConvertOptions()
        o.skipBadRows = true
        o.rejectsPath = dir + "/rejects.tsv"
        let bad1 = "2,5,7,\"2014-02-30 00:00:00\",1,\"12345\""
        let bad2 = "3,5,7,\"2014-10-01 00:00:00\",1,\"123\""
        let csv = good + bad1 + "\n\n" + bad2 + "\r\n" + "4,5,7,\"2014-10-01 00:00:00\",1,\"12345\"\n"
        let input = dir + "/in.csv"
        writeFile(input, csv)
        let summary = try Converter(input: input, output: dir + "/s.stave", options: o).run()
        XCTAssertEqual(summary.rows, 3)
        XCTAssertEqual(summary.rejected, 2)
        XCTAssertEqual(summary.blankLines, 1, "a blank line is skipped, not rejected")
        let rejects = readFile(dir + "/rejects.tsv")!.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(rejects.count, 3)
        XCTAssertEqual(rejects[0], "3\t7\tbad datetime: day 30 out of range for 2014-02\t" + bad1)
        XCTAssertTrue(rejects[1].hasPrefix("5\t31\t"))
        XCTAssertTrue(rejects[1].hasSuffix("\t" + bad2))
        XCTAssertEqual(try rows(dir + "/s.stave").map { $0[0] }, [0, 1, 4])
    }

    /// An input of several 4 MB read blocks (parsed while the block before
    /// is merged): every row arrives once, in order, and bad lines far into
    /// the file keep their exact line numbers, skipped or as the error.
    func testManyBlocksKeepRowsAndLineNumbers() throws {
        let dir = temporaryDirectory(self)
        let events = randomEvents(count: 300_000, customers: 3_000, seed: 31)
        var lines = csvLines(events).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()  // after the last newline
        XCTAssertGreaterThan(lines.reduce(0) { $0 + $1.utf8.count + 1 }, 3 * (4 << 20), "more than three blocks")
        // Bad lines (1-based line numbers) in the first, a middle and the last block.
        let badAt = [7, 131_072, 299_999]
        for l in badAt { lines[l - 1] = "\(l),5,7,\"2014-02-30 00:00:00\",1,\"12345\"" }
        let csv = lines.joined(separator: "\n") + "\n"
        var o = ConvertOptions()
        o.skipBadRows = true
        o.rejectsPath = dir + "/rejects.tsv"
        let input = dir + "/in.csv"
        writeFile(input, csv)
        let summary = try Converter(input: input, output: dir + "/s.stave", options: o).run()
        XCTAssertEqual(summary.rows, events.count - badAt.count)
        let rejected = readFile(dir + "/rejects.tsv")!.split(separator: "\n").map { Int($0.split(separator: "\t")[0])! }
        XCTAssertEqual(rejected, badAt)
        let kept = events.enumerated().filter { !badAt.contains($0.offset + 1) }.map { $0.element }
        XCTAssertEqual(try rows(dir + "/s.stave").map { $0[0] }, kept.map(\.eventID))
        // Strict: the first bad line is the error.
        lines[6] = csvLines([events[6]]).trimmingCharacters(in: .newlines)
        expectCSVError(lines.joined(separator: "\n") + "\n", line: 131_072, column: 12)
        // A line longer than one read (up to 8 MB), so that it cannot end
        // in the block it starts in, in a later block.
        lines[131_071] = csvLines([events[131_071]]).trimmingCharacters(in: .newlines)
        lines[200_000] = String(repeating: "9", count: 9 << 20)
        let tooLong = lines.joined(separator: "\n") + "\n"
        XCTAssertThrowsError(try convert(tooLong, dir: temporaryDirectory(self))) { error in
            guard case let StaveError.csv(_, line, _, message, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 200_001, message)
            XCTAssertTrue(message.contains("longer than"), message)
        }
    }

    func testMaxErrorsStops() {
        let dir = temporaryDirectory(self)
        var o = ConvertOptions()
        o.skipBadRows = true
        o.maxErrors = 2
        let csv = good + "x\n" + good.replacingOccurrences(of: "0,48", with: "7,48") + "y\n"
        XCTAssertThrowsError(try convert(csv, dir: dir, options: o)) { e in
            guard case .tooManyBadRows(let f, let count, let first)? = e as? StaveError else { return XCTFail("\(e)") }
            XCTAssertEqual(f, dir + "/t.csv")
            XCTAssertEqual(count, 2)
            XCTAssertEqual(first.count, 2)
            XCTAssertTrue(first[0].hasPrefix(dir + "/t.csv:"), first[0])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/t.stave"))
    }

    func testOutputExistsUnlessForced() throws {
        let dir = temporaryDirectory(self)
        try convert(good, dir: dir)
        XCTAssertThrowsError(try convert(good, dir: dir)) { XCTAssertEqual($0 as? StaveError, .outputExists(path: dir + "/t.stave")) }
        var o = ConvertOptions()
        o.force = true
        XCTAssertNoThrow(try convert(good + "9,9,9,\"2014-10-01 00:00:00\",1,\"00001\"\n", dir: dir, options: o))
        XCTAssertEqual(try Store.open(dir + "/t.stave").rowCount, 3)
    }

    /// A row keeps datetime, zip and mobile in one packed word: every field
    /// reads back what was set, at both ends of its domain and after
    /// setting the others.
    func testEventRowPackingKeepsEachField() {
        XCTAssertEqual(MemoryLayout<EventRow>.stride, 24)
        let times = [CivilTime.minSeconds, CivilTime.maxSeconds, 0, -1, 1_414_034_780]
        for t in times {
            for z: UInt32 in [0, 1, 65_536, 99_999] {
                for m: UInt8 in [0, 1, 255] {
                    var r = EventRow(eventID: -5, customerID: 7, trackID: 9, datetime: t, mobile: m, zip: z)
                    XCTAssertEqual([r.datetime, Int64(r.zip), Int64(r.mobile), r.eventID], [t, Int64(z), Int64(m), -5])
                    r.zip = 12_345
                    XCTAssertEqual([r.datetime, Int64(r.zip), Int64(r.mobile)], [t, 12_345, Int64(m)])
                    r.datetime = CivilTime.maxSeconds - t + CivilTime.minSeconds
                    XCTAssertEqual([r.datetime, Int64(r.zip), Int64(r.mobile)], [CivilTime.maxSeconds - t + CivilTime.minSeconds, 12_345, Int64(m)])
                    r.mobile = 1
                    XCTAssertEqual([r.datetime, Int64(r.zip), Int64(r.mobile)], [CivilTime.maxSeconds - t + CivilTime.minSeconds, 12_345, 1])
                }
            }
        }
    }

    /// Many parts (small buffer), values at the ends of their domains,
    /// duplicate event ids: every row comes back exactly once.
    func testManyPartsAndExtremeValuesRoundTrip() throws {
        let dir = temporaryDirectory(self)
        var events = randomEvents(count: 5000, customers: 50, seed: 1)
        events.append(EventRow(eventID: Int64.max, customerID: UInt32.max, trackID: UInt32.max, datetime: seconds("9999-12-31 23:59:59"), mobile: 1, zip: 99999))
        events.append(EventRow(eventID: 0, customerID: 0, trackID: 0, datetime: seconds("0001-01-01 00:00:00"), mobile: 0, zip: 0))
        var o = ConvertOptions()
        o.bufferRows = 777
        o.allowDuplicateIDs = true   // event id 0 twice, kept
        let store = try convert(csvLines(events), dir: dir, options: o)
        let s = try Store.open(store)
        XCTAssertEqual(s.parts.count, 7)
        let back = try rows(store)
        let expected = events.map { [$0.eventID, Int64($0.customerID), Int64($0.trackID), $0.datetime, Int64($0.mobile), Int64($0.zip)] }
            .sorted { ($0[0], $0[3], $0[1]) < ($1[0], $1[3], $1[1]) }
        XCTAssertEqual(back.sorted { ($0[0], $0[3], $0[1]) < ($1[0], $1[3], $1[1]) }, expected)
    }

    /// An input of several buffers: full buffers are spilled on another
    /// thread while parsing goes on, then laid out as one run whose parts
    /// reach the sink one at a time, each a customer range after the
    /// previous one; a failed write is the conversion's error and stops it;
    /// once ingest has returned nothing writes any more (an abort may remove
    /// the files) and no spill is left behind.
    func testOverlappedFlushesKeepOrderAndReportErrors() throws {
        final class SlowSink: PartSink, @unchecked Sendable {
            // @unchecked Sendable: every field is guarded by `lock`.
            let lock = NSLock()
            var parts: [[Int64]] = []
            var customers: [ClosedRange<Int64>] = []
            var active = 0, maxActive = 0, calls = 0
            let failAt: Int?
            let scratchDirectory: String
            init(failAt: Int?, scratch: String) { self.failAt = failAt; scratchDirectory = scratch }
            func addPart(groupCount: Int, makeGroup: @escaping @Sendable (Int) -> RowGroupColumns) throws {
                lock.lock(); active += 1; maxActive = max(maxActive, active); calls += 1; let call = calls; lock.unlock()
                defer { lock.lock(); active -= 1; lock.unlock() }
                usleep(20_000)  // a slow disk: parsing runs ahead meanwhile
                var ids: [Int64] = [], cs: [Int64] = []
                for g in 0..<groupCount { let c = makeGroup(g).columns; ids += c[EventsSchema.eventID]; cs += c[EventsSchema.customerID] }
                if call == failAt { throw StaveError.io(path: "part \(call)", operation: "write", errno: ENOSPC) }
                lock.lock(); parts.append(ids.sorted()); customers.append(cs.min()!...cs.max()!); lock.unlock()
            }
        }
        let dir = temporaryDirectory(self)
        let input = dir + "/t.csv"
        writeFile(input, csvLines(randomEvents(count: 5_000, customers: 30, seed: 9)))
        var o = ConvertOptions()
        o.bufferRows = 700
        XCTAssertTrue(o.overlapFlushes, "on by default")
        let scratch = dir + "/scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        func spillsLeft() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? [] }
        let good = SlowSink(failAt: nil, scratch: scratch)
        let summary = try Converter(input: input, output: dir + "/x.stave", options: o).ingest(into: good) {}
        XCTAssertEqual(summary.parts, good.parts.count)
        XCTAssertGreaterThanOrEqual(summary.parts, 6)
        XCTAssertEqual(good.maxActive, 1, "one write at a time")
        XCTAssertEqual(good.parts.flatMap { $0 }.sorted(), (0..<5_000).map { Int64($0) }, "every row once")
        for k in good.customers.indices.dropFirst() {
            XCTAssertLessThan(good.customers[k - 1].upperBound, good.customers[k].lowerBound, "customer ranges in order, disjoint")
        }
        XCTAssertEqual(spillsLeft(), [])
        let bad = SlowSink(failAt: 3, scratch: scratch)
        XCTAssertThrowsError(try Converter(input: input, output: dir + "/y.stave", options: o).ingest(into: bad) {}) { e in
            XCTAssertEqual("\(e)", "\(StaveError.io(path: "part 3", operation: "write", errno: ENOSPC))")
        }
        bad.lock.lock()
        let (calls, active) = (bad.calls, bad.active)
        bad.lock.unlock()
        XCTAssertEqual(calls, 3, "no part after the failed one")
        XCTAssertEqual(active, 0, "nothing in flight after ingest returned")
        usleep(100_000)
        bad.lock.lock(); XCTAssertEqual(bad.calls, 3); bad.lock.unlock()
        XCTAssertEqual(spillsLeft(), [])
        // A malformed line while a part is being written: the parse error
        // is the result, after that write has finished.
        // (Past the first 4 MB read block, so that parts are written first.)
        writeFile(input, csvLines(randomEvents(count: 120_000, customers: 300, seed: 10)) + "oops\n")
        o.bufferRows = 10_000
        let slow = SlowSink(failAt: nil, scratch: scratch)
        XCTAssertThrowsError(try Converter(input: input, output: dir + "/z.stave", options: o).ingest(into: slow) {}) { e in
            XCTAssertTrue("\(e)".contains(":120001:"), "\(e)")
        }
        // The buffers went to spills, which are gone: no part was written.
        usleep(200_000)
        slow.lock.lock(); XCTAssertEqual(slow.calls, 0); slow.lock.unlock()
        XCTAssertEqual(spillsLeft(), [], "the spill in flight finished and every spill was removed before ingest returned")
    }

    /// Rows are ordered by (month, customer, input order); the input's
    /// event ids are its line numbers, so within a month and customer they
    /// ascend, which is what lets event_id take DELTA_RUNS.
    func testPartRowOrderIsMonthCustomerInput() throws {
        let dir = temporaryDirectory(self)
        let s = try Store.open(try convert(csvLines(randomEvents(count: 3000, customers: 40, seed: 2)), dir: dir))
        var seen = 0
        for part in s.parts {
            var previous: (Int64, Int64, Int64)?
            for g in part.footer.rowGroups.indices {
                let e = try part.chunk(rowGroup: g, column: 0).decodeAll()
                let c = try part.chunk(rowGroup: g, column: 1).decodeAll()
                let t = try part.chunk(rowGroup: g, column: 3).decodeAll()
                for i in c.indices {
                    let key = (CivilTime.monthIndex(of: t[i]), c[i], e[i])
                    if let p = previous { XCTAssertTrue(p < key, "\(p) before \(key)") }
                    previous = key
                    seen += 1
                }
            }
        }
        XCTAssertEqual(seen, 3000)
    }

    /// The radix sort against a stable library sort: keys of every width
    /// (one pass to three), many equal keys, all keys equal, and tiny inputs.
    func testRadixSortIsAStableSort() {
        var rng = TestRNG(21)
        for (n, width) in [(0, 8), (1, 8), (2, 1), (1000, 1), (5000, 11), (5000, 12), (5000, 13), (5000, 22), (20_000, 23), (20_000, 32), (3000, 0)] {
            var keys = (0..<n).map { _ in width == 0 ? 0 : UInt32(truncatingIfNeeded: rng.next() >> UInt64(64 - width)) }
            if n > 10 { for i in stride(from: 0, to: n, by: 7) { keys[i] = keys[i / 2] } }   // duplicates
            var values = (0..<n).map { UInt32($0) }
            let expected = zip(keys, values).sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            RadixSort.sort(keys: &keys, values: &values)
            XCTAssertEqual(keys, expected.map(\.0), "n \(n) width \(width)")
            XCTAssertEqual(values, expected.map(\.1), "stable: n \(n) width \(width)")
        }
    }

    /// Blocks over 256 KB are parsed by several threads: errors and rejects
    /// must keep exact line numbers and file order across the split points.
    func testParallelParsingKeepsLineNumbersAndOrder() throws {
        let events = randomEvents(count: 30_000, customers: 100, seed: 31)
        var lines = csvLines(events).split(separator: "\n").map(String.init)
        let badLines = [2, 9_000, 15_001, 15_002, 29_999]     // 1-based line numbers
        for l in badLines { lines[l - 1] = "bad\(l),1,1,\"2014-10-01 00:00:00\",1,\"00001\"" }
        let csv = lines.joined(separator: "\n") + "\n"
        XCTAssertGreaterThan(csv.utf8.count, 1 << 20)
        let dir = temporaryDirectory(self)
        // Strict: the first bad line in the file, whichever thread saw it.
        var strictLines = lines
        strictLines[1] = csvLines([events[1]]).trimmingCharacters(in: .newlines)
        writeFile(dir + "/strict.csv", strictLines.joined(separator: "\n") + "\n")
        XCTAssertThrowsError(try Converter(input: dir + "/strict.csv", output: dir + "/s.stave", options: ConvertOptions()).run()) {
            guard case let StaveError.csv(_, line, column, _, field) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(line, 9_000)
            XCTAssertEqual(column, 1)
            XCTAssertEqual(field, "bad9000")
        }
        // Skipping: every bad line, in order, with its number; every good row kept.
        var o = ConvertOptions()
        o.skipBadRows = true
        o.rejectsPath = dir + "/rejects.tsv"
        o.bufferRows = 7_000
        writeFile(dir + "/skip.csv", csv)
        let summary = try Converter(input: dir + "/skip.csv", output: dir + "/k.stave", options: o).run()
        XCTAssertEqual(summary.rows, 30_000 - badLines.count)
        XCTAssertEqual(summary.parts, 5)
        let rejects = readFile(dir + "/rejects.tsv")!.split(separator: "\n").map { Int($0.split(separator: "\t")[0])! }
        XCTAssertEqual(rejects, badLines)
        let kept = Set(try rows(dir + "/k.stave").map { $0[0] })
        XCTAssertEqual(kept, Set((0..<30_000).filter { !badLines.contains($0 + 1) }.map(Int64.init)))
    }
}

/// The export-shape fast path must agree with the general parser on every
/// line: same row when it accepts, and it must accept every line of the
/// exact shape the general parser accepts whose ids have at most 19 (event
/// id) and 10 digits (longer ones, zero-padded, take the general path) and
/// whose datetime lies in CivilTime's table years (1900-2155).
final class FastPathTests: XCTestCase {
    func testFastPathAgreesWithGeneralParser() {
        var rng = TestRNG(77)
        let good = csvLines(randomEvents(count: 3000, customers: 40, seed: 5)).split(separator: "\n").map(String.init)
            + ["18446744073709551615,1,1,\"2014-10-01 00:00:00\",1,\"00001\"", "9223372036854775807,4294967295,4294967295,\"9999-12-31 23:59:59\",0,\"99999\"",
               "9223372036854775808,1,1,\"2014-10-01 00:00:00\",1,\"00001\"", "1,4294967296,1,\"2014-10-01 00:00:00\",1,\"00001\"",
               "007,0,0,\"2014-10-01 00:00:00\",1,\"00001\"", ",1,1,\"2014-10-01 00:00:00\",1,\"00001\"",
               // Digit counts at and past the fast path's limits (19 and 10).
               "9999999999999999999,1,1,\"2014-10-01 00:00:00\",1,\"00001\"", "00000000000000000000042,1,1,\"2014-10-01 00:00:00\",1,\"00001\"",
               "1,9999999999,1,\"2014-10-01 00:00:00\",1,\"00001\"", "1,00000000007,00000000000009,\"2014-10-01 00:00:00\",1,\"00001\"",
               "1,1,4294967295,\"1900-02-28 23:59:59\",1,\"00001\"", "1,1,1,\"2155-12-31 23:59:59\",0,\"99999\""]
        let alphabet = Array("0123456789,\":- x\r".utf8)
        var lines = good
        for line in good.prefix(1500) {
            var b = Array(line.utf8)
            switch rng.below(4) {
            case 0: b[rng.below(b.count)] = alphabet[rng.below(alphabet.count)]
            case 1: b.remove(at: rng.below(b.count))
            case 2: b.insert(alphabet[rng.below(alphabet.count)], at: rng.below(b.count + 1))
            default: b = Array(b.prefix(rng.below(b.count + 1)))
            }
            lines.append(String(decoding: b, as: UTF8.self))
        }
        var fastAccepted = 0
        for line in lines {
            Array(line.utf8).withUnsafeBufferPointer { buf in
                let general = EventLineParser.parseGeneral(buf)
                if let fast = EventLineParser.parseExportShape(buf) {
                    fastAccepted += 1
                    XCTAssertEqual(general, .success(fast), line)
                }
                XCTAssertEqual(EventLineParser.parse(buf), general, line)
            }
        }
        XCTAssertGreaterThan(fastAccepted, 3000)
        // The generated shape always takes the fast path.
        for line in good.prefix(3000) {
            XCTAssertNotNil(Array(line.utf8).withUnsafeBufferPointer { EventLineParser.parseExportShape($0) }, line)
        }
    }

    /// The same row or the same error as the general parser, and the fast
    /// path answering; `fast` says whether it must.
    func check(_ line: [UInt8], fast mustAnswer: Bool? = nil, file: StaticString = #filePath, line at: UInt = #line) {
        line.withUnsafeBufferPointer { buf in
            let general = EventLineParser.parseGeneral(buf)
            let fast = EventLineParser.parseExportShape(buf)
            if let fast { XCTAssertEqual(general, .success(fast), String(decoding: line, as: UTF8.self), file: file, line: at) }
            if let mustAnswer { XCTAssertEqual(fast != nil, mustAnswer, String(decoding: line, as: UTF8.self), file: file, line: at) }
            XCTAssertEqual(EventLineParser.parse(buf), general, String(decoding: line, as: UTF8.self), file: file, line: at)
        }
    }

    /// The fast path reads ids eight bytes at a time: every id length from 1
    /// to 21 digits (across the word boundaries at 8 and 16 and the limits
    /// at 10 and 19 digits), with and without leading zeros, at the largest
    /// and smallest values of each length.
    func testIdsOfEveryLength() {
        var rng = TestRNG(91)
        let tail = ",\"2014-10-23 03:26:20\",1,\"07003\""
        func digits(_ count: Int) -> String { (0..<count).map { _ in String(rng.below(10)) }.joined() }
        for length in 1...21 {
            for shape in 0..<4 {
                let id: String
                switch shape {
                case 0: id = digits(length)
                case 1: id = String(repeating: "9", count: length)
                case 2: id = length == 1 ? "0" : "1" + String(repeating: "0", count: length - 1)
                default: id = String(repeating: "0", count: length - 1) + "7"
                }
                let fits19 = length <= 18 || (length == 19 && (shape != 1 && id <= "9223372036854775807"))
                let fits10 = length <= 9 || (length == 10 && id <= "4294967295")
                check(Array((id + ",5,6" + tail).utf8), fast: fits19)
                check(Array(("5," + id + ",6" + tail).utf8), fast: fits10)
                check(Array(("5,6," + id + tail).utf8), fast: fits10)
                check(Array((id + "," + id + "," + id + tail).utf8), fast: fits19 && fits10)
            }
        }
    }

    /// Every byte of a line of the export shape replaced by each byte that
    /// borders the tests of the word-at-a-time checks (just below and above
    /// the digits, the separators, the high bit), and every byte removed.
    func testEveryByteOfTheShapeReplaced() {
        let lines = ["1234567890,123456,1234567,\"2014-10-23 03:26:20\",1,\"07003\"",
                     "7,0,42,\"1999-02-28 23:59:59\",0,\"99999\"",
                     "12345678,12345678,12345678,\"2000-02-29 00:00:00\",1,\"00000\""]
        let bytes: [UInt8] = [0x00, 0x0D, 0x20, 0x22, 0x2C, 0x2D, 0x2F, 0x30, 0x31, 0x32, 0x39, 0x3A, 0x54, 0x7F, 0x80, 0xAF, 0xB0, 0xFF]
        for text in lines {
            let line = Array(text.utf8)
            check(line, fast: true)
            for k in line.indices {
                for b in bytes {
                    var changed = line
                    changed[k] = b
                    check(changed)
                }
                var shorter = line
                shorter.remove(at: k)
                check(shorter)
            }
        }
    }

    /// The tail's word templates are the constants the fast path uses.
    func testTailTemplates() {
        typealias T = EventLineParser.Template
        func word(_ template: String) -> (fixed: UInt64, bytes: UInt64) {
            var fixed: UInt64 = 0, bytes: UInt64 = 0
            for (k, c) in template.utf8.enumerated() where c != UInt8(ascii: "D") {
                fixed |= 0xFF << (8 * UInt64(k))
                bytes |= UInt64(c) << (8 * UInt64(k))
            }
            return (fixed, bytes)
        }
        // The 31-byte tail `"YYYY-MM-DD HH:MM:SS",m,"ddddd"` at offsets 0, 8, 16 and 23.
        let tail = Array("\"DDDD-DD-DD DD:DD:DD\",D,\"DDDDD\"".utf8)
        XCTAssertEqual(tail.count, 31)
        let words = [0, 8, 16, 23].map { word(String(decoding: tail[$0..<($0 + 8)], as: UTF8.self)) }
        XCTAssertEqual(words[0].fixed, T.fixedA); XCTAssertEqual(words[0].bytes, T.bytesA)
        XCTAssertEqual(words[1].fixed, T.fixedB); XCTAssertEqual(words[1].bytes, T.bytesB)
        XCTAssertEqual(words[2].fixed, T.fixedC); XCTAssertEqual(words[2].bytes, T.bytesC)
        XCTAssertEqual(words[3].fixed, T.fixedD); XCTAssertEqual(words[3].bytes, T.bytesD)
        // Eight digits of every value at each decimal magnitude.
        for v: UInt64 in [0, 1, 9, 10, 99, 12_345_678, 99_999_999, 10_000_000, 7_000_001] {
            let text = Array(String(v).utf8)
            var x: UInt64 = 0
            for (k, c) in text.enumerated() { x |= UInt64(c - 48) << (8 * UInt64(8 - text.count + k)) }
            XCTAssertEqual(T.eightDigits(x), v)
        }
    }
}
