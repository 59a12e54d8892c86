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

    /// A store of one part per `partRows` events, each covering every
    /// customer (appended one by one, as `stave append` of small files
    /// leaves them): overlapping parts, not one run.
    func appendedStore(_ events: [EventRow], partRows: Int) throws -> Store {
        let dir = temporaryDirectory(self)
        let path = try convert(csvLines(Array(events.prefix(partRows))), dir: dir)
        var k = partRows
        while k < events.count {
            let input = dir + "/more.csv"
            writeFile(input, csvLines(Array(events[k..<min(events.count, k + partRows)])))
            _ = try Converter(input: input, output: path, options: ConvertOptions()).append()
            k += partRows
        }
        return try Store.open(path)
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

    /// Appends `rows` to the store at `path` as one new part.
    func appendPart(_ rows: [EventRow], to path: String, dir: String) throws {
        let file = dir + "/append-\(rows.first?.eventID ?? 0)-\(rows.count).csv"
        writeFile(file, csvLines(rows))
        _ = try Converter(input: file, output: path, options: ConvertOptions()).append()
    }

    /// A large part plus many small ones cut into runs of a row or a few
    /// (the shape small appends give): the kernel merges those row groups
    /// into one, and every answer stays exact.
    func testFragmentedPartsAreMergedExactly() throws {
        let dir = temporaryDirectory(self)
        // The large part: 300 customers, long runs. Then small appends over
        // 3,000 customers, with track ids above 16 bits in some of them, so
        // merged groups mix 16- and 32-bit tracks.
        var events = randomEvents(count: 20_000, customers: 300, seed: 12)
        events += randomEvents(count: 14_000, customers: 3_000, seed: 15).map {
            var e = $0
            e.eventID += 20_000
            if e.eventID % 97 == 0 && e.eventID > 26_000 { e.trackID = 1 << 20 | UInt32(e.eventID) }
            return e
        }
        let path = try convert(csvLines(Array(events[0..<20_000])), dir: dir)
        var at = 20_000, k = 0
        let sizes = [500, 120, 2000, 37, 1]
        while at < 27_000 {
            let n = sizes[k % sizes.count]
            try appendPart(Array(events[at..<(at + n)]), to: path, dir: dir)
            at += n
            k += 1
        }
        // Parts with runs of about 7 rows, which RLE encodes: 200 customers
        // in one month.
        var rng = TestRNG(13)
        for _ in 0..<3 {
            var part: [EventRow] = []
            for _ in 0..<1400 {
                var e = events[at]
                e.customerID = UInt32(3 + 7 * rng.below(200))
                e.datetime = seconds("2014-11-01") + Int64(rng.below(30 * 86_400))
                part.append(e)
                events[at] = e
                at += 1
            }
            try appendPart(part, to: path, dir: dir)
        }
        try appendPart(Array(events[at...]), to: path, dir: dir)
        let store = try Store.open(path)
        // Some fragmented groups are RLE-encoded (the row customers come
        // from run expansion), most are not (decoded per row).
        var rleFragmented = 0
        for part in store.parts {
            for g in part.footer.rowGroups.indices {
                if case .rle(let r) = try part.chunk(rowGroup: g, column: EventsSchema.customerID).layout,
                   part.footer.rowGroups[g].rowCount < ProfileKernel.fragmentedRunRows * r.values.count {
                    rleFragmented += 1
                }
            }
        }
        XCTAssertGreaterThan(rleFragmented, 0)

        // Loaded with row customers: every fragmented group has them.
        let byRowGroups = try RowGroupData.loadAll(store: store, filter: QueryFilter(), threads: 2, columns: LoadColumns(rowCustomers: true))
        let byRow = byRowGroups.filter { !$0.rowCustomers.isEmpty }.count
        // Loaded with runs: the same groups are fragmented by their runs.
        let byRunGroups = try RowGroupData.loadAll(store: store, filter: QueryFilter(), threads: 2)
        let byRuns = byRunGroups.filter { $0.rowCount < ProfileKernel.fragmentedRunRows * $0.runs.count }.count
        XCTAssertGreaterThan(byRow, 10)
        XCTAssertLessThan(byRow, byRowGroups.count, "the large part's groups are not fragmented")
        XCTAssertGreaterThanOrEqual(byRuns, byRow - 2)
        XCTAssertTrue(byRowGroups.contains { !$0.rowCustomers.isEmpty && !$0.track32.isEmpty })
        XCTAssertTrue(byRowGroups.contains { !$0.rowCustomers.isEmpty && !$0.track16.isEmpty })
        for (groups, fragmented) in [(byRowGroups, byRow), (byRunGroups, byRuns)] {
            for threads in [1, 2, 5] {
                let merged = ProfileKernel.coalesceFragmented(groups, threads: threads)
                XCTAssertEqual(merged.count, groups.count - fragmented + 1)
                XCTAssertEqual(merged.reduce(0) { $0 + $1.rowCount }, events.count)
                let last = merged.last!
                XCTAssertEqual(last.runs.map(\.customer), Array(Set(last.runs.map(\.customer))).sorted(), "one run per customer, in order")
                XCTAssertTrue(merged.allSatisfy { $0.rowCustomers.isEmpty })
                for (k, g) in merged.enumerated() { XCTAssertTrue(g.runs.allSatisfy { $0.group == Int32(k) }) }
                XCTAssertEqual(ProfileKernel.compute(groups: groups, threads: threads), referenceProfile(events))
            }
        }
        for f in filters() {
            try assertMatchesReference(events, store, f)
        }
    }

    /// The parallel counting sort of runs equals a stable sort of all runs,
    /// with the right first run and rows before each customer.
    func testRunsByCustomerIsAStableSort() throws {
        let events = randomEvents(count: 40_000, customers: 900, seed: 16)
        let store = try storeFor(events, bufferRows: 3_000)
        let groups = try RowGroupData.loadAll(store: store, filter: QueryFilter(), threads: 2)
        let all = groups.flatMap(\.runs)
        let expected = all.enumerated().sorted { ($0.element.customer, $0.offset) < ($1.element.customer, $1.offset) }.map(\.element)
        for threads in [1, 2, 3, 8] {
            let (runs, starts, rowsBefore) = ProfileKernel.runsByCustomer(groups, threads: threads)
            XCTAssertEqual(runs.map(\.customer), expected.map(\.customer))
            XCTAssertEqual(runs.map { [$0.group, $0.start, $0.end] }, expected.map { [$0.group, $0.start, $0.end] }, "stable, threads \(threads)")
            XCTAssertEqual(starts.count, Set(all.map(\.customer)).count + 1)
            XCTAssertEqual(starts.last, runs.count)
            XCTAssertEqual(rowsBefore.last, events.count)
            for c in 0..<(starts.count - 1) {
                XCTAssertTrue(runs[starts[c]..<starts[c + 1]].allSatisfy { $0.customer == runs[starts[c]].customer })
                XCTAssertEqual(rowsBefore[c + 1] - rowsBefore[c], runs[starts[c]..<starts[c + 1]].reduce(0) { $0 + Int($1.end - $1.start) })
            }
        }
    }

    /// Random decoded groups: `chains` sequences of groups, each sorted by
    /// customer (a customer may continue into the next group of its chain),
    /// chains interleaved in group order; codes of every kind, some groups
    /// not full, tracks 16-bit, with large ids in `bigTracks` groups.
    func syntheticGroups(chains: Int, groupsPerChain: Int, seed: UInt64, bigTracks: Bool = false) -> [RowGroupData] {
        var rng = TestRNG(seed)
        var byChain: [[RowGroupData]] = []
        for _ in 0..<chains {
            var customer = UInt32(rng.below(20))
            var list: [RowGroupData] = []
            for _ in 0..<groupsPerChain {
                var codes: [UInt8] = [], tracks: [UInt16] = [], runs: [CustomerRun] = []
                let full = rng.below(3) > 0
                for _ in 0..<(1 + rng.below(12)) {
                    let n = 1 + rng.below(9)
                    runs.append(CustomerRun(customer: customer, group: 0, start: Int32(codes.count), end: Int32(codes.count + n)))
                    for _ in 0..<n {
                        var code = UInt8(rng.below(8))
                        if full || rng.below(4) > 0 { code |= RowGroupData.windowBit }
                        codes.append(code)
                        tracks.append(UInt16(bigTracks && rng.below(5) == 0 ? 40_000 + rng.below(20_000) : rng.below(200)))
                    }
                    // Most often the next customer; sometimes a gap, or the same
                    // customer again across the group boundary.
                    customer += UInt32(rng.below(3))
                }
                list.append(RowGroupData(codes: codes, track16: tracks, track32: [], runs: runs, full: full,
                                         maxTrack: Int64(tracks.max()!)))
            }
            byChain.append(list)
        }
        var groups: [RowGroupData] = []
        for k in 0..<groupsPerChain { for c in 0..<chains { groups.append(byChain[c][k]) } }
        for k in groups.indices { for j in groups[k].runs.indices { groups[k].runs[j].group = Int32(k) } }
        return groups
    }

    /// The profile of decoded groups computed the obvious way.
    func groupsReference(_ groups: [RowGroupData]) -> Profile {
        var acc: [UInt32: ReferenceAccumulator] = [:]
        for g in groups {
            for r in g.runs {
                for i in Int(r.start)..<Int(r.end) where g.codes[i] & RowGroupData.windowBit != 0 {
                    var x = acc[r.customer, default: ReferenceAccumulator()]
                    x.tracks.insert(g.track16.isEmpty ? g.track32[i] : UInt32(g.track16[i]))
                    switch g.codes[i] & 3 {
                    case 0: x.n += 1
                    case 1: x.m += 1
                    case 2: x.a += 1
                    default: x.e += 1
                    }
                    x.mob += g.codes[i] & RowGroupData.mobileBit != 0 ? 1 : 0
                    acc[r.customer] = x
                }
            }
        }
        return referenceProfile(accumulated: acc)
    }

    /// Groups sorted by customer in a few chains are walked side by side
    /// (no sort); the walk, split between any number of workers, gives the
    /// profile computed the obvious way, and so does the counting-sort path
    /// that shapes the streams cannot take.
    func testStreamsOfSortedGroupsGiveTheReferenceProfile() throws {
        for (chains, seed) in [(1, UInt64(1)), (3, 2), (5, 3), (16, 4)] {
            for big in [false, true] {
                let groups = syntheticGroups(chains: chains, groupsPerChain: 7, seed: seed, bigTracks: big)
                let streams = try XCTUnwrap(RunStreams(groups, maxSpan: { max(4 * $0, 1 << 16) }))
                XCTAssertEqual(streams.chains.count, chains)
                XCTAssertEqual(streams.chains.flatMap { $0 }.sorted(), Array(groups.indices))
                XCTAssertEqual(streams.totalRows, groups.reduce(0) { $0 + $1.rowCount })
                let expected = groupsReference(groups)
                for threads in [1, 2, 3, 7] {
                    XCTAssertEqual(ProfileKernel.compute(groups: groups, threads: threads), expected, "chains \(chains) threads \(threads)")
                    let bounds = streams.split(workers: threads, groups: groups)
                    XCTAssertEqual(bounds.first, UInt64(streams.lo))
                    XCTAssertEqual(bounds.last, UInt64(streams.hi) + 1)
                    XCTAssertEqual(bounds, bounds.sorted())
                }
                // Every seek lands on the first run of a customer >= x.
                for x in UInt64(streams.lo)...(UInt64(streams.hi) + 1) {
                    for s in streams.chains.indices {
                        let (at, _) = streams.seek(s, x, groups: groups)
                        let flat = streams.chains[s].flatMap { groups[$0].runs }
                        let before = streams.chains[s][..<at.position].reduce(0) { $0 + groups[$1].runs.count } + at.run
                        XCTAssertTrue(flat[..<before].allSatisfy { UInt64($0.customer) < x })
                        XCTAssertTrue(flat[before...].allSatisfy { UInt64($0.customer) >= x })
                    }
                }
            }
        }
        // Shapes the streams refuse; the counting sort gives the same answers.
        // The same customers in every group: one chain each.
        let one = try XCTUnwrap(syntheticGroups(chains: 1, groupsPerChain: 4, seed: 5).first { $0.runs.first!.customer < $0.runs.last!.customer })
        let many = (0..<(RunStreams.maxStreams + 1)).map { k in
            var g = one
            for j in g.runs.indices { g.runs[j].group = Int32(k) }
            return g
        }
        XCTAssertNotNil(RunStreams(Array(many.prefix(RunStreams.maxStreams)), maxSpan: { max(4 * $0, 1 << 16) }))
        XCTAssertNil(RunStreams(many, maxSpan: { max(4 * $0, 1 << 16) }))
        XCTAssertEqual(ProfileKernel.compute(groups: many, threads: 2), groupsReference(many))
        var descending = syntheticGroups(chains: 2, groupsPerChain: 3, seed: 6)
        descending[3].runs.swapAt(0, descending[3].runs.count - 1)
        XCTAssertNotEqual(descending[3].runs.first?.customer, descending[3].runs.last?.customer)
        XCTAssertNil(RunStreams(descending, maxSpan: { max(4 * $0, 1 << 16) }))
        XCTAssertEqual(ProfileKernel.compute(groups: descending, threads: 2), groupsReference(descending))
        let sparse = syntheticGroups(chains: 2, groupsPerChain: 3, seed: 7)
        XCTAssertNil(RunStreams(sparse, maxSpan: { _ in 3 }))
    }

    /// The fused path (decode as the walk reaches each group) gives the
    /// reference profile for every time window and worker count, on one
    /// part with several groups per month and a customer spanning groups,
    /// and on parts whose months overlap (several chains, up to 60), with
    /// and without a customer list; it declines more than maxChains chains
    /// and stores (or a customer list's rows) below its threshold.
    func testFusedProfileMatchesTheReference() throws {
        var events = randomEvents(count: 150_000, customers: 900, seed: 21)
        let november = seconds("2014-11-01")
        for i in events.indices {
            if i % 5 == 0 { events[i].customerID = 444 }
            // Two thirds in November: more rows than one row group holds.
            if i % 3 != 0 { events[i].datetime = november + events[i].datetime % (29 * 86_400) }
        }
        let one = try storeFor(events)
        XCTAssertGreaterThan(one.parts[0].footer.rowGroups.count, 3, "more than one group per month")
        let three = try storeFor(events, bufferRows: 50_000)
        XCTAssertEqual(three.parts.count, 3)
        let windows = filters() + [QueryFilter(customers: Array(0..<900).filter { $0 % 3 != 1 }.map(UInt32.init)),
                                   QueryFilter(from: seconds("2014-11-03 10:00:00"), customers: Array(400..<700))]
        var taken = 0
        for store in [one, three] {
            for f in windows {
                let expected = referenceProfile(events, filter: f)
                for threads in [1, 2, 3] {
                    if let got = try FusedProfile.compute(store: store, filter: f, threads: threads, minRows: 0) {
                        XCTAssertEqual(got, expected, "filter \(f) threads \(threads)")
                        taken += 1
                    } else {
                        XCTAssertEqual(expected.count, 0, "declined only when no row group is read: \(f)")
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(taken, 2 * 3 * (windows.count - 2))
        // A customer list is walked once the groups it reads hold minRows.
        let few = QueryFilter(customers: [3, 444])
        let fewRows = one.parts[0].footer.rowGroups.filter { ScanPlanner.use($0, filter: few) != .skip }.reduce(0) { $0 + $1.rowCount }
        XCTAssertEqual(try FusedProfile.compute(store: one, filter: few, threads: 2, minRows: fewRows), referenceProfile(events, filter: few))
        XCTAssertNil(try FusedProfile.compute(store: one, filter: few, threads: 2, minRows: fewRows + 1))
        XCTAssertNil(try FusedProfile.compute(store: one, filter: QueryFilter(), threads: 2, minRows: events.count + 1))
        // High cardinality (a few rows a customer): the fused walk below
        // its row threshold too, and the same profile.
        let spread = randomEvents(count: 30_000, customers: 12_000, tracks: 70_000, seed: 23)
        let fragmented = try storeFor(spread)
        XCTAssertTrue(try FusedProfile.isFragmented(fragmented))
        XCTAssertFalse(try FusedProfile.isFragmented(one))
        XCTAssertEqual(try FusedProfile.compute(store: fragmented, filter: QueryFilter(), threads: 2), referenceProfile(spread))
        // Parts that each cover every customer: a chain per part and month,
        // more than the general path's merge takes, walked side by side.
        let first40k = Array(events.prefix(40_000))
        let many = try appendedStore(first40k, partRows: 2_000)
        XCTAssertEqual(many.parts.count, 20)
        XCTAssertGreaterThan(try XCTUnwrap(FusedProfile.plan(store: many, filter: QueryFilter())).chains.count, RunStreams.maxStreams)
        XCTAssertEqual(try FusedProfile.compute(store: many, filter: QueryFilter(), threads: 2, minRows: 0), referenceProfile(first40k))
        // More than maxChains chains: declined, and the general path gives
        // the same profile.
        let tooMany = try appendedStore(first40k, partRows: first40k.count / (FusedProfile.maxChains / 3 + 2))
        XCTAssertNil(FusedProfile.plan(store: tooMany, filter: QueryFilter()))
        XCTAssertNil(try FusedProfile.compute(store: tooMany, filter: QueryFilter(), threads: 2, minRows: 0), "more chains than maxChains")
        XCTAssertEqual(try Queries.profile(tooMany, filter: QueryFilter(), threads: 2), referenceProfile(first40k))
        // The same rows converted with a small buffer are one run: a few
        // chains whatever the number of parts.
        let run = try storeFor(first40k, bufferRows: 2_000)
        XCTAssertGreaterThanOrEqual(run.parts.count, 18)
        XCTAssertEqual(try FusedProfile.compute(store: run, filter: QueryFilter(), threads: 2, minRows: 0), referenceProfile(first40k))
    }

    /// A part whose row group is not sorted by customer (the spec allows
    /// it): the fused path declines it after decoding, and the profile is
    /// still the reference one.
    func testFusedProfileDeclinesUnsortedGroups() throws {
        let events = randomEvents(count: 3_000, customers: 50, seed: 22).map {
            var e = $0
            e.datetime = seconds("2014-11-01") + $0.datetime % (20 * 86_400)
            return e
        }
        let path = temporaryDirectory(self) + "/unsorted.stave"
        let builder = try StoreBuilder(path: path, force: false)
        // Input order: customers are not ascending in the group.
        let columns: [[Int64]] = [events.map(\.eventID), events.map { Int64($0.customerID) }, events.map { Int64($0.trackID) },
                                  events.map(\.datetime), events.map { Int64($0.mobile) }, events.map { Int64($0.zip) }]
        try builder.addPart(groupCount: 1) { _ in RowGroupColumns(columns: columns) }
        try builder.commit()
        let store = try Store.open(path)
        XCTAssertEqual(store.parts[0].footer.rowGroups.count, 1)
        XCTAssertNil(try FusedProfile.compute(store: store, filter: QueryFilter(), threads: 2, minRows: 0))
        for threads in [1, 2] {
            XCTAssertEqual(try Queries.profile(store, filter: QueryFilter(), threads: threads), referenceProfile(events, filter: QueryFilter()))
        }
    }

    /// Customer ids too far apart for the merge's counting sort: the
    /// fragmented groups keep their own runs, and answers stay exact.
    func testFragmentedPartsWithSparseCustomerIds() throws {
        let dir = temporaryDirectory(self)
        var events = randomEvents(count: 2_000, customers: 400, seed: 14)
        for i in events.indices where i % 3 == 0 { events[i].customerID = 4_000_000_000 - UInt32(i) }
        let path = try convert(csvLines(Array(events[0..<1000])), dir: dir)
        for s in stride(from: 1000, to: 2000, by: 100) {
            try appendPart(Array(events[s..<(s + 100)]), to: path, dir: dir)
        }
        let store = try Store.open(path)
        let groups = try RowGroupData.loadAll(store: store, filter: QueryFilter(), threads: 2, columns: LoadColumns(rowCustomers: true))
        XCTAssertTrue(groups.contains { !$0.rowCustomers.isEmpty })
        let merged = ProfileKernel.coalesceFragmented(groups, threads: 2)
        XCTAssertEqual(merged.count, groups.count, "left unmerged")
        XCTAssertTrue(merged.allSatisfy { $0.rowCustomers.isEmpty && $0.runs.reduce(0) { $0 + Int($1.end - $1.start) } == $0.rowCount })
        for f in [QueryFilter(), QueryFilter(from: seconds("2014-11-05 10:00:00"), to: seconds("2014-12-20"))] {
            try assertMatchesReference(events, store, f)
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
        // Customer 77 alone is larger than a part: it fills parts of its own.
        let of77 = store.parts.filter { p in p.footer.rowGroups.allSatisfy { $0.chunks[EventsSchema.customerID].min == 77 && $0.chunks[EventsSchema.customerID].max == 77 } }
        XCTAssertEqual(of77.count, 2)
        XCTAssertGreaterThan(of77.reduce(0) { $0 + $1.footer.rowGroups.count }, 2)
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

    /// Track ids above the bitmap's limit in one row group and small ones
    /// (16-bit) in another, with runs long enough that nothing is merged:
    /// every group's tracks count, in every window.
    func testHugeAndSmallTrackIdsInDifferentRowGroups() throws {
        var events: [EventRow] = []
        let october = seconds("2014-10-05 10:00:00"), november = seconds("2014-11-05 18:00:00")
        let big: [UInt32] = [5, 1 << 30, 1 << 30 | 7, 9]
        for k in 0..<1000 {
            events.append(EventRow(eventID: Int64(k), customerID: 1, trackID: big[k % 4], datetime: october + Int64(k), mobile: 1, zip: 1))
        }
        let small: [UInt32] = [5, 6, 6, 300]
        for k in 0..<1000 {
            events.append(EventRow(eventID: Int64(1000 + k), customerID: 1, trackID: small[k % 4], datetime: november + Int64(k), mobile: 0, zip: 1))
            events.append(EventRow(eventID: Int64(2000 + k), customerID: 2, trackID: small[k % 4] + 1, datetime: november + Int64(k), mobile: 0, zip: 1))
        }
        let store = try storeFor(events)
        let groups = try RowGroupData.loadAll(store: store, filter: QueryFilter(), threads: 1)
        XCTAssertEqual(groups.map { $0.track32.isEmpty }, [false, true])
        XCTAssertEqual(ProfileKernel.coalesceFragmented(groups).count, 2, "nothing merged")
        XCTAssertEqual(ProfileKernel.compute(groups: groups, threads: 1), referenceProfile(events))
        XCTAssertEqual(try Queries.profile(store, filter: QueryFilter(), threads: 1).uniqueTracks, [6, 3])
        try assertMatchesReference(events, store, QueryFilter())
        try assertMatchesReference(events, store, QueryFilter(from: seconds("2014-10-05 10:00:02"), to: seconds("2014-11-05 18:00:02")))
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

/// The profile at a real service's shape, shrunk: customer ids spread over
/// the whole UInt32 range, track ids past 2^24 and past the bitmap's 2^28,
/// a run of many parts, parts that overlap, and the profile given a slice
/// of customers at a time (what keeps memory bounded): every path gives
/// the reference profile and statistics.
final class ScaleShapeTests: XCTestCase {
    func events(count: Int, seed: UInt64, trackBits: Int) -> [EventRow] {
        var rng = TestRNG(seed)
        // 3,000 customers, ids anywhere in 0..<2^32 (a few at the ends).
        var ids = (0..<3000).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
        ids += [0, 1, UInt32.max, UInt32.max - 1]
        let start = seconds("2014-10-01")
        return (0..<count).map { i in
            let c = ids[rng.below(4) == 0 ? rng.below(20) : rng.below(ids.count)]
            let t = UInt32(truncatingIfNeeded: rng.next() >> UInt64(64 - trackBits))
            return EventRow(eventID: Int64(i), customerID: c, trackID: rng.below(5) == 0 ? t % 50 : t,
                            datetime: start + Int64(rng.below(92 * 86_400)), mobile: UInt8(rng.below(2)), zip: UInt32(rng.below(100_000)))
        }
    }

    func check(_ rows: [EventRow], _ store: Store, file: StaticString = #filePath, line: UInt = #line) throws {
        // Two thirds of the customers, as an attribute filter would give.
        let list = Array(Set(rows.map(\.customerID))).sorted().enumerated().filter { $0.offset % 3 != 0 }.map(\.element)
        let windows = [QueryFilter(), QueryFilter(from: seconds("2014-11-01"), to: seconds("2014-12-01")),
                       QueryFilter(from: seconds("2014-10-20 13:00:00"), to: seconds("2014-11-03 02:00:00")),
                       QueryFilter(customers: list), QueryFilter(from: seconds("2014-11-01"), to: seconds("2014-12-01"), customers: list)]
        for f in windows {
            let expected = referenceProfile(rows, filter: f)
            for threads in [1, 2] {
                XCTAssertEqual(try Queries.profile(store, filter: f, threads: threads), expected, "default path \(f)", file: file, line: line)
                XCTAssertEqual(try Queries.profile(store, filter: f, threads: threads, fusedFrom: 0), expected, "fused \(f)", file: file, line: line)
                XCTAssertEqual(try Queries.profile(store, filter: f, threads: threads, fusedFrom: .max), expected, "general \(f)", file: file, line: line)
                for sliceRows in threads == 2 ? [1_997, Int.max / 4] : [] {
                    var joined = Profile(), slices = 0
                    try Queries.forEachProfileSlice(store, filter: f, threads: threads, fusedFrom: 0, sliceRows: sliceRows) { p in
                        if let last = joined.customer.last, let first = p.customer.first { XCTAssertLessThan(last, first, "slices in order", file: file, line: line) }
                        joined.customer += p.customer; joined.uniqueTracks += p.uniqueTracks; joined.morning += p.morning
                        joined.afternoon += p.afternoon; joined.evening += p.evening; joined.night += p.night; joined.mobile += p.mobile
                        slices += 1
                    }
                    XCTAssertEqual(joined, expected, "slices of \(sliceRows) rows \(f)", file: file, line: line)
                    if sliceRows == 1_997 && expected.count > 100 { XCTAssertGreaterThan(slices, 3, file: file, line: line) }
                }
            }
            // The profile as CSV text, formatted by the walk (or, where it
            // does not apply, from the general path's profile), against
            // the reference profile printed field by field.
            let expectedText = referenceCSV(expected)
            for (fusedFrom, sliceRows) in [(0, 1_997), (0, Int.max / 4), (Int.max, Int.max / 4)] {
                for threads in [1, 2] {
                    var text: [UInt8] = [], walked = 0
                    try Queries.forEachProfileCSV(store, filter: f, threads: threads, fusedFrom: fusedFrom, sliceRows: sliceRows,
                                                  rows: { text += $0; walked += 1 },
                                                  profile: { text += Array(referenceCSV($0).utf8) })
                    XCTAssertEqual(String(decoding: text, as: UTF8.self), expectedText,
                                   "CSV, fusedFrom \(fusedFrom), slices of \(sliceRows), \(threads) threads, \(f)", file: file, line: line)
                    if fusedFrom == .max { XCTAssertEqual(walked, 0, file: file, line: line) }
                }
            }
            for fusedFrom in [FusedProfile.minRows, 0, .max] {
                for threads in [1, 2] {
                    XCTAssertEqual(try Queries.stats(store, filter: f, threads: threads, fusedFrom: fusedFrom), StatsKernel.compute(expected),
                                   "stats, fusedFrom \(fusedFrom), \(threads) threads, \(f)", file: file, line: line)
                }
            }
        }
    }

    /// The CSV rows of `p`, printed with String interpolation.
    func referenceCSV(_ p: Profile) -> String {
        (0..<p.count).map { i in
            "\(p.customer[i]),\(p.uniqueTracks[i]),\(p.morning[i]),\(p.afternoon[i]),\(p.evening[i]),\(p.night[i]),\(p.mobile[i]),"
                + "\(p.morning[i] + p.afternoon[i] + p.evening[i] + p.night[i])\n"
        }.joined()
    }

    /// The walk's CSV sink from its smallest buffer: it grows as rows come,
    /// keeps what it had, and leaves out customers with no row in the window.
    func testCSVTextSinkGrows() {
        var sink = CSVTextSink(customers: 0)
        var expected = ""
        var rng = TestRNG(5)
        for c in 0..<5_000 {
            var r = ProfileKernel.CustomerCounts()
            r.morning = Int64(rng.below(3)); r.afternoon = Int64(rng.below(200)); r.evening = c == 7 ? Int64.max / 4 : 0
            r.total = r.morning + r.afternoon + r.evening + Int64(rng.below(2))
            r.mobile = Int64(rng.below(2)); r.unique = min(r.total, Int64(rng.below(50)))
            sink.append(UInt32.max - UInt32(c), r)
            guard r.total > 0 else { continue }
            expected += "\(UInt32.max - UInt32(c)),\(r.unique),\(r.morning),\(r.afternoon),\(r.evening),"
                + "\(r.total - r.morning - r.afternoon - r.evening),\(r.mobile),\(r.total)\n"
        }
        XCTAssertLessThan(sink.rowCount, 5_000)
        XCTAssertEqual(sink.withText { String(decoding: $0, as: UTF8.self) }, expected)
    }

    func testCustomerIdsAcrossUInt32AndTrackIdsPast2To24() throws {
        let rows = events(count: 30_000, seed: 91, trackBits: 26)
        let dir = temporaryDirectory(self)
        var o = ConvertOptions()
        o.bufferRows = 4_000   // a run of several parts
        let store = try Store.open(try convert(csvLines(rows), dir: dir, options: o))
        XCTAssertGreaterThan(store.parts.count, 5)
        XCTAssertEqual(Compactor.runs(store.parts).count, 1)
        try check(rows, store)
    }

    func testTrackIdsPastTheBitmapAndOverlappingParts() throws {
        let rows = events(count: 20_000, seed: 92, trackBits: 32)
        let dir = temporaryDirectory(self)
        let path = try convert(csvLines(Array(rows[0..<5_000])), dir: dir)
        for k in 1..<4 {
            writeFile(dir + "/more.csv", csvLines(Array(rows[(k * 5_000)..<((k + 1) * 5_000)])))
            _ = try Converter(input: dir + "/more.csv", output: path, options: ConvertOptions()).append()
        }
        let store = try Store.open(path)
        XCTAssertEqual(Compactor.runs(store.parts).count, 4)
        try check(rows, store)
        // Compacted into one run: the same answers.
        _ = try Compactor.compact(store: path, partRows: 3_000)
        let compacted = try Store.open(path)
        XCTAssertEqual(Compactor.runs(compacted.parts).count, 1)
        XCTAssertGreaterThan(compacted.parts.count, 4)
        try check(rows, compacted)
    }
}
