import Foundation
import XCTest
import StaveIO
#if canImport(Glibc)
import Glibc
#endif

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

    /// A pipe stave streams through gets Sys.pipeBytes of buffer (where the
    /// kernel allows it: never less than it had); anything else is left
    /// alone; the bytes still pass through in order.
    func testPipesAreWidened() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        let before = fcntl(fds[0], 1032 /* F_GETPIPE_SZ */)
        XCTAssertGreaterThan(before, 0)
        // Linux lets any process grow a pipe up to pipe-max-size (1 MiB by default).
        let allowed = readFile("/proc/sys/fs/pipe-max-size").flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        if allowed >= Sys.pipeBytes { XCTAssertNotNil(Sys.widenPipe(fds[1]), "pipe-max-size \(allowed)") }
        if let size = Sys.widenPipe(fds[1]) {
            XCTAssertGreaterThanOrEqual(size, Sys.pipeBytes)
            XCTAssertEqual(fcntl(fds[0], 1032), Int32(size), "one buffer for both ends")
            XCTAssertEqual(Sys.widenPipe(fds[0]), size, "never shrunk, nor grown twice")
            // A write the size of the new buffer goes in whole, with no reader yet.
            let block = (0..<Sys.pipeBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            XCTAssertEqual(block.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }, Sys.pipeBytes)
            var back = [UInt8](repeating: 0, count: Sys.pipeBytes)
            var got = 0
            while got < back.count {
                let n = back.withUnsafeMutableBytes { read(fds[0], $0.baseAddress! + got, $0.count - got) }
                XCTAssertGreaterThan(n, 0)
                got += n
            }
            XCTAssertEqual(back, block)
        } else {
            XCTAssertEqual(fcntl(fds[0], 1032), before, "refused: left as it was")
        }
        let path = temporaryDirectory(self) + "/file"
        writeFile(path, "x")
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        XCTAssertNil(Sys.widenPipe(fd))
    }
}
