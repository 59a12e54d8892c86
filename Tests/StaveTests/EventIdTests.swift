import Foundation
import XCTest
@testable import StaveFormat
import StaveIO
@testable import StaveIngest

/// Duplicate event ids (issue 17): the check against an obvious reference
/// (a dictionary of the first line of every id), on generated inputs of
/// every shape, buffer by buffer, with a store behind it.
final class EventIdTests: XCTestCase {
    /// What the check must find: for every row whose id was seen before
    /// (earlier in the input, or in `stored`), that earlier place.
    func reference(_ ids: [Int64], lines: [Int], stored: Set<Int64>) -> [(line: Int, id: Int64, earlier: String)] {
        var first: [Int64: Int] = [:]
        var out: [(Int, Int64, String)] = []
        for (i, id) in ids.enumerated() {
            if stored.contains(id) { out.append((lines[i], id, "store")); continue }
            if let l = first[id] { out.append((lines[i], id, "line \(l)")) } else { first[id] = lines[i] }
        }
        return out
    }

    func rows(_ ids: [Int64]) -> EventBuffer {
        var b = EventBuffer()
        for id in ids { b.append(EventRow(eventID: id, customerID: 1, trackID: 1, datetime: 1_412_121_600, mobile: 0, zip: 1)) }
        return b
    }

    func testAgainstTheReferenceOnEveryShape() throws {
        var rng = TestRNG(17)
        func inOrder(_ n: Int) -> [Int64] { (0..<n).map { Int64($0) } }
        func shuffled(_ n: Int) -> [Int64] { inOrder(n).shuffled(using: &rng) }
        func repeats(_ n: Int) -> [Int64] { (0..<n).map { _ in Int64(rng.below(n)) } }
        func sparse(_ n: Int) -> [Int64] { (0..<n).map { _ in Int64(bitPattern: rng.next() >> 1) } }
        func fewRepeats(_ n: Int) -> [Int64] { (0..<n).map { (i: Int) -> Int64 in i % 97 == 5 ? Int64(i / 2) : Int64(i) } }
        func top(_ n: Int) -> [Int64] { (0..<n).map { (i: Int) -> Int64 in Int64.max - Int64(n) + Int64(i) } }
        func one(_ n: Int) -> [Int64] { [Int64](repeating: Int64.max, count: n) }
        let shapes: [(Int) -> [Int64]] = [inOrder, shuffled, repeats, sparse, fewRepeats, top, one]
        for (k, shape) in shapes.enumerated() {
            for buffers in [1, 3] {
                let n = 3_000
                let ids = shape(n)
                // Lines with gaps (bad rows, a header) now and then.
                var lines: [Int] = [], line = 1
                for _ in 0..<n { line += rng.below(10) == 0 ? 2 : 1; lines.append(line) }
                let stored: Set<Int64> = k == 3 ? [] : Set((0..<50).map { _ in ids[rng.below(n)] })
                let dir = temporaryDirectory(self)
                let path = try convert(csvLines(stored.sorted().map { EventRow(eventID: $0, customerID: 2, trackID: 2, datetime: 1_412_121_600, mobile: 0, zip: 2) }), dir: dir)
                let check = DuplicateCheck(file: "x.csv", store: StoreEventIds(store: try Store.open(path)))
                var found: [(line: Int, id: Int64, earlier: String)] = []
                for b in 0..<buffers {
                    let range = (n * b / buffers)..<(n * (b + 1) / buffers)
                    for d in try check.check(rows(Array(ids[range])), lines: Array(lines[range])) {
                        let earlier: String
                        switch d.earlier { case .line(let l): earlier = "line \(l)"; case .input: earlier = "input"; case .store: earlier = "store" }
                        XCTAssertEqual(d.line, lines[range.lowerBound + d.row])
                        found.append((d.line, d.id, earlier))
                    }
                }
                let expected = reference(ids, lines: lines, stored: stored)
                XCTAssertEqual(found.map { "\($0.line) \($0.id) \($0.earlier)" }, expected.map { "\($0.line) \($0.id) \($0.earlier)" },
                               "shape \(k), \(buffers) buffers")
                if k == 0 && stored.isEmpty { XCTAssertLessThanOrEqual(check.runs.count, buffers) }
            }
        }
    }
    /// Buffers of consecutive ids on consecutive lines (what an export
    /// gives) join the ids seen as one run without the general walk; the
    /// buffers next to that case (ids back inside an earlier run, a line
    /// gap and a later duplicate of an id past it, an id in the store, ids
    /// up to Int64.max) still find every duplicate, with its first line,
    /// as the reference does.
    func testConsecutiveBuffersAgainstTheReference() throws {
        func span(_ a: Int64, _ n: Int) -> [Int64] { (0..<Int64(n)).map { a + $0 } }
        let top = Int64.max - 999
        let buffers: [[Int64]] = [span(0, 1_000), span(1_000, 1_000), span(1_500, 1_000), span(5_000, 1_000),
                                  span(7_000, 1_000), span(9_000, 1_000), span(8_999, 2), span(5_600, 1), span(top, 1_000)]
        var lines: [[Int]] = [], line = 2
        for (b, ids) in buffers.enumerated() {
            lines.append(ids.indices.map { i in line += (b == 3 && i == 400) ? 2 : 1; return line - 1 })
        }
        let stored: Set<Int64> = [7_500]
        let dir = temporaryDirectory(self)
        let path = try convert(csvLines([EventRow(eventID: 7_500, customerID: 2, trackID: 2, datetime: 1_412_121_600, mobile: 0, zip: 2)]), dir: dir)
        let check = DuplicateCheck(file: "x.csv", store: StoreEventIds(store: try Store.open(path)))
        var found: [String] = []
        for (b, ids) in buffers.enumerated() {
            for d in try check.check(rows(ids), lines: lines[b]) {
                let earlier: String
                switch d.earlier { case .line(let l): earlier = "line \(l)"; case .input: earlier = "input"; case .store: earlier = "store" }
                found.append("\(d.line) \(d.id) \(earlier)")
            }
            if b == 1 {
                // Two buffers that continue each other: one run.
                XCTAssertEqual(check.runs.count, 1)
                XCTAssertEqual(check.runs.first.map { "\($0.id) \($0.line) \($0.count)" }, "0 2 2000")
            }
        }
        let expected = reference(buffers.flatMap { $0 }, lines: lines.flatMap { $0 }, stored: stored)
        XCTAssertEqual(expected.count, 500 + 1 + 1 + 1)
        XCTAssertEqual(found, expected.map { "\($0.line) \($0.id) \($0.earlier)" })
    }

