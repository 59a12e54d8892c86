import XCTest
@testable import StaveFormat
import StaveIO
import StaveIngest
@testable import StaveQuery

final class ProfileTests: XCTestCase {
    func storeFor(_ events: [EventRow], bufferRows: Int = 4_000_000) throws -> Store {
        let dir = temporaryDirectory(self)
        var o = ConvertOptions()
        o.bufferRows = bufferRows
        return try Store.open(try convert(csvLines(events), dir: dir, options: o))
    }

    func assertMatchesReference(_ events: [EventRow], _ store: Store, _ filter: QueryFilter, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = referenceProfile(events, filter: filter)
        for threads in [1, 2, 3] {
            let got = try Queries.profile(store, filter: filter, threads: threads)
            XCTAssertEqual(got.count, expected.count, "threads \(threads)", file: file, line: line)
            XCTAssertEqual(got, expected, "threads \(threads) filter \(filter)", file: file, line: line)
        }
    }

    func filters() -> [QueryFilter] {
        [
            QueryFilter(),
            QueryFilter(from: seconds("2014-11-01"), to: seconds("2014-12-01")),          // whole month: no row test
            QueryFilter(from: seconds("2014-10-15 12:34:56"), to: seconds("2014-11-20 05:00:00")),
            QueryFilter(from: seconds("2014-12-31 23:00:00")),
            QueryFilter(to: seconds("2014-10-01 00:00:01")),
            QueryFilter(from: seconds("2015-01-01")),                                     // nothing
            QueryFilter(customers: [3, 10, 17, 703, 12345]),
            QueryFilter(from: seconds("2014-10-20"), to: seconds("2014-12-05"), customers: [3, 24, 31]),
        ]
    }

    func testGeneratedDataOnePartAndManyParts() throws {
        let events = randomEvents(count: 20_000, customers: 120, seed: 42)
        let one = try storeFor(events)
        XCTAssertEqual(one.parts.count, 1)
        let many = try storeFor(events, bufferRows: 1_500)
        XCTAssertEqual(many.parts.count, 14)
        for f in filters() {
            try assertMatchesReference(events, one, f)
            try assertMatchesReference(events, many, f)
        }
    }

    /// Every boundary of the parts of the day, each customer with one event.
    func testHourBoundariesAndOneEventCustomers() throws {
        let times = ["04:59:59", "05:00:00", "11:59:59", "12:00:00", "16:59:59", "17:00:00", "21:59:59", "22:00:00", "00:00:00", "23:59:59"]
        var events: [EventRow] = []
        for (k, t) in times.enumerated() {
            events.append(EventRow(eventID: Int64(k), customerID: UInt32(k), trackID: 1, datetime: seconds("2014-11-02 " + t), mobile: UInt8(k % 2), zip: 1))
        }
        let store = try storeFor(events)
        let p = try Queries.profile(store, filter: QueryFilter(), threads: 2)
        // (morning, afternoon, evening, night) for each time above.
        let expected: [(Int64, Int64, Int64, Int64)] = [(0, 0, 0, 1), (1, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (0, 1, 0, 0),
                                                        (0, 0, 1, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 0, 1)]
        XCTAssertEqual(p.count, times.count)
        for k in times.indices {
            XCTAssertTrue((p.morning[k], p.afternoon[k], p.evening[k], p.night[k]) == expected[k], times[k])
            XCTAssertEqual(p.uniqueTracks[k], 1)
            XCTAssertEqual(p.mobile[k], Int64(k % 2))
        }
        try assertMatchesReference(events, store, QueryFilter())
    }

    /// One customer with events in many row groups (more than 65,536 in a
    /// month), across months and parts, plus a window inside the month.
    func testCustomerSpanningManyChunks() throws {
        var rng = TestRNG(8)
        let start = seconds("2014-10-01")
        var events: [EventRow] = []
        for i in 0..<150_000 {
            let c: UInt32 = i % 10 == 0 ? UInt32(rng.below(5)) : 77
            events.append(EventRow(eventID: Int64(i), customerID: c, trackID: UInt32(rng.below(5000)),
                                   datetime: start + Int64(rng.below(40 * 86_400)), mobile: UInt8(rng.below(2)), zip: 5))
        }
        let store = try storeFor(events, bufferRows: 100_000)
        XCTAssertGreaterThan(store.parts[0].footer.rowGroups.count, 2)
        try assertMatchesReference(events, store, QueryFilter())
        try assertMatchesReference(events, store, QueryFilter(from: seconds("2014-10-03 07:00:00"), to: seconds("2014-11-02 01:00:00"), customers: [77]))
    }

    /// Track ids too large for the bitmap take the sorting path.
    func testHugeTrackIds() throws {
        var events = randomEvents(count: 3000, customers: 20, seed: 4)
        for i in events.indices where i % 3 == 0 { events[i].trackID = UInt32.max - UInt32(i % 7) }
        let store = try storeFor(events)
        try assertMatchesReference(events, store, QueryFilter())
        try assertMatchesReference(events, store, QueryFilter(from: seconds("2014-11-11"), to: seconds("2014-11-12 13:00:00")))
    }

    func testChunkStatisticsSkipRowGroups() throws {
        let events = randomEvents(count: 9000, customers: 90, seed: 6)
        let store = try storeFor(events)
        let groups = store.parts[0].footer.rowGroups
        XCTAssertEqual(groups.count, 3)  // one per month
        let november = QueryFilter(from: seconds("2014-11-01"), to: seconds("2014-12-01"))
        XCTAssertEqual(groups.map { ScanPlanner.use($0, filter: november) }, [.skip, .full, .skip])
        let mid = QueryFilter(from: seconds("2014-11-15"), to: seconds("2014-12-01"))
        XCTAssertEqual(groups.map { ScanPlanner.use($0, filter: mid) }, [.skip, .partial, .skip])
        XCTAssertEqual(groups.map { ScanPlanner.use($0, filter: QueryFilter(customers: [1_000_000])) }, [.skip, .skip, .skip])
        XCTAssertEqual(try RowGroupData.loadAll(store: store, filter: november, threads: 2).count, 1)
    }
}

final class StatsTests: XCTestCase {
    /// The textbook formulas, straight from the definitions.
    func reference(_ xs: [Int64]) -> (mean: Double, variance: Double, l1: Double, l2: Double, nnz: Int) {
        let n = Double(xs.count)
        let mean = xs.reduce(0.0) { $0 + Double($1) } / n
        let variance = xs.count > 1 ? xs.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1) : 0
        return (mean, variance, xs.reduce(0.0) { $0 + Double(abs($1)) }, xs.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(),
                xs.filter { $0 != 0 }.count)
    }

