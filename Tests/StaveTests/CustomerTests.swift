import Foundation
import XCTest
@testable import StaveFormat
@testable import StaveIO
@testable import StaveIngest
@testable import StaveQuery
import StaveReports

/// A customer as the test means it (the naive side of every comparison).
struct TestCustomer: Equatable {
    var id: UInt32
    var name: String
    var gender: Int
    var address: String
    var zip: Int
    var sign: (y: Int, m: Int, d: Int)
    var status: Int
    var level: Int
    var campaign: Int
    var linked: Int

    static func == (a: TestCustomer, b: TestCustomer) -> Bool {
        a.id == b.id && a.name == b.name && a.gender == b.gender && a.address == b.address && a.zip == b.zip
            && a.sign == b.sign && a.status == b.status && a.level == b.level && a.campaign == b.campaign && a.linked == b.linked
    }

    var zipText: String { String(format: "%05d", zip) }
    var isoDate: String { String(format: "%04d-%02d-%02d", sign.y, sign.m, sign.d) }

    /// One line in the original export's shape: strings quoted ("" for a
    /// quote), numbers bare, date MM/DD/YYYY.
    var exportLine: String {
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        return "\(id),\(q(name)),\(gender),\(q(address)),\(q(zipText)),\(q(String(format: "%02d/%02d/%04d", sign.m, sign.d, sign.y))),\(status),\(level),\(campaign),\(linked)"
    }
}

func exportCSV(_ customers: [TestCustomer], header: Bool = true) -> String {
    (header ? "CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,LinkedWithApps\r\n" : "")
        + customers.map { $0.exportLine + "\r\n" }.joined()
}

/// Customers for the ids of `randomEvents` (c * 7 + 3): every tenth is left
/// out of the table, and ids that have no events (c * 7 + 4) are added.
func testCustomers(eventCustomers: Int, seed: UInt64) -> [TestCustomer] {
    var rng = TestRNG(seed)
    let first = ["Ann", "Bo", "Chloé", "D'Arcy \"DJ\"", "Eve, Jr.", ""]
    var out: [TestCustomer] = []
    for c in 0..<eventCustomers {
        for id in [c * 7 + 3, c * 7 + 4] {
            if id % 7 == 3 && c % 10 == 9 { continue }      // has events, not in the table
            if id % 7 == 4 && c % 3 != 0 { continue }       // in the table, no events
            out.append(TestCustomer(id: UInt32(id), name: first[rng.below(first.count)] + " \(id)", gender: rng.below(2),
                                    address: "\(rng.below(20000)) Easy Gate Bend", zip: rng.below(4) == 0 ? rng.below(10000) : rng.below(100_000),
                                    sign: (2011 + rng.below(3), 1 + rng.below(12), 1 + rng.below(28)), status: rng.below(10) == 0 ? 0 : 1,
                                    level: [0, 0, 0, 1, 1, 2][rng.below(6)], campaign: rng.below(5), linked: rng.below(2)))
        }
    }
    return out.shuffled(using: &rng)
}

extension TestRNG: RandomNumberGenerator {}

final class CustomerParserTests: XCTestCase {
    func load(_ text: String, options: CustomerLoadOptions = CustomerLoadOptions()) throws -> CustomerLoadResult {
        let dir = temporaryDirectory(self)
        writeFile(dir + "/cust.csv", text)
        return try CustomerLoader.load(path: dir + "/cust.csv", options: options)
    }

    func assertCSVError(_ text: String, line: Int, column: Int, contains: String, file: StaticString = #filePath, fileLine: UInt = #line) {
        XCTAssertThrowsError(try load(text), file: file, line: fileLine) { e in
            guard case let StaveError.csv(_, l, c, message, _) = e else { return XCTFail("\(e)", file: file, line: fileLine) }
            XCTAssertEqual(l, line, message, file: file, line: fileLine)
            XCTAssertEqual(c, column, message, file: file, line: fileLine)
            XCTAssertTrue(message.contains(contains), message, file: file, line: fileLine)
        }
    }

