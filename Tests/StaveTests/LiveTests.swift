import Foundation
import XCTest
@testable import StaveFormat
@testable import StaveIO
@testable import StaveIngest
@testable import StaveQuery

/// Appends, compaction, snapshots and follow, at the library level.
final class LiveTests: XCTestCase {
    func append(_ rows: ArraySlice<EventRow>, to store: String, dir: String, options: ConvertOptions = ConvertOptions()) throws -> ConvertSummary {
        let file = dir + "/append-\(UUID().uuidString).csv"
        writeFile(file, csvLines(Array(rows)))
        return try Converter(input: file, output: store, options: options).append()
    }

    /// Every answer a query gives, for comparing stores.
    func answers(_ path: String) throws -> [String] {
        let s = try Store.open(path)
        let t = try CustomerTable.load(s)
        var out: [String] = []
        for f in [QueryFilter(), QueryFilter(from: seconds("2014-11-03 04:00:00"), to: seconds("2014-12-01")), QueryFilter(customers: [3, 10, 94])] {
            let p = try Queries.profile(s, filter: f, threads: 2)
            out.append("\(p)")
            out.append("\(StatsKernel.compute(p))")
            out.append("\(try Queries.topZips(s, filter: f, limit: 20, threads: 2))")
            out.append("\(try Queries.hours(s, by: nil, filter: f, table: nil, threads: 2))")
            if let t {
                out.append("\(try Queries.breakdown(s, table: t, by: .level, filter: f, threads: 2))")
            }
        }
        return out
    }

