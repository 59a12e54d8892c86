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

    /// The pointer writer: the same digits, the byte count returned, and
    /// nothing written past them (a guard byte after the widest value).
    func testPointerWriterAgainstStringConversion() {
        var rng = TestRNG(4)
        let values: [Int64] = [0, -1, 1, 9, 10, -10, 99, 100, Int64.min, Int64.max, Int64.min + 1]
            + (0..<500).map { _ in Int64(bitPattern: rng.next()) >> Int64(rng.below(64)) }
        var buf = [UInt8](repeating: 0xEE, count: 22)
        for v in values {
            buf.withUnsafeMutableBufferPointer { b in
                b.update(repeating: 0xEE)
                let n = DecimalText.write(signed: v, to: b.baseAddress!)
                XCTAssertEqual(String(decoding: b[0..<n], as: UTF8.self), String(v))
                XCTAssertTrue(b[n...].allSatisfy { $0 == 0xEE }, "\(v)")
            }
        }
        buf.withUnsafeMutableBufferPointer { b in
            XCTAssertEqual(DecimalText.write(UInt64.max, to: b.baseAddress!), 20)
            XCTAssertEqual(String(decoding: b[0..<20], as: UTF8.self), String(UInt64.max))
        }
    }

    /// Every value up to 100,000 through the pointer writer: the one- and
    /// two-digit fast paths, their boundaries, and `writeLong` past them.
    func testPointerWriterSmallValuesExhaustively() {
        var buf = [UInt8](repeating: 0xEE, count: 24)
        buf.withUnsafeMutableBufferPointer { b in
            for v in 0...100_000 {
                b.update(repeating: 0xEE)
                let n = DecimalText.write(UInt64(v), to: b.baseAddress!)
                let m = DecimalText.write(signed: Int64(-v), to: b.baseAddress! + 8)
                XCTAssertEqual(String(decoding: b[0..<n], as: UTF8.self), String(v))
                XCTAssertEqual(String(decoding: b[8..<(8 + m)], as: UTF8.self), String(-v))
                XCTAssertEqual(b[n], 0xEE, "\(v)")
                XCTAssertEqual(b[8 + m], 0xEE, "\(-v)")
            }
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
