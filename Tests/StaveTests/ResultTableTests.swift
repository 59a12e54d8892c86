import XCTest
import StaveInterop
import StaveQuery
@testable import StaveReports

/// The table format's helpers: rounding for reading, fitting a width.
final class ResultTableTests: XCTestCase {
    /// A profile's Arrow columns, built straight from its arrays (the C
    /// library's and `--format arrow`'s path), are the cell table's
    /// (the path every other result takes), byte for byte as an IPC stream.
    func testProfileArrowColumnsAreTheCellTables() {
        var rng = SystemRandomNumberGenerator()
        for count in [0, 1, 7, 1000] {
            var p = Profile()
            p.customer = (0..<count).map { UInt32($0 * 3 + 1) }
            func column() -> [Int64] { (0..<count).map { _ in Int64.random(in: 0...1_000_000, using: &rng) } }
            p.uniqueTracks = column(); p.morning = column(); p.afternoon = column()
            p.evening = column(); p.night = column(); p.mobile = column()
            let direct = ArrowStream.encode(ProfileReport.arrowColumns(p), rows: p.count)
            let viaCells = ArrowStream.encode(ProfileReport.table(p).arrowColumns(), rows: p.count)
            XCTAssertEqual(direct, viaCells, "\(count) customers")
            let v1 = ProfileReport.arrowColumns(p, naming: .v1).map(\.name)
            XCTAssertEqual(v1.suffix(2), ["mobile_tracks", "total_tracks"])
        }
    }

    func testReadableDoublesKeepSixSignificantDigits() {
        XCTAssertEqual(CellText.readableDouble(3160.5953177257525), "3160.6")
        XCTAssertEqual(CellText.readableDouble(0.62405), "0.62405")
        XCTAssertEqual(CellText.readableDouble(0.000012345678), "0.0000123457")
        XCTAssertEqual(CellText.readableDouble(62.0), "62.0")
        XCTAssertEqual(CellText.readableDouble(0), "0.0")
        XCTAssertEqual(CellText.readableDouble(-0.0000001), "-1.00000e-07")
        XCTAssertEqual(CellText.readableDouble(2e15), "2.00000e+15")
        XCTAssertEqual(CellText.readableDouble(.nan), "NaN")
        // Against the value: within half a unit of the sixth significant
        // digit; below 100,000 never more than six significant digits
        // shown, above it the whole part and one decimal.
        var g = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let d = Double.random(in: -1...1, using: &g) * pow(10, Double(Int.random(in: -5...14, using: &g)))
            let text = CellText.readableDouble(d)
            guard let back = Double(text) else { return XCTFail(text) }
            XCTAssertEqual(back, d, accuracy: abs(d) * 5.01e-6, text)
            let mantissa = text.split(separator: "e")[0]
            let digits = mantissa.drop { $0 == "-" || $0 == "0" || $0 == "." }.filter(\.isNumber)
            if abs(d) < 1e5 {
                XCTAssertLessThanOrEqual(digits.drop { $0 == "0" }.count, 6, "\(d) -> \(text)")
            } else if !text.contains("e") {
                // Whole part in full, one decimal.
                XCTAssertEqual(text.split(separator: ".")[1].count, 1, "\(d) -> \(text)")
            }
        }
    }

    func testVisibleColumnsKeepBothEndsAndFit() {
        let widths = [11, 13, 7, 9, 7, 5, 12, 5]
        XCTAssertEqual(TextTable.visibleColumns(widths: widths, maxWidth: nil), Array(0..<8))
        XCTAssertEqual(TextTable.visibleColumns(widths: widths, maxWidth: 200), Array(0..<8))
        for width in 20...100 {
            let shown = TextTable.visibleColumns(widths: widths, maxWidth: width)
            XCTAssertEqual(shown.first, 0)
            XCTAssertEqual(shown, shown.sorted())
            let used = shown.map { widths[$0] }.reduce(0, +) + 2 * (shown.count - 1) + (shown.count < widths.count ? 3 : 0)
            if shown.count > 1 { XCTAssertLessThanOrEqual(used, width, "\(width): \(shown)") }
            if shown.count > 1 { XCTAssertEqual(shown.last, 7, "the last column stays once a second fits") }
        }
    }
}
