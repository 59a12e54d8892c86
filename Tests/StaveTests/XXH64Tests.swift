import CZstd
import XCTest
@testable import StaveFormat

final class XXH64Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(XXH64.hash([]), 0xEF46_DB37_51D8_E999)
        XCTAssertEqual(XXH64.hash(Array("abc".utf8)), 0x44BC_2CF5_AD77_0999)
    }

    /// zstd writes the low 32 bits of XXH64 (seed 0) of the content at the end
    /// of a frame with checksums on: an independent implementation to compare
    /// with, for every length that exercises each tail path.
    func testAgreesWithZstdFrameChecksum() {
        var rng = TestRNG(7)
        for length in Array(0...80) + [255, 256, 1000, 4097] {
            let data = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let cctx = ZSTD_createCCtx()!
            defer { ZSTD_freeCCtx(cctx) }
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(length))
            let n = out.withUnsafeMutableBytes { o in
                data.withUnsafeBytes { i in ZSTD_compress2(cctx, o.baseAddress, o.count, i.baseAddress, i.count) }
            }
            XCTAssertEqual(ZSTD_isError(n), 0)
            let tail = out[(n - 4)..<n].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            XCTAssertEqual(UInt32(truncatingIfNeeded: XXH64.hash(data)), tail, "length \(length)")
        }
    }
}