    func testManyAppendsGiveExactlyTheAnswersOfOneConversion() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 30_000, customers: 150, seed: 31)
        let custs = testCustomers(eventCustomers: 150, seed: 32)
        writeFile(dir + "/cust.csv", exportCSV(custs))
        var o = ConvertOptions()
        o.customersPath = dir + "/cust.csv"
        let one = try convert(csvLines(rows), dir: dir, name: "one", options: o)
        // The same rows: a first conversion, then appends of uneven sizes
        // (every customer's events spread over many parts).
        let many = try convert(csvLines(Array(rows[0..<1000])), dir: dir, name: "many", options: o)
        var at = 1000
        var rng = TestRNG(33)
        var appends = 0
        while at < rows.count {
            let n = min(rows.count - at, 1 + rng.below(4000))
            let s = try append(rows[at..<(at + n)], to: many, dir: dir)
            XCTAssertEqual(s.rows, n)
            at += n
            appends += 1
        }
        let store = try Store.open(many)
        XCTAssertEqual(store.parts.count, appends + 1)
        XCTAssertEqual(store.rowCount, rows.count)
        XCTAssertEqual(store.manifest.generation, UInt64(appends + 1))
        XCTAssertEqual(try answers(many), try answers(one))
        XCTAssertEqual(try Queries.profile(store, filter: QueryFilter(), threads: 2), referenceProfile(rows))
        XCTAssertTrue(Verifier.verify(many).isSound)
        // Compaction: fewer parts, the same answers, old files gone.
        let before = Set(Sys.listDirectory(many).filter { $0.hasPrefix("part-") })
        let c = try Compactor.compact(store: many, partRows: 12_000)
        XCTAssertEqual(c.merged, store.parts.count)
        XCTAssertEqual(c.runsAfter, 1)
        let after = try Store.open(many)
        XCTAssertLessThan(after.parts.count, store.parts.count)
        XCTAssertEqual(after.rowCount, rows.count)
        XCTAssertEqual(try answers(many), try answers(one))
        let files = Set(Sys.listDirectory(many).filter { $0.hasPrefix("part-") })
        XCTAssertEqual(files, Set(after.manifest.parts.map(\.name)))
        XCTAssertTrue(files.isDisjoint(with: before.subtracting(after.manifest.parts.map(\.name))))
        XCTAssertTrue(Verifier.verify(many).isSound)
        // The store opened before compaction still reads its snapshot
        // (its parts are mapped; their names are gone).
        XCTAssertEqual(try Queries.profile(store, filter: QueryFilter(), threads: 2), referenceProfile(rows))
        XCTAssertEqual(Compactor.runs(after.parts).count, 1, "one run: customer ranges that do not overlap")
        // Nothing to do the second time: one run already.
        XCTAssertEqual(try Compactor.compact(store: many, partRows: 2).merged, 0)
    }

    /// Automatic compaction on a real store (runs derived from the parts'
    /// customer ranges, as `compact(mode: .auto)` sees them) takes the
    /// ladder's picks: runs of 70,000 (tier 2), 40,000 (tier 1), 1,000 and
    /// 1,000 rows stay as they are (four runs, no full tier); an append of
    /// 2,000 makes five, so the two 1,000-row runs merge, the 2,000-row run
    /// joins them (less than 8 x 2,000) and the 40,000-row run does not
    /// (not less than 8 x 4,000). Every answer stays that of one conversion.
    func testAutomaticCompactionTakesTheLaddersPicks() throws {
        let sizes = [70_000, 40_000, 1_000, 1_000, 2_000]
        let rows = randomEvents(count: sizes.reduce(0, +), customers: 3_000, seed: 71)
        let dir = temporaryDirectory(self)
        let one = try convert(csvLines(rows), dir: dir, name: "one")
        let live = try convert(csvLines(Array(rows[0..<sizes[0]])), dir: dir, name: "live")
        func runRows() throws -> [Int] {
            let s = try Store.open(live)
            return Compactor.runs(s.parts).map { $0.reduce(0) { $0 + s.parts[$1].footer.rowCount } }.sorted(by: >)
        }
        var at = sizes[0]
        for (k, n) in sizes.dropFirst().enumerated() {
            _ = try append(rows[at..<(at + n)], to: live, dir: dir)
            at += n
            let c = try Compactor.compact(store: live, mode: .auto)
            if k < 3 {
                XCTAssertEqual(c.merged, 0, "append \(k + 1): four runs or fewer, no full tier")
            }
        }
        XCTAssertEqual(try runRows(), [70_000, 40_000, 4_000])
        XCTAssertEqual(try Store.open(live).rowCount, rows.count)
        XCTAssertEqual(try answers(live), try answers(one))
        XCTAssertTrue(Verifier.verify(live).isSound)
    }

    func testFailedAppendLeavesTheStoreAsItWas() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 3000, customers: 50, seed: 41)
        let path = try convert(csvLines(Array(rows[0..<1000])), dir: dir)
        let manifest = try Data(contentsOf: URL(fileURLWithPath: path + "/MANIFEST"))
        let files = Set(Sys.listDirectory(path))
        // A bad row at the end of a long input: nothing is appended.
        let file = dir + "/bad.csv"
        writeFile(file, csvLines(Array(rows[1000...])) + "3000,1,2,\"2014-13-01 00:00:00\",0,\"00000\"\n")
        XCTAssertThrowsError(try Converter(input: file, output: path, options: ConvertOptions()).append()) { e in
            guard case StaveError.csv(_, let line, _, _, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(line, 2001)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path + "/MANIFEST")), manifest)
        XCTAssertEqual(Set(Sys.listDirectory(path)).subtracting(["LOCK"]), files)
        // With --skip-bad-rows the good rows go in.
        var o = ConvertOptions()
        o.skipBadRows = true
        XCTAssertEqual(try Converter(input: file, output: path, options: o).append().rows, 2000)
        XCTAssertEqual(try Store.open(path).rowCount, 3000)
    }

    func testSecondWriterGetsAClearError() throws {
        let dir = temporaryDirectory(self)
        let path = try convert(csvLines(randomEvents(count: 100, customers: 5, seed: 1)), dir: dir)
        let t = try StoreTransaction(path: path)
        XCTAssertThrowsError(try StoreTransaction(path: path)) { e in
            XCTAssertTrue("\(e)".contains("another stave process is writing to this store"), "\(e)")
        }
        XCTAssertThrowsError(try Compactor.compact(store: path, partRows: 100))
        t.abort()
        XCTAssertNoThrow(try StoreTransaction(path: path).abort())
    }

    func testGarbageWaitsForReadersOpeningTheStore() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 2000, customers: 20, seed: 51)
        let path = try convert(csvLines(Array(rows[0..<1000])), dir: dir)
        _ = try append(rows[1000...], to: path, dir: dir)
        // A reader between reading MANIFEST and opening its files holds the
        // shared lock: compaction commits but may not delete.
        let reader = try XCTUnwrap(Sys.lockShared(path + "/READERS"))
        XCTAssertEqual(try Compactor.compact(store: path, partRows: 10_000).merged, 2)
        XCTAssertTrue(Sys.listDirectory(path).contains("part-000001.stp"))
        Sys.close(reader)
        // The next writer collects them.
        XCTAssertEqual(try Compactor.compact(store: path, partRows: 10_000).merged, 0)
        XCTAssertNoThrow(try StoreTransaction(path: path).commit())
        XCTAssertEqual(Set(Sys.listDirectory(path).filter { $0.hasPrefix("part-") }), ["part-000003.stp"])
        XCTAssertEqual(try Queries.profile(try Store.open(path), filter: QueryFilter(), threads: 1), referenceProfile(rows))
    }

    // MARK: follow

    func follow(_ store: String, _ file: String, _ configure: (inout FollowOptions) -> Void = { _ in }) throws -> FollowSummary {
        var o = FollowOptions()
        o.intervalMS = 10
        o.pollMS = 2
        o.idleExitMS = 60
        configure(&o)
        return try Follower(store: store, file: file, options: o).run(stop: StopFlag())
    }

    func testFollowResumesExactlyAndRefusesChangedFiles() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 4000, customers: 40, seed: 61)
        let path = try convert("", dir: dir)
        let live = dir + "/live.csv"
        let text = Array(csvLines(rows).utf8)
        // Half, with a partial last line: the partial line is not consumed.
        let cut = text.indices.filter { text[$0] == 10 }[1999] + 20
        try Data(text[0..<cut]).write(to: URL(fileURLWithPath: live))
        var s = try follow(path, live)
        XCTAssertEqual(s.rows, 2000)
        XCTAssertEqual(try Store.open(path).rowCount, 2000)
        let offset = try Store.open(path).manifest.follows[0].offset
        XCTAssertEqual(Int(offset), cut - 19)
        // The rest of the file: resumes at the offset; nothing twice.
        try Data(text).write(to: URL(fileURLWithPath: live + ".new"))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: live))
        h.seekToEndOfFile()
        h.write(Data(text[cut...]))
        try h.close()
        s = try follow(path, live) { $0.batchRows = 300 }
        XCTAssertEqual(s.rows, 2000)
        XCTAssertGreaterThanOrEqual(s.commits, 6)
        let store = try Store.open(path)
        XCTAssertEqual(store.rowCount, 4000)
        XCTAssertEqual(try Queries.profile(store, filter: QueryFilter(), threads: 2), referenceProfile(rows))
        XCTAssertEqual(store.manifest.follows.count, 1)
        XCTAssertEqual(store.manifest.follows[0].offset, UInt64(text.count))
        // Nothing new: nothing committed.
        XCTAssertEqual(try follow(path, live).commits, 0)
        // Rewritten in place before the offset (same inode, same size).
        var changed = text
        changed[100] = changed[100] == 49 ? 50 : 49
        let w = try FileHandle(forWritingTo: URL(fileURLWithPath: live))
        w.write(Data(changed))
        try w.close()
        XCTAssertThrowsError(try follow(path, live)) { e in XCTAssertTrue("\(e)".contains("was rewritten"), "\(e)") }
        // Truncated.
        try Data(text[0..<1000]).write(to: URL(fileURLWithPath: dir + "/short.csv"))
        let t = try FileHandle(forWritingTo: URL(fileURLWithPath: live))
        try t.truncate(atOffset: 1000)
        try t.close()
        XCTAssertThrowsError(try follow(path, live)) { e in XCTAssertTrue("\(e)".contains("truncated"), "\(e)") }
        // Replaced by another file.
        try FileManager.default.removeItem(atPath: live)
        try FileManager.default.moveItem(atPath: live + ".new", toPath: live)
        XCTAssertThrowsError(try follow(path, live)) { e in XCTAssertTrue("\(e)".contains("replaced"), "\(e)") }
        XCTAssertEqual(try Store.open(path).rowCount, 4000)
        XCTAssertTrue(Verifier.verify(path).isSound)
    }

    func testFollowRejectsBadLinesOnceWhenSkipping() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 100, customers: 5, seed: 71)
        let path = try convert("", dir: dir)
        let live = dir + "/live.csv"
        writeFile(live, "event_id,customer_id,track_id,datetime,mobile,listening_zip\n" + csvLines(Array(rows[0..<50])) + "oops\n" + csvLines(Array(rows[50...])))
        let s = try follow(path, live) {
            $0.skipBadRows = true
            $0.rejectsPath = dir + "/rejects.tsv"
        }
        XCTAssertEqual(s.rows, 100)
        XCTAssertEqual(s.rejected, 1)
        XCTAssertEqual(readFile(dir + "/rejects.tsv"), "52\t1\tevent_id is not a non-negative integer\toops\n")
        // Strict: a bad line stops with its line number; nothing of its batch is committed.
        let strict = try convert("", dir: dir, name: "strict")
        XCTAssertThrowsError(try follow(strict, live)) { e in
            guard case StaveError.csv(_, let line, _, _, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(line, 52)
        }
    }
}

final class XXH64StreamTests: XCTestCase {
    func testStreamEqualsOneShotForAnySplit() {
        var rng = TestRNG(5)
        for n in [0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 65, 100, 1000, 4099] {
            let bytes = (0..<n).map { _ in UInt8(rng.below(256)) }
            for _ in 0..<5 {
                var s = XXH64.Stream()
                var at = 0
                while at < n {
                    let k = min(n - at, rng.below(70))
                    s.update(Array(bytes[at..<(at + k)]))
                    at += k
                }
                XCTAssertEqual(s.digest(), XXH64.hash(bytes), "n=\(n)")
                XCTAssertEqual(s.count, UInt64(n))
            }
        }
    }
}

final class SnapshotTests: XCTestCase {
    /// Queries in a loop while appends and compactions run: every result is
    /// the answer of some committed snapshot, and snapshots only move forward.
    func testQueriesDuringAppendsAndCompactionsSeeCommittedSnapshots() throws {
        let dir = temporaryDirectory(self)
        let rows = randomEvents(count: 24_000, customers: 120, seed: 81)
        let batches = stride(from: 0, to: rows.count, by: 2000).map { Array(rows[$0..<min(rows.count, $0 + 2000)]) }
        let path = try convert(csvLines(batches[0]), dir: dir)
        // The answer after each number of committed batches.
        let expected: [Profile] = (1...batches.count).map { referenceProfile(Array(batches[0..<$0].joined())) }
        let done = StopFlag()
        final class Box: @unchecked Sendable { var seen: [Int] = []; var failures: [String] = [] }
        let box = Box()
        let finished = DispatchSemaphore(value: 0)
        let reader = Thread {
            defer { finished.signal() }
            while !done.isSet {
                do {
                    let p = try Queries.profile(try Store.open(path), filter: QueryFilter(), threads: 2)
                    if let k = expected.firstIndex(of: p) { box.seen.append(k) } else { box.failures.append("a result matching no snapshot (\(p.count) customers)") }
                } catch {
                    box.failures.append("\(error)")
                }
            }
        }
        reader.start()
        for (k, batch) in batches.enumerated().dropFirst() {
            let file = dir + "/b\(k).csv"
            writeFile(file, csvLines(batch))
            _ = try Converter(input: file, output: path, options: ConvertOptions()).append()
            if k % 3 == 0 { _ = try Compactor.compact(store: path, partRows: 9000) }
            usleep(3000)
        }
        done.set()
        finished.wait()   // joins the reader (and orders its writes to box before our reads)
        XCTAssertEqual(box.failures, [])
        XCTAssertGreaterThan(box.seen.count, 10)
        XCTAssertEqual(box.seen, box.seen.sorted(), "snapshots never go back")
        XCTAssertGreaterThan(Set(box.seen).count, 3, "the reader saw the table grow")
        XCTAssertEqual(try Queries.profile(try Store.open(path), filter: QueryFilter(), threads: 2), expected.last)
        print("SnapshotTests: \(box.seen.count) queries during \(batches.count - 1) appends and \((batches.count - 1) / 3) compactions, all matching a committed snapshot")
    }
}
