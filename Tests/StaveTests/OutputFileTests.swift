import Foundation
import XCTest
import StaveIO

final class OutputFileTests: XCTestCase {
    /// Blocks past the flush threshold go to the file directly, after what
    /// is buffered: the bytes arrive in the order written, to a file and
    /// to memory alike.
    func testLargeBlocksKeepTheOrder() throws {
        var rng = TestRNG(8)
        let pieces: [[UInt8]] = [Array("header\n".utf8), (0..<(3 << 20)).map { _ in UInt8(rng.below(256)) }, Array("small\n".utf8),
                                 (0..<(1 << 20)).map { _ in UInt8(rng.below(256)) }, (0..<(2 << 20)).map { _ in UInt8(rng.below(256)) },
                                 Array("tail".utf8)]
        let expected = pieces.flatMap { $0 }
        let path = temporaryDirectory(self) + "/out.bin"
        let file = try OutputFile(path: path)
        let memory = OutputFile.memory()
        for (k, piece) in pieces.enumerated() {
            for out in [file, memory] {
                if k % 2 == 0 { try out.write(piece) } else { try piece.withUnsafeBytes { try out.write($0) } }
            }
        }
        try file.commit()
        XCTAssertEqual(file.bytesWritten, expected.count)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), expected)
        XCTAssertEqual(memory.bytes(), expected)
    }
}
