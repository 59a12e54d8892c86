import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `stave serve`, the real binary over real sockets: every endpoint answers
/// with exactly the CLI's `--format json` bytes, bad parameters are 400s
/// naming them, commits reach open pages, concurrent requests during
/// appends each match a committed snapshot, slow clients hold up nobody,
/// and the store is never written.
final class ServeTests: XCTestCase {
    var dir = ""
    var servers: [Process] = []

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "stave-serve-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(atPath: dir) }
    }

    override func tearDown() {
        for p in servers where p.isRunning {
            p.interrupt()
            p.waitUntilExit()
        }
        servers = []
    }

    // MARK: Helpers

    @discardableResult
    func stave(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let errData = ErrDrain(err.fileHandleForReading)   // see CLITests.stave
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = errData.wait()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// A generated store with its customer table (a few customers missing
    /// from it), at dir/name.
    func makeStore(_ name: String = "m.stave", rows: Int = 20_000, customers: Int = 200, withCustomers: Bool = true) throws -> String {
        XCTAssertEqual(try stave(["generate", "--rows", String(rows), "--customers", String(customers), "--seed", "11", "--out", "gen-\(name)", "--quiet"]).status, 0)
        var args = ["convert", "gen-\(name)/tracks.csv", "-o", name]
        if withCustomers {
            // Drop every 17th customer from cust.csv: their events form `unknown`.
            let cust = try String(contentsOfFile: dir + "/gen-\(name)/cust.csv", encoding: .utf8)
            let lines = cust.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            let kept = lines.enumerated().filter { $0.offset == 0 || $0.offset % 17 != 0 }.map(\.element)
            try Data((kept.joined(separator: "\r\n") + "\r\n").utf8).write(to: URL(fileURLWithPath: dir + "/gen-\(name)/cust-part.csv"))
            args += ["--customers", "gen-\(name)/cust-part.csv"]
        }
        let r = try stave(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        return name
    }

    /// Starts `stave serve STORE --port 0 ...` and returns a client for the
    /// port it printed.
    func serve(_ store: String, _ extra: [String] = []) throws -> HTTPTestClient {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = ["serve", store, "--port", "0"] + extra
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        try p.run()
        servers.append(p)
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("\n") && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        // "stave: serving STORE at http://127.0.0.1:PORT/ (Ctrl-C to stop)"
        guard let range = text.range(of: "http://127.0.0.1:"), let end = text[range.upperBound...].firstIndex(of: "/"),
              let port = UInt16(text[range.upperBound..<end]) else {
            XCTFail("no URL printed: '\(text)'")
            throw HTTPTestClient.Failure.socket("server did not start")
        }
        XCTAssertTrue(text.hasPrefix("stave: serving \(store) at http://127.0.0.1:"), text)
        return HTTPTestClient(port: port)
    }

    // MARK: Answers

    /// Each API path and the CLI arguments that must print the same bytes.
    func cases(_ s: String) -> [(String, [String])] {
        [
            ("/api/summary", ["summary", s]),
            ("/api/summary?from=2014-11-01&to=2014-12-01&level=Gold,silver", ["summary", s, "--from", "2014-11-01", "--to", "2014-12-01", "--level", "Gold,silver"]),
            ("/api/summary?customer=1,5,9999", ["summary", s, "--customer", "1,5,9999"]),
            ("/api/profile", ["profile", s, "--limit", "100"]),
            ("/api/profile?sort=total_tracks&order=desc&limit=5&offset=3&with_customers=1",
             ["profile", s, "--sort", "total_tracks", "--order", "desc", "--limit", "5", "--offset", "3", "--with-customers"]),
            ("/api/profile?limit=10000&campaign=30DAYFREE", ["profile", s, "--limit", "10000", "--campaign", "30DAYFREE"]),
            ("/api/profile?sort=night&limit=0", ["profile", s, "--sort", "night", "--limit", "0"]),
            ("/api/stats", ["stats", s]),
            ("/api/stats?customer=3,4,5&from=2014-10-15", ["stats", s, "--customer", "3,4,5", "--from", "2014-10-15"]),
            ("/api/stats?from=2015-06-01", ["stats", s, "--from", "2015-06-01"]),
            ("/api/breakdown?by=level", ["breakdown", s, "--by", "level"]),
            ("/api/breakdown?by=campaign&from=2014-12-01", ["breakdown", s, "--by", "campaign", "--from", "2014-12-01"]),
            ("/api/breakdown?by=gender&status=1", ["breakdown", s, "--by", "gender", "--status", "1"]),
            ("/api/breakdown?by=status", ["breakdown", s, "--by", "status"]),
            ("/api/breakdown?by=linked_with_apps", ["breakdown", s, "--by", "linked_with_apps"]),
            ("/api/breakdown?by=sign_month", ["breakdown", s, "--by", "sign_month"]),
            ("/api/hours", ["hours", s]),
            ("/api/hours?per=part", ["hours", s, "--per", "part"]),
            ("/api/hours?by=level&per=part&to=2014-11-01", ["hours", s, "--by", "level", "--per", "part", "--to", "2014-11-01"]),
            ("/api/hours?gender=0", ["hours", s, "--gender", "0"]),
            ("/api/top-zips", ["top-zips", s]),
            ("/api/top-zips?limit=7&level=2", ["top-zips", s, "--limit", "7", "--level", "2"]),
            ("/api/customers/48", ["customer", s, "48"]),
            ("/api/customers/17?from=2014-11-01&to=2014-11-08", ["customer", s, "17", "--from", "2014-11-01", "--to", "2014-11-08"]),
            // 17 is not in the customer table (every 17th was dropped).
            ("/api/customers/34", ["customer", s, "34"]),
            // Form encoding: + is a space, %3A a colon.
            ("/api/summary?from=2014-11-01+05%3A00%3A00&to=2014-11-02T00:00:00", ["summary", s, "--from", "2014-11-01 05:00:00", "--to", "2014-11-02 00:00:00"]),
        ]
    }

    func testEveryEndpointAnswersWithTheCLIsJSON() throws {
        let s = try makeStore()
        let client = try serve(s)
        for (path, args) in cases(s) {
            let cli = try stave(args + ["--format", "json"])
            XCTAssertEqual(cli.status, 0, "\(args): \(cli.stderr)")
            let r = try client.get(path)
            XCTAssertEqual(r.status, 200, "\(path): \(r.text)")
            XCTAssertEqual(r.headers["content-type"], "application/json; charset=utf-8", path)
            XCTAssertEqual(r.headers["x-stave-generation"], "1", path)
            XCTAssertEqual(r.text, cli.stdout, path)
            XCTAssertFalse(r.text.isEmpty, path)
            // The same request again comes from the cache, byte for byte.
            XCTAssertEqual(try client.get(path).text, cli.stdout, "\(path) (cached)")
        }
        // Paging: X-Total-Count is the number of rows before the page.
        let all = try stave(["profile", s, "--format", "csv"]).stdout.split(separator: "\n").count - 1
        let page = try client.get("/api/profile?limit=3")
        XCTAssertEqual(page.headers["x-total-count"], String(all))
        XCTAssertEqual(page.text.split(separator: "\n").count, 5) // "[", 3 rows, "]"
    }

    func testBadParametersAre400sNamingThem() throws {
        let s = try makeStore(rows: 2_000, customers: 50)
        let client = try serve(s)
        let bad: [(String, String)] = [
            ("/api/summary?from=2014-13-01", "from"),
            ("/api/summary?to=yesterday", "to"),
            ("/api/summary?from=2014-11-02&to=2014-11-01", "to"),
            ("/api/summary?customer=1,x", "customer"),
            ("/api/summary?customer=", "customer"),
            ("/api/summary?level=Platinum", "level"),
            ("/api/summary?campaign=9", "campaign"),
            ("/api/summary?gender=2", "gender"),
            ("/api/summary?status=open", "status"),
            ("/api/summary?colour=red", "colour"),
            ("/api/summary?from=2014-11-01&from=2014-11-02", "from"),
            ("/api/summary?from=%ZZ", "from"),
            ("/api/profile?sort=name", "sort"),
            ("/api/profile?order=up", "order"),
            ("/api/profile?limit=10001", "limit"),
            ("/api/profile?limit=-1", "limit"),
            ("/api/profile?offset=x", "offset"),
            ("/api/profile?with_customers=maybe", "with_customers"),
            ("/api/profile?by=level", "by"),
            ("/api/stats?limit=3", "limit"),
            ("/api/breakdown", "by"),
            ("/api/breakdown?by=age", "by"),
            ("/api/hours?by=zip", "by"),
            ("/api/hours?per=minute", "per"),
            ("/api/top-zips?limit=0", "limit"),
            ("/api/top-zips?limit=1001", "limit"),
            ("/api/top-zips?limit=ten", "limit"),
            ("/api/customers/abc", "id"),
            ("/api/customers/99999999999", "id"),
            ("/api/customers/48?level=Gold", "level"),
        ]
        for (path, parameter) in bad {
            let r = try client.get(path)
            XCTAssertEqual(r.status, 400, "\(path): \(r.text)")
            XCTAssertEqual(r.headers["content-type"], "application/json; charset=utf-8", path)
            let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: String]
            XCTAssertEqual(json?["parameter"], parameter, "\(path): \(r.text)")
            XCTAssertTrue(json?["error"]?.hasPrefix(parameter + ": ") ?? false, "\(path): \(r.text)")
        }
    }

    func testUnknownPathsMethodsAndOversizedRequests() throws {
        let s = try makeStore(rows: 2_000, customers: 50)
        let client = try serve(s)
        for path in ["/nope", "/api/nothing", "/api/customers", "/api/customers/", "/api/customers/1/2", "/api/summary/x", "/app.jsx", "/../MANIFEST", "/m.stave/MANIFEST"] {
            let r = try client.get(path)
            XCTAssertEqual(r.status, 404, "\(path): \(r.text)")
            XCTAssertTrue(r.text.hasPrefix("{\"error\":\"no such path: "), r.text)
        }
        var r = try client.get("/api/customers/99999")
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.text, "{\"error\":\"no customer 99999: not in the customer table and no events in range\"}\n")
        r = try client.request("POST", "/api/summary")
        XCTAssertEqual(r.status, 405)
        XCTAssertEqual(r.headers["allow"], "GET")
        r = try client.request("GET", "/api/summary", body: String(repeating: "x", count: 100))
        XCTAssertEqual(r.status, 413)
        r = try client.get("/api/summary?customer=" + String(repeating: "1,", count: 5000) + "1")
        XCTAssertEqual(r.status, 414)
        // The page and its two files, self-contained (no other origin).
        for (path, type) in [("/", "text/html"), ("/app.js", "text/javascript"), ("/app.css", "text/css")] {
            r = try client.get(path)
            XCTAssertEqual(r.status, 200, path)
            XCTAssertTrue(r.headers["content-type"]?.hasPrefix(type) ?? false, path)
            XCTAssertTrue(r.headers["content-security-policy"]?.hasPrefix("default-src 'self'") ?? false, path)
            // No other origin is named (the SVG namespace is a name, not a fetch).
            let text = r.text.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
            XCTAssertFalse(text.contains("http://") || text.contains("https://") || text.contains("//cdn"), path)
        }
        XCTAssertTrue(try client.get("/").text.contains("<script src=\"/app.js\" defer></script>"))
    }

    func testStoreWithoutCustomerTable() throws {
        let s = try makeStore("plain.stave", rows: 2_000, customers: 50, withCustomers: false)
        let client = try serve(s)
        for path in ["/api/breakdown?by=level", "/api/hours?by=level", "/api/profile?with_customers=1", "/api/summary?level=Gold"] {
            let r = try client.get(path)
            XCTAssertEqual(r.status, 404, path)
            XCTAssertTrue(r.text.contains("the store has no customer table"), r.text)
        }
        let r = try client.get("/api/summary")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, try stave(["summary", s, "--format", "json"]).stdout)
        XCTAssertTrue(r.text.hasPrefix("{\"customers\":null,"), r.text)
    }

    // MARK: Live

    /// The rows of `source` from line `from` on, with new event ids, as a CSV to append.
    func batch(_ n: Int, from start: Int, id base: Int) throws -> String {
        let lines = try String(contentsOfFile: dir + "/gen-m.stave/tracks.csv", encoding: .utf8).split(separator: "\n")
        return lines[start..<(start + n)].enumerated().map { k, line in
            "\(base + k)," + line.split(separator: ",", maxSplits: 1)[1]
        }.joined(separator: "\n") + "\n"
    }

    func testEventStreamAnnouncesEachCommit() throws {
        let s = try makeStore()
        let client = try serve(s)
        let fd = try client.connect()
        defer { close(fd) }
        try client.send(fd, "GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        var seen = try client.receive(fd) { String(decoding: $0, as: UTF8.self).contains("\n\n") }
        var text = String(decoding: seen, as: UTF8.self)
        XCTAssertTrue(text.contains("content-type: text/event-stream") || text.contains("Content-Type: text/event-stream"), text)
        XCTAssertTrue(text.contains("event: snapshot\ndata: {\"generation\":1,"), text)
        for k in 0..<3 {
            try Data(try batch(500, from: 1000 * k, id: 1_000_000 + 1000 * k).utf8).write(to: URL(fileURLWithPath: dir + "/new.csv"))
            let t0 = Date()
            XCTAssertEqual(try stave(["append", s, "new.csv"]).status, 0)
            let want = "event: commit\ndata: {\"generation\":\(k + 2),"
            seen = try client.receive(fd) { String(decoding: $0, as: UTF8.self).contains(want) }
            text = String(decoding: seen, as: UTF8.self)
            XCTAssertTrue(text.contains(want), text)
            XCTAssertLessThan(Date().timeIntervalSince(t0), 2, "commit \(k + 2) announced late")
            XCTAssertTrue(text.contains("\"store_events\":\(20_000 + 500 * (k + 1))}"), text)
            // And every answer now is the new snapshot's.
            XCTAssertEqual(try client.get("/api/summary").text, try stave(["summary", s, "--format", "json"]).stdout)
        }
        // Ctrl-C with the stream open: the server ends it and exits 0.
        let server = servers[0]
        server.interrupt()
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0)
    }

    func testConcurrentRequestsDuringAppendsEachMatchACommittedSnapshot() throws {
        let s = try makeStore()
        let client = try serve(s)
        // The expected answers of every generation, from the CLI right after each commit.
        var expected: [String: [String: String]] = [:]
        let paths = ["/api/summary", "/api/stats", "/api/breakdown?by=level", "/api/top-zips?limit=5"]
        let cli = [["summary", s], ["stats", s], ["breakdown", s, "--by", "level"], ["top-zips", s, "--limit", "5"]]
        // An append may be two commits (the rows, then a compaction by
        // tiers): the generation between has the same answers as the one
        // after, so every generation since the last record gets them.
        var recorded = 0
        func record() throws {
            var answers: [String: String] = [:]
            for (path, args) in zip(paths, cli) { answers[path] = try stave(args + ["--format", "json"]).stdout }
            let summary = try JSONSerialization.jsonObject(with: Data(answers["/api/summary"]!.utf8)) as! [String: Any]
            let generation = summary["generation"] as! Int
            for g in (recorded + 1)...generation { expected[String(g)] = answers }
            recorded = generation
        }
        try record()
        let results = Locked([(String, String, String)]())   // path, generation, body
        let stop = Locked(false)
        let group = DispatchGroup()
        for w in 0..<8 {
            DispatchQueue.global().async(group: group) {
                var k = w
                while !stop.current {
                    let path = paths[k % paths.count]
                    k += 1
                    guard let r = try? client.get(path) else { results.withLock { $0.append((path, "error", "")) }; continue }
                    results.withLock { $0.append((path, r.headers["x-stave-generation"] ?? "none", r.status == 200 ? r.text : "status \(r.status)")) }
                }
            }
        }
        for k in 0..<6 {
            try Data(try batch(300 + 100 * k, from: 2000 * k, id: 2_000_000 + 2000 * k).utf8).write(to: URL(fileURLWithPath: dir + "/new.csv"))
            // (--no-compact: a compaction after the append would be a second
            // generation with the same rows but other parts; `stave compact`
            // below is that case.)
            XCTAssertEqual(try stave(["append", s, "new.csv", "--no-compact"]).status, 0)
            try record()
            if k == 3 {
                XCTAssertEqual(try stave(["compact", s]).status, 0)
                try record()
                break
            }
        }
        Thread.sleep(forTimeInterval: 0.5)
        stop.withLock { $0 = true }
        group.wait()
        let all = results.current
        XCTAssertGreaterThan(all.count, 50)
        var generations = Set<String>()
        for (path, generation, body) in all {
            guard let answers = expected[generation] else { XCTFail("\(path): generation \(generation): \(body.prefix(200))"); continue }
            XCTAssertEqual(body, answers[path], "\(path) at generation \(generation)")
            generations.insert(generation)
        }
        XCTAssertGreaterThan(generations.count, 2, "the requests saw only generations \(generations.sorted())")
        print("ServeTests: \(all.count) concurrent requests during 4 appends and a compaction, generations \(generations.sorted()), each equal to the CLI's answer")
    }

    // MARK: Safety

    func testSlowAndVanishedClientsHoldUpNobody() throws {
        let s = try makeStore(rows: 60_000, customers: 5_000)
        let client = try serve(s, ["--cache-mb", "0"])
        // Half-sent requests that never finish.
        var idle: [Int32] = []
        for _ in 0..<20 {
            let fd = try client.connect()
            try client.send(fd, "GET /api/summary HTTP/1.1\r\nHost: x\r\n")
            idle.append(fd)
        }
        // Large answers nobody reads (a 10,000-row page is about 1.4 MB,
        // more than the socket buffers hold).
        var unread: [Int32] = []
        for _ in 0..<4 {
            let fd = try client.connect()
            try client.send(fd, "GET /api/profile?limit=10000&with_customers=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            unread.append(fd)
        }
        // Event streams that vanish without a word.
        for _ in 0..<5 {
            let fd = try client.connect()
            try client.send(fd, "GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
            close(fd)
        }
        Thread.sleep(forTimeInterval: 0.3)
        let t0 = Date()
        for _ in 0..<10 {
            let r = try client.get("/api/summary")
            XCTAssertEqual(r.status, 200)
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5, "ten requests beside stalled clients")
        for fd in idle + unread { close(fd) }
        XCTAssertEqual(try client.get("/api/stats").status, 200)
    }

    func testServerNeverWritesTheStoreAndListensOnLoopback() throws {
        let s = try makeStore(rows: 5_000, customers: 100)
        func listing() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: dir + "/" + s).sorted().map { name in
                let a = try FileManager.default.attributesOfItem(atPath: dir + "/" + s + "/" + name)
                return "\(name) \(a[.size] ?? 0) \((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
            }
        }
        let before = try listing()
        let client = try serve(s)   // serve() checks the URL is http://127.0.0.1:PORT/
        for (path, _) in cases(s) { _ = try client.get(path) }
        _ = try client.get("/")
        XCTAssertEqual(try listing(), before)
    }
}

/// A value behind a lock, for the test threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}
