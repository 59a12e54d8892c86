import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Helpers for tests of the real `stave` binary: a fresh directory per
/// test, running the binary there, reading and writing its files.
/// The stave binary started on `args` in `dir`, output discarded, not
/// waited for (for tests that signal or kill it).
func startStave(_ args: [String], in dir: String) throws -> Process {
    let p = Process()
    p.executableURL = CLITests.binary
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: dir)
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
}

class CLITestCase: XCTestCase {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: URL {
        if let env = ProcessInfo.processInfo.environment["STAVE_BIN"] { return URL(fileURLWithPath: env) }
        let beside = Bundle.main.bundleURL.appendingPathComponent("stave")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("stave")
    }

    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "stave-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(atPath: dir) }
    }

    @discardableResult
    func stave(_ args: [String], stdin: String? = nil, stdinData: Data? = nil, environment: [String: String] = [:], in directory: String? = nil) throws -> Run {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = args
        // COLUMNS only when a test sets it: an exported one would cut the
        // tables of every other test.
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = nil
        p.environment = env.merging(environment) { $1 }
        p.currentDirectoryURL = URL(fileURLWithPath: directory ?? dir)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        try p.run()
        // stderr is drained on another thread while stdout is read here:
        // reading one to its end and then the other deadlocks once the
        // child fills the pipe of the second (64 KB of errors).
        let errData = ErrDrain(err.fileHandleForReading)
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        if let stdinData { input.fileHandleForWriting.write(stdinData) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = errData.wait()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func file(_ name: String) -> String { String(decoding: FileManager.default.contents(atPath: dir + "/" + name) ?? Data(), as: UTF8.self) }
    func write(_ name: String, _ text: String) { XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8)), name) }

    let sample = """
    0,48,453,"2014-10-23 03:26:20",0,"72132"
    1,1081,19,"2014-10-15 18:32:14",1,"17307"
    2,532,36,"2014-12-10 15:33:16",1,"66216"
    3,2641,822,"2014-10-20 02:24:55",1,"36690"
    4,2251,338,"2014-11-18 07:16:05",1,"61377"
    5,48,453,"2014-11-02 11:59:59",1,"04042"
    6,48,7,"2014-11-30 22:00:00",1,"04042"

    """

    func convertSample() throws {
        write("tracks.csv", sample)
        let r = try stave(["convert", "tracks.csv", "-o", "m.stave"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("converted 7 rows"), r.stderr)
    }

}