    /// Past maxRuns runs the ids seen become a bitmap over their span (an
    /// input in another order than its ids, as a Parquet export in store
    /// order): the same rows are found; a duplicate of an id from an earlier
    /// buffer then names the input instead of that line. Blocks of ids
    /// below and above the span make the bitmap grow both ways. Ids spread
    /// wider than maxBitmapIDs are an error that names --allow-duplicate-ids.
    func testScatteredIdsFallBackToABitmap() throws {
        var rng = TestRNG(23)
        var ids: [Int64] = []
        for b in 0..<6 { ids += (0..<1_000).map { Int64((5 - b) * 1_500 + $0) }.shuffled(using: &rng) }
        for i in stride(from: 0, to: ids.count, by: 37) { ids[i] = ids[rng.below(ids.count)] }
        ids += (0..<500).map { Int64(20_000 + 3 * $0) } + [0, 20_003, 7_499]
        let lines = (0..<ids.count).map { 2 + $0 }
        let expected = reference(ids, lines: lines, stored: [])
        XCTAssertGreaterThan(expected.count, 150)
        for buffers in [1, 4, 13] {
            let check = DuplicateCheck(file: "x.csv", store: nil, maxRuns: 100)
            var found: [(line: Int, id: Int64, earlier: DuplicateCheck.Earlier)] = []
            var bufferOf: [Int: Int] = [:]
            for b in 0..<buffers {
                let range = (ids.count * b / buffers)..<(ids.count * (b + 1) / buffers)
                for l in lines[range] { bufferOf[l] = b }
                found += try check.check(rows(Array(ids[range])), lines: Array(lines[range])).map { ($0.line, $0.id, $0.earlier) }
            }
            XCTAssertNotNil(check.seen, "\(buffers) buffers")
            XCTAssertTrue(check.runs.isEmpty)
            XCTAssertEqual(found.map { "\($0.line) \($0.id)" }, expected.map { "\($0.line) \($0.id)" }, "\(buffers) buffers")
            for (f, e) in zip(found, expected) {
                switch f.earlier {
                case .line(let l): XCTAssertEqual("line \(l)", e.earlier, "line \(f.line)")
                case .input:
                    // The first line, from the reference: in an earlier buffer.
                    let first = Int(e.earlier.dropFirst(5))!
                    XCTAssertLessThan(bufferOf[first]!, bufferOf[f.line]!, "line \(f.line)")
                case .store: XCTFail("no store")
                }
            }
        }
        let wide = DuplicateCheck(file: "x.csv", store: nil, maxRuns: 2, maxBitmapIDs: 10_000)
        XCTAssertThrowsError(try wide.check(rows([5, 0, 3, 20_000, 7]), lines: [1, 2, 3, 4, 5])) { error in
            XCTAssertTrue("\(error)".contains("--allow-duplicate-ids"), "\(error)")
        }
    }
}