    func testRealExportShape() throws {
        // The published lines, CRLF, with a header.
        let text = "CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,LinkedWithApps\r\n"
            + "0,\"Gregory Koval\",0,\"13004 Easy Cider Point\",\"72132\",\"06/04/2013\",1,1,1,0\r\n"
            + "2,\"Paula Peltier\",0,\"10084 Easy Gate Bend\",\"04216\",\"01/13/2013\",1,0,4,1\r\n"
        let r = try load(text).table
        XCTAssertEqual(r.ids, [0, 2])
        XCTAssertEqual(r.zip, [72132, 4216])
        XCTAssertEqual(r.signDate.map(CivilTime.formatDate), ["2013-06-04", "2013-01-13"])
        XCTAssertEqual(r.level, [1, 0])
        XCTAssertEqual(r.campaign, [1, 4])
        XCTAssertEqual(r.linked, [0, 1])
        XCTAssertEqual(String(decoding: r.names.bytes, as: UTF8.self), "Gregory KovalPaula Peltier")
        XCTAssertEqual(r.names.lengths, [13, 13])
    }

    func testWithoutHeaderLFAndNamesAndISODates() throws {
        let text = "5,\"Smith, \"\"Jo\"\"\",1,\"1 Rue\",\"00501\",\"2012-02-29\",0,Gold,WEBOFFER,1\n3,Zoë,0,x,99999,12/31/2011,1,silver,30dayfree,0"
        let r = try load(text).table
        XCTAssertEqual(r.ids, [3, 5])   // sorted by id
        XCTAssertEqual(String(decoding: r.names.bytes, as: UTF8.self), "ZoëSmith, \"Jo\"")
        XCTAssertEqual(r.level, [1, 2])
        XCTAssertEqual(r.campaign, [1, 4])
        XCTAssertEqual(r.signDate.map(CivilTime.formatDate), ["2011-12-31", "2012-02-29"])
    }

    func testErrorsNameLineAndColumn() {
        let h = "CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,LinkedWithApps\r\n"
        let good = "1,\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,1,1,0\r\n"
        assertCSVError(h + good + "2,\"A\",0,\"B\",\"1234\",\"01/02/2013\",1,1,1,0\r\n", line: 3, column: 13, contains: "zip")
        assertCSVError(h + good + "2,\"A\",0,\"B\",\"01234\",\"02/30/2013\",1,1,1,0\r\n", line: 3, column: 21, contains: "day 30")
        assertCSVError(h + good + "2,\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,3,1,0\r\n", line: 3, column: 36, contains: "Level")
        assertCSVError(h + good + "2,\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,1,9,0\r\n", line: 3, column: 38, contains: "Campaign")
        assertCSVError(h + good + "2,\"A\",2,\"B\",\"01234\",\"01/02/2013\",1,1,1,0\r\n", line: 3, column: 7, contains: "Gender")
        assertCSVError(h + good + "2,\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,1,1\r\n", line: 3, column: 39, contains: "expected 10 fields, found 9")
        assertCSVError(h + good + "2,\"A,0,B,01234,01/02/2013,1,1,1,0\r\n", line: 3, column: 3, contains: "unclosed quote")
        assertCSVError(h + good + "x2,\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,1,1,0\r\n", line: 3, column: 1, contains: "CustID")
        assertCSVError("Id,Name\r\n" + good, line: 1, column: 1, contains: "header does not match")
    }

    func testDuplicateIDNamesBothLines() {
        let row = { (id: Int) in "\(id),\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,1,1,0\r\n" }
        assertCSVError(row(7) + row(8) + row(9) + row(8), line: 4, column: 1, contains: "duplicate customer id 8 (first on line 2)")
    }

    func testSkipBadRowsWritesRejectsInLineOrder() throws {
        let dir = temporaryDirectory(self)
        let row = { (id: String, level: String) in "\(id),\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,\(level),1,0\r\n" }
        writeFile(dir + "/c.csv", row("4", "1") + row("5", "7") + row("4", "2") + row("6", "0"))
        var o = CustomerLoadOptions()
        o.skipBadRows = true
        o.rejectsPath = dir + "/rejects.tsv"
        let r = try CustomerLoader.load(path: dir + "/c.csv", options: o)
        XCTAssertEqual(r.table.ids, [4, 6])
        XCTAssertEqual(r.table.level, [1, 0])   // the first line with id 4 wins
        XCTAssertEqual(r.rejected, 2)
        let lines = readFile(dir + "/rejects.tsv")!.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("2\t36\tLevel"), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("3\t1\tduplicate customer id 4 (first on line 1)\t4,\"A\""), lines[1])
    }
}

final class CustomerStoreTests: XCTestCase {
    /// Events, a cust.csv with missing and event-less customers, and a store.
    func fixture(events: Int = 30_000, customers: Int = 400) throws -> (rows: [EventRow], custs: [TestCustomer], store: Store, dir: String) {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: events, customers: customers, seed: 11)
        let custs = testCustomers(eventCustomers: customers, seed: 12)
        writeFile(dir + "/cust.csv", exportCSV(custs))
        var o = ConvertOptions()
        o.customersPath = dir + "/cust.csv"
        o.bufferRows = events / 3 + 1   // several parts: customers spread across them
        let path = try convert(csvLines(rows), dir: dir, options: o)
        return (rows, custs, try Store.open(path), dir)
    }

    func testTableRoundTripsExactly() throws {
        let f = try fixture()
        let t = try XCTUnwrap(try CustomerTable.load(f.store))
        let expected = f.custs.sorted { $0.id < $1.id }
        XCTAssertEqual(t.count, expected.count)
        for (r, c) in expected.enumerated() {
            let (y, m, d) = CivilTime.civilFromDays(t.signDate[r])
            let got = TestCustomer(id: t.ids[r], name: try t.name(r), gender: Int(t.gender[r]), address: try t.address(r), zip: Int(t.zip[r]),
                                   sign: (Int(y), Int(m), Int(d)), status: Int(t.status[r]), level: Int(t.level[r]),
                                   campaign: Int(t.campaign[r]), linked: Int(t.linked[r]))
            XCTAssertEqual(got, c)
            XCTAssertEqual(t.row(of: c.id), r)
        }
        XCTAssertNil(t.row(of: 3 + 7 * 9))   // left out of the table on purpose
        XCTAssertNil(t.row(of: UInt32.max))
        XCTAssertTrue(Verifier.verify(f.store.path).isSound)
    }

    func testManyRowGroupsAndSparseIDs() throws {
        // More customers than one row group holds, ids far apart (binary search path).
        var table = CustomerColumns()
        let n = FormatConstants.maxRowGroupRows + 1000
        for i in 0..<n {
            table.ids.append(Int64(i) * 60_013)
            table.names.append("n\(i)")
            table.address.append(i % 2 == 0 ? "" : "a\(i)")
            table.gender.append(Int64(i % 2)); table.zip.append(Int64(i % 100_000)); table.signDate.append(Int64(15_000 + i % 1000))
            table.status.append(1); table.level.append(Int64(i % 3)); table.campaign.append(Int64(i % 5)); table.linked.append(0)
        }
        let dir = temporaryDirectory(self)
        let path = try convert("", dir: dir)
        _ = try StoreEditor.replaceCustomers(store: path, table: table, policy: CompressionPolicy())
        let t = try XCTUnwrap(try CustomerTable.load(try Store.open(path)))
        XCTAssertTrue(t.dense.isEmpty)
        XCTAssertEqual(t.count, n)
        for i in [0, 1, 65_535, 65_536, n - 1] {
            XCTAssertEqual(t.row(of: UInt32(i * 60_013)), i)
            XCTAssertEqual(try t.name(i), "n\(i)")
            XCTAssertEqual(try t.address(i), i % 2 == 0 ? "" : "a\(i)")
        }
        XCTAssertNil(t.row(of: 60_012))
        XCTAssertTrue(Verifier.verify(path).isSound)
    }

    func testReplaceIsAtomicAndLocked() throws {
        let f = try fixture(events: 2000, customers: 50)
        let before = f.store.manifest
        XCTAssertEqual(before.customers?.name, "customers-000001.stp")
        var table = CustomerColumns()
        table.ids = [1]; table.names.append("X"); table.address.append("Y"); table.gender = [0]; table.zip = [501]
        table.signDate = [0]; table.status = [1]; table.level = [2]; table.campaign = [0]; table.linked = [1]
        // A second writer holding the lock: a clear error, nothing changed.
        let lock = try XCTUnwrap(try Sys.tryLock(f.store.path + "/LOCK"))
        XCTAssertThrowsError(try StoreEditor.replaceCustomers(store: f.store.path, table: table, policy: CompressionPolicy())) { e in
            XCTAssertTrue("\(e)".contains("another stave process"), "\(e)")
        }
        Sys.close(lock)
        XCTAssertEqual(try Store.open(f.store.path).manifest, before)
        _ = try StoreEditor.replaceCustomers(store: f.store.path, table: table, policy: CompressionPolicy())
        let after = try Store.open(f.store.path)
        XCTAssertEqual(after.manifest.generation, before.generation + 1)
        XCTAssertEqual(after.manifest.parts, before.parts)
        // A number never used before (the parts took 1...3).
        XCTAssertEqual(after.manifest.customers?.name, "customers-\(String(format: "%06d", before.nextNumber)).stp")
        XCTAssertEqual(after.manifest.nextNumber, before.nextNumber + 1)
        XCTAssertEqual(Sys.kind(f.store.path + "/customers-000001.stp"), .missing)
        let t = try XCTUnwrap(try CustomerTable.load(after))
        XCTAssertEqual(t.ids, [1])
        XCTAssertEqual(try t.name(0), "X")
        XCTAssertTrue(Verifier.verify(f.store.path).isSound)
    }
}

