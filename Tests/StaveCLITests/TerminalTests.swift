import Foundation
import XCTest
import StaveIO

/// What a person sees at the terminal (issue 18, items 7-18): tables for
/// reading, formats from file names, filters on export, datetimes as
/// people write them, help texts and names.
final class TerminalTests: CLITestCase {
    /// A store of generated data with a customer table.
    func generatedStore() throws {
        var r = try stave(["generate", "--rows", "3000", "--customers", "40", "--seed", "7", "-o", "gen", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try stave(["convert", "gen/tracks.csv", "--customers", "gen/cust.csv", "-o", "m.stave", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Item 7: doubles rounded in tables only; one-row results as
    /// name = value lines; tables cut to $COLUMNS with the hidden columns
    /// named; --limit on the commands without paging of their own.
    func testTableFormatForReading() throws {
        try generatedStore()
        let csv = try stave(["stats", "m.stave", "--format", "csv"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let table = try stave(["stats", "m.stave", "--format", "table"])
        XCTAssertEqual(table.status, 0, table.stderr)
        // Every mean of the CSV (full precision) appears rounded to at most
        // six significant digits in the table, and equals it to that precision.
        let csvRows = csv.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        let tableRows = table.stdout.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ") }
        XCTAssertEqual(csvRows.count, 7)
        XCTAssertEqual(tableRows.count, 7)
        for (c, t) in zip(csvRows, tableRows) {
            XCTAssertEqual(String(c[0]), String(t[0]))
            let full = Double(c[2])!, shown = Double(t[2])!
            XCTAssertEqual(shown, full, accuracy: abs(full) * 1e-5, "\(c[0])")
            XCTAssertLessThanOrEqual(t[2].filter(\.isNumber).count, 7, "\(t[2]) is not rounded")
        }
        // One-row results: name = value lines, names right-aligned.
        let summary = try stave(["summary", "m.stave", "--format", "table"])
        XCTAssertEqual(summary.status, 0, summary.stderr)
        let lines = summary.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 10)
        XCTAssertTrue(lines.contains("           plays = 3000"), summary.stdout)
        XCTAssertEqual(Set(lines.map { $0.firstIndex(of: "=")!.utf16Offset(in: $0) }).count, 1, "the = signs line up")
        let customer = try stave(["customer", "m.stave", "3", "--format", "table"])
        XCTAssertEqual(customer.status, 0, customer.stderr)
        XCTAssertTrue(customer.stdout.contains("   customer_id = 3\n"), customer.stdout)
        // Narrow terminal: every line fits, the first and last columns stay,
        // the hidden ones are named.
        let narrow = try stave(["profile", "m.stave", "--format", "table", "--with-customers", "--limit", "3"], environment: ["COLUMNS": "60"])
        XCTAssertEqual(narrow.status, 0, narrow.stderr)
        let narrowLines = narrow.stdout.split(separator: "\n")
        XCTAssertEqual(narrowLines.count, 2 + 3 + 1)
        for l in narrowLines.dropLast() { XCTAssertLessThanOrEqual(l.count, 60, String(l)) }
        XCTAssertTrue(narrowLines[0].hasPrefix("customer_id"))
        XCTAssertTrue(narrowLines[0].hasSuffix("linked_with_apps"))
        XCTAssertTrue(narrowLines[0].contains("…"))
        XCTAssertTrue(narrowLines.last!.contains("columns hidden to fit 60 columns"), String(narrowLines.last!))
        XCTAssertTrue(narrowLines.last!.contains("name"))
        // A file never gets cut, whatever COLUMNS says.
        let wide = try stave(["profile", "m.stave", "--format", "table", "--with-customers", "--limit", "3", "-o", "p.txt"], environment: ["COLUMNS": "60"])
        XCTAssertEqual(wide.status, 0, wide.stderr)
        XCTAssertFalse(file("p.txt").contains("…"))
        XCTAssertTrue(file("p.txt").contains("campaign"))
        // --limit on breakdown, hours and stats: the first rows of the full answer.
        for args in [["breakdown", "m.stave", "--by", "level"], ["hours", "m.stave"], ["stats", "m.stave"]] {
            let all = try stave(args + ["--format", "csv"])
            let two = try stave(args + ["--format", "csv", "--limit", "2"])
            XCTAssertEqual(two.status, 0, two.stderr)
            XCTAssertEqual(two.stdout, all.stdout.split(separator: "\n").prefix(3).joined(separator: "\n") + "\n", args[0])
        }
    }

    /// Item 8: -o's extension chooses the format; a contradicting --format
    /// is a usage error; export refuses arrow even by name.
    func testFormatFromOutputName() throws {
        try generatedStore()
        let csv = try stave(["profile", "m.stave", "--format", "csv"])
        let json = try stave(["profile", "m.stave", "--format", "json"])
        var r = try stave(["profile", "m.stave", "-o", "out/p.JSON"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(file("out/p.JSON"), json.stdout)
        r = try stave(["profile", "m.stave", "-o", "p.csv"])
        XCTAssertEqual(file("p.csv"), csv.stdout)
        for (name, magic) in [("p.parquet", "PAR1"), ("p.arrows", "\u{FF}\u{FF}\u{FF}\u{FF}")] {
            r = try stave(["profile", "m.stave", "-o", name])
            XCTAssertEqual(r.status, 0, r.stderr)
            let bytes = FileManager.default.contents(atPath: dir + "/" + name) ?? Data()
            XCTAssertEqual(Array(bytes.prefix(4)), Array(magic.unicodeScalars.map { UInt8($0.value) }), name)
        }
        r = try stave(["profile", "m.stave", "-o", "p.ndjson"])
        XCTAssertEqual(file("p.ndjson").split(separator: "\n").count, csv.stdout.split(separator: "\n").count - 1)
        r = try stave(["profile", "m.stave", "-o", "x.parquet", "--format", "csv"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--format csv contradicts -o x.parquet"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.parquet"))
        r = try stave(["export", "m.stave", "-o", "e.arrow"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("not arrow"), r.stderr)
        r = try stave(["export", "m.stave", "-o", "e.parquet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Array((FileManager.default.contents(atPath: dir + "/e.parquet") ?? Data()).prefix(4)), Array("PAR1".utf8))
        // An unknown extension keeps the default (csv off a terminal).
        r = try stave(["profile", "m.stave", "-o", "p.txt"])
        XCTAssertEqual(file("p.txt"), csv.stdout)
        // inspect: json by name, its own two formats by option, and why not csv.
        r = try stave(["inspect", "m.stave", "-o", "i.json"])
        XCTAssertTrue(file("i.json").hasPrefix("{"))
        r = try stave(["inspect", "m.stave", "--format", "csv"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("the report is nested, not a table"), r.stderr)
    }

    /// Item 10: export --from, --to, --customer and --limit select the
    /// events a reference filter over the whole export selects.
    func testExportFilters() throws {
        try generatedStore()
        let all = try stave(["export", "m.stave", "--format", "csv", "--no-header"])
        XCTAssertEqual(all.status, 0, all.stderr)
        let rows = all.stdout.split(separator: "\n").map { line -> (customer: Int, datetime: String, line: Substring) in
            let f = line.split(separator: ",")
            return (Int(f[1])!, String(f[3].dropFirst().dropLast()), line)
        }
        func expected(from: String?, to: String?, customers: Set<Int>?) -> [Substring] {
            rows.filter { r in
                (from.map { r.datetime >= $0 } ?? true) && (to.map { r.datetime < $0 } ?? true) && (customers?.contains(r.customer) ?? true)
            }.map(\.line)
        }
        let cases: [(args: [String], from: String?, to: String?, customers: Set<Int>?)] = [
            (["--customer", "3"], nil, nil, [3]),
            (["--customer", "3,17", "--customer", "39"], nil, nil, [3, 17, 39]),
            (["--from", "2014-11-15 12:00", "--to", "2014-12-01"], "2014-11-15 12:00:00", "2014-12-01 00:00:00", nil),
            (["--customer", "5", "--from", "2014-12-01T00:00"], "2014-12-01 00:00:00", nil, [5]),
            (["--customer", "99999"], nil, nil, [99999]),
        ]
        for c in cases {
            let r = try stave(["export", "m.stave", "--format", "csv", "--no-header"] + c.args)
            XCTAssertEqual(r.status, 0, r.stderr)
            let want = expected(from: c.from, to: c.to, customers: c.customers)
            XCTAssertEqual(r.stdout.split(separator: "\n"), want, "\(c.args)")
            if c.customers == [3] { XCTAssertGreaterThan(want.count, 10) }
        }
        // --limit: the first N of the chosen order.
        var r = try stave(["export", "m.stave", "--format", "csv", "--no-header", "--customer", "3", "--limit", "4"])
        XCTAssertEqual(r.stdout.split(separator: "\n"), Array(expected(from: nil, to: nil, customers: [3]).prefix(4)))
        r = try stave(["export", "m.stave", "--format", "csv", "--no-header", "--order", "event", "--limit", "5"])
        let byID = rows.sorted { Int($0.line.split(separator: ",")[0])! < Int($1.line.split(separator: ",")[0])! }.prefix(5).map(\.line)
        XCTAssertEqual(r.stdout.split(separator: "\n"), Array(byID))
        // The same selection as Parquet, read back through convert.
        r = try stave(["export", "m.stave", "--customer", "3", "-o", "c3.parquet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try stave(["convert", "c3.parquet", "-o", "c3.stave", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try stave(["export", "c3.stave", "--format", "csv", "--no-header"])
        XCTAssertEqual(Set(r.stdout.split(separator: "\n")), Set(expected(from: nil, to: nil, customers: [3])))
        // The customer table takes none of them.
        r = try stave(["export", "m.stave", "--table", "customers", "--customer", "3"])
        XCTAssertEqual(r.status, 64)
        r = try stave(["export", "m.stave", "--from", "2014-12-01", "--to", "2014-11-01"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--to is before --from"), r.stderr)
    }

    /// Item 14: a much smaller customer table warns with both counts
    /// (even with --quiet); a similar one does not.
    func testReplacingTheCustomerTableWithAMuchSmallerOneWarns() throws {
        try generatedStore()
        let full = file("gen/cust.csv")
        write("three.csv", full.split(separator: "\r\n", omittingEmptySubsequences: false).prefix(4).joined(separator: "\r\n") + "\r\n")
        var r = try stave(["convert", "--customers", "three.csv", "-o", "m.stave", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "stave: warning: the new customer table of m.stave has 3 customers, the one it replaced had 40 (37 fewer): "
                       + "attribute filters and --with-customers now know only these; to undo, run this command again with the previous cust.csv\n")
        XCTAssertEqual(try stave(["summary", "m.stave", "--format", "csv"]).stdout.split(separator: "\n")[1].split(separator: ",")[0], "3")
        r = try stave(["convert", "--customers", "gen/cust.csv", "-o", "m.stave"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("stored 40 customers from gen/cust.csv in m.stave/"), r.stderr)
        XCTAssertTrue(r.stderr.contains(", replacing 3, in "), r.stderr)
        XCTAssertFalse(r.stderr.contains("warning"), r.stderr)
    }

    /// Item 17: plays are plays; the v1 names (total_tracks, events, ...)
    /// stay available with --column-names v1 or STAVE_COLUMN_NAMES=v1, with
    /// the same values.
    func testColumnNamesCurrentAndV1() throws {
        try generatedStore()
        let v1Headers: [([String], String)] = [
            (["profile", "m.stave"], "customer_id,unique_tracks,morning,afternoon,evening,night,mobile_tracks,total_tracks"),
            (["customer", "m.stave", "3"], "customer_id,unique_tracks,morning,afternoon,evening,night,mobile_tracks,total_tracks,name,gender,zip,sign_date,status,level,campaign,linked_with_apps"),
            (["summary", "m.stave"], "customers,active_customers,events,mobile_events,mobile_share,first_event,last_event,store_events,parts,generation"),
            (["breakdown", "m.stave", "--by", "level"], "level,customers,active_customers,events,avg_unique_tracks,avg_morning,avg_afternoon,avg_evening,avg_night,avg_mobile_tracks,avg_total_tracks"),
            (["hours", "m.stave"], "hour,part_of_day,events,mobile_events"),
            (["top-zips", "m.stave"], "zip,events,customers,mobile_events,mobile_share"),
        ]
        for (args, header) in v1Headers {
            let current = try stave(args + ["--format", "csv"])
            XCTAssertEqual(current.status, 0, current.stderr)
            XCTAssertFalse(current.stdout.contains("total_tracks") || current.stdout.contains("events"), "\(args[0]): \(current.stdout.prefix(200))")
            for run in [try stave(args + ["--format", "csv", "--column-names", "v1"]),
                        try stave(args + ["--format", "csv"], environment: ["STAVE_COLUMN_NAMES": "v1"])] {
                XCTAssertEqual(run.status, 0, run.stderr)
                let lines = run.stdout.split(separator: "\n", maxSplits: 1)
                XCTAssertEqual(String(lines[0]), header, args[0])
                // Only the names differ.
                XCTAssertEqual(lines.dropFirst().first, current.stdout.split(separator: "\n", maxSplits: 1).dropFirst().first, args[0])
            }
        }
        // stats: the column values carry the names.
        let stats = try stave(["stats", "m.stave", "--format", "csv", "--column-names", "v1"]).stdout
        XCTAssertTrue(stats.contains("\nmobile_tracks,") && stats.contains("\ntotal_tracks,"), stats)
        XCTAssertTrue(try stave(["stats", "m.stave", "--format", "csv"]).stdout.contains("\nplays,"))
        // The old sort names still sort by their columns.
        XCTAssertEqual(try stave(["profile", "m.stave", "--sort", "total_tracks", "--order", "desc", "--format", "csv"]).stdout,
                       try stave(["profile", "m.stave", "--sort", "plays", "--order", "desc", "--format", "csv"]).stdout)
        let bad = try stave(["profile", "m.stave", "--column-names", "v0"])
        XCTAssertEqual(bad.status, 64)
        let badEnv = try stave(["profile", "m.stave"], environment: ["STAVE_COLUMN_NAMES": "old"])
        XCTAssertEqual(badEnv.status, 64)
        XCTAssertTrue(badEnv.stderr.contains("STAVE_COLUMN_NAMES='old' is not current or v1"), badEnv.stderr)
    }

    /// Item 11: bounds without seconds and with a T, in every command that
    /// takes one, mean what the full form means.
    func testDatetimesAsPeopleWriteThem() throws {
        try generatedStore()
        for command in [["profile", "m.stave"], ["summary", "m.stave"], ["stats", "m.stave"], ["top-zips", "m.stave"], ["customer", "m.stave", "3"]] {
            let full = try stave(command + ["--from", "2014-11-02 10:30:00", "--to", "2014-12-01 00:00:00", "--format", "csv"])
            XCTAssertEqual(full.status, 0, full.stderr)
            for (from, to) in [("2014-11-02 10:30", "2014-12-01"), ("2014-11-02T10:30", "2014-12-01T00:00"), ("2014-11-02T10:30:00", "2014-12-01 00:00")] {
                let r = try stave(command + ["--from", from, "--to", to, "--format", "csv"])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertEqual(r.stdout, full.stdout, "\(command[0]) \(from) \(to)")
            }
        }
        let bad = try stave(["profile", "m.stave", "--from", "2014-11-02 10"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("YYYY-MM-DD HH:MM"), bad.stderr)
    }
}

/// Item 9: gzip and zstd inputs, by content, from files and standard input.
final class CompressedInputTests: CLITestCase {
    func gzip(_ data: Data) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-c", "-n"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        // Written on another thread: gzip's output pipe fills while we write.
        let writer = Thread { input.fileHandleForWriting.write(data); try? input.fileHandleForWriting.close() }
        writer.start()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        return out
    }

    func testGzipAndZstdReadLikePlainCSV() throws {
        var r = try stave(["generate", "--rows", "20000", "--customers", "50", "--seed", "3", "-o", "gen", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let csv = FileManager.default.contents(atPath: dir + "/gen/tracks.csv")!
        let half = csv.count / 2
        let gz = try gzip(csv)
        let zst = Data(Zstd.compress(Array(csv), level: 3))
        // Two gzip members and two zstd frames, cut mid-line: read as one stream.
        let gz2 = try gzip(csv.prefix(half)) + (try gzip(csv.suffix(from: half)))
        let zst2 = Data(Zstd.compress(Array(csv.prefix(half)), level: 1) + Zstd.compress(Array(csv.suffix(from: half)), level: 1))
        for (name, bytes) in [("a.csv.gz", gz), ("b.zst", zst), ("c.gz", gz2), ("d.csv.zst", zst2), ("no-extension", gz)] {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + name, contents: bytes))
        }
        r = try stave(["convert", "gen/tracks.csv", "-o", "plain.stave", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let expected = try stave(["export", "plain.stave", "--format", "csv", "--order", "event", "--no-header"])
        XCTAssertEqual(expected.stdout.split(separator: "\n").count, 20000)
        for name in ["a.csv.gz", "b.zst", "c.gz", "d.csv.zst", "no-extension"] {
            r = try stave(["convert", name, "-o", name + ".stave"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("of CSV (from "), r.stderr)
            let back = try stave(["export", name + ".stave", "--format", "csv", "--order", "event", "--no-header"])
            XCTAssertEqual(back.stdout, expected.stdout, name)
        }
        // The customer table compressed too.
        let cust = FileManager.default.contents(atPath: dir + "/gen/cust.csv")!
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/cust.csv.gz", contents: try gzip(cust)))
        r = try stave(["convert", "a.csv.gz", "--customers", "cust.csv.gz", "-o", "withcust.stave", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try stave(["convert", "gen/tracks.csv", "--customers", "gen/cust.csv", "-o", "plaincust.stave", "--quiet"])
        XCTAssertEqual(try stave(["export", "withcust.stave", "--table", "customers", "--format", "csv"]).stdout,
                       try stave(["export", "plaincust.stave", "--table", "customers", "--format", "csv"]).stdout)
        XCTAssertEqual(try stave(["export", "withcust.stave", "--table", "customers", "--format", "csv"]).stdout, String(decoding: cust, as: UTF8.self))
        // Standard input, and append.
        r = try stave(["convert", "-", "-o", "stdin.stave", "--quiet"], stdinData: zst2)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try stave(["export", "stdin.stave", "--format", "csv", "--order", "event", "--no-header"]).stdout, expected.stdout)
        let more = "900001,7,5,\"2014-12-30 10:00:00\",1,\"01234\"\n"
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/more.gz", contents: try gzip(Data(more.utf8))))
        r = try stave(["append", "stdin.stave", "more.gz", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try stave(["export", "stdin.stave", "--format", "csv", "--order", "event", "--no-header"]).stdout, expected.stdout + more)

        // Truncated and damaged streams: exit 65 naming the file, no store.
        // (Damage inside a zstd frame without a checksum may decode to
        // wrong text, which the CSV parser then refuses: also 65.)
        let cases: [(String, Data, String?)] = [
            ("cut.gz", gz.prefix(gz.count / 2), "gzip: the input ends inside a compressed stream"),
            ("cut.zst", zst.prefix(zst.count / 2), "zstd: the input ends inside a frame"),
            ("bad.gz", { var d = gz; for k in 2000..<2040 { d[k] = 0xff }; return d }(), "gzip: "),
            ("bad.zst", { var d = zst; for k in 2000..<2040 { d[k] = 0xff }; return d }(), nil),
        ]
        for (name, bytes, message) in cases {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + name, contents: bytes))
            r = try stave(["convert", name, "-o", "x.stave"])
            XCTAssertEqual(r.status, 65, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("stave: \(name):"), r.stderr)
            if let message { XCTAssertTrue(r.stderr.contains(message), r.stderr) }
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.stave"), name)
        }
        // A compressed format stave does not read (bzip2): the header error
        // shows the bytes escaped, on one line of printable ASCII.
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/x.bz2", contents: Data([0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xeb, 0xe5, 0x0b, 0x00, 0x1b, 0x0a])))
        r = try stave(["convert", "x.bz2", "-o", "x.stave"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("BZh91AY&SY\\xeb\\xe5\\x0b\\x00\\x1b"), r.stderr)
        XCTAssertTrue(r.stderr.utf8.allSatisfy { $0 == 10 || ($0 >= 0x20 && $0 < 0x7f) }, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
    }
}

/// Item 12: `follow --reopen` (-F) carries on across a rotation and a
/// truncation, each line committed once.
final class FollowReopenTests: CLITestCase {
    func rows(_ ids: Range<Int>) -> String {
        ids.map { "\($0),\($0 % 7),\($0 % 13),\"2014-12-0\($0 % 9 + 1) 10:00:00\",\($0 % 2),\"0\($0 % 10)123\"\n" }.joined()
    }

    func append(_ name: String, _ text: String) {
        let h = FileHandle(forWritingAtPath: dir + "/" + name)!
        h.seekToEndOfFile()
        h.write(Data(text.utf8))
        try? h.close()
    }

    func storeIDs() throws -> [Int] {
        let r = try stave(["export", "m.stave", "--format", "csv", "--no-header"])
        return r.stdout.split(separator: "\n").map { Int($0.split(separator: ",")[0])! }.sorted()
    }

    /// Waits (at most 20 s) until `condition` holds.
    func waitFor(_ what: String, _ condition: () throws -> Bool) rethrows {
        let deadline = Date().addingTimeInterval(20)
        while try !condition() {
            if Date() > deadline { return XCTFail("timed out waiting for \(what)") }
            usleep(20_000)
        }
    }

    func testReopenAcrossRotationAndTruncation() throws {
        let header = "event_id,customer_id,track_id,datetime,mobile,listening_zip\n"
        write("seed.csv", rows(0..<1))
        XCTAssertEqual(try stave(["convert", "seed.csv", "-o", "m.stave", "--quiet"]).status, 0)
        write("live.csv", header + rows(1..<100))
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["follow", "m.stave", "live.csv", "-F", "--interval", "10"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        FileManager.default.createFile(atPath: dir + "/follow.err", contents: nil)
        p.standardError = FileHandle(forWritingAtPath: dir + "/follow.err")!
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        try waitFor("the first rows") { try storeIDs().count == 100 }
        // Rotation: the writer renames the file, writes a last few lines to
        // it (the very last without a line break), then starts a new file
        // with a header.
        XCTAssertEqual(rename(dir + "/live.csv", dir + "/live.csv.1"), 0)
        append("live.csv.1", rows(100..<110) + "110,1,1,\"2014-12-01 10:00:00\",0,\"00001\"")
        write("live.csv", header + rows(200..<300))
        try waitFor("the new file") { try storeIDs().count == 100 + 11 + 100 }
        // copytruncate: the file is emptied in place; once follow has seen
        // it, new lines arrive (no header this time).
        XCTAssertEqual(truncate(dir + "/live.csv", 0), 0)
        try waitFor("the truncation to be seen") { file("follow.err").contains("was truncated") }
        append("live.csv", rows(300..<350))
        try waitFor("the rows after the truncation") { try storeIDs().count == 100 + 11 + 100 + 50 }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, file("follow.err"))
        XCTAssertEqual(try storeIDs(), Array(0..<111) + Array(200..<350))
        let log = file("follow.err")
        XCTAssertTrue(log.contains("follow: live.csv was replaced (rotated): committed the old file to its end"), log)
        XCTAssertTrue(log.contains("follow: live.csv was truncated to 0 bytes"), log)

        // Restarted over a file that is not the one followed: without
        // --reopen exit 66 naming the option; with it, from the start.
        XCTAssertEqual(rename(dir + "/live.csv", dir + "/live.csv.2"), 0)
        write("live.csv", rows(400..<420))
        var r = try stave(["follow", "m.stave", "live.csv", "--idle-exit", "50"])
        XCTAssertEqual(r.status, 66)
        XCTAssertTrue(r.stderr.contains("is not the file followed before") && r.stderr.contains("--reopen"), r.stderr)
        r = try stave(["follow", "m.stave", "live.csv", "--reopen", "--idle-exit", "50", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("following it from its start (--reopen)"), r.stderr)
        XCTAssertEqual(try storeIDs(), Array(0..<111) + Array(200..<350) + Array(400..<420))
        // Followed again: nothing new, nothing twice.
        r = try stave(["follow", "m.stave", "live.csv", "--reopen", "--idle-exit", "50", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try storeIDs().count, 111 + 150 + 20)
        // A compressed file cannot be followed.
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/c.gz", contents: Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0])))
        r = try stave(["follow", "m.stave", "c.gz", "--idle-exit", "50"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("is gzip-compressed: follow reads a plain CSV file"), r.stderr)
    }
}

/// Items 15 and 16: every subcommand's help ends its text with examples
/// that run as written; serve's full help and version come from stave.
final class HelpTests: CLITestCase {
    static let commands = ["generate", "convert", "append", "follow", "compact", "summary", "profile", "stats", "breakdown",
                           "top-zips", "hours", "customer", "serve", "inspect", "verify", "export"]

    /// The example lines of a help text ("  stave ..." after "Examples:").
    func examples(_ help: String) -> [String] {
        guard let start = help.range(of: "Examples:\n") else { return [] }
        return help[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
            .prefix { $0.hasPrefix("  stave ") || $0.hasPrefix("  zcat ") || $0.hasPrefix("stave ") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Splits a command line as a shell would for these examples: words,
    /// single quotes, and a trailing # comment.
    func words(_ line: String) -> [String] {
        var out: [String] = [], current = "", quoted = false, any = false
        for ch in line {
            if ch == "'" { quoted.toggle(); any = true; continue }
            if !quoted && ch == "#" { break }
            if !quoted && ch == " " {
                if any { out.append(current) }
                current = ""; any = false
                continue
            }
            current.append(ch); any = true
        }
        if any { out.append(current) }
        return out
    }

    func testEveryCommandHasExamplesThatRun() throws {
        // The files the examples name, from generated data.
        var r = try stave(["generate", "--rows", "3000", "--customers", "60", "--seed", "5", "-o", "data/gen", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try stave(["convert", "data/gen/tracks.csv", "--customers", "data/gen/cust.csv", "-o", "music.stave", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        write("today.csv", "900001,48,5,\"2014-12-30 10:00:00\",1,\"01234\"\n")
        write("late.csv", "900002,48,5,\"2014-12-30 11:00:00\",1,\"01234\"\nnot,a,row\n")
        let tracks = FileManager.default.contents(atPath: dir + "/data/gen/tracks.csv")!
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/events.csv.gz", contents: Data(Zstd.compress(Array(tracks), level: 1))))
        var ran = 0
        for c in Self.commands {
            r = try stave([c, "--help"])
            XCTAssertEqual(r.status, 0, c)
            let lines = examples(r.stdout)
            XCTAssertTrue((2...3).contains(lines.count), "\(c): \(lines.count) examples")
            for line in lines {
                // The part that runs stave: after a pipe, before an &&.
                let commands = words(line).split(separator: "|").filter { $0.first == "stave" }.map { $0.dropFirst().first }
                XCTAssertTrue(commands.contains(c), "an example of \(c) runs \(c): \(line)")
                // Pipes and && need a shell; serve and follow run until
                // stopped; generate's examples make 1M-100M rows.
                if line.contains("|") || line.contains("&&") || c == "serve" || c == "follow" || c == "generate" { continue }
                let argv = words(line)
                // Each on a fresh copy of the files, as a new user would have them.
                let here = dir + "/example-\(ran)"
                try FileManager.default.createDirectory(atPath: here, withIntermediateDirectories: false)
                for f in ["data", "music.stave", "today.csv", "late.csv", "events.csv.gz"] {
                    try FileManager.default.copyItem(atPath: dir + "/" + f, toPath: here + "/" + f)
                }
                for f in ["tracks.csv", "cust.csv"] {
                    try FileManager.default.copyItem(atPath: dir + "/data/gen/" + f, toPath: here + "/" + f)
                }
                var args = Array(argv.dropFirst())
                if c == "convert" { args += ["--force"] }   // music.stave exists here
                r = try stave(args, in: here)
                XCTAssertEqual(r.status, 0, "\(line): \(r.stderr)")
                ran += 1
            }
        }
        XCTAssertGreaterThanOrEqual(ran, 25)
    }

    func testServeHelpAndVersionFromStave() throws {
        let help = try stave(["help", "serve"])
        XCTAssertEqual(help.status, 0)
        for option in ["--host", "--port", "--token", "--allow-host", "--cache-mb", "--threads", "--verbose", "/api/summary"] {
            XCTAssertTrue(help.stdout.contains(option), option)
        }
        XCTAssertEqual(try stave(["serve", "--help"]).stdout, help.stdout)
        let version = try stave(["serve", "--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertEqual(version.stdout, try stave(["--version"]).stdout)
        // A bad option is refused by stave itself, before stave-serve runs.
        let bad = try stave(["serve", "x.stave", "--port", "70000"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--port must be 0...65535"), bad.stderr)
    }

    /// Item 16: -o/--output is the output's name everywhere.
    func testOutputOptionIsNamedTheSameEverywhere() throws {
        for c in ["generate", "convert", "summary", "profile", "stats", "breakdown", "top-zips", "hours", "customer", "inspect", "export"] {
            let r = try stave([c, "--help"])
            XCTAssertTrue(r.stdout.contains("-o, --output"), "\(c) has no -o, --output")
        }
    }
}

/// Item 13: progress on a terminal while piped input flows: bytes and rows
/// that only grow, ending on the exact row count. Run under script(1),
/// which gives stave a terminal as stderr.
final class ProgressTests: CLITestCase {
    func testProgressOnPipedInputCountsRowsToTheEnd() throws {
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else { throw XCTSkip("script(1) is not installed") }
        var r = try stave(["generate", "--rows", "300000", "--customers", "500", "--seed", "9", "-o", "gen", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: script)
        p.arguments = ["-qec", "cat gen/tracks.csv | '\(Self.binary.path)' convert - -o m.stave --buffer-rows 100000", "/dev/null"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        // Each drawing starts with \r; keep the reading phase's.
        let drawings = text.split(separator: "\r").filter { $0.hasPrefix("converting  ") }
        XCTAssertGreaterThanOrEqual(drawings.count, 1, text)
        var lastRows = -1, lastMB = -1.0
        for d in drawings {
            let words = d.split(separator: " ")
            let mb = Double(words[1])!
            let rows = Int(words[3].replacingOccurrences(of: ",", with: ""))!
            XCTAssertEqual(words[2], "MB")
            XCTAssertEqual(words[4].prefix(4), "rows")
            XCTAssertGreaterThanOrEqual(rows, lastRows, "rows went back: \(d)")
            XCTAssertGreaterThanOrEqual(mb, lastMB, "bytes went back: \(d)")
            XCTAssertLessThanOrEqual(rows, 300_000)
            (lastRows, lastMB) = (rows, mb)
        }
        XCTAssertEqual(lastRows, 300_000, "the last drawing shows the final count")
        XCTAssertTrue(text.contains("converted 300,000 rows"), text)
        r = try stave(["summary", "m.stave", "--format", "csv"])
        XCTAssertTrue(r.stdout.contains(",300000,"), r.stdout)
    }
}