    func testAgainstDefinitions() {
        var rng = TestRNG(12)
        for n in [1, 2, 3, 10, 1000] {
            let xs = (0..<n).map { _ in Int64(rng.below(3)) == 0 ? 0 : Int64(rng.below(5000)) }
            let s = StatsKernel.stats(name: "x", xs)
            let r = reference(xs)
            XCTAssertEqual(s.count, n)
            XCTAssertEqual(s.mean!, r.mean, accuracy: abs(r.mean) * 1e-12)
            XCTAssertEqual(s.variance!, r.variance, accuracy: max(abs(r.variance) * 1e-9, 1e-12))
            XCTAssertEqual(s.stddev!, r.variance.squareRoot(), accuracy: max(r.variance.squareRoot() * 1e-9, 1e-12))
            XCTAssertEqual(s.min, xs.min()); XCTAssertEqual(s.max, xs.max())
            XCTAssertEqual(s.numNonzeros, r.nnz)
            XCTAssertEqual(s.normL1, r.l1)
            XCTAssertEqual(s.normL2, r.l2, accuracy: r.l2 * 1e-12)
        }
    }

    func testEdgeCases() {
        let one = StatsKernel.stats(name: "x", [7])
        XCTAssertEqual(one.variance, 0)
        XCTAssertEqual(one.mean, 7)
        let none = StatsKernel.stats(name: "x", [])
        XCTAssertEqual(none.count, 0)
        XCTAssertNil(none.mean)
        XCTAssertNil(none.min)
        // Large, nearly equal values: the two-pass variance stays exact.
        let big = StatsKernel.stats(name: "x", [1_000_000_001, 1_000_000_002, 1_000_000_003])
        XCTAssertEqual(big.variance, 1)
    }

    func testStatsOverProfileColumns() throws {
        let events = randomEvents(count: 5000, customers: 60, seed: 21)
        let dir = temporaryDirectory(self)
        let store = try Store.open(try convert(csvLines(events), dir: dir))
        let stats = try Queries.stats(store, filter: QueryFilter(), threads: 2)
        let p = referenceProfile(events)
        XCTAssertEqual(stats.map(\.column), Profile.columnNames)
        XCTAssertEqual(stats[6].normL1, 5000)
        for k in 0..<7 {
            let r = reference(p.column(k))
            XCTAssertEqual(stats[k].count, p.count)
            XCTAssertEqual(stats[k].mean!, r.mean, accuracy: r.mean * 1e-12)
            XCTAssertEqual(stats[k].variance!, r.variance, accuracy: r.variance * 1e-9)
        }
    }
}
