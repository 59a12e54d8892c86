import Foundation
import XCTest
import StaveFormat
import StaveIO

/// Inputs built to make stave allocate too much, and file systems that fill
/// up or refuse writes: a clear error (or a correct answer) in bounded
/// memory, and a store left exactly as it was.
final class LimitsTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "stave-limits-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(atPath: dir) }
    }

    struct Run {
        var status: Int32
        var stderr: String
        var stdout: String
        /// The child's own peak resident set, in MB.
        var peakMB: Double
    }

    /// Runs stave under GNU time (`/usr/bin/time -f %M`), for the child's
    /// own peak RSS. Not wait4 on a child spawned from here: posix_spawn
    /// shares this process's memory until exec (vfork), and Linux carries
    /// that memory's high-water mark into the child's ru_maxrss, so the
    /// child would report this test process's peak (measured: 117 MB for
    /// every child late in the suite). `time` forks from its own 1 MB
    /// image, so its child starts clean. scripts/install-deps installs it.
    func stave(_ args: [String]) throws -> Run {
        let out = dir + "/.out-\(UUID().uuidString)", err = dir + "/.err-\(UUID().uuidString)"
        let rss = dir + "/.rss-\(UUID().uuidString)"
        let time = "/usr/bin/time"
        guard FileManager.default.isExecutableFile(atPath: time) else {
            XCTFail("\(time) is missing: scripts/install-deps installs it (Debian package 'time')")
            throw StaveError.io(path: time, operation: "spawn", errno: ENOENT)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([time, "-f", "%M", "-o", rss, CLITests.binary.path] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        // The child starts in `dir` (tests run one at a time).
        let previous = FileManager.default.currentDirectoryPath
        guard FileManager.default.changeCurrentDirectoryPath(dir) else { throw StaveError.io(path: dir, operation: "chdir", errno: errno) }
        let rc = posix_spawn(&pid, time, &actions, nil, argv, environ)
        _ = FileManager.default.changeCurrentDirectoryPath(previous)
        guard rc == 0 else { throw StaveError.io(path: time, operation: "spawn", errno: rc) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // GNU time exits with the child's status (128 + N when a signal killed it).
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        // The last line of its report is the peak in KB ("Command exited
        // with non-zero status N" comes before it).
        let report = (try? String(contentsOfFile: rss, encoding: .utf8)) ?? ""
        let kb = report.split(separator: "\n").last.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        XCTAssertNotNil(kb, "no peak RSS from \(time): '\(report)'")
        return Run(status: exit, stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "",
                   stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", peakMB: (kb ?? .infinity) / 1024)
    }

    func write(_ name: String, _ text: String) {
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8)))
    }

    /// Memory is asserted on normal builds only: a sanitizer's shadow memory
    /// and quarantine are not stave's.
    let measuringMemory = ProcessInfo.processInfo.environment["STAVE_SANITIZER"] == nil

    func assertPeak(_ r: Run, below mb: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        if measuringMemory { XCTAssertLessThan(r.peakMB, mb, what, file: file, line: line) }
    }

    let good = "0,48,453,\"2014-10-23 03:26:20\",0,\"72132\"\n1,1081,19,\"2014-10-15 18:32:14\",1,\"17307\"\n"

    /// The figure is the child's own: with 256 MB touched in this process,
    /// `stave --version` still measures small (with wait4 on a posix_spawn
    /// child it measured over 256 MB).
    func testPeakMeasurementIsTheChildsOwn() throws {
        let size = 256 << 20
        let ballast = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer { ballast.deallocate() }
        for k in stride(from: 0, to: size, by: 4096) { ballast[k] = UInt8(truncatingIfNeeded: k >> 12) }
        let r = try stave(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThan(r.peakMB, 64, "peak RSS of `stave --version` beside a 256 MB parent")
        XCTAssertGreaterThan(r.peakMB, 0.5)
        // Keep the ballast alive (and touched) until the child has run.
        XCTAssertEqual(ballast[4096 * 3], 3)
    }

    func testHundredMegabyteLineIsAClearErrorInBoundedMemory() throws {
        let h = FileManager.default.createFile(atPath: dir + "/big.csv", contents: nil)
        XCTAssertTrue(h)
        let f = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/big.csv"))
        f.write(Data(good.utf8))
        let block = Data(repeating: UInt8(ascii: "7"), count: 1 << 20)
        f.write(Data("2,".utf8))
        for _ in 0..<100 { f.write(block) }
        f.write(Data(",1,\"2014-10-15 18:32:14\",1,\"17307\"\n".utf8))
        f.write(Data(good.utf8))
        try f.close()
        for extra in [[], ["--skip-bad-rows"]] {
            let r = try stave(["convert", "big.csv", "-o", "b.stave"] + extra)
            XCTAssertEqual(r.status, 65, r.stderr)
            XCTAssertEqual(r.stderr, "stave: big.csv:3:1: line longer than 65536 bytes ()\n")
            assertPeak(r, below: 100, "peak RSS")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/b.stave"))
        }
        // The same line appended to a followed file: an error, nothing committed past it.
        write("s.csv", good)
        XCTAssertEqual(try stave(["convert", "s.csv", "-o", "s.stave"]).status, 0)
        let r = try stave(["follow", "s.stave", "big.csv", "--idle-exit", "100"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("line longer than 65536 bytes"), r.stderr)
        assertPeak(r, below: 100, "peak RSS")
    }

    func testTenMegabyteCustomerField() throws {
        write("cust.csv", "1,\"" + String(repeating: "n", count: 10 << 20) + "\",0,\"x\",\"00501\",\"01/02/2013\",1,1,1,0\n")
        write("t.csv", good)
        let r = try stave(["convert", "t.csv", "--customers", "cust.csv", "-o", "c.stave"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.hasPrefix("stave: cust.csv:1:3: Name longer than 65535 bytes ("), r.stderr)
        // cust.csv is read whole: memory about its size, not more.
        assertPeak(r, below: 80, "peak RSS")
    }

    func testTenThousandTinyParts() throws {
        write("t.csv", good)
        XCTAssertEqual(try stave(["convert", "t.csv", "-o", "one.stave"]).status, 0)
        let one = try Store.open(dir + "/one.stave")
        let part = one.manifest.parts[0]
        let src = try Data(contentsOf: URL(fileURLWithPath: dir + "/one.stave/" + part.name))
        try FileManager.default.createDirectory(atPath: dir + "/many.stave", withIntermediateDirectories: true)
        var parts: [ManifestPart] = []
        for k in 1...10_000 {
            let name = ManifestPart.name(number: k)
            try src.write(to: URL(fileURLWithPath: dir + "/many.stave/" + name))
            parts.append(ManifestPart(name: name, rows: part.rows, bytes: part.bytes, footerChecksum: part.footerChecksum))
        }
        try Data(Manifest(generation: 1, parts: parts).serialize()).write(to: URL(fileURLWithPath: dir + "/many.stave/MANIFEST"))
        let r = try stave(["profile", "many.stave", "--format", "csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "customer_id,unique_tracks,morning,afternoon,evening,night,mobile_plays,plays\n48,1,0,0,0,10000,0,10000\n1081,1,0,0,10000,0,10000,10000\n")
        assertPeak(r, below: 512, "peak RSS")
        print("LimitsTests: 10,000 parts profiled with a peak RSS of \(Int(r.peakMB)) MB")
    }

    // MARK: Full disks and read-only stores (a small tmpfs: needs root)

    func mountTmpfs(_ name: String, size: String) throws -> String {
        let path = dir + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/mount")
        p.arguments = ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path]
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("cannot mount a tmpfs here (needs root): full-disk tests skipped") }
        addTeardownBlock {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = ["-l", path]
            try? u.run()
            u.waitUntilExit()
        }
        return path
    }

    func remount(_ path: String, _ options: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/mount")
        p.arguments = ["-o", "remount,\(options)", path]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }

    func listing(_ path: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: path) where name != "LOCK" {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
        }
        return out
    }

    func testFullDiskLeavesEveryStoreAsItWas() throws {
        let fs = try mountTmpfs("fs", size: "1m")
        XCTAssertEqual(try stave(["generate", "--rows", "300000", "--customers", "2000", "--out", "gen", "--quiet"]).status, 0)
        // convert: the store never appears, no temporary is left.
        var r = try stave(["convert", "gen/tracks.csv", "-o", "fs/big.stave"])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fs), [])
        // A small store, then append / follow / compact that cannot fit.
        let lines = try String(contentsOfFile: dir + "/gen/tracks.csv", encoding: .utf8).split(separator: "\n")
        write("small.csv", lines[0..<2000].joined(separator: "\n") + "\n")
        XCTAssertEqual(try stave(["convert", "small.csv", "-o", "fs/s.stave"]).status, 0)
        for k in 0..<3 {
            write("piece.csv", lines[(2000 + k * 2000)..<(4000 + k * 2000)].joined(separator: "\n") + "\n")
            XCTAssertEqual(try stave(["append", "fs/s.stave", "piece.csv", "--no-compact"]).status, 0)
        }
        let before = try listing(fs + "/s.stave")
        r = try stave(["append", "fs/s.stave", "gen/tracks.csv", "--allow-duplicate-ids"])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertEqual(try listing(fs + "/s.stave"), before, "append")
        // One commit of everything (the interval never comes): it cannot fit.
        r = try stave(["follow", "fs/s.stave", "gen/tracks.csv", "--idle-exit", "100", "--batch-rows", "300000", "--interval", "3600000", "--allow-duplicate-ids"])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertEqual(try listing(fs + "/s.stave"), before, "follow")
        // Fill the disk so that even the compacted part cannot be written.
        let filler = fs + "/filler"
        XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: nil))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        var written = 0
        while written < 4 << 20 {
            do { try h.write(contentsOf: Data(repeating: 1, count: 4096)) } catch { break }
            written += 4096
        }
        try h.close()
        r = try stave(["compact", "fs/s.stave"])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertEqual(try listing(fs + "/s.stave"), before, "compact")
        try FileManager.default.removeItem(atPath: filler)
        // Everything still reads, and the store verifies.
        XCTAssertEqual(try stave(["verify", "fs/s.stave"]).status, 0)
        XCTAssertEqual(try stave(["compact", "fs/s.stave"]).status, 0)
        XCTAssertEqual(try stave(["verify", "fs/s.stave"]).status, 0)
    }

    func testReadOnlyStoreCanBeQueriedNotWritten() throws {
        let fs = try mountTmpfs("ro", size: "4m")
        write("t.csv", good)
        XCTAssertEqual(try stave(["convert", "t.csv", "-o", "ro/s.stave"]).status, 0)
        try remount(fs, "ro")
        var r = try stave(["profile", "ro/s.stave", "--format", "csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 3)
        XCTAssertEqual(try stave(["verify", "ro/s.stave"]).status, 0)
        r = try stave(["append", "ro/s.stave", "t.csv"])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("Read-only file system"), r.stderr)
        try remount(fs, "rw")
    }
}