// MARK: - Queries against naive references

final class CustomerQueryTests: XCTestCase {
    var rows: [EventRow] = []
    var custs: [TestCustomer] = []
    var store: Store!
    var table: CustomerTable!

    override func setUpWithError() throws {
        let dir = temporaryDirectory(self)
        rows = randomEvents(count: 40_000, customers: 500, seed: 21)
        // Some zips with leading zeros and heavy repeats.
        for i in stride(from: 0, to: rows.count, by: 3) { rows[i].zip = UInt32(i % 7 == 0 ? 501 : 4042 + (i % 5)) }
        custs = testCustomers(eventCustomers: 500, seed: 22)
        byID = Dictionary(uniqueKeysWithValues: custs.map { ($0.id, $0) })
        writeFile(dir + "/cust.csv", exportCSV(custs))
        var o = ConvertOptions()
        o.customersPath = dir + "/cust.csv"
        o.bufferRows = 15_000
        store = try Store.open(try convert(csvLines(rows), dir: dir, options: o))
        table = try XCTUnwrap(try CustomerTable.load(store))
    }

    var byID: [UInt32: TestCustomer] = [:]
    func customer(_ id: UInt32) -> TestCustomer? { byID[id] }

    func label(_ c: TestCustomer, _ key: BreakdownKey) -> String {
        switch key {
        case .level: return ["Free", "Silver", "Gold"][c.level]
        case .campaign: return ["NONE", "30DAYFREE", "SUPERBOWL", "RETAILSTORE", "WEBOFFER"][c.campaign]
        case .gender: return String(c.gender)
        case .status: return String(c.status)
        case .linkedWithApps: return String(c.linked)
        case .signMonth: return String(c.isoDate.prefix(7))
        }
    }

    func hour(_ r: EventRow) -> Int { Int(CivilTime.format(r.datetime).dropFirst(11).prefix(2))! }

    func inRange(_ r: EventRow, _ f: QueryFilter) -> Bool {
        (f.from.map { r.datetime >= $0 } ?? true) && (f.to.map { r.datetime < $0 } ?? true)
    }

    /// Zips ranked the obvious way, from rows kept by `keep`, with sets.
    func referenceTopZips(_ events: [EventRow], _ f: QueryFilter, keep: (EventRow) -> Bool = { _ in true }) -> [ZipRow] {
        var acc: [UInt32: (events: Int64, mobile: Int64, customers: Set<UInt32>)] = [:]
        for r in events where inRange(r, f) && (f.customers.map { $0.contains(r.customerID) } ?? true) && keep(r) {
            var x = acc[r.zip, default: (0, 0, [])]
            x.events += 1
            x.mobile += Int64(r.mobile)
            x.customers.insert(r.customerID)
            acc[r.zip] = x
        }
        return acc.map { ZipRow(zip: $0.key, events: $0.value.events, customers: $0.value.customers.count, mobileEvents: $0.value.mobile) }
            .sorted { $0.events != $1.events ? $0.events > $1.events : $0.zip < $1.zip }
    }

