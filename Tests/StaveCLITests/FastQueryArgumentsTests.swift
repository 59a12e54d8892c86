import ArgumentParser
import StaveGen
import StaveReports
import XCTest
@testable import stave

/// FastQueryArguments against ArgumentParser: on every command line the
/// fast reading accepts, ArgumentParser must accept it too and resolve the
/// same invocation. (Lines it gives to ArgumentParser need no check here:
/// ArgumentParser then reads them as it always has.)
final class FastQueryArgumentsTests: XCTestCase {
    /// ArgumentParser's reading: the parsed command's invocation, or nil
    /// when it refuses the line or it is not a profile or stats command.
    func slow(_ args: [String]) -> QueryInvocation? {
        guard let command = try? Stave.parseAsRoot(args) else { return nil }
        switch command {
        case let p as Stave.Profile: return try? p.invocation()
        case let s as Stave.Stats: return try? s.invocation()
        default: return nil
        }
    }

    func check(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> Bool {
        guard let fast = FastQueryArguments.parse(args) else { return false }
        XCTAssertEqual(fast, slow(args), "\(args)", file: file, line: line)
        return true
    }

    func testTheCommonLinesAreReadAsArgumentParserReadsThem() throws {
        let lines: [[String]] = [
            ["profile", "s.stave"],
            ["stats", "s.stave"],
            ["profile", "s.stave", "--customer", "48", "--format", "csv", "-o", "/dev/null"],
            ["profile", "s.stave", "--customer", "48,1081", "--customer", "7", "--from", "2014-11-01", "--to", "2014-12-01 06:00"],
            ["stats", "s.stave", "--format", "json", "--output", "agg.json", "--threads", "1", "--verbose"],
            ["profile", "s.stave", "-o", "live.parquet"],
            ["profile", "stats", "--from", "2014-11-01T05:00:00"],
        ]
        for args in lines { XCTAssertTrue(check(args), "not read by the fast path: \(args)") }
        // Each resolves what the options say (not only what ArgumentParser says).
        let q = try XCTUnwrap(FastQueryArguments.parse(["profile", "s.stave", "--customer", "48,7", "--customer", "9", "-o", "p.json", "--threads", "3"]))
        XCTAssertEqual(q.store, "s.stave")
        XCTAssertEqual(q.request.scope.customers, [7, 9, 48])
        XCTAssertEqual(q.format, .json)
        XCTAssertEqual(q.output, "p.json")
        XCTAssertEqual(q.threads, 3)
        XCTAssertEqual(q.request.kind, .profile(ProfilePage()))
    }

    func testLinesOutsideItsFormGoToArgumentParser() {
        let lines: [[String]] = [
            [], ["profile"], ["summary", "s.stave"], ["profile", "--format", "csv", "s.stave"],
            ["profile", "s.stave", "--format=csv"], ["profile", "s.stave", "--limit", "5"], ["profile", "s.stave", "--help"],
            ["profile", "s.stave", "-h"], ["profile", "s.stave", "--format", "xml"], ["profile", "s.stave", "--format", "csv", "--format", "csv"],
            ["profile", "s.stave", "--threads", "0"], ["profile", "s.stave", "--threads", "257"], ["profile", "s.stave", "--customer", "x"],
            ["profile", "s.stave", "--from", "2014-13-01"], ["profile", "s.stave", "--from", "2014-12-01", "--to", "2014-11-01"],
            ["profile", "s.stave", "--format", "arrow", "-o", "x.csv"], ["profile", "s.stave", "-o", "-"], ["profile", "s.stave", "--verbose", "--verbose"],
            ["profile", "s.stave", "--customer"], ["profile", "", "--customer", "1"], ["profile", "s.stave", "--", "x"],
        ]
        for args in lines { XCTAssertNil(FastQueryArguments.parse(args), "\(args)") }
    }

    /// Random lines from the options' words, good and bad values, and
    /// words the fast path does not take.
    func testRandomLinesAgree() {
        let words: [(String, [String])] = [
            ("--format", ["csv", "json", "ndjson", "table", "parquet", "arrow", "CSV", "xml", ""]),
            ("-o", ["out.csv", "out.json", "x.parquet", "x.arrows", "-", "/dev/null", "o.txt", "stats"]),
            ("--output", ["out.csv", "o"]),
            ("--customer", ["48", "48,49", "1,,2", "x", "4294967295", "4294967296", "-1", " 5", "3,1,3"]),
            ("--from", ["2014-11-01", "2014-12-01 06:00", "2014-13-01", "2014-11-01T05:00:00", "x", "2014-10-01 00:00:00"]),
            ("--to", ["2014-12-01", "2014-11-15 12:30", "2015-02-30", "2014-10-01"]),
            ("--threads", ["1", "2", "0", "257", "08", "+3", "x", "256"]),
            ("--verbose", []), ("--limit", ["5"]), ("--with-customers", []), ("--level", ["Gold"]),
            ("--help", []), ("--format=csv", []), ("--", []), ("-v", []),
        ]
        let commands = ["profile", "stats", "profile", "stats", "summary", "help"]
        let stores = ["s.stave", "stats", "profile", "help", "a b", "/tmp/x.stave", "-s", ""]
        var rng = Xoshiro256(seed: 0x5EED_FA57)
        var accepted = 0
        for _ in 0..<1_000 {
            var args = [commands[Int(rng.below(UInt64(commands.count)))], stores[Int(rng.below(UInt64(stores.count)))]]
            for _ in 0..<Int(rng.below(6)) {
                let (name, values) = words[Int(rng.below(UInt64(words.count)))]
                args.append(name)
                if !values.isEmpty { args.append(values[Int(rng.below(UInt64(values.count)))]) }
            }
            if check(args) { accepted += 1 }
        }
        // Enough of the lines took the fast path for the comparison to mean something.
        XCTAssertGreaterThan(accepted, 100)
    }
}
