import Foundation
import XCTest
import StaveFormat
import StaveIO

/// A failure (EIO, ENOSPC, EINTR) injected at the write, fsync, rename and
/// unlink calls of convert, append, follow and compact in turn, through
/// the syscall shim (FaultInjection, debug builds): afterwards the store is
/// byte-identical to before or the commit is complete and verifies, the
/// error names the file, and the next writer recovers to every row exactly
/// once. EINTR is retried, so that writer succeeds.
final class FaultTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "stave-fault-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(atPath: dir) }
    }

    @discardableResult
    func run(_ args: [String], env: [String: String] = [:]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var e = ProcessInfo.processInfo.environment
        e.removeValue(forKey: "STAVE_FAULT")
        e.removeValue(forKey: "STAVE_FAULT_TRACE")
        for (k, v) in env { e[k] = v }
        p.environment = e
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let drained = ErrDrain(err.fileHandleForReading)
        let text = String(decoding: drained.wait(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// Every file under `path` (relative name -> bytes); empty when missing.
    func snapshot(_ path: String) -> [String: Data] {
        var out: [String: Data] = [:]
        let root = dir + "/" + path
        guard let e = FileManager.default.enumerator(atPath: root) else { return out }
        for case let name as String in e {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDir), !isDir.boolValue {
                out[name] = FileManager.default.contents(atPath: root + "/" + name)
            }
        }
        return out
    }

    /// Event ids of every row, sorted; the store must open and verify.
    func ids(_ store: String, _ context: String) throws -> [Int64] {
        let report = Verifier.verify(dir + "/" + store)
        XCTAssertTrue(report.isSound, "\(context): \(report.problems)")
        let s = try Store.open(dir + "/" + store)
        var ids: [Int64] = []
        for part in s.parts {
            for g in part.footer.rowGroups.indices { ids += try part.decodeRowGroup(g)[EventsSchema.eventID] }
        }
        return ids.sorted()
    }

    /// The fault points one run of `args` passes, per operation.
    func points(_ args: [String], prepare: () throws -> Void) throws -> [FaultInjection.Op: Int] {
        try prepare()
        let r = try run(args, env: ["STAVE_FAULT_TRACE": "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var counts: [FaultInjection.Op: Int] = [:]
        for line in r.stderr.split(separator: "\n") where line.hasPrefix("stave: fault point: ") {
            let op = line.dropFirst("stave: fault point: ".count).prefix { $0 != " " }
            if let o = FaultInjection.Op(rawValue: String(op)) { counts[o, default: 0] += 1 }
        }
        return counts
    }

    /// Runs `args` once per fault point, the errno taking turns (EIO,
    /// ENOSPC, EINTR) so that each operation sees each. `prepare` sets
    /// the stage (the same each time); `check` judges the outcome.
    func inject(_ args: [String], prepare: () throws -> Void,
                check: (_ status: Int32, _ stderr: String, _ fault: String) throws -> Void) throws {
        let counts = try points(args, prepare: prepare)
        guard !counts.isEmpty else { throw XCTSkip("fault injection is compiled into debug builds only") }
        XCTAssertNotNil(counts[.write]); XCTAssertNotNil(counts[.fsync]); XCTAssertNotNil(counts[.rename])
        let errnos = ["EIO", "ENOSPC", "EINTR"]
        var i = 0, injected = 0, failed = 0
        let total = counts.values.reduce(0, +)
        defer {
            print("FaultTests: \(args[0]): \(injected) faults injected at \(total) points, \(failed) runs failed cleanly")
            // Points can shift a little between runs when threads write,
            // but a shim that injects little or nothing must fail the test.
            XCTAssertGreaterThanOrEqual(injected * 4, total * 3, "\(args[0]): faults were not injected")
            XCTAssertGreaterThan(failed, 0, "\(args[0]): no injected fault made a run fail")
        }
        for op in FaultInjection.Op.allCases {
            for k in stride(from: 1, through: counts[op] ?? 0, by: 1) {
                let e = errnos[i % errnos.count]
                i += 1
                try prepare()
                let fault = "\(op.rawValue):\(k):\(e)"
                let r = try run(args, env: ["STAVE_FAULT": fault])
                XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Stack dump"), "\(fault): \(r.stderr)")
                // The injection happened (counts vary a little between runs
                // when threads write: a missed point is just skipped).
                guard r.stderr.contains("stave: injected fault: \(op.rawValue) #\(k) ") else { continue }
                injected += 1
                if r.status != 0 { failed += 1 }
                if ProcessInfo.processInfo.environment["STAVE_FAULT_LOG"] != nil { print("FaultTests: \(fault) -> \(r.status) \(r.stderr.split(separator: "\n").last ?? "")") }
                if e == "EINTR" {
                    XCTAssertEqual(r.status, 0, "\(fault): an interrupted call is retried: \(r.stderr)")
                } else if r.status != 0 {
                    XCTAssertEqual(r.status, 74, "\(fault): \(r.stderr)")
                    XCTAssertTrue(r.stderr.contains(e == "EIO" ? "Input/output error" : "No space left on device"), "\(fault): \(r.stderr)")
                }
                try check(r.status, r.stderr, fault)
            }
        }
    }

    func generate(_ rows: Int, seed: Int, customers: Int = 300) throws -> String {
        let out = "gen\(seed)"
        XCTAssertEqual(try run(["generate", "--rows", String(rows), "--customers", String(customers), "--seed", String(seed), "--out", out, "--quiet"]).status, 0)
        return out
    }

    func remove(_ path: String) { try? FileManager.default.removeItem(atPath: dir + "/" + path) }

    func copy(_ from: String, _ to: String) throws {
        remove(to)
        try FileManager.default.copyItem(atPath: dir + "/" + from, toPath: dir + "/" + to)
    }

    /// Names in the test folder, without the per-run ones.
    func listing() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
    }

    func eventIDs(_ csv: String) throws -> [Int64] {
        try String(contentsOfFile: dir + "/" + csv, encoding: .utf8).split(separator: "\n").compactMap { Int64($0.prefix { $0 != "," }) }.sorted()
    }

    // MARK: convert

    /// A new store (three buffers spilled and laid out as one run, and a
    /// customer table): after a failure the output does not exist and no
    /// temporary is left; the next convert succeeds.
    func testConvertFaults() throws {
        let g = try generate(3_000, seed: 1)
        let expected = try eventIDs(g + "/tracks.csv")
        let args = ["convert", g + "/tracks.csv", "--customers", g + "/cust.csv", "-o", "c.stave", "--buffer-rows", "1000", "--quiet"]
        let before = listing()
        try inject(args, prepare: { remove("c.stave") }) { status, stderr, fault in
            if status == 0 {
                XCTAssertEqual(try ids("c.stave", fault), expected, fault)
            } else if stderr.contains("after it was put in place (it is complete") {
                // The last step, syncing the folder after the rename: the
                // store is there, whole, and the message says so.
                XCTAssertEqual(try ids("c.stave", fault), expected, fault)
                XCTAssertEqual(listing(), before.union(["c.stave"]), "\(fault): temporaries left")
            } else {
                XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/c.stave"), fault)
                XCTAssertEqual(listing(), before, "\(fault): temporaries left")
                XCTAssertEqual(try run(args).status, 0, "\(fault): the next convert")
                XCTAssertEqual(try ids("c.stave", fault), expected, fault)
            }
        }
    }

    // MARK: append

    /// An append (and the compaction it runs afterwards): the store is
    /// byte-identical or holds the new rows exactly once; appending the
    /// same file again then succeeds or is refused as duplicates, and the
    /// store ends with every row once.
    func testAppendFaults() throws {
        let a = try generate(2_000, seed: 2), b = try generate(1_500, seed: 3)
        // Event ids of b after a's: the generator numbers from 0.
        let shifted = try String(contentsOfFile: dir + "/" + b + "/tracks.csv", encoding: .utf8)
            .split(separator: "\n").map { line -> String in
                guard let comma = line.firstIndex(of: ","), let id = Int(line[..<comma]) else { return String(line) }
                return String(id + 1_000_000) + line[comma...]
            }.joined(separator: "\n") + "\n"
        try shifted.write(toFile: dir + "/new.csv", atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["convert", a + "/tracks.csv", "-o", "base.stave", "--quiet"]).status, 0)
        // Two more runs first, so that the append's compaction merges.
        for k in 0..<2 {
            let lines = try String(contentsOfFile: dir + "/" + a + "/tracks.csv", encoding: .utf8).split(separator: "\n")
            let extra = lines.prefix(300).map { line -> String in
                let comma = line.firstIndex(of: ",")!
                return String(Int(line[..<comma])! + 2_000_000 + k * 1000) + line[comma...]
            }.joined(separator: "\n") + "\n"
            try extra.write(toFile: dir + "/extra\(k).csv", atomically: true, encoding: .utf8)
            XCTAssertEqual(try run(["append", "base.stave", "extra\(k).csv", "--no-compact", "--quiet"]).status, 0)
        }
        let old = try ids("base.stave", "base")
        let all = (old + (try eventIDs("new.csv"))).sorted()
        let original = snapshot("base.stave")
        let args = ["append", "s.stave", "new.csv", "--quiet"]
        try inject(args, prepare: { try copy("base.stave", "s.stave") }) { status, stderr, fault in
            let now = try ids("s.stave", fault)
            if status != 0 {
                let untouched = snapshot("s.stave") == original
                XCTAssertTrue(untouched || now == all, "\(fault): neither untouched nor committed")
                // Committed yet failed: only the folder's fsync after the
                // MANIFEST's rename, and the message says it is complete.
                if !untouched { XCTAssertTrue(stderr.contains("(it is complete, but may not survive a power loss)"), "\(fault): \(stderr)") }
            } else {
                XCTAssertEqual(now, all, fault)
            }
            // The next writer: the same append again.
            let again = try run(["append", "s.stave", "new.csv", "--quiet"])
            XCTAssertTrue(again.status == 0 || (again.status == 65 && again.stderr.contains("already in the store")), "\(fault): \(again.stderr)")
            XCTAssertEqual(try ids("s.stave", fault), all, "\(fault): after the next append")
        }
    }

    // MARK: compact

    /// A full compaction: the store is byte-identical or compacted, with the
    /// same rows either way; the next compaction succeeds.
    func testCompactFaults() throws {
        let a = try generate(2_500, seed: 4)
        XCTAssertEqual(try run(["convert", a + "/tracks.csv", "-o", "base.stave", "--buffer-rows", "800", "--quiet"]).status, 0)
        let lines = try String(contentsOfFile: dir + "/" + a + "/tracks.csv", encoding: .utf8).split(separator: "\n")
        for k in 0..<3 {
            let extra = lines.prefix(200).map { line -> String in
                let comma = line.firstIndex(of: ",")!
                return String(Int(line[..<comma])! + 1_000_000 * (k + 1)) + line[comma...]
            }.joined(separator: "\n") + "\n"
            try extra.write(toFile: dir + "/extra\(k).csv", atomically: true, encoding: .utf8)
            XCTAssertEqual(try run(["append", "base.stave", "extra\(k).csv", "--no-compact", "--quiet"]).status, 0)
        }
        let all = try ids("base.stave", "base")
        let original = snapshot("base.stave")
        try inject(["compact", "s.stave", "--quiet"], prepare: { try copy("base.stave", "s.stave") }) { status, _, fault in
            XCTAssertEqual(try ids("s.stave", fault), all, fault)
            if status != 0 {
                let now = snapshot("s.stave")
                XCTAssertTrue(now == original || Set(now.keys) != Set(original.keys), "\(fault): changed but not committed")
            }
            XCTAssertEqual(try run(["compact", "s.stave", "--quiet"]).status, 0, fault)
            XCTAssertEqual(try ids("s.stave", fault), all, "\(fault): after the next compaction")
        }
    }

    // MARK: follow

    /// follow commits in batches and records its place in the same commit:
    /// after a failure the store holds a prefix of the file, and following
    /// again ends with every row exactly once.
    func testFollowFaults() throws {
        let a = try generate(1_800, seed: 5)
        try copy(a + "/tracks.csv", "live.csv")
        let all = try eventIDs("live.csv")
        FileManager.default.createFile(atPath: dir + "/empty.csv", contents: Data())
        XCTAssertEqual(try run(["convert", "empty.csv", "-o", "base.stave", "--quiet"]).status, 0)
        let args = ["follow", "s.stave", "live.csv", "--batch-rows", "500", "--idle-exit", "100", "--quiet"]
        let order = try String(contentsOfFile: dir + "/live.csv", encoding: .utf8).split(separator: "\n").compactMap { Int64($0.prefix { $0 != "," }) }
        try inject(args, prepare: { try copy("base.stave", "s.stave") }) { status, _, fault in
            let now = try ids("s.stave", fault)
            if status != 0 {
                // A prefix of the file's rows, in whole batches.
                XCTAssertEqual(now, order.prefix(now.count).sorted(), "\(fault): not a prefix")
            } else {
                XCTAssertEqual(now, all, fault)
            }
            XCTAssertEqual(try run(args).status, 0, fault)
            XCTAssertEqual(try ids("s.stave", fault), all, "\(fault): after following again")
        }
    }
}