    func testBreakdownMatchesReference() throws {
        let filters = [QueryFilter(), QueryFilter(from: seconds("2014-11-01"), to: seconds("2014-11-20 12:00:00"))]
        let attribute = [CustomerFilter(), CustomerFilter(levels: [2, 1], statuses: [1])]
        for key in BreakdownKey.allCases {
            for f in filters {
                for cf in attribute {
                    let got = try Queries.breakdown(store, table: table, by: key, filter: cf.apply(to: f, table: table), threads: 2)
                    // Summed over many small slices of the walk: the same rows.
                    XCTAssertEqual(try Queries.breakdown(store, table: table, by: key, filter: cf.apply(to: f, table: table), threads: 2,
                                                         fusedFrom: 0, sliceRows: 997), got, "slices: \(key) \(f) \(cf)")
                    XCTAssertNotNil(try FusedProfile.slices(store: store, filter: cf.apply(to: f, table: table), minRows: 0, sliceRows: 997),
                                    "the walk applies")
                    // Reference: dictionaries over the test's own customers and rows.
                    func passes(_ c: TestCustomer?) -> Bool {
                        guard !cf.isEmpty else { return true }
                        guard let c else { return false }
                        return (cf.levels?.contains(UInt8(c.level)) ?? true) && (cf.statuses?.contains(UInt8(c.status)) ?? true)
                    }
                    var expected: [String: BreakdownRow] = [:]
                    func blank(_ g: String) -> BreakdownRow {
                        BreakdownRow(group: g, customers: 0, activeCustomers: 0, events: 0, sums: [Int64](repeating: 0, count: 7))
                    }
                    for c in custs where passes(c) { expected[label(c, key), default: blank(label(c, key))].customers += 1 }
                    let kept = rows.filter { inRange($0, f) && passes(customer($0.customerID)) }
                    let p = referenceProfile(kept)
                    for i in 0..<p.count {
                        let g = customer(p.customer[i]).map { label($0, key) } ?? "unknown"
                        var row = expected[g, default: blank(g)]
                        row.activeCustomers += 1
                        row.events += p.total(i)
                        let values = [p.uniqueTracks[i], p.morning[i], p.afternoon[i], p.evening[i], p.night[i], p.mobile[i], p.total(i)]
                        for k in 0..<7 { row.sums[k] += values[k] }
                        expected[g] = row
                    }
                    XCTAssertEqual(Dictionary(uniqueKeysWithValues: got.map { ($0.group, $0) }), expected, "\(key) \(f) \(cf)")
                    // unknown comes last; the other groups in code order.
                    if got.contains(where: { $0.group == "unknown" }) { XCTAssertEqual(got.last?.group, "unknown") }
                    XCTAssertEqual(got.reduce(0) { $0 + $1.events }, Int64(kept.count), "no event dropped")
                }
            }
        }
        // The unknown group exists here: every tenth event customer is not in cust.csv.
        let all = try Queries.breakdown(store, table: table, by: .level, filter: QueryFilter(), threads: 1)
        XCTAssertEqual(all.map(\.group), ["Free", "Silver", "Gold", "unknown"])
        XCTAssertEqual(all.last?.customers, 0)
        XCTAssertGreaterThan(all.last?.activeCustomers ?? 0, 0)
        // Customers without events count in `customers` only.
        XCTAssertGreaterThan(all[0].customers, all[0].activeCustomers)
    }

