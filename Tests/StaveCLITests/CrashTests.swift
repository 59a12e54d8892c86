import Foundation
import XCTest
import StaveFormat
import StaveIO

/// SIGKILL at random moments: the store always opens, verifies, and holds
/// exactly a prefix of the input (follow) or all-or-nothing of each append;
/// resuming converges to every input row exactly once.
final class CrashTests: XCTestCase {
    var dir = ""
    var kills = 0

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "stave-crash-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(atPath: dir) }
    }

    func start(_ args: [String]) throws -> Process { try startStave(args, in: dir) }

    @discardableResult
    func runToEnd(_ args: [String]) throws -> Int32 {
        let p = try start(args)
        p.waitUntilExit()
        return p.terminationStatus
    }

    func killLater(_ p: Process, afterMS ms: Int) {
        usleep(useconds_t(ms * 1000))
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            kills += 1
        }
        p.waitUntilExit()
    }

    /// Event ids of every row of the store, sorted; the store must open and
    /// verify.
    func storeIDs(_ store: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Int64] {
        let report = Verifier.verify(dir + "/" + store)
        XCTAssertTrue(report.isSound, "\(report.problems)", file: file, line: line)
        let s = try Store.open(dir + "/" + store)
        var ids: [Int64] = []
        for part in s.parts {
            for g in part.footer.rowGroups.indices { ids += try part.decodeRowGroup(g)[EventsSchema.eventID] }
        }
        return ids.sorted()
    }

    func lines(_ rows: Int, seed: Int) throws -> [Substring] {
        XCTAssertEqual(try runToEnd(["generate", "--rows", String(rows), "--customers", "300", "--seed", String(seed), "--out", "gen\(seed)", "--quiet"]), 0)
        let text = try String(contentsOfFile: dir + "/gen\(seed)/tracks.csv", encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
    }

    func testFollowKilledAtRandomMomentsLosesNothingAndDuplicatesNothing() throws {
        let all = try lines(40_000, seed: 7)
        FileManager.default.createFile(atPath: dir + "/empty.csv", contents: Data())
        XCTAssertEqual(try runToEnd(["convert", "empty.csv", "-o", "s.stave", "--quiet"]), 0)
        FileManager.default.createFile(atPath: dir + "/live.csv", contents: Data())
        // A writer keeps feeding the followed file, in pieces that often end
        // mid-line, while follow is killed again and again.
        let bytes = Array(all.joined(separator: "\n").utf8) + [10]
        let path = dir + "/live.csv"
        let finished = DispatchSemaphore(value: 0)
        let writer = Thread {
            defer { finished.signal() }
            let h = FileHandle(forWritingAtPath: path)!
            var at = 0
            var rng = SystemRandomNumberGenerator()
            while at < bytes.count {
                let n = min(bytes.count - at, Int.random(in: 1...3000, using: &rng))
                h.write(Data(bytes[at..<(at + n)]))
                at += n
                usleep(useconds_t(Int.random(in: 200...2500, using: &rng)))
            }
            try? h.close()
        }
        writer.start()
        var rng = SystemRandomNumberGenerator()
        var previous = 0
        for _ in 0..<40 {
            let p = try start(["follow", "s.stave", "live.csv", "--interval", "15", "--batch-rows", "700", "--quiet"])
            killLater(p, afterMS: Int.random(in: 20...250, using: &rng))
            let ids = try storeIDs("s.stave")
            // Exactly the first n lines: no gap, no duplicate, never fewer than before.
            XCTAssertEqual(ids, (0..<Int64(ids.count)).map { $0 })
            XCTAssertGreaterThanOrEqual(ids.count, previous)
            previous = ids.count
        }
        finished.wait()
        // Resuming converges to every row exactly once.
        XCTAssertEqual(try runToEnd(["follow", "s.stave", "live.csv", "--interval", "15", "--idle-exit", "300", "--quiet"]), 0)
        XCTAssertEqual(try storeIDs("s.stave"), (0..<Int64(all.count)).map { $0 })
        XCTAssertGreaterThanOrEqual(kills, 20, "most runs must be killed mid-way")
        print("CrashTests: follow killed \(kills) times (SIGKILL), \(all.count) rows converged exactly once")
    }

    func testAppendKilledAtRandomMomentsIsAllOrNothing() throws {
        let all = try lines(21_000, seed: 8)
        try (all[0..<1000].joined(separator: "\n") + "\n").write(toFile: dir + "/first.csv", atomically: true, encoding: .utf8)
        try (all[1000...].joined(separator: "\n") + "\n").write(toFile: dir + "/batch.csv", atomically: true, encoding: .utf8)
        // How long one append takes here: kills land anywhere in twice that.
        XCTAssertEqual(try runToEnd(["convert", "first.csv", "-o", "t.stave", "--quiet"]), 0)
        var times: [Double] = []
        for _ in 0..<3 {
            let t0 = Date()
            XCTAssertEqual(try runToEnd(["append", "t.stave", "batch.csv", "--quiet", "--buffer-rows", "7000", "--allow-duplicate-ids", "--no-compact"]), 0)
            times.append(Date().timeIntervalSince(t0))
        }
        let window = max(20, Int(times.sorted()[1] * 2000))
        XCTAssertEqual(try runToEnd(["convert", "first.csv", "-o", "s.stave", "--quiet"]), 0)
        var count = 1000
        var committed = 0
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<30 {
            // The same batch each time (--allow-duplicate-ids): what is
            // tested is that a killed append commits all of it or nothing.
            let p = try start(["append", "s.stave", "batch.csv", "--quiet", "--buffer-rows", "7000", "--allow-duplicate-ids", "--no-compact"])
            killLater(p, afterMS: Int.random(in: 5...window, using: &rng))
            let ids = try storeIDs("s.stave")
            // All of the batch or none of it (three parts of 7,000 rows, one commit).
            XCTAssertTrue(ids.count == count || ids.count == count + 20_000, "\(ids.count) rows after \(count)")
            if ids.count > count { committed += 1 }
            count = ids.count
            XCTAssertEqual(Set(ids).count, 21_000 - (ids.count == 1000 ? 20_000 : 0))
            // Without the flag, the batch is refused once any copy of it is in.
            if ids.count > 1000 {
                let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/s.stave/MANIFEST"))
                XCTAssertEqual(try runToEnd(["append", "s.stave", "batch.csv", "--quiet"]), 65)
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/s.stave/MANIFEST")), before)
            }
        }
        // Both outcomes happened (each has probability about 1/2 per run).
        XCTAssertGreaterThanOrEqual(kills, 1)
        XCTAssertGreaterThanOrEqual(committed, 1)
        print("CrashTests: append killed \(kills) times (SIGKILL) within \(window) ms, \(committed) of 30 committed, every state all-or-nothing")
        // The next writer cleans up what killed ones left (temporaries, unlisted parts).
        XCTAssertEqual(try runToEnd(["append", "s.stave", "first.csv", "--quiet", "--allow-duplicate-ids"]), 0)
        let s = try Store.open(dir + "/s.stave")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/s.stave"))
        XCTAssertEqual(files, Set(s.manifest.parts.map(\.name) + ["MANIFEST", "LOCK", "READERS"]))
    }
}
