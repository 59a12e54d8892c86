import Foundation
import XCTest
import StaveFormat
import StaveIO
import StaveIngest
import StaveQuery
import StaveReports
import Synchronization

/// How many times the cache computed an answer (shared by the tasks).
final class ComputationCount: Sendable { let value = Atomic<Int>(0) }
@testable import StaveServer

/// The query layer the CLI and the server share: summary and event span
/// against a naive reference, profile pages against a plain sort, the URL
/// parameter parser, and the server's answer cache.
final class QueryRequestTests: XCTestCase {
    /// Many small row groups (and two parts) so the event span's early stop
    /// has something to skip.
    func store(_ rows: [EventRow], dir: String) throws -> Store {
        var options = ConvertOptions()
        options.bufferRows = rows.count / 2 + 1
        return try Store.open(try convert(csvLines(rows), dir: dir, options: options))
    }

    /// The rows a filter keeps, by a plain loop (the reference).
    func naivelyKept(_ rows: [EventRow], _ filter: QueryFilter) -> [EventRow] {
        rows.filter { r in
            (filter.from.map { r.datetime >= $0 } ?? true) && (filter.to.map { r.datetime < $0 } ?? true)
                && (filter.customers.map { $0.contains(r.customerID) } ?? true)
        }
    }

    func testEventSpanAndSummaryMatchANaiveScan() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 30_000, customers: 400, seed: 5)
        let s = try store(rows, dir: dir)
        XCTAssertGreaterThan(s.parts.count, 1)
        let bounds: [(String?, String?)] = [(nil, nil), ("2014-11-01", "2014-12-01"), ("2014-10-01", "2014-10-01 00:30:00"),
                                           ("2014-12-31 23:00:00", nil), (nil, "2014-10-01 00:00:01"), ("2015-01-01", nil),
                                           ("2014-11-05 13:13:13", "2014-11-05 13:13:14")]
        let lists: [[UInt32]?] = [nil, [3, 10, 17], [3], [999_999], []]
        for (from, to) in bounds {
            for list in lists {
                let filter = QueryFilter(from: from.map(seconds), to: to.map(seconds), customers: list)
                let kept = naivelyKept(rows, filter)
                let span = try Queries.eventSpan(s, filter: filter)
                let what = "\(from ?? "-")..\(to ?? "-") \(list.map { "\($0)" } ?? "all")"
                XCTAssertEqual(span?.first, kept.map(\.datetime).min(), what)
                XCTAssertEqual(span?.last, kept.map(\.datetime).max(), what)
                let p = try Queries.profile(s, filter: filter, threads: 2)
                XCTAssertEqual(p, referenceProfile(rows, filter: filter), what)
                let sum = try Queries.summary(s, filter: filter, profile: p, customersInTable: nil)
                XCTAssertEqual(sum.events, Int64(kept.count), what)
                XCTAssertEqual(sum.mobileEvents, Int64(kept.filter { $0.mobile == 1 }.count), what)
                XCTAssertEqual(sum.activeCustomers, Set(kept.map(\.customerID)).count, what)
                XCTAssertEqual(sum.storeEvents, rows.count)
                XCTAssertEqual(sum.parts, s.parts.count)
            }
        }
    }

    /// The cursor behind the C library's event stream: for each range and
    /// customer list, its batches hold exactly the rows a naive filter of
    /// the input keeps (as a multiset of whole rows), only the columns asked
    /// for, and no empty batch.
    func testEventCursorKeepsWhatANaiveFilterKeeps() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 30_000, customers: 400, seed: 9)
        let s = try store(rows, dir: dir)
        XCTAssertGreaterThan(s.parts.count, 1)
        let bounds: [(String?, String?)] = [(nil, nil), ("2014-11-01", "2014-12-01"), ("2014-12-31 23:00:00", nil), ("2015-01-01", nil)]
        let lists: [[UInt32]?] = [nil, [3, 10, 17], [999_999]]
        let projections: [[Int]] = [Array(0..<6), [EventsSchema.zip, EventsSchema.eventID], [EventsSchema.mobile], []]
        for (from, to) in bounds {
            for list in lists {
                let filter = QueryFilter(from: from.map(seconds), to: to.map(seconds), customers: list)
                let kept = naivelyKept(rows, filter)
                for columns in projections {
                    var cursor = EventCursor(store: s, filter: filter, columns: columns)
                    var got: [[Int64]] = [], total = 0
                    while let (batch, n) = try cursor.next() {
                        XCTAssertGreaterThan(n, 0)
                        total += n
                        for c in 0..<6 { XCTAssertEqual(batch.columns[c].count, columns.contains(c) ? n : 0) }
                        for i in 0..<n { got.append(columns.map { batch.columns[$0][i] }) }
                    }
                    let want = kept.map { r in
                        columns.map { c -> Int64 in
                            [r.eventID, Int64(r.customerID), Int64(r.trackID), r.datetime, Int64(r.mobile), Int64(r.zip)][c]
                        }
                    }
                    let what = "\(from ?? "-")..\(to ?? "-") \(list.map { "\($0)" } ?? "all") columns \(columns)"
                    XCTAssertEqual(total, kept.count, what)
                    XCTAssertEqual(got.sorted { $0.lexicographicallyPrecedes($1) }, want.sorted { $0.lexicographicallyPrecedes($1) }, what)
                }
            }
        }
    }

    /// The C library's parse: a profile has every row unless limited, and
    /// no ceiling on limits; the server's keeps its pages.
    func testUnboundedParseForTheLibrary() throws {
        guard case .profile(let page) = try QueryRequest.parse(endpoint: "profile", query: [], bounded: false).get().kind,
              case .profile(let served) = try QueryRequest.parse(endpoint: "profile", query: []).get().kind else { return XCTFail() }
        XCTAssertNil(page.limit)
        XCTAssertEqual(served.limit, 100)
        XCTAssertNoThrow(try QueryRequest.parse(endpoint: "profile", query: [("limit", "2000000")], bounded: false).get())
        XCTAssertThrowsError(try QueryRequest.parse(endpoint: "profile", query: [("limit", "2000000")]).get())
        XCTAssertNoThrow(try QueryRequest.parse(endpoint: "top-zips", query: [("limit", "5000")], bounded: false).get())
        XCTAssertThrowsError(try QueryRequest.parse(endpoint: "top-zips", query: [("limit", "5000")]).get())
    }

    /// The merge pass over a sorted table's ids keeps exactly the positions
    /// `wants` keeps: lists that start before, end after, miss every id,
    /// hold ids absent from the table, and no list at all.
    func testForEachWantedIsWantsPerId() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<200 {
            let ids = Array(Set((0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt32.random(in: 0...1_000, using: &rng) })).sorted()
            let list: [UInt32]? = trial % 10 == 0 ? nil
                : (0..<Int.random(in: 0...120, using: &rng)).map { _ in UInt32.random(in: 0...1_100, using: &rng) } + (trial % 3 == 0 ? [0, UInt32.max] : [])
            let filter = QueryFilter(customers: list)
            var got: [Int] = []
            filter.forEachWanted(inSorted: ids) { got.append($0) }
            XCTAssertEqual(got, ids.indices.filter { filter.wants(customer: ids[$0]) }, "trial \(trial)")
        }
    }
    func testProfilePagesAreSlicesOfAPlainSort() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 5_000, customers: 150, seed: 9)
        let s = try store(rows, dir: dir)
        let p = try Queries.profile(s, filter: QueryFilter(), threads: 2)
        let context = QueryContext(store: s, threads: 2)
        for sort in ProfilePage.sortColumns {
            for order in SortOrder.allCases {
                // The last two: limits whose sum with the offset overflows
                // (the C library takes any limit; `--limit` too).
                for (offset, limit) in [(0, nil), (0, 10), (7, 5), (140, 100), (1_000, 3), (0, 0), (1, Int.max), (Int(Int32.max), Int.max)] as [(Int, Int?)] {
                    let page = ProfilePage(sort: sort, order: order, limit: limit, offset: offset)
                    guard case .rows(let table, let total) = try QueryRunner.run(QueryRequest(.profile(page)), in: context) else {
                        // The whole profile in customer order comes back as the profile itself.
                        XCTAssertTrue(page.isWhole)
                        continue
                    }
                    XCTAssertEqual(total, p.count)
                    // The reference: stable sort by (key, customer id), then slice.
                    let k = sort == "customer_id" ? nil : Profile.columnNames.firstIndex(of: sort)
                    let key: (Int) -> Int64 = { i in k.map { p.column($0)[i] } ?? Int64(p.customer[i]) }
                    var order_ = Array(0..<p.count).sorted { a, b in
                        key(a) != key(b) ? (order == .asc ? key(a) < key(b) : key(a) > key(b)) : a < b
                    }
                    order_ = Array(order_.dropFirst(offset).prefix(limit ?? Int.max))
                    XCTAssertEqual(table.rows.map { $0[0] }, order_.map { Cell.int(Int64(p.customer[$0])) }, "\(sort) \(order) \(offset) \(String(describing: limit))")
                }
            }
        }
    }

    func testURLParametersParseLikeTheCLIOptions() throws {
        func parse(_ endpoint: String, _ query: [(String, String)], id: String? = nil) -> Result<QueryRequest, ParameterError> {
            QueryRequest.parse(endpoint: endpoint, id: id, query: query)
        }
        XCTAssertEqual(try parse("summary", []).get(), QueryRequest(.summary))
        XCTAssertEqual(try parse("profile", []).get(), QueryRequest(.profile(ProfilePage(limit: 100))))
        XCTAssertEqual(try parse("top-zips", []).get(), QueryRequest(.topZips(limit: 10)))
        XCTAssertEqual(try parse("hours", [("by", "campaign"), ("per", "part")]).get(), QueryRequest(.hours(by: .campaign, perPart: true)))
        XCTAssertEqual(try parse("customers", [("from", "2014-11-01")], id: "48").get(),
                       QueryRequest(.customer(48), scope: QueryScope(from: seconds("2014-11-01"))))
        let r = try parse("stats", [("from", "2014-11-01 05:00:00"), ("customer", "5, 3,5"), ("level", "gold,0"), ("status", "1")]).get()
        XCTAssertEqual(r.scope, QueryScope(from: seconds("2014-11-01 05:00:00"), customers: [3, 5],
                                           attributes: CustomerFilter(levels: [2, 0], statuses: [1])))
        XCTAssertTrue(r.needsCustomerTable)
        XCTAssertFalse(try parse("stats", []).get().needsCustomerTable)
        for (endpoint, query, parameter) in [
            ("summary", [("from", "2014-02-30")], "from"),
            ("summary", [("to", "2014-10-01"), ("from", "2014-10-02")], "to"),
            ("profile", [("limit", "10001")], "limit"),
            ("profile", [("offset", "-1")], "offset"),
            ("breakdown", [], "by"),
            ("summary", [("a", "1"), ("a", "2")], "a"),
            ("nothing", [], "path"),
        ] as [(String, [(String, String)], String)] {
            guard case .failure(let e) = parse(endpoint, query) else { XCTFail("\(endpoint) \(query) parsed"); continue }
            XCTAssertEqual(e.parameter, parameter)
        }
        // The query string itself.
        XCTAssertEqual(try QueryString.parse("from=2014-11-01+05%3A00%3a00&flag&x=%E2%82%AC").get().map { "\($0.0)=\($0.1)" },
                       ["from=2014-11-01 05:00:00", "flag=", "x=€"])
        XCTAssertEqual(try QueryString.parse(nil).get().count, 0)
        for bad in ["a=%G0", "a=%2", "a=%FF", "%=1"] {
            guard case .failure = QueryString.parse(bad) else { XCTFail(bad); continue }
        }
    }

    func testCacheSharesOneComputationAndStaysBounded() async throws {
        let cache = ResultCache(maxBytes: 1_000)
        let computations = ComputationCount()
        let key = ResultCache.Key(serial: 1, request: QueryRequest(.summary))
        let answers = try await withThrowingTaskGroup(of: RenderedAnswer.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await cache.answer(key) {
                        computations.value.add(1, ordering: .relaxed)
                        try await Task.sleep(for: .milliseconds(100))
                        return RenderedAnswer(body: Array("x".utf8), total: 1)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(answers.count, 20)
        XCTAssertEqual(computations.value.load(ordering: .relaxed), 1, "20 concurrent requests for one answer computed it once")
        // Bounded: 600-byte answers, at most one fits beside another's 400.
        for g in 2...5 {
            _ = try await cache.answer(ResultCache.Key(serial: UInt64(g), request: QueryRequest(.stats))) {
                RenderedAnswer(body: [UInt8](repeating: 0, count: 600), total: 1)
            }
        }
        let count = await cache.count
        XCTAssertEqual(count, 1)
        await cache.keepOnly(serial: 99)
        let after = await cache.count
        XCTAssertEqual(after, 0)
        // Errors are not kept.
        struct Boom: Error {}
        let k2 = ResultCache.Key(serial: 1, request: QueryRequest(.stats))
        await XCTAssertThrowsErrorAsync { _ = try await cache.answer(k2) { throw Boom() } }
        let ok = try await cache.answer(k2) { RenderedAnswer(body: [1], total: 1) }
        XCTAssertEqual(ok.body, [1])
    }
}

func XCTAssertThrowsErrorAsync(_ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async {
    do {
        try await body()
        XCTFail("no error", file: file, line: line)
    } catch {}
}

extension QueryRequestTests {
    /// A list parameter given twice joins its lists, as the CLI's repeated
    /// --customer does; any other parameter given twice is an error.
    func testRepeatedParametersJoinListsAndRefuseTheRest() throws {
        let joined = try QueryRequest.parse(endpoint: "profile", query: [("customer", "48"), ("customer", "9,7"), ("level", "Gold"), ("level", "Free")]).get()
        XCTAssertEqual(joined.scope.customers, [7, 9, 48])
        XCTAssertEqual(joined.scope.attributes.levels, Set<UInt8>([0, 2]))
        guard case .failure(let e) = QueryRequest.parse(endpoint: "profile", query: [("from", "2014-10-01"), ("from", "2014-11-01")]) else {
            return XCTFail("a repeated from must be refused")
        }
        XCTAssertEqual(e.parameter, "from")
    }
}
