import XCTest
@testable import StaveFormat
@testable import StaveGen
import StaveIO
import StaveIngest
import StaveQuery

final class GeneratorTests: XCTestCase {
    func generate(rows: Int, customers: Int, seed: UInt64) throws -> (tracks: [UInt8], cust: [UInt8]) {
        let g = Generator(config: GeneratorConfig(rows: rows, customers: customers, seed: seed))
        var tracks: [UInt8] = [], cust: [UInt8] = []
        try g.writeTracks { tracks += $0 }
        try g.writeCustomers { cust += $0 }
        return (tracks, cust)
    }

    func testDeterministicAndSeedSensitive() throws {
        let a = try generate(rows: 2000, customers: 50, seed: 1)
        let b = try generate(rows: 2000, customers: 50, seed: 1)
        let c = try generate(rows: 2000, customers: 50, seed: 2)
        XCTAssertEqual(a.tracks, b.tracks)
        XCTAssertEqual(a.cust, b.cust)
        XCTAssertNotEqual(a.tracks, c.tracks)
        // The customer table does not depend on the number of events.
        XCTAssertEqual(try generate(rows: 10, customers: 50, seed: 1).cust, a.cust)
    }

    /// tracks.csv's data model written out row by row, the obvious way
    /// (each draw looked up as it is made, one thread, String formatting).
    func referenceTracks(_ g: Generator) -> [UInt8] {
        let config = g.config
        var rng = Xoshiro256(seed: config.seed ^ 0x7EAC_0000_0000_0002)
        let t = config.tracks
        var ids = Array(0..<t)
        for i in stride(from: t - 1, to: 0, by: -1) { ids.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
        let byCustomer = AliasTable(weights: g.customers.map(\.weight))
        let zipf = AliasTable(weights: (1...t).map { 1.0 / Double($0) })
        var text = ""
        for row in 0..<config.rows {
            let c = byCustomer.sample(&rng)
            let track = rng.uniform() < GeneratorConfig.zipfShare ? ids[zipf.sample(&rng)] : Int(rng.below(UInt64(t)))
            let when = config.start + Int64(rng.below(UInt64(config.span)))
            let mobile = rng.uniform() < GeneratorConfig.mobileShareByLevel[g.customers[c].level] ? 1 : 0
            let zip = rng.uniform() < GeneratorConfig.homeZipShare ? g.customers[c].zip : g.customers[Int(rng.below(UInt64(config.customers)))].zip
            let zipText = String(zip)
            text += "\(row),\(c),\(track),\"\(CivilTime.format(when))\",\(mobile),\"\(String(repeating: "0", count: 5 - zipText.count) + zipText)\"\n"
        }
        return Array(text.utf8)
    }

    /// writeTracks makes every block's draws first and looks them up later,
    /// on threads: the same bytes as the obvious generator, whatever the
    /// thread count, across block edges, with one customer or one track.
    func testTracksAreTheReferenceModel() throws {
        for (rows, customers, tracks, seed) in [(70_000, 300, 1701, UInt64(5)), (5000, 1, 1, 7), (9000, 2, 2_000_000, 8), (0, 3, 10, 1), (1, 40_000, 3, 2)] {
            var config = GeneratorConfig(rows: rows, customers: customers, seed: seed)
            config.tracks = tracks
            let g = Generator(config: config)
            let expected = referenceTracks(g)
            for threads in [1, 2, 3] {
                var got: [UInt8] = []
                try g.writeTracks(threads: threads) { got += $0 }
                XCTAssertEqual(got.count, expected.count, "rows \(rows) customers \(customers) tracks \(tracks) threads \(threads)")
                XCTAssertTrue(got == expected, "rows \(rows) customers \(customers) tracks \(tracks) threads \(threads)")
            }
        }
    }

    /// Other periods than the default: across a new year and a leap day,
    /// before 1970 (negative seconds), and one too long for the table of
    /// day texts (lines then format their dates with CivilTime). Event ids
    /// from 0 past 10,000 cross four widths.
    func testTracksAreTheReferenceModelOverOtherPeriods() throws {
        let day = CivilTime.secondsPerDay
        let periods: [(start: Int64, span: Int64)] = [
            (CivilTime.secondsFrom(year: 2015, month: 12, day: 20, hour: 0, minute: 0, second: 0), 80 * day),
            (CivilTime.secondsFrom(year: 1969, month: 12, day: 25, hour: 13, minute: 0, second: 0), 30 * day + 7),
            (CivilTime.secondsFrom(year: 1900, month: 1, day: 1, hour: 0, minute: 0, second: 0), (TrackTables.maxTableDays + 50) * day),
            (CivilTime.secondsFrom(year: 2014, month: 10, day: 1, hour: 23, minute: 59, second: 59), 1),
        ]
        for (k, period) in periods.enumerated() {
            var config = GeneratorConfig(rows: 12_000, customers: 30, seed: UInt64(20 + k))
            config.tracks = 100
            config.start = period.start
            config.span = period.span
            let g = Generator(config: config)
            let expected = referenceTracks(g)
            for threads in [1, 2] {
                var got: [UInt8] = []
                try g.writeTracks(threads: threads) { got += $0 }
                XCTAssertTrue(got == expected, "period \(k) threads \(threads)")
            }
        }
    }

    /// The same seed gives the same data across versions: data/'s samples
    /// were written by the first release's generator (seed 1, 20
    /// customers, 200 rows) and must still come out byte for byte.
    func testSeedGivesTheFirstReleasesSamples() throws {
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../data").standardized.path
        let tracks = try XCTUnwrap(FileManager.default.contents(atPath: data + "/tracks-sample.csv"))
        let cust = try XCTUnwrap(FileManager.default.contents(atPath: data + "/cust-sample.csv"))
        let g = try generate(rows: 200, customers: 20, seed: 1)
        XCTAssertTrue(g.tracks == [UInt8](tracks))
        XCTAssertTrue(g.cust == [UInt8](cust))
    }

    /// The generator's memory is its customers and tables: a customer is
    /// 32 bytes, a tagged alias slot 24 (their comments say why).
    func testGeneratorRecordsStayCompact() {
        XCTAssertEqual(MemoryLayout<CustomerRecord>.stride, 32)
        XCTAssertEqual(MemoryLayout<TaggedAliasTable.Slot>.stride, 24)
    }

    /// An alias table gives each value exactly its share of the weights:
    /// slot i (chosen with 1/n) keeps i with `keep`, else gives `alias`.
    func testAliasTableIsExactlyTheWeights() {
        var rng = Xoshiro256(seed: 11)
        for weights in [[1.0], [3, 1], [0.57, 0.33, 0.10], (1...1701).map { 1.0 / Double($0) },
                        (0..<500).map { _ in rng.uniform() * 10 + (rng.uniform() < 0.1 ? 1000 : 0) }] {
            let table = AliasTable(weights: weights)
            let n = weights.count, total = weights.reduce(0, +)
            var share = [Double](repeating: 0, count: n)
            for (i, s) in table.slots.enumerated() {
                XCTAssertTrue(s.keep >= 0 && s.keep <= 1 + 1e-12 && (0..<n).contains(Int(s.alias)))
                share[i] += s.keep / Double(n)
                share[Int(s.alias)] += (1 - s.keep) / Double(n)
            }
            for i in 0..<n { XCTAssertEqual(share[i], weights[i] / total, accuracy: 1e-12, "value \(i) of \(n)") }
            // resolve is that rule.
            for i in 0..<n {
                XCTAssertEqual(table.resolve(slot: i, coin: 0), table.slots[i].keep > 0 ? i : Int(table.slots[i].alias))
                XCTAssertEqual(table.resolve(slot: i, coin: 0.999_999_999), table.slots[i].keep > 0.999_999_999 ? i : Int(table.slots[i].alias))
            }
        }
    }

    /// The exact shape of the original exports.
    func testExportShape() throws {
        let (tracks, cust) = try generate(rows: 3000, customers: 400, seed: 9)
        let lines = String(decoding: tracks, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 3001)
        XCTAssertEqual(lines.last, "")
        for (i, line) in lines.dropLast().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            XCTAssertEqual(f.count, 6)
            XCTAssertEqual(f[0], Substring(String(i)))               // sequential ids, no header
            XCTAssertTrue(f[3].hasPrefix("\"2014-1") && f[3].count == 21)
            XCTAssertTrue(f[4] == "0" || f[4] == "1")
            XCTAssertTrue(f[5].count == 7 && f[5].first == "\"")
            XCTAssertFalse(line.contains("\r"))
        }
        let text = String(decoding: cust, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,LinkedWithApps\r\n"))
        let rows = text.components(separatedBy: "\r\n")
        XCTAssertEqual(rows.count, 402)   // header + 400 + empty after the last CRLF
        var leadingZero = 0
        for row in rows.dropFirst().dropLast() {
            let f = row.split(separator: ",", omittingEmptySubsequences: false)
            XCTAssertEqual(f.count, 10)
            XCTAssertTrue(f[1].hasPrefix("\"") && f[3].hasPrefix("\""))
            XCTAssertEqual(f[4].count, 7)
            if f[4].hasPrefix("\"0") { leadingZero += 1 }
            XCTAssertTrue(f[5].count == 12 && f[5].dropFirst(7).hasPrefix("201"))
        }
        XCTAssertGreaterThan(leadingZero, 8)   // about 7 % of 400
        XCTAssertFalse(text.contains("\n\n"))
        // And stave reads it back.
        let dir = temporaryDirectory(self)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/t.csv", contents: Data(tracks)))
        _ = try Converter(input: dir + "/t.csv", output: dir + "/t.stave", options: ConvertOptions()).run()
        XCTAssertEqual(try Store.open(dir + "/t.stave").rowCount, 3000)
    }

    /// At the published scale (1M events, 5,000 customers) the profile
    /// statistics land near the published table (ranges, not exact values).
    func testCalibratedToThePublishedFacts() throws {
        let dir = temporaryDirectory(self)
        let g = Generator(config: GeneratorConfig(rows: 1_000_000, customers: 5000, seed: 42))
        let out = try OutputFile(path: dir + "/tracks.csv")
        try g.writeTracks { try out.write($0) }
        try out.commit()
        _ = try Converter(input: dir + "/tracks.csv", output: dir + "/m.stave", options: ConvertOptions()).run()
        let store = try Store.open(dir + "/m.stave")
        let p = try Queries.profile(store, filter: QueryFilter(), threads: 2)
        let s = StatsKernel.compute(p)
        func check(_ k: Int, mean: ClosedRange<Double>, sd: ClosedRange<Double>, min: ClosedRange<Int64>, max: ClosedRange<Int64>) {
            XCTAssertEqual(s[k].count, 5000)
            XCTAssertTrue(mean.contains(s[k].mean!), "\(s[k].column) mean \(s[k].mean!)")
            XCTAssertTrue(sd.contains(s[k].stddev!), "\(s[k].column) sd \(s[k].stddev!)")
            XCTAssertTrue(min.contains(s[k].min!), "\(s[k].column) min \(s[k].min!)")
            XCTAssertTrue(max.contains(s[k].max!), "\(s[k].column) max \(s[k].max!)")
        }
        // Published: 170.3/117.0/68/1617, 58.3/67.4/16/2007, 41.6/47.9/9/1460,
        // 41.8/48.0/9/1480, 58.3/67.3/15/2139, 121.6/148.8/32/5093.
        check(0, mean: 160...180, sd: 100...140, min: 45...90, max: 1400...1701)
        check(1, mean: 55...62, sd: 55...80, min: 8...25, max: 1400...2700)
        check(2, mean: 39...44, sd: 38...58, min: 4...16, max: 1000...2000)
        check(3, mean: 39...44, sd: 38...58, min: 4...16, max: 1000...2000)
        check(4, mean: 55...62, sd: 55...80, min: 8...25, max: 1400...2700)
        check(5, mean: 112...130, sd: 120...180, min: 18...45, max: 3000...6500)
        // Parts of the day about 29/21/21/29 %, mobile about 60 %.
        let total = Double(s[6].normL1)
        XCTAssertEqual(s[1].normL1 / total, 0.2917, accuracy: 0.005)
        XCTAssertEqual(s[2].normL1 / total, 0.2083, accuracy: 0.005)
        XCTAssertEqual(s[3].normL1 / total, 0.2083, accuracy: 0.005)
        XCTAssertEqual(s[4].normL1 / total, 0.2917, accuracy: 0.005)
        XCTAssertEqual(s[5].normL1 / total, 0.607, accuracy: 0.02)
        // Skewed popularity: the top track has far more than 1/1701 of the plays.
        var plays = [Int](repeating: 0, count: 1701)
        try RowReader.forEachRowGroup(store) { for t in $0.columns[EventsSchema.trackID] { plays[Int(t)] += 1 } }
        plays.sort(by: >)
        XCTAssertGreaterThan(Double(plays[0]) / 1e6, 0.02)
        XCTAssertLessThan(Double(plays[1700]) / 1e6, 0.0006)
        // By level (published: mobile Free 100.0 / Silver 146.2 / Gold 160.2).
        var mobileByLevel = [0.0, 0.0, 0.0], customersByLevel = [0.0, 0.0, 0.0]
        for i in 0..<p.count {
            let level = g.customers[Int(p.customer[i])].level
            mobileByLevel[level] += Double(p.mobile[i]); customersByLevel[level] += 1
        }
        XCTAssertEqual(mobileByLevel[0] / customersByLevel[0], 100, accuracy: 12)
        XCTAssertEqual(mobileByLevel[1] / customersByLevel[1], 146, accuracy: 15)
        XCTAssertEqual(mobileByLevel[2] / customersByLevel[2], 160, accuracy: 25)
    }
}
