import Foundation
import XCTest
@testable import StaveFormat
import StaveIO

/// A conversion's scratch parts go around the page cache: written with
/// direct I/O in whole aligned blocks (the last one padded, then the file
/// cut back) and read back the same way, then freed group by group.
final class ScratchIOTests: XCTestCase {
    /// Row groups of event columns, of sizes that leave every drain and the
    /// end of the file off a block boundary.
    func groups() -> [RowGroupColumns] {
        var rng = TestRNG(21)
        var event: Int64 = 1
        let sizes = [8_192, 1, 5_000, 8_192, 8_192, 777, 8_192, 8_192, 3]
        return Array(repeating: sizes, count: 5).joined().map { n in
            var cols = [[Int64]](repeating: [], count: EventsSchema.columns.count)
            for _ in 0..<n {
                cols[EventsSchema.eventID].append(event)
                event += Int64(1 + rng.below(3))
                cols[EventsSchema.customerID].append(Int64(rng.below(50_000)))
                cols[EventsSchema.trackID].append(Int64(rng.below(2_000_000)))
                // October 2014: a row group holds one calendar month.
                cols[EventsSchema.datetime].append(1_412_121_600 + Int64(rng.below(2_678_400)))
                cols[EventsSchema.mobile].append(Int64(rng.below(2)))
                cols[EventsSchema.zip].append(Int64(rng.below(100_000)))
            }
            return RowGroupColumns(columns: cols)
        }
    }

    func testScratchPartsRoundTrip() throws {
        let dir = temporaryDirectory(self)
        let input = groups()
        for (name, policy) in [("scratch", CompressionPolicy.spill), ("plain", CompressionPolicy())] {
            let entry = try PartWriter.write(groupCount: input.count, to: dir + "/" + name, policy: policy, threads: 2) { input[$0] }
            // The file is exactly as long as written (the padding of the
            // last block cut off), and opens: its tail is at the end.
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: dir + "/" + name)[.size] as? Int)
            XCTAssertEqual(UInt64(size), entry.bytes, name)
            if policy.scratch { XCTAssertGreaterThan(size, 2 << 20, "more than one drain") }
            XCTAssertNotEqual(size % Sys.directAlignment, 0, "the end is off a block boundary")
            let part = try Part.open(directory: dir, entry: entry, kind: FormatConstants.tableKindEvents)
            XCTAssertEqual(part.footer.rowGroups.count, input.count)
            for g in input.indices {
                XCTAssertEqual(try part.readRowGroup(g, direct: true), input[g].columns, "\(name) group \(g), direct")
                XCTAssertEqual(try part.readRowGroup(g, direct: false), input[g].columns, "\(name) group \(g)")
            }
        }
    }

    func testDirectReadsOfUnalignedRanges() throws {
        let path = temporaryDirectory(self) + "/f"
        var rng = TestRNG(5)
        let bytes = (0..<10_000).map { _ in UInt8(rng.below(256)) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for range in [0..<1, 1..<4_097, 4_095..<4_097, 5_000..<10_000, 9_999..<10_000, 0..<10_000] {
            // nil: the file system refuses direct I/O (callers read through
            // the page cache instead).
            guard let (buffer, base) = try Sys.preadDirect(path, range) else { continue }
            defer { buffer.deallocate() }
            XCTAssertEqual(base % Sys.directAlignment, 0)
            XCTAssertLessThanOrEqual(base, range.lowerBound)
            XCTAssertEqual(Array(buffer[(range.lowerBound - base)..<(range.upperBound - base)]), Array(bytes[range]), "\(range)")
        }
        guard let fd = Sys.openDirect(path, flags: O_RDONLY) else { return }
        Sys.close(fd)
        XCTAssertThrowsError(try Sys.preadDirect(path, 9_000..<10_001)) { error in
            XCTAssertTrue("\(error)".contains("ends before byte 10001"), "\(error)")
        }
    }

    func testPunchHolesFreesOnlyItsRanges() throws {
        let path = temporaryDirectory(self) + "/f"
        let bytes = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 % 251 + 1) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let freed = Sys.punchHoles(path, [10_001..<19_999, 25_000..<25_000])
        let after = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(after.count, bytes.count, "the size stays")
        XCTAssertEqual(Array(after[0..<10_001]), Array(bytes[0..<10_001]))
        XCTAssertEqual(Array(after[19_999...]), Array(bytes[19_999...]))
        // A file system without holes leaves the file as it was.
        XCTAssertEqual(Array(after[10_001..<19_999]), freed ? [UInt8](repeating: 0, count: 9_998) : Array(bytes[10_001..<19_999]))
        XCTAssertFalse(Sys.punchHoles(path + "-missing", [0..<1]))
    }
}
