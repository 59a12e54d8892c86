import XCTest
import StaveFormat

final class DecimalTextTests: XCTestCase {
    func text(_ body: (inout [UInt8]) -> Void) -> String {
        var b: [UInt8] = []
        body(&b)
        return String(decoding: b, as: UTF8.self)
    }

    func testAgainstStringConversion() {
        var rng = TestRNG(3)
        let values: [UInt64] = [0, 1, 9, 10, 99_999, 100_000, UInt64(UInt32.max), UInt64(Int64.max), UInt64.max]
            + (0..<500).map { _ in rng.next() >> UInt64(rng.below(64)) }
        for v in values { XCTAssertEqual(text { DecimalText.append(v, to: &$0) }, String(v)) }
        for v: Int64 in [0, -1, 1, Int64.min, Int64.max, -1234567] {
            XCTAssertEqual(text { DecimalText.append(signed: v, to: &$0) }, String(v))
        }
    }

    func testZeroPaddingAndZip5() {
        XCTAssertEqual(text { DecimalText.append(42, to: &$0, width: 5) }, "00042")
        XCTAssertEqual(text { DecimalText.append(0, to: &$0, width: 5) }, "00000")
        XCTAssertEqual(text { DecimalText.append(123_456, to: &$0, width: 5) }, "123456")   // never truncates
        XCTAssertEqual(DecimalText.zip5(4042), "04042")
        XCTAssertEqual(DecimalText.zip5(99_999), "99999")
    }
}
