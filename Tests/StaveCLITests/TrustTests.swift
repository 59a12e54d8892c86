import Foundation
import XCTest

/// Misuse that must never lose, double or alter data (issue 17), through
/// the real binary: each test failed before its fix.
final class TrustTests: CLITestCase {
    func listing(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + path)) ?? []).sorted()
    }

    /// `--force` replaces a store and nothing else: a folder of other
    /// files, a regular file, a damaged store are refused with exit 73 and
    /// left byte for byte as they were.
    func testForceReplacesOnlyAStore() throws {
        write("tracks.csv", sample)
        try FileManager.default.createDirectory(atPath: dir + "/d", withIntermediateDirectories: false)
        write("d/keep.txt", "x\n")
        var r = try stave(["convert", "tracks.csv", "-o", "d", "--force", "--quiet"])
        XCTAssertEqual(r.status, 73, r.stderr)
        XCTAssertEqual(r.stderr, "stave: d: is a directory without a stave MANIFEST (--force replaces only a store); nothing was changed\n")
        XCTAssertEqual(listing("d"), ["keep.txt"])
        XCTAssertEqual(file("d/keep.txt"), "x\n")

        write("f", "precious\n")
        r = try stave(["convert", "tracks.csv", "-o", "f", "--force", "--quiet"])
        XCTAssertEqual(r.status, 73, r.stderr)
        XCTAssertEqual(file("f"), "precious\n")

        // A directory whose MANIFEST is not a stave manifest.
        try FileManager.default.createDirectory(atPath: dir + "/m", withIntermediateDirectories: false)
        write("m/MANIFEST", "not a manifest\n")
        write("m/data.bin", "y")
        r = try stave(["convert", "tracks.csv", "-o", "m", "--force", "--quiet"])
        XCTAssertEqual(r.status, 73, r.stderr)
        XCTAssertEqual(listing("m"), ["MANIFEST", "data.bin"])

        // The customer table path of convert (no events) is a transaction,
        // not a replacement: the same folder is refused as not a store.
        write("cust.csv", "CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,LinkedWithApps\r\n48,\"A B\",0,\"1 C St\",\"04042\",\"06/04/2013\",1,1,1,0\r\n")
        r = try stave(["convert", "--customers", "cust.csv", "-o", "d"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(listing("d"), ["keep.txt"])

        // A real store is replaced, and the new one holds the new rows.
        r = try stave(["convert", "tracks.csv", "-o", "s", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        write("two.csv", "0,1,2,\"2014-10-01 00:00:00\",0,\"00001\"\n")
        r = try stave(["convert", "two.csv", "-o", "s", "--force", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try stave(["summary", "s", "--format", "json"]).stdout.contains("\"plays\":1,"), true)
        // No temporary or old folder is left beside it.
        XCTAssertEqual(listing(".").filter { $0.contains(".tmp-") || $0.contains(".old-") }, [])
    }

    /// A file output never replaces a directory.
    func testFileOutputRefusesADirectory() throws {
        try convertSample()
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: false)
        write("out/keep.txt", "x\n")
        let r = try stave(["profile", "m.stave", "-o", "out"])
        XCTAssertEqual(r.status, 73, r.stderr)
        XCTAssertEqual(r.stderr, "stave: out: is a directory, not a file to write; nothing was changed\n")
        XCTAssertEqual(listing("out"), ["keep.txt"])
        // Nor a store.
        let s = try stave(["profile", "m.stave", "-o", "m.stave"])
        XCTAssertEqual(s.status, 73, s.stderr)
        XCTAssertEqual(try stave(["verify", "m.stave"]).status, 0)
    }

    /// Exit codes scripts can rely on (sysexits): a missing input is 66
    /// (EX_NOINPUT), a held writer lock 75 (EX_TEMPFAIL).
    func testExitCodes() throws {
        var r = try stave(["convert", "missing.csv", "-o", "x.stave"])
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertEqual(r.stderr, "stave: missing.csv: no such file\n")
        XCTAssertEqual(listing(".").filter { $0.hasPrefix("x.stave") }, [])
        try convertSample()
        r = try stave(["append", "m.stave", "missing.csv"])
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertEqual(r.stderr, "stave: missing.csv: no such file\n")
        r = try stave(["convert", "--customers", "nope.csv", "-o", "m.stave"])
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertEqual(r.stderr, "stave: nope.csv: no such file\n")
        r = try stave(["follow", "m.stave", "nope.csv", "--idle-exit", "10"])
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertEqual(r.stderr, "stave: nope.csv: no such file\n")
        // Another writer holds the lock: 75, and the store is unchanged.
        let before = file("m.stave/MANIFEST")
        let lock = open(dir + "/m.stave/LOCK", O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(lock, 0)
        defer { close(lock) }
        XCTAssertEqual(flock(lock, LOCK_EX | LOCK_NB), 0)
        write("more.csv", "9,48,1,\"2014-12-03 10:00:00\",1,\"00001\"\n")
        r = try stave(["append", "m.stave", "more.csv"])
        XCTAssertEqual(r.status, 75, r.stderr)
        r = try stave(["compact", "m.stave"])
        XCTAssertEqual(r.status, 75, r.stderr)
        // --force over a store another process is writing to: refused, 75.
        r = try stave(["convert", "more.csv", "-o", "m.stave", "--force", "--quiet"])
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertEqual(file("m.stave/MANIFEST"), before)
        // Usage errors are 64.
        XCTAssertEqual(try stave(["profile"]).status, 64)
    }
}

/// What a new user types: generation to a pipe, folders created on the way.
final class UsabilityTests: CLITestCase {
    func testGenerateToStandardOutputAndIntoNewFolders() throws {
        var r = try stave(["generate", "--rows", "2000", "--customers", "30", "--tracks", "50000", "-o", "a/b/c", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let onDisk = file("a/b/c/tracks.csv")
        XCTAssertEqual(onDisk.split(separator: "\n").count, 2000)
        r = try stave(["generate", "--rows", "2000", "--customers", "30", "--tracks", "50000", "-o", "-", "--cust", "x/cust.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, onDisk, "the same bytes on standard output")
        XCTAssertEqual(file("x/cust.csv"), file("a/b/c/cust.csv"))
        XCTAssertTrue(r.stderr.hasPrefix("generated 2,000 events"), r.stderr)
        // Piped into convert.
        r = try stave(["convert", "-", "-o", "p.stave", "--quiet"], stdin: onDisk)
        XCTAssertEqual(r.status, 0, r.stderr)
        // The old spelling still works; a conflicting --cust is refused.
        XCTAssertEqual(try stave(["generate", "--rows", "10", "--customers", "3", "--out", "old", "--quiet"]).status, 0)
        XCTAssertEqual(try stave(["generate", "--rows", "10", "--customers", "3", "-o", "d", "--cust", "c.csv"]).status, 64)
        // A query's -o creates its folders too.
        r = try stave(["profile", "p.stave", "-o", "out/deep/p.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(file("out/deep/p.csv").hasPrefix("customer_id,"))
    }
}

/// Event ids identify events: the same events appended twice are refused,
/// and a repeat within the input too (issue 17, item 4).
final class DuplicateTests: CLITestCase {
    func testTheSameAppendTwiceIsRefusedAndTheStoreUnchanged() throws {
        write("a.csv", sample)
        XCTAssertEqual(try stave(["convert", "a.csv", "-o", "m.stave", "--quiet"]).status, 0)
        write("b.csv", "10,48,1,\"2014-12-01 08:00:00\",1,\"00501\"\n11,9,2,\"2014-12-02 23:00:00\",0,\"00501\"\n")
        XCTAssertEqual(try stave(["append", "m.stave", "b.csv", "--quiet"]).status, 0)
        let manifest = file("m.stave/MANIFEST")
        let listing = try FileManager.default.contentsOfDirectory(atPath: dir + "/m.stave").sorted()
        var r = try stave(["append", "m.stave", "b.csv"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("stave: b.csv:1:1: event id 10 is already in the store (part-"), r.stderr)
        XCTAssertEqual(file("m.stave/MANIFEST"), manifest, "byte-identical")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/m.stave").sorted(), listing)
        // A repeat within the input: the first repeated line, and where it was first.
        write("c.csv", "20,1,1,\"2014-12-01 08:00:00\",1,\"00501\"\n21,1,1,\"2014-12-01 08:00:00\",1,\"00501\"\n20,1,1,\"2014-12-01 08:00:00\",1,\"00501\"\n")
        r = try stave(["convert", "c.csv", "-o", "c.stave"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "stave: c.csv:3:1: duplicate event id 20 (first on line 1) (20)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/c.stave"))
        // --skip-bad-rows: duplicates go to the rejects file; the rest is appended.
        write("d.csv", "11,9,2,\"2014-12-02 23:00:00\",0,\"00501\"\n12,7,2,\"2014-12-02 23:00:00\",0,\"00501\"\n")
        r = try stave(["append", "m.stave", "d.csv", "--skip-bad-rows", "--rejects", "rej.tsv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(file("rej.tsv").hasPrefix("1\t1\tevent id 11 is already in the store (part-"), file("rej.tsv"))
        XCTAssertTrue(r.stderr.contains("appended 1 rows"), r.stderr)
        // --allow-duplicate-ids keeps them.
        r = try stave(["append", "m.stave", "b.csv", "--allow-duplicate-ids", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(try stave(["summary", "m.stave", "--format", "json"]).stdout.contains("\"plays\":12,"))
        // follow refuses a file whose events are in the store already.
        write("live.csv", "10,48,1,\"2014-12-01 08:00:00\",1,\"00501\"\n")
        r = try stave(["follow", "m.stave", "live.csv", "--idle-exit", "50", "--quiet"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("event id 10 is already in the store"), r.stderr)
    }
}

final class BadInputTests: CLITestCase {
    /// A blank line carries no data: skipped and counted, never an error.
    func testBlankLinesAreSkippedAndCounted() throws {
        write("t.csv", "\n" + sample + "\n   \n")
        let r = try stave(["convert", "t.csv", "-o", "m.stave"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("converted 7 rows"), r.stderr)
        XCTAssertTrue(r.stderr.contains("; 3 blank lines skipped"), r.stderr)
        // A header after a blank first line is still a header.
        write("h.csv", "\nevent_id,customer_id,track_id,datetime,mobile,listening_zip\n" + sample)
        let h = try stave(["convert", "h.csv", "-o", "h.stave", "--quiet"])
        XCTAssertEqual(h.status, 0, h.stderr)
        XCTAssertTrue(try stave(["summary", "h.stave", "--format", "json"]).stdout.contains("\"plays\":7,"))
    }

    /// --max-errors says which errors it saw, and the rejects file keeps them.
    func testMaxErrorsShowsTheErrorsAndKeepsTheRejects() throws {
        write("t.csv", sample + "8,1,1,\"2014-13-01 00:00:00\",0,\"00001\"\n9,1,1,\"2014-12-01 00:00:00\",7,\"00001\"\n10,1,1,\"2014-12-01 00:00:00\",0,\"1\"\n")
        let r = try stave(["convert", "t.csv", "-o", "m.stave", "--skip-bad-rows", "--rejects", "rej.tsv", "--max-errors", "2"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("stave: t.csv: stopped after 2 bad rows (--max-errors); the first 2:\n  t.csv:8:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("\n  t.csv:9:"), r.stderr)
        XCTAssertEqual(file("rej.tsv").split(separator: "\n").count, 2)
        XCTAssertTrue(file("rej.tsv").hasPrefix("8\t"), file("rej.tsv"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.stave"))
    }
}

final class OutputDescriptorTests: CLITestCase {
    /// `-o /dev/stdout` writes through the descriptor the shell gave, so
    /// what the shell writes before and after stays where it belongs
    /// (reopening the path wrote at offset 0 and was overwritten after).
    func testDevStdoutWritesThroughTheDescriptor() throws {
        try convertSample()
        let script = "{ echo header; \"\(Self.binary.path)\" profile m.stave --format csv -o /dev/stdout; echo trailer; } > out.txt"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let expected = try stave(["profile", "m.stave", "--format", "csv"]).stdout
        XCTAssertEqual(file("out.txt"), "header\n" + expected + "trailer\n")
    }
}

final class RepeatedOptionTests: CLITestCase {
    /// A repeated --customer joins the lists (it kept only the last);
    /// a repeated --from is an error (as a repeated API parameter).
    func testRepeatedOptionsAccumulateOrAreRefused() throws {
        try convertSample()
        let both = try stave(["profile", "m.stave", "--customer", "48,9", "--format", "csv"]).stdout
        let r = try stave(["profile", "m.stave", "--customer", "48", "--customer", "9", "--format", "csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, both)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 2, "48 only: 9 has no events; the header and one row")
        let twice = try stave(["profile", "m.stave", "--from", "2014-10-01", "--from", "2014-11-01"])
        XCTAssertEqual(twice.status, 64)
        XCTAssertTrue(twice.stderr.contains("--from is given more than once"), twice.stderr)
    }
}

/// No temporary outlives its writer: removed on SIGINT and SIGTERM, and
/// after SIGKILL by the next writer of the same path.
final class TemporaryFileTests: CLITestCase {
    func start(_ args: [String]) throws -> Process { try startStave(args, in: dir) }

    func leftovers(_ sub: String = ".") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + sub)) ?? []).filter { $0.contains(".tmp-") || $0.hasPrefix("spill-") }
    }

    /// Waits until `path` (relative) exists, up to 20 s.
    func waitFor(_ predicate: () -> Bool) {
        for _ in 0..<2000 where !predicate() { usleep(10_000) }
    }

    func testSignalsRemoveTemporariesAndSigkillLeftoversAreCleanedNextTime() throws {
        XCTAssertEqual(try stave(["generate", "--rows", "600000", "--customers", "3000", "-o", "gen", "--quiet"]).status, 0)
        for (sig, code) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            let p = try start(["convert", "gen/tracks.csv", "-o", "big.stave", "--quiet", "--buffer-rows", "100000"])
            waitFor { !leftovers().isEmpty }
            XCTAssertFalse(leftovers().isEmpty, "the conversion's temporary store appeared")
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, code)
            XCTAssertEqual(leftovers(), [], "signal \(sig)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/big.stave"))
        }
        // SIGKILL leaves the temporary; the next conversion to that path removes it.
        let p = try start(["convert", "gen/tracks.csv", "-o", "big.stave", "--quiet", "--buffer-rows", "100000"])
        waitFor { !leftovers().isEmpty }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertFalse(leftovers().isEmpty, "SIGKILL cannot clean up")
        write("small.csv", sample)
        XCTAssertEqual(try stave(["convert", "small.csv", "-o", "big.stave", "--quiet"]).status, 0)
        XCTAssertEqual(leftovers(), [], "the next writer of big.stave removed the dead writer's temporary")
        // An append interrupted: no new part, no spill, no temporary in the store.
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/big.stave"))
        let a = try start(["append", "big.stave", "gen/tracks.csv", "--quiet", "--buffer-rows", "100000", "--allow-duplicate-ids"])
        waitFor { !leftovers("big.stave").isEmpty }
        kill(a.processIdentifier, SIGINT)
        a.waitUntilExit()
        XCTAssertEqual(a.terminationStatus, 130)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/big.stave")).subtracting(["LOCK"]), before.subtracting(["LOCK"]))
        XCTAssertEqual(try stave(["verify", "big.stave"]).status, 0)
        XCTAssertEqual(leftovers(), [])
    }

    /// A query writing -o FILE, interrupted while it runs: exit 130, and
    /// neither FILE nor FILE.tmp-PID left. A query installs its signal
    /// handlers only when it registers that temporary, before the file
    /// exists, so no moment of its run escapes them. Each try is caught
    /// as soon as the temporary appears; a query that ends first is
    /// tried again.
    func testInterruptedQueryLeavesNoTemporary() throws {
        XCTAssertEqual(try stave(["generate", "--rows", "600000", "--customers", "3000", "-o", "gen", "--quiet"]).status, 0)
        XCTAssertEqual(try stave(["convert", "gen/tracks.csv", "-o", "s.stave", "--quiet"]).status, 0)
        let out = dir + "/out.csv"
        var interrupted = 0
        for attempt in 0..<40 where interrupted < 3 {
            let command = attempt % 2 == 0 ? ["profile", "s.stave"] : ["stats", "s.stave"]
            let p = try start(command + ["--threads", "1", "-o", "out.csv"])
            var polls = 0
            while leftovers().isEmpty && p.isRunning && polls < 20_000 { usleep(200); polls += 1 }
            guard p.isRunning else {
                p.waitUntilExit()
                XCTAssertEqual(p.terminationStatus, 0)
                try? FileManager.default.removeItem(atPath: out)
                continue
            }
            kill(p.processIdentifier, SIGINT)
            p.waitUntilExit()
            if p.terminationReason == .exit && p.terminationStatus == 0 {
                // It finished between the check and the signal.
                try? FileManager.default.removeItem(atPath: out)
                continue
            }
            XCTAssertEqual(p.terminationReason, .exit, "\(command): killed by the signal, not cleaned up")
            XCTAssertEqual(p.terminationStatus, 130, "\(command)")
            XCTAssertEqual(leftovers(), [], "\(command)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(command)")
            interrupted += 1
        }
        XCTAssertGreaterThan(interrupted, 0, "no query was caught while writing")
    }
}
