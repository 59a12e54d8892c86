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
final class ServeTests: CLITestCase {
    var servers: [Process] = []

    override func tearDown() {
        for p in servers where p.isRunning {
            p.interrupt()
            p.waitUntilExit()
        }
        servers = []
    }

    // MARK: Helpers

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
    /// port it printed (connecting to 127.0.0.1, which a server bound to
    /// every interface also answers). `printed` gets the URL line and
    /// `stderrPath`, when given, the server's stderr.
    func serve(_ store: String, _ extra: [String] = [], printed: UnsafeMutablePointer<String>? = nil,
               stderrPath: String? = nil) throws -> HTTPTestClient {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = ["serve", store, "--port", "0"] + extra
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        if let stderrPath {
            FileManager.default.createFile(atPath: stderrPath, contents: nil)
            p.standardError = FileHandle(forWritingAtPath: stderrPath)
        } else {
            p.standardError = FileHandle.standardError
        }
        try p.run()
        servers.append(p)
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("\n") && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        printed?.pointee = text
        // "stave: serving STORE at http://HOST:PORT/ (Ctrl-C to stop)"
        guard let at = text.range(of: " at http://"), let colon = text[at.upperBound...].lastIndex(of: ":"),
              let end = text[colon...].firstIndex(of: "/"), let port = UInt16(text[text.index(after: colon)..<end]) else {
            XCTFail("no URL printed: '\(text)'")
            throw HTTPTestClient.Failure.socket("server did not start")
        }
        XCTAssertTrue(text.hasPrefix("stave: serving \(store) at http://"), text)
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
            ("/api/stats?names=v1", ["stats", s, "--column-names", "v1"]),
            ("/api/summary?names=v1&level=Gold", ["summary", s, "--column-names", "v1", "--level", "Gold"]),
            ("/api/breakdown?by=level&names=v1", ["breakdown", s, "--by", "level", "--column-names", "v1"]),
            ("/api/customers/48?names=v1", ["customer", s, "48", "--column-names", "v1"]),
            ("/api/profile?names=v1&limit=3", ["profile", s, "--limit", "3", "--column-names", "v1"]),
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
        XCTAssertEqual(r.headers["allow"], "GET, HEAD")
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
        try client.send(fd, "GET /api/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
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
            XCTAssertTrue(text.contains("\"store_plays\":\(20_000 + 500 * (k + 1))}"), text)
            // And every answer now is the new snapshot's.
            XCTAssertEqual(try client.get("/api/summary").text, try stave(["summary", s, "--format", "json"]).stdout)
        }
        // Ctrl-C with the stream open: the server ends it and exits 0.
        let server = servers[0]
        server.interrupt()
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0)
    }

    /// `convert --force` over the served store (the new one at the same
    /// generation, 1): the server follows it. Deleted: 503 and a `gone`
    /// event, never the old numbers as live. Back: served again.
    func testReplacedAndDeletedStoreAreFollowed() throws {
        let s = try makeStore("r.stave", rows: 5_000, customers: 100)
        XCTAssertEqual(try stave(["generate", "--rows", "3000", "--customers", "40", "--seed", "99", "-o", "other", "--quiet"]).status, 0)
        let client = try serve(s)
        let old = try client.get("/api/summary").text
        XCTAssertTrue(old.contains("\"generation\":1}"), old)
        let fd = try client.connect()
        defer { close(fd) }
        try client.send(fd, "GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        _ = try client.receive(fd) { String(decoding: $0, as: UTF8.self).contains("event: snapshot") }
        func waitFor(_ what: String, _ condition: () throws -> Bool) throws {
            let deadline = Date().addingTimeInterval(5)
            while try !condition() {
                guard Date() < deadline else { return XCTFail("timed out waiting for \(what)") }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        // Replaced by another store of the same generation.
        var r = try stave(["convert", "other/tracks.csv", "-o", s, "--force", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let replaced = try stave(["summary", s, "--format", "json"]).stdout
        XCTAssertNotEqual(replaced, old)
        XCTAssertTrue(replaced.contains("\"generation\":1}"), replaced)
        try waitFor("the new store's answers") { try client.get("/api/summary").text == replaced }
        var seen = try client.receive(fd) { String(decoding: $0, as: UTF8.self).contains("event: commit") }
        XCTAssertTrue(String(decoding: seen, as: UTF8.self).contains("\"generation\":1,\"serial\":2,"), String(decoding: seen, as: UTF8.self))
        // Deleted. The server may look while the folder is half removed
        // (MANIFEST gone, folder still there) and say so first ("has no
        // MANIFEST"); once the folder is gone it must say that.
        try FileManager.default.removeItem(atPath: dir + "/" + s)
        try waitFor("503, gone") {
            let g = try client.get("/api/stats")
            return g.status == 503 && g.text.contains("r.stave is gone (deleted, or being replaced)")
        }
        XCTAssertEqual(try client.get("/api/summary").status, 503)
        seen = try client.receive(fd) { String(decoding: $0, as: UTF8.self).contains("is gone") }
        XCTAssertTrue(String(decoding: seen, as: UTF8.self).contains("event: gone"), String(decoding: seen, as: UTF8.self))
        // Back again.
        r = try stave(["convert", "other/tracks.csv", "-o", s, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try waitFor("the store back") { try client.get("/api/summary").text == replaced }
        seen = try client.receive(fd) { String(decoding: $0, as: UTF8.self).contains("\"serial\":3,") }
        XCTAssertTrue(String(decoding: seen, as: UTF8.self).contains("event: commit\ndata: {\"generation\":1,\"serial\":3,"))
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
            try client.send(fd, "GET /api/summary HTTP/1.1\r\nHost: localhost\r\n")
            idle.append(fd)
        }
        // Large answers nobody reads (a 10,000-row page is about 1.4 MB,
        // more than the socket buffers hold).
        var unread: [Int32] = []
        for _ in 0..<4 {
            let fd = try client.connect()
            try client.send(fd, "GET /api/profile?limit=10000&with_customers=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            unread.append(fd)
        }
        // Event streams that vanish without a word.
        for _ in 0..<5 {
            let fd = try client.connect()
            try client.send(fd, "GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
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
        var line = ""
        let client = try serve(s, printed: &line)
        XCTAssertTrue(line.hasPrefix("stave: serving \(s) at http://127.0.0.1:"), line)
        XCTAssertFalse(line.contains("token"), line)
        for (path, _) in cases(s) { _ = try client.get(path) }
        _ = try client.get("/")
        XCTAssertEqual(try listing(), before)
    }

    // MARK: Access (issue 17.10)

    /// Only requests addressed to this server are answered: a page on
    /// another site whose name was pointed at 127.0.0.1 (DNS rebinding)
    /// sends its own name as Host and gets 403.
    func testHostHeaderMustNameThisServer() throws {
        let s = try makeStore(rows: 2_000, customers: 50)
        let client = try serve(s, ["--allow-host", "stave.example"])
        func status(_ host: String?) throws -> (Int, String) {
            let fd = try client.connect()
            defer { close(fd) }
            var text = "GET /api/summary HTTP/1.1\r\n"
            if let host { text += "Host: \(host)\r\n" }
            try client.send(fd, text + "Connection: close\r\n\r\n")
            let r = try HTTPTestClient.parse(try client.receive(fd))
            return (r.status, r.text)
        }
        for ok in ["localhost", "localhost:\(client.port)", "127.0.0.1:\(client.port)", "LOCALHOST.", "[::1]:\(client.port)",
                   "10.1.2.3", "stave.example", "Stave.Example:8080"] {
            XCTAssertEqual(try status(ok).0, 200, ok)
        }
        for bad in ["evil.example", "evil.example:\(client.port)", "127.0.0.1.evil.example", "localhost.evil.example", "", "a:b:c", "[::1"] {
            let (code, text) = try status(bad)
            XCTAssertEqual(code, 403, "'\(bad)': \(text)")
            XCTAssertTrue(text.hasPrefix("{\"error\":\"the Host header"), text)
        }
        let (code, text) = try status(nil)
        XCTAssertEqual(code, 403)
        XCTAssertTrue(text.contains("must have a Host header"), text)
        // Two Host headers: refused, whichever comes first.
        let fd = try client.connect()
        defer { close(fd) }
        try client.send(fd, "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(try HTTPTestClient.parse(try client.receive(fd)).status, 403)
    }

    /// Bound to every interface, the server makes up a token, prints it in
    /// its URL and says so on stderr; every request without it is 401; the
    /// token in the query sets a cookie that the page's own requests carry;
    /// a Bearer header works for scripts; the token is not a query parameter.
    func testOffLoopbackEveryRequestNeedsTheToken() throws {
        let s = try makeStore(rows: 2_000, customers: 50)
        var line = ""
        let errPath = dir + "/serve.err"
        let client = try serve(s, ["--host", "0.0.0.0"], printed: &line, stderrPath: errPath)
        guard let t = line.range(of: "?token=") else { return XCTFail("no token in '\(line)'") }
        let token = String(line[t.upperBound...].prefix { $0.isHexDigit })
        XCTAssertEqual(token.count, 32, line)
        XCTAssertTrue(line.hasPrefix("stave: serving \(s) at http://0.0.0.0:\(client.port)/?token=\(token) (Ctrl-C to stop)"), line)
        let notice = try String(contentsOfFile: errPath, encoding: .utf8)
        XCTAssertTrue(notice.contains("0.0.0.0 is reachable from other machines: every request needs the access token"), notice)

        for path in ["/", "/app.js", "/api/summary", "/api/events", "/nope"] {
            let r = try client.get(path)
            XCTAssertEqual(r.status, 401, path)
            XCTAssertEqual(r.headers["www-authenticate"], "Bearer realm=\"stave\"", path)
            XCTAssertTrue(r.text.contains("needs its access token"), r.text)
        }
        XCTAssertEqual(try client.get("/api/summary?token=" + String(token.reversed())).status, 401)
        XCTAssertEqual(try client.request("GET", "/api/summary", headers: ["Authorization: Bearer nope"]).status, 401)
        XCTAssertEqual(try client.request("GET", "/api/summary", headers: ["Cookie: stave_token=nope"]).status, 401)

        let page = try client.get("/?token=" + token)
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["set-cookie"], "stave_token=\(token); Path=/; HttpOnly; SameSite=Strict")
        let plain = try stave(["summary", s, "--from", "2014-11-01", "--format", "json"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        for (target, headers) in [("/api/summary?from=2014-11-01&token=\(token)", [String]()),
                                  ("/api/summary?from=2014-11-01", ["Cookie: theme=dark; stave_token=\(token)"]),
                                  ("/api/summary?from=2014-11-01", ["Authorization: Bearer \(token)"])] {
            let r = try client.request("GET", target, headers: headers)
            XCTAssertEqual(r.status, 200, "\(target) \(headers): \(r.text)")
            XCTAssertEqual(r.text, plain.stdout, target)
        }
        // An explicit token on loopback is enforced too; a bad one is refused at once.
        let second = try serve(s, ["--token", "correct-horse-battery"])
        XCTAssertEqual(try second.get("/api/summary").status, 401)
        XCTAssertEqual(try second.request("GET", "/api/summary", headers: ["Authorization: Bearer correct-horse-battery"]).status, 200)
        let bad = try stave(["serve", s, "--token", "short"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--token must be 16 to 256"), bad.stderr)
    }

    /// HEAD answers with the GET's status and headers, Content-Length
    /// included, and no body; methods that would change something are 405.
    func testHeadIsAnswered() throws {
        let s = try makeStore(rows: 2_000, customers: 50)
        let client = try serve(s)
        for path in ["/", "/app.js", "/api/summary", "/api/profile?limit=5", "/nope"] {
            let get = try client.get(path)
            let fd = try client.connect()
            defer { close(fd) }
            try client.send(fd, "HEAD \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            let raw = try client.receive(fd)
            let head = try HTTPTestClient.parse(raw, bodyless: true)
            XCTAssertEqual(head.status, get.status, path)
            XCTAssertEqual(head.body, [], path)
            XCTAssertEqual(head.headers["content-type"], get.headers["content-type"], path)
            if let length = head.headers["content-length"] { XCTAssertEqual(Int(length), get.body.count, path) }
        }
        let r = try client.request("DELETE", "/api/summary")
        XCTAssertEqual(r.status, 405)
        XCTAssertEqual(r.headers["allow"], "GET, HEAD")
    }

    /// A second server on a taken port exits 69 with one line naming the
    /// port and what to do, no library text.
    func testTakenPortIsOneLine() throws {
        let s = try makeStore(rows: 2_000, customers: 50)
        let first = try serve(s)
        let r = try stave(["serve", s, "--port", String(first.port)])
        XCTAssertEqual(r.status, 69, r.stderr)
        XCTAssertEqual(r.stderr, "stave: serve: port \(first.port) on 127.0.0.1 is in use by another program: choose another with --port (--port 0 picks a free one)\n")
        XCTAssertEqual(r.stdout, "")
    }

    /// A 100 KB URL is answered 414 with a message, not dropped.
    func testHugeURLIs414() throws {
        let s = try makeStore(rows: 2_000, customers: 50)
        let client = try serve(s)
        let r = try client.get("/api/summary?customer=" + String(repeating: "12345,", count: 100_000 / 6))
        XCTAssertEqual(r.status, 414)
        XCTAssertEqual(r.text, "{\"error\":\"the URL is longer than 8192 bytes\"}\n")
        XCTAssertEqual(try client.get("/api/summary").status, 200)
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