/// Runs the real `stave` binary and checks its exact outputs and exit codes.
final class CLITests: CLITestCase {
    /// `-o` onto a named pipe, through a symbolic link and onto /dev/stdout:
    /// written in place or through the link, never renamed over (which
    /// would turn /dev/null into a regular file when run as root).
    func testOutputToPipesDevicesAndLinks() throws {
        try convertSample()
        let expected = try stave(["profile", "m.stave", "--format", "csv"])
        XCTAssertEqual(expected.status, 0, expected.stderr)
        // A named pipe, read by cat.
        let fifo = dir + "/out.fifo"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let cat = Process()
        cat.executableURL = URL(fileURLWithPath: "/bin/cat")
        cat.arguments = [fifo]
        let catOut = Pipe()
        cat.standardOutput = catOut
        try cat.run()
        var r = try stave(["profile", "m.stave", "--format", "csv", "-o", "out.fifo"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var st = stat()
        XCTAssertEqual(stat(fifo, &st), 0)
        guard st.st_mode & S_IFMT == S_IFIFO else {
            cat.terminate()  // it waits for a writer that never came
            return XCTFail("the pipe was replaced by a file")
        }
        let got = catOut.fileHandleForReading.readDataToEndOfFile()
        cat.waitUntilExit()
        XCTAssertEqual(String(decoding: got, as: UTF8.self), expected.stdout)
        // /dev/stdout (a pipe here): the bytes arrive on standard output.
        r = try stave(["profile", "m.stave", "--format", "csv", "-o", "/dev/stdout"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, expected.stdout)
        // A file under /dev that is not a device (/dev/shm): atomic, replaced
        // on a second run, never appended to.
        if FileManager.default.fileExists(atPath: "/dev/shm") {
            let shm = "/dev/shm/stave-test-\(UUID().uuidString).csv"
            defer { try? FileManager.default.removeItem(atPath: shm) }
            for _ in 0..<2 {
                r = try stave(["profile", "m.stave", "--format", "csv", "-o", shm])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertEqual(String(decoding: FileManager.default.contents(atPath: shm) ?? Data(), as: UTF8.self), expected.stdout)
            }
        }
        // A symbolic link stays a link; the file it names gets the output.
        write("real.csv", "old\n")
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.csv", withDestinationPath: "real.csv")
        r = try stave(["profile", "m.stave", "--format", "csv", "-o", "link.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link.csv"), "real.csv")
        XCTAssertEqual(file("real.csv"), expected.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }, [])
    }

    func testMainJobEndToEnd() throws {
        var r = try stave(["generate", "--rows", "20000", "--customers", "100", "--seed", "3", "--out", "gen"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("20,000 events"), r.stderr)
        r = try stave(["convert", "gen/tracks.csv", "-o", "music.stave"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try stave(["profile", "music.stave", "--format", "csv", "-o", "live_table.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        let live = file("live_table.csv").split(separator: "\n")
        XCTAssertEqual(live.first, "customer_id,unique_tracks,morning,afternoon,evening,night,mobile_plays,plays")
        XCTAssertEqual(live.count, 101)
        let totals = live.dropFirst().map { Int($0.split(separator: ",")[7])! }
        XCTAssertEqual(totals.reduce(0, +), 20000)
        r = try stave(["stats", "music.stave", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: [String: Any]]
        XCTAssertEqual(Set(json.keys), ["unique_tracks", "morning", "afternoon", "evening", "night", "mobile_plays", "plays"])
        XCTAssertEqual(json["plays"]!["count"] as? Int, 100)
        XCTAssertEqual(json["plays"]!["norm_l1"] as? Double, 20000)
        XCTAssertEqual(json["plays"]!["mean"] as? Double, 200)
        // Lossless round trip, byte for byte.
        r = try stave(["export", "music.stave", "--order", "event", "--no-header", "-o", "roundtrip.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(file("roundtrip.csv"), file("gen/tracks.csv"))
        r = try stave(["verify", "music.stave"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("OK"))
    }

    func testProfileFormatsAndFilters() throws {
        try convertSample()
        var r = try stave(["profile", "m.stave", "--format", "csv"])
        XCTAssertEqual(r.stdout, """
        customer_id,unique_tracks,morning,afternoon,evening,night,mobile_plays,plays
        48,2,1,0,0,2,2,3
        532,1,0,1,0,0,1,1
        1081,1,0,0,1,0,1,1
        2251,1,1,0,0,0,1,1
        2641,1,0,0,0,1,1,1

        """)
        r = try stave(["profile", "m.stave", "--customer", "48", "--from", "2014-11-01", "--to", "2014-12-01", "--format", "ndjson"])
        XCTAssertEqual(r.stdout, "{\"customer_id\":48,\"unique_tracks\":2,\"morning\":1,\"afternoon\":0,\"evening\":0,\"night\":1,\"mobile_plays\":2,\"plays\":2}\n")
        r = try stave(["profile", "m.stave", "--customer", "48,532", "--to", "2014-11-02 11:59:59", "--format", "json"])
        XCTAssertEqual(r.stdout, """
        [
        {"customer_id":48,"unique_tracks":1,"morning":0,"afternoon":0,"evening":0,"night":1,"mobile_plays":0,"plays":1}
        ]

        """)
        r = try stave(["profile", "m.stave", "--customer", "532", "--format", "table"])
        XCTAssertEqual(r.stdout, """
        customer_id  unique_tracks  morning  afternoon  evening  night  mobile_plays  plays
        -----------  -------------  -------  ---------  -------  -----  ------------  -----
                532              1        0          1        0      0             1      1

        """)
        r = try stave(["profile", "m.stave", "--from", "2015-01-01", "--format", "json"])
        XCTAssertEqual(r.stdout, "[]\n")
    }

    func testStatsCSV() throws {
        try convertSample()
        let r = try stave(["stats", "m.stave", "--format", "csv"])
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines[0], "column,count,mean,variance,stddev,min,max,num_nonzeros,norm_l1,norm_l2")
        XCTAssertEqual(lines[1], "unique_tracks,5,1.2,0.2,0.4472135954999579,1,2,5,6.0,2.8284271247461903")
        XCTAssertEqual(lines[7], "plays,5,1.4,0.8,0.8944271909999159,1,3,5,7.0,3.605551275463989")
    }

    func testExportFormatsKeepLeadingZeros() throws {
        try convertSample()
        var r = try stave(["export", "m.stave", "--format", "csv", "--order", "event"])
        XCTAssertEqual(r.stdout, "event_id,customer_id,track_id,datetime,mobile,listening_zip\n" + sample)
        r = try stave(["export", "m.stave", "--format", "ndjson", "--order", "event"])
        XCTAssertTrue(r.stdout.contains("{\"event_id\":5,\"customer_id\":48,\"track_id\":453,\"datetime\":\"2014-11-02 11:59:59\",\"mobile\":1,\"listening_zip\":\"04042\"}\n"))
        r = try stave(["export", "m.stave", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.count, 7)
    }

    func testInspect() throws {
        try convertSample()
        var r = try stave(["inspect", "m.stave"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("7 rows in 1 part"))
        XCTAssertTrue(r.stdout.contains("listening_zip"))
        r = try stave(["inspect", "m.stave", "--format", "json"])
        let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(j["rows"] as? Int, 7)
        let cols = j["columns"] as! [[String: Any]]
        XCTAssertEqual(cols.map { $0["name"] as! String }, ["event_id", "customer_id", "track_id", "datetime", "mobile", "listening_zip"])
        XCTAssertEqual(cols[5]["min"] as? String, "04042")
    }

    func testStdinInput() throws {
        let r = try stave(["convert", "-", "-o", "s.stave"], stdin: sample)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try stave(["export", "s.stave", "--order", "event", "--no-header"]).stdout, sample)
    }

    /// `generate -o - | convert -`: each end widens the pipe to 1 MiB (where
    /// pipe-max-size allows it), and the rows pass through unchanged.
    func testPipesBetweenGenerateAndConvertAreWidened() throws {
        let allowed = (try? String(contentsOfFile: "/proc/sys/fs/pipe-max-size", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        try XCTSkipIf(allowed < 1 << 20, "pipe-max-size \(allowed)")
        let generate = ["generate", "--rows", "20000", "--customers", "300", "--seed", "3", "-o", "-", "--quiet"]
        /// A pipe whose ends this test keeps (Foundation closes a Pipe's
        /// ends once the child has them), so its size can be read after.
        func rawPipe() -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            return (fds[0], fds[1])
        }
        func process(_ args: [String], stdin: Int32? = nil, stdout: Int32? = nil) -> Process {
            let p = Process()
            p.executableURL = Self.binary
            p.arguments = args
            if let stdin { p.standardInput = FileHandle(fileDescriptor: stdin, closeOnDealloc: false) }
            if let stdout { p.standardOutput = FileHandle(fileDescriptor: stdout, closeOnDealloc: false) }
            return p
        }
        // generate alone, nothing reading: 10,000 rows (about 550 KB) fit in
        // a widened pipe, so it ends; in the kernel's default 64 KiB it
        // would wait for a reader.
        let a = rawPipe()
        defer { close(a.read) }
        XCTAssertLessThan(fcntl(a.read, 1032 /* F_GETPIPE_SZ */), 1 << 20)
        let small = ["generate", "--rows", "10000", "--customers", "300", "--seed", "3", "-o", "-", "--quiet"]
        let gen = process(small, stdout: a.write)
        try gen.run()
        close(a.write)
        let deadline = Date().addingTimeInterval(30)
        while gen.isRunning && Date() < deadline { usleep(10_000) }
        XCTAssertFalse(gen.isRunning, "generate waits on a pipe of \(fcntl(a.read, 1032)) bytes")
        XCTAssertGreaterThanOrEqual(fcntl(a.read, 1032), 1 << 20)
        var got = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(a.read, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            got += chunk[0..<n]
        }
        gen.waitUntilExit()
        XCTAssertEqual(gen.terminationStatus, 0)
        XCTAssertEqual(String(decoding: got, as: UTF8.self), try stave(small).stdout)
        // generate | convert, 20,000 rows (more than the pipe holds).
        let link = rawPipe()
        defer { close(link.read) }
        let gen2 = process(generate, stdout: link.write)
        let conv = process(["convert", "-", "-o", dir + "/p.stave", "--quiet"], stdin: link.read)
        try gen2.run()
        try conv.run()
        close(link.write)
        gen2.waitUntilExit()
        conv.waitUntilExit()
        XCTAssertEqual([gen2.terminationStatus, conv.terminationStatus], [0, 0])
        // convert - widens its standard input itself (a writer that did not).
        let b = rawPipe()
        defer { close(b.read) }
        let c2 = process(["convert", "-", "-o", dir + "/q.stave", "--quiet"], stdin: b.read)
        try c2.run()
        XCTAssertEqual(Array(sample.utf8).withUnsafeBytes { Glibc.write(b.write, $0.baseAddress, $0.count) }, sample.utf8.count)
        close(b.write)
        c2.waitUntilExit()
        XCTAssertEqual(c2.terminationStatus, 0)
        XCTAssertGreaterThanOrEqual(fcntl(b.read, 1032), 1 << 20)
        XCTAssertEqual(try stave(["export", dir + "/q.stave", "--order", "event", "--no-header"]).stdout, sample)
        let export = try stave(["export", dir + "/p.stave", "--order", "event", "--no-header"])
        let direct = try stave(generate)
        XCTAssertEqual(export.stdout.split(separator: "\n").count, 20_000)
        XCTAssertEqual(export.stdout, direct.stdout.replacingOccurrences(of: "\r\n", with: "\n"))
    }

    // MARK: Exit codes

    func testBadRowExit65WithFileLineColumn() throws {
        write("bad.csv", sample + "7,48,9,\"2014-02-30 10:00:00\",1,\"12345\"\n")
        let r = try stave(["convert", "bad.csv", "-o", "b.stave"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "stave: bad.csv:8:8: bad datetime: day 30 out of range for 2014-02 (2014-02-30 10:00:00)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/b.stave"))
    }

    func testSkipBadRowsReportsCount() throws {
        write("bad.csv", sample + "oops\n")
        let r = try stave(["convert", "bad.csv", "-o", "b.stave", "--skip-bad-rows", "--rejects", "rej.tsv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("1 bad row skipped (see rej.tsv)"), r.stderr)
        XCTAssertEqual(file("rej.tsv"), "8\t1\tevent_id is not a non-negative integer\toops\n")
    }

    func testUsageErrorsExit64() throws {
        try convertSample()
        XCTAssertEqual(try stave(["profile", "m.stave", "--from", "2014-13-01"]).status, 64)
        XCTAssertEqual(try stave(["profile", "m.stave", "--customer", "x"]).status, 64)
        XCTAssertEqual(try stave(["profile", "m.stave", "--format", "xml"]).status, 64)
        XCTAssertEqual(try stave(["convert", "tracks.csv", "-o", "z.stave", "--rejects", "r"]).status, 64)
        XCTAssertEqual(try stave(["frobnicate"]).status, 64)
    }

    func testMissingOrDamagedStoreExit66() throws {
        var r = try stave(["profile", "nope.stave"])
        XCTAssertEqual(r.status, 66)
        XCTAssertEqual(r.stderr, "stave: nope.stave: no such store\n")
        try convertSample()
        let part = dir + "/m.stave/part-000001.stp"
        var bytes = [UInt8](FileManager.default.contents(atPath: part)!)
        bytes[0] = 0
        XCTAssertTrue(FileManager.default.createFile(atPath: part, contents: Data(bytes)))
        r = try stave(["stats", "m.stave"])
        XCTAssertEqual(r.status, 66)
        XCTAssertEqual(r.stderr, "stave: m.stave/part-000001.stp: not a stave part file (bad magic)\n")
        r = try stave(["verify", "m.stave"])
        XCTAssertEqual(r.status, 66)
    }

    func testExistingOutputExit73AndForce() throws {
        try convertSample()
        XCTAssertEqual(try stave(["convert", "tracks.csv", "-o", "m.stave"]).status, 73)
        XCTAssertEqual(try stave(["convert", "tracks.csv", "-o", "m.stave", "--force", "--quiet"]).status, 0)
    }

    /// A missing input is EX_NOINPUT (66); an unreadable one an I/O error (74).
    func testMissingInputExit66() throws {
        var r = try stave(["convert", "absent.csv", "-o", "x.stave"])
        XCTAssertEqual(r.status, 66)
        XCTAssertEqual(r.stderr, "stave: absent.csv: no such file\n")
        try FileManager.default.createDirectory(atPath: dir + "/adir", withIntermediateDirectories: false)
        r = try stave(["convert", "adir", "-o", "x.stave"])
        XCTAssertEqual(r.status, 74, r.stderr)
    }

    func testHelpListsCommands() throws {
        let r = try stave(["--help"])
        XCTAssertEqual(r.status, 0)
        for c in ["generate", "convert", "append", "follow", "compact", "profile", "stats", "breakdown", "top-zips", "hours", "inspect", "verify", "export"] {
            XCTAssertTrue(r.stdout.contains(c), c)
        }
    }

    // MARK: Customer dimension

    /// The sample events plus a cust.csv in the real export's shape: 48 and
    /// 532 are listed, 7 has no events, 1081/2641/2251 are absent.
    func convertSampleWithCustomers() throws {
        write("tracks.csv", sample)
        write("cust.csv", "CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,LinkedWithApps\r\n"
            + "48,\"Gregory Koval\",0,\"13004 Easy Cider Point\",\"02132\",\"06/04/2013\",1,2,1,0\r\n"
            + "7,\"No Events\",1,\"1 Main St\",\"10001\",\"01/13/2012\",0,0,4,1\r\n"
            + "532,\"Paula \"\"P\"\" Peltier\",1,\"10084 Easy Gate Bend\",\"66216\",\"01/13/2013\",1,0,4,1\r\n")
        let r = try stave(["convert", "tracks.csv", "--customers", "cust.csv", "-o", "m.stave"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("; 3 customers"), r.stderr)
    }

    func testProfileWithCustomers() throws {
        try convertSampleWithCustomers()
        var r = try stave(["profile", "m.stave", "--with-customers", "--format", "csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, """
        customer_id,unique_tracks,morning,afternoon,evening,night,mobile_plays,plays,name,gender,zip,sign_date,status,level,campaign,linked_with_apps
        48,2,1,0,0,2,2,3,Gregory Koval,0,02132,2013-06-04,1,Gold,30DAYFREE,0
        532,1,0,1,0,0,1,1,"Paula ""P"" Peltier",1,66216,2013-01-13,1,Free,WEBOFFER,1
        1081,1,0,0,1,0,1,1,,,,,,,,
        2251,1,1,0,0,0,1,1,,,,,,,,
        2641,1,0,0,0,1,1,1,,,,,,,,

        """)
        r = try stave(["profile", "m.stave", "--level", "gold,free", "--format", "csv"])
        XCTAssertEqual(r.stdout.split(separator: "\n").map { $0.prefix(4) }, ["cust", "48,2", "532,"])
        r = try stave(["stats", "m.stave", "--campaign", "WEBOFFER", "--format", "csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\nplays,1,1.0,0.0,0.0,1,1,1,1.0,1.0\n"), r.stdout)
    }

    func testBreakdownTopZipsHours() throws {
        try convertSampleWithCustomers()
        var r = try stave(["breakdown", "m.stave", "--by", "level", "--format", "csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, """
        level,customers,active_customers,plays,avg_unique_tracks,avg_morning,avg_afternoon,avg_evening,avg_night,avg_mobile_plays,avg_plays
        Free,2,1,1,1.0,0.0,1.0,0.0,0.0,1.0,1.0
        Gold,1,1,3,2.0,1.0,0.0,0.0,2.0,2.0,3.0
        unknown,0,3,3,1.0,0.3333333333333333,0.0,0.3333333333333333,0.3333333333333333,1.0,1.0

        """)
        r = try stave(["breakdown", "m.stave", "--by", "sign_month", "--from", "2014-11-01", "--format", "ndjson"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").first,
                       #"{"sign_month":"2012-01","customers":1,"active_customers":0,"plays":0,"avg_unique_tracks":null,"avg_morning":null,"avg_afternoon":null,"avg_evening":null,"avg_night":null,"avg_mobile_plays":null,"avg_plays":null}"#)
        r = try stave(["top-zips", "m.stave", "--limit", "2", "--format", "csv"])
        XCTAssertEqual(r.stdout, "zip,plays,customers,mobile_plays,mobile_share\n04042,2,1,2,1.0\n17307,1,1,1,1.0\n")
        r = try stave(["hours", "m.stave", "--per", "part", "--format", "csv"])
        XCTAssertEqual(r.stdout, "part_of_day,plays,mobile_plays\nmorning,2,2\nafternoon,1,1\nevening,1,1\nnight,3,2\n")
        r = try stave(["hours", "m.stave", "--by", "level", "--format", "csv"])
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "level,hour,part_of_day,plays,mobile_plays")
        XCTAssertEqual(lines.count, 1 + 3 * 24)   // Free, Gold, unknown have events; Silver none
        XCTAssertTrue(lines.contains("Gold,22,night,1,1"))
        XCTAssertTrue(lines.contains("unknown,3,night,0,0"))
    }

    func testCustomerTableRoundTripsByteForByte() throws {
        XCTAssertEqual(try stave(["generate", "--rows", "3000", "--customers", "250", "--seed", "9", "--out", "gen", "--quiet"]).status, 0)
        XCTAssertEqual(try stave(["convert", "gen/tracks.csv", "--customers", "gen/cust.csv", "-o", "m.stave", "--quiet"]).status, 0)
        var r = try stave(["export", "m.stave", "--table", "customers", "-o", "cust-again.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(file("cust-again.csv"), file("gen/cust.csv"))
        XCTAssertTrue(file("cust-again.csv").hasPrefix("CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,LinkedWithApps\r\n0,\""))
        // Quotes and commas inside names survive too.
        write("c.csv", "7,\"Smith, \"\"Jo\"\"\",1,\"1 Rue\",\"00501\",\"02/29/2012\",0,2,4,1\r\n")
        XCTAssertEqual(try stave(["convert", "--customers", "c.csv", "-o", "m.stave", "--quiet"]).status, 0)
        r = try stave(["export", "m.stave", "--table", "customers", "--no-header"])
        XCTAssertEqual(r.stdout, file("c.csv"))
        r = try stave(["export", "m.stave", "--table", "customers", "--format", "ndjson"])
        XCTAssertEqual(r.stdout, #"{"customer_id":7,"name":"Smith, \"Jo\"","gender":1,"address":"1 Rue","zip":"00501","sign_date":"2012-02-29","status":0,"level":"Gold","campaign":"WEBOFFER","linked_with_apps":1}"# + "\n")
    }

    func testCustomerErrorsAndExitCodes() throws {
        try convertSample()
        var r = try stave(["breakdown", "m.stave", "--by", "level"])
        XCTAssertEqual(r.status, 66)
        XCTAssertTrue(r.stderr.contains("has no customer table"), r.stderr)
        XCTAssertEqual(try stave(["breakdown", "m.stave", "--by", "colour"]).status, 64)
        XCTAssertEqual(try stave(["profile", "m.stave", "--level", "Platinum"]).status, 64)
        XCTAssertEqual(try stave(["top-zips", "m.stave", "--limit", "0"]).status, 64)
        XCTAssertEqual(try stave(["convert", "-o", "m.stave"]).status, 64)
        // Duplicate ids: exit 65 naming both lines; the store is unchanged.
        write("dup.csv", "1,\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,1,1,0\n2,\"A\",0,\"B\",\"01234\",\"01/02/2013\",1,1,1,0\n1,\"C\",0,\"B\",\"01234\",\"01/02/2013\",1,1,1,0\n")
        r = try stave(["convert", "--customers", "dup.csv", "-o", "m.stave"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "stave: dup.csv:3:1: duplicate customer id 1 (first on line 1) (1)\n")
        XCTAssertFalse(file("m.stave/MANIFEST").contains("customers"))
        // Replacing the table of an existing store; skipping the duplicate.
        r = try stave(["convert", "--customers", "dup.csv", "-o", "m.stave", "--skip-bad-rows", "--customer-rejects", "rej.tsv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("stored 2 customers from dup.csv in m.stave/customers-000002.stp"), r.stderr)
        XCTAssertEqual(file("rej.tsv"), "3\t1\tduplicate customer id 1 (first on line 1)\t1,\"C\",0,\"B\",\"01234\",\"01/02/2013\",1,1,1,0\n")
        r = try stave(["breakdown", "m.stave", "--by", "status", "--format", "csv"])
        XCTAssertEqual(r.stdout.split(separator: "\n").map { String($0.prefix(17)) }, ["status,customers,", "1,2,0,0,,,,,,,", "unknown,0,5,7,1.2"])
        XCTAssertEqual(try stave(["verify", "m.stave"]).status, 0)
        // A bad row: file, line and column.
        write("bad.csv", "1,\"A\",0,\"B\",\"1234\",\"01/02/2013\",1,1,1,0\n")
        r = try stave(["convert", "--customers", "bad.csv", "-o", "m.stave"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "stave: bad.csv:1:13: zip must be exactly 5 digits (1234)\n")
    }

    // MARK: Live data

    func testAppendFollowCompactFromTheCommandLine() throws {
        try convertSample()
        write("more.csv", "7,48,1,\"2014-12-01 08:00:00\",1,\"00501\"\n8,9,2,\"2014-12-02 23:00:00\",0,\"00501\"\n12,3000,2,\"2014-12-02 23:00:00\",0,\"00501\"\n")
        var r = try stave(["append", "m.stave", "more.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("appended 3 rows to m.stave (1 new part, "), r.stderr)
        r = try stave(["profile", "m.stave", "--customer", "48,9", "--format", "csv"])
        XCTAssertEqual(r.stdout, "customer_id,unique_tracks,morning,afternoon,evening,night,mobile_plays,plays\n9,1,0,0,0,1,0,1\n48,3,2,0,0,2,3,4\n")
        // A bad row: exit 65 with file:line:column, nothing appended.
        write("bad.csv", "9,1,1,\"2014-12-01 08:00:00\",1,\"00501\"\n10,1,1,\"2014-12-01 08:00:00\",2,\"00501\"\n")
        let manifest = file("m.stave/MANIFEST")
        r = try stave(["append", "m.stave", "bad.csv"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "stave: bad.csv:2:30: mobile must be 0 or 1 (2)\n")
        XCTAssertEqual(file("m.stave/MANIFEST"), manifest)
        // From standard input.
        r = try stave(["append", "m.stave", "-", "--quiet"], stdin: "11,5,5,\"2014-10-05 05:00:00\",0,\"12345\"\n13,4000,5,\"2014-10-05 05:00:00\",0,\"12345\"\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        // Compact: three runs (each append overlaps the others' customers)
        // into one, the same answers.
        let before = try stave(["profile", "m.stave", "--format", "csv"]).stdout
        r = try stave(["compact", "m.stave"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("merged 3 runs (3 parts, 12 rows) into one run of 1 part in "), r.stderr)
        r = try stave(["compact", "m.stave"])
        XCTAssertEqual(r.stderr, "nothing to compact: 1 part in one run\n")
        XCTAssertEqual(try stave(["profile", "m.stave", "--format", "csv"]).stdout, before)
        XCTAssertEqual(try stave(["verify", "m.stave"]).status, 0)
        // Follow until idle; then a second writer gets exit 66 while one runs.
        write("live.csv", "20,77,1,\"2014-12-03 10:00:00\",1,\"00001\"\n21,77,2,\"2014-12-03 11:00:00\",1,\"00001\"\n22,77")
        r = try stave(["follow", "m.stave", "live.csv", "--idle-exit", "100", "--interval", "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("stopped: 2 rows in 1 commit, offset 80"), r.stderr)
        XCTAssertTrue(file("m.stave/MANIFEST").contains("follow offset 80 device "))
        r = try stave(["inspect", "m.stave"])
        XCTAssertTrue(r.stdout.contains("/live.csv: 80 bytes committed\n"), r.stdout)
        r = try stave(["inspect", "m.stave", "--format", "json"])
        let info = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((info["follows"] as? [[String: Any]])?.first?["offset"] as? Int, 80)
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["follow", "m.stave", "live.csv", "--interval", "10", "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        try p.run()
        usleep(300_000)
        r = try stave(["append", "m.stave", "more.csv"])
        XCTAssertEqual(r.status, 75)
        XCTAssertEqual(r.stderr, "stave: m.stave: another stave process is writing to this store (it holds LOCK); try again when it is done\n")
        // The partial line completes; Ctrl-C commits it and exits 0.
        let h = FileHandle(forWritingAtPath: dir + "/live.csv")!
        h.seekToEndOfFile()
        h.write(Data(",3,\"2014-12-03 12:00:00\",0,\"00001\"\n".utf8))
        try h.close()
        usleep(200_000)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        r = try stave(["profile", "m.stave", "--customer", "77", "--format", "csv"])
        XCTAssertEqual(r.stdout.split(separator: "\n").last, "77,3,2,1,0,0,2,3")
    }
}

/// Reads a pipe to its end on a thread of its own.
final class ErrDrain: @unchecked Sendable {
    // @unchecked Sendable: `data` is written by the reader thread before it
    // signals `done`, and read only after waiting on it.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ handle: FileHandle) {
        let box = UncheckedBox(handle)
        Thread.detachNewThread { [self] in
            self.data = box.value.readDataToEndOfFile()
            self.done.signal()
        }
    }
    func wait() -> Data { done.wait(); return data }
}

struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }
