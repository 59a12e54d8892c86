import XCTest
@testable import StaveFormat

final class CivilTimeTests: XCTestCase {
    func testDaysRoundTripAndAgreeWithCalendarRules() {
        var expected = CivilTime.daysFromCivil(year: 1899, month: 12, day: 31)
        for y in Int64(1900)...2100 {
            for m in Int64(1)...12 {
                for d in 1...CivilTime.daysIn(year: y, month: m) {
                    let days = CivilTime.daysFromCivil(year: y, month: m, day: d)
                    expected += 1
                    XCTAssertEqual(days, expected)
                    let back = CivilTime.civilFromDays(days)
                    XCTAssertTrue(back == (y, m, d))
                }
            }
        }
        XCTAssertEqual(CivilTime.daysFromCivil(year: 1970, month: 1, day: 1), 0)
    }

    func parse(_ s: String) -> Result<Int64, CivilTime.DatetimeError> {
        Array(s.utf8).withUnsafeBufferPointer { CivilTime.parse($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, count: $0.count) }
    }

    func testParseAndFormat() throws {
        for s in ["2014-10-23 03:26:20", "2016-02-29 00:00:00", "0001-01-01 00:00:00", "9999-12-31 23:59:59", "1969-12-31 23:59:59"] {
            let v = try parse(s).get()
            XCTAssertEqual(CivilTime.format(v), s)
        }
        XCTAssertEqual(try parse("1970-01-01 00:00:01").get(), 1)
        XCTAssertEqual(try parse("2014-10-23 03:26:20").get(), 1_414_034_780)
    }

    /// The table-driven common case agrees with the general parser on every
    /// day of its years and the years around them, and on seeded random one-
    /// and two-byte corruptions of valid datetimes (a result or the same
    /// error); it answers every valid datetime of its years itself.
    func testCommonShapeIsTheGeneralParser() {
        func general(_ b: [UInt8]) -> Result<Int64, CivilTime.DatetimeError> {
            b.withUnsafeBufferPointer { CivilTime.parse($0.baseAddress!, count: 19, allowDateOnly: false, allowT: false) }
        }
        func check(_ b: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
            let fast = b.withUnsafeBufferPointer { CivilTime.parse($0.baseAddress!, count: 19) }
            switch (fast, general(b)) {
            case (.success(let a), .success(let e)): XCTAssertEqual(a, e, String(decoding: b, as: UTF8.self), file: file, line: line)
            case (.failure(let a), .failure(let e)): XCTAssertEqual(a.message, e.message, file: file, line: line)
            default: XCTFail("\(String(decoding: b, as: UTF8.self)): \(fast) against \(general(b))", file: file, line: line)
            }
        }
        var rng = TestRNG(19)   // seeded: a failure reproduces
        var valid: [[UInt8]] = []
        var fastAnswered = 0, inTableYears = 0
        for y in Int64(1898)...2157 {
            for m in Int64(1)...12 {
                for d in 1...CivilTime.daysIn(year: y, month: m) {
                    let s = Int64(rng.below(86_400))
                    let text = Array(CivilTime.format(CivilTime.secondsFrom(year: y, month: m, day: d, hour: 0, minute: 0, second: s)).utf8)
                    check(text)
                    if CivilTime.tableYears.contains(Int(y)) {
                        inTableYears += 1
                        if text.withUnsafeBufferPointer({ CivilTime.parseCommon($0.baseAddress!) }) != nil { fastAnswered += 1 }
                    }
                    if d == 1 || d >= 28 { valid.append(text) }
                }
            }
        }
        XCTAssertEqual(fastAnswered, inTableYears)
        for edge in ["1900-02-29 00:00:00", "2000-02-29 23:59:59", "2100-02-29 00:00:00", "2155-12-31 23:59:59",
                     "2156-01-01 00:00:00", "1899-12-31 23:59:59", "2014-04-31 00:00:00", "2014-10-00 00:00:00",
                     "2014-10-32 00:00:00", "2014-00-10 00:00:00", "2014-13-10 00:00:00", "2014-10-23 24:00:00",
                     "2014-10-23 23:60:00", "2014-10-23 23:59:60", "2014-10-23T03:26:20", "2014/10/23 03:26:20"] {
            check(Array(edge.utf8))
        }
        let bytes: [UInt8] = Array("0123456789-: T/".utf8) + [0x00, 0x2F, 0x3A, 0x7F, 0x80, 0xFF]
        for _ in 0..<200_000 {
            var b = valid[rng.below(valid.count)]
            b[rng.below(19)] = bytes[rng.below(bytes.count)]
            if rng.below(2) == 1 { b[rng.below(19)] = bytes[rng.below(bytes.count)] }
            check(b)
        }
    }

    func testRejectsInvalidDatetimes() {
        for bad in ["2014-02-30 00:00:00", "2015-02-29 10:00:00", "2014-10-23 24:00:00", "2014-10-23 03:60:00",
                    "2014-10-23 03:26:60", "2014-10-23 03:26", "2014-13-01 00:00:00", "2014-00-10 00:00:00",
                    "0000-01-01 00:00:00", "2014/10/23 03:26:20", "2014-10-23T03:26:20", " 2014-10-23 03:26:20",
                    "2014-10-23 03:26:2x", "", "2014-10-23"] {
            if case .success = parse(bad) { XCTFail("accepted \(bad)") }
        }
    }

    func testQueryBounds() throws {
        XCTAssertEqual(try CivilTime.parseBound("2014-11-01").get(), try parse("2014-11-01 00:00:00").get())
        XCTAssertEqual(try CivilTime.parseBound("2014-11-01T05:00:00").get(), try parse("2014-11-01 05:00:00").get())
        XCTAssertThrowsError(try CivilTime.parseBound("2014-11-31").get())
        XCTAssertThrowsError(try CivilTime.parseBound("yesterday").get())
        // Without seconds, after a space or a T (issue 18.11).
        XCTAssertEqual(try CivilTime.parseBound("2014-12-01 10:00").get(), try parse("2014-12-01 10:00:00").get())
        XCTAssertEqual(try CivilTime.parseBound("2014-12-01T23:59").get(), try parse("2014-12-01 23:59:00").get())
        for bad in ["2014-12-01 24:00", "2014-12-01 10:60", "2014-12-01 10:0", "2014-12-01 10:00:", "2014-12-01 10-00",
                    "2014-12-01x10:00", "2014-12-01 10:00:5", "2014-12-0110:00"] {
            XCTAssertThrowsError(try CivilTime.parseBound(bad).get(), bad)
        }
    }

    func testMonthIndex() {
        let s = CivilTime.secondsFrom(year: 2014, month: 12, day: 31, hour: 23, minute: 59, second: 59)
        XCTAssertEqual(CivilTime.monthIndex(of: s), 2014 * 12 + 11)
        XCTAssertEqual(CivilTime.monthStart(2014 * 12 + 11), CivilTime.secondsFrom(year: 2014, month: 12, day: 1, hour: 0, minute: 0, second: 0))
        XCTAssertEqual(CivilTime.monthIndex(of: -1), 1969 * 12 + 11)
    }
}