    /// Customers listening mostly from a home zip: zip chunks come out RLE
    /// and top zips counts them run by run. Against the reference, over
    /// full, partial and one-month windows, a customer filter (rows packed,
    /// counted row by row), several parts and 1 to 3 threads.
    func testTopZipsByZipRunsMatchReference() throws {
        let dir = temporaryDirectory(self)
        var rng = TestRNG(23)
        var events = randomEvents(count: 30_000, customers: 400, seed: 24)
        for i in events.indices where rng.below(5) != 0 { events[i].zip = (events[i].customerID * 7919) % 100_000 }
        var o = ConvertOptions()
        o.bufferRows = 12_000
        let s = try Store.open(try convert(csvLines(events), dir: dir, options: o))
        XCTAssertGreaterThan(s.parts.count, 1)
        let loaded = try RowGroupData.loadAll(store: s, filter: QueryFilter(), threads: 2, columns: LoadColumns(tracks: false, zips: true, dayParts: false))
        XCTAssertTrue(loaded.allSatisfy { $0.zipRuns != nil && $0.zips.isEmpty }, "RLE zips stay runs")
        // Home zips 80% of the time: the writer picks PATCHED_RLE, whose
        // exceptions become runs of their own (and rows, with a customer filter).
        let zipEncodings = Set(s.parts.flatMap { $0.footer.rowGroups.map { $0.chunks[EventsSchema.zip].encoding } })
        XCTAssertTrue(zipEncodings.contains(.patchedRLE), "\(zipEncodings)")
        let filters = [QueryFilter(), QueryFilter(from: seconds("2014-11-03 07:30:00"), to: seconds("2014-12-20 01:00:00")),
                       QueryFilter(from: seconds("2014-11-01"), to: seconds("2014-12-01")),
                       QueryFilter(customers: Array(Set(events.prefix(40).map(\.customerID))))]
        for f in filters {
            let expected = referenceTopZips(events, f)
            for threads in [1, 2, 3] {
                for limit in [10, 100_000] {
                    let got = try Queries.topZips(s, filter: f, limit: limit, threads: threads)
                    XCTAssertEqual(got, Array(expected.prefix(limit)), "\(f) threads \(threads) limit \(limit)")
                }
            }
            // A customer range at a time (slices of about 2,000 rows cut
            // through row groups and parts): the same answer.
            for sliceRows in [2_000, 7_000] {
                XCTAssertGreaterThan(RowGroupData.customerSlices(store: s, filter: f, sliceRows: sliceRows).count, f.customers == nil ? 1 : 0)
                let got = try Queries.topZips(s, filter: f, limit: 100_000, threads: 2, sliceRows: sliceRows)
                XCTAssertEqual(got, expected, "\(f) slices of \(sliceRows) rows")
            }
        }
    }

    func testTopZipsMatchReference() throws {
        for f in [QueryFilter(), QueryFilter(from: seconds("2014-12-05 06:00:00"), to: seconds("2014-12-31")),
                  QueryFilter(customers: [3, 10, 17, 4])] {
            for cf in [CustomerFilter(), CustomerFilter(campaigns: [0, 4])] {
                let got = try Queries.topZips(store, filter: cf.apply(to: f, table: table), limit: 25, threads: 2)
                let expected = referenceTopZips(rows, f) { r in
                    guard let cs = cf.campaigns else { return true }
                    guard let c = self.customer(r.customerID) else { return false }
                    return cs.contains(UInt8(c.campaign))
                }
                XCTAssertEqual(got, Array(expected.prefix(25)), "\(f) \(cf)")
            }
        }
        let top = try Queries.topZips(store, filter: QueryFilter(), limit: 1, threads: 1)
        // The heavy zips all have leading zeros; the report keeps them.
        XCTAssertTrue([501, 4042, 4043, 4044, 4045, 4046].contains(top[0].zip), "\(top)")
        guard case .string(let text)? = ZipReport.table(top).rows.first?.first else { return XCTFail("zip cell") }
        XCTAssertTrue(text.hasPrefix("0") && text.count == 5, text)
    }

    func testHoursMatchReference() throws {
        for key in [nil, BreakdownKey.level, .signMonth] as [BreakdownKey?] {
            for f in [QueryFilter(), QueryFilter(from: seconds("2014-10-03 13:30:00"), to: seconds("2014-11-02 02:00:00"))] {
                let got = try Queries.hours(store, by: key, filter: f, table: table, threads: 2)
                // A customer range at a time: the same answer.
                XCTAssertGreaterThan(RowGroupData.customerSlices(store: store, filter: f, sliceRows: 700).count, 3)
                XCTAssertEqual(try Queries.hours(store, by: key, filter: f, table: table, threads: 2, sliceRows: 700), got)
                var events: [String: [Int64]] = [:], mobile: [String: [Int64]] = [:]
                for r in rows where inRange(r, f) {
                    let g = key.map { k in customer(r.customerID).map { label($0, k) } ?? "unknown" } ?? "all"
                    events[g, default: [Int64](repeating: 0, count: 24)][hour(r)] += 1
                    mobile[g, default: [Int64](repeating: 0, count: 24)][hour(r)] += Int64(r.mobile)
                }
                XCTAssertEqual(Set(got.groups), Set(events.keys), "\(String(describing: key))")
                for (k, g) in got.groups.enumerated() {
                    XCTAssertEqual(got.events[k], events[g], "\(g)")
                    XCTAssertEqual(got.mobile[k], mobile[g], "\(g)")
                }
            }
        }
        // Per part of the day: the profile's rule.
        let h = try Queries.hours(store, by: BreakdownKey?.none, filter: QueryFilter(), table: nil, threads: 1)
        let parts = HoursReport.table(h, by: BreakdownKey?.none, perPart: true)
        let p = referenceProfile(rows)
        let sums = [p.morning, p.afternoon, p.evening, p.night].map { $0.reduce(0, +) }
        XCTAssertEqual(parts.rows.map { $0[1] }, sums.map { Cell.int($0) })
        XCTAssertEqual(parts.rows.map { $0[0] }, ["morning", "afternoon", "evening", "night"].map { Cell.string($0) })
    }

    func testProfileWithCustomersAndFilters() throws {
        let cf = CustomerFilter(levels: [0], genders: [1])
        let p = try Queries.profile(store, filter: cf.apply(to: QueryFilter(), table: table), threads: 2)
        let expected = referenceProfile(rows.filter { r in customer(r.customerID).map { $0.level == 0 && $0.gender == 1 } ?? false })
        XCTAssertEqual(p, expected)
        XCTAssertGreaterThan(p.count, 10)
        // Joined attributes, and empty cells for ids absent from the table.
        let all = try Queries.profile(store, filter: QueryFilter(), threads: 2)
        let joined = try ProfileReport.table(all, customers: table)
        XCTAssertEqual(joined.columns.suffix(8), ["name", "gender", "zip", "sign_date", "status", "level", "campaign", "linked_with_apps"])
        var missing = 0
        for (i, row) in joined.rows.enumerated() {
            if let c = customer(all.customer[i]) {
                var expected: [Cell] = [.string(c.name), .int(Int64(c.gender)), .string(c.zipText), .string(c.isoDate)]
                expected += [.int(Int64(c.status)), .string(label(c, .level)), .string(label(c, .campaign)), .int(Int64(c.linked))]
                XCTAssertEqual(Array(row.suffix(8)), expected)
            } else {
                missing += 1
                XCTAssertEqual(Array(row.suffix(8)), [Cell](repeating: .null, count: 8))
            }
        }
        XCTAssertGreaterThan(missing, 0)
        // A filter no customer matches: an empty profile, not everything.
        let none = try Queries.profile(store, filter: CustomerFilter(levels: [0, 1, 2]).apply(to: QueryFilter(customers: [4]), table: table), threads: 1)
        XCTAssertEqual(none.count, 0)
    }

    func testAttributeParsing() {
        XCTAssertEqual(try CustomerFilter.parseCodes("gold, Silver,0", option: "--level", names: CustomersSchema.levelNames).get(), [2, 1, 0])
        XCTAssertEqual(try CustomerFilter.parseCodes("30dayfree", option: "--campaign", names: CustomersSchema.campaignNames).get(), [1])
        for bad in ["3", "Platinum", "", "1,,2", "-1"] {
            guard case .failure(let e) = CustomerFilter.parseCodes(bad, option: "--level", names: CustomersSchema.levelNames) else {
                return XCTFail(bad)
            }
            XCTAssertTrue(e.description.hasPrefix("--level: "), e.description)
        }
    }
}
