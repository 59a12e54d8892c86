import XCTest
@testable import StaveFormat
import StaveIO
@testable import StaveIngest

/// RunMerge over a conversion's spills (`consumesInputs`): each input group
/// is punched out of its file once the ranges it overlaps are gathered.
final class RunMergeTests: XCTestCase {
    /// A sink that keeps each part's columns and, at each part, how many
    /// bytes the spill files take on disk.
    final class Collect: PartSink {
        var parts: [[[Int64]]] = []
        var allocated: [Int] = []
        let spills: () -> [String]
        let scratchDirectory: String
        init(_ dir: String, spills: @escaping () -> [String]) { scratchDirectory = dir; self.spills = spills }
        func addPart(groupCount: Int, makeGroup: @escaping @Sendable (Int) -> RowGroupColumns) throws {
            allocated.append(spills().reduce(0) { $0 + (Sys.allocatedBytes($1) ?? 0) })
            var columns = [[Int64]](repeating: [], count: EventsSchema.columns.count)
            for g in 0..<groupCount {
                let c = makeGroup(g).columns
                for k in columns.indices { columns[k] += c[k] }
            }
            parts.append(columns)
        }
    }

    /// A conversion larger than one buffer: once its last spill is written,
    /// the parse buffer (handed back by that write, empty but with its
    /// capacity) is let go before the layout, which has buffers of its own;
    /// the layout still gets every row.
    func testFinishingASpilledConversionLetsTheParseBufferGo() throws {
        let dir = temporaryDirectory(self)
        let events = randomEvents(count: 5_000, customers: 300, seed: 7)
        let text = Array(events.map { ParseState.csvText($0) + "\n" }.joined().utf8)
        var options = ConvertOptions()
        options.bufferRows = 1_000
        var state = ParseState(options: options, file: "t.csv", rejects: nil)
        state.overlapFlushes = true
        let sink = Collect(dir, spills: { [] })
        let consumed = try text.withUnsafeBufferPointer { try state.consume($0, atEOF: true, sink: sink) }
        XCTAssertEqual(consumed, text.count)
        try state.finish(sink: sink)
        XCTAssertEqual(state.buffer.rows.capacity, 0, "the parse buffer is let go before the layout")
        XCTAssertEqual(sink.parts.reduce(0) { $0 + $1[EventsSchema.eventID].count }, events.count)
        XCTAssertEqual(sink.parts.flatMap { $0[EventsSchema.eventID] }.sorted(), events.map(\.eventID).sorted())
    }

    /// Four spills of two months' events in groups of 1,000 rows (so that
    /// each group holds a narrow customer range; two chains of groups per
    /// file, so the groups freed are not one prefix of it), laid out as a
    /// run of about 24 ranges, twice: consuming the spills and not. The same parts
    /// (every row once, parts in customer order); while consuming, the
    /// spills' disk blocks shrink part after part to a small rest (when a
    /// part is written, the ranges before it are punched), and a group
    /// freed too early would fail its checksum when read; otherwise they
    /// stay whole.
    func testConsumingMergeFreesSpentGroupsAndWritesTheSameParts() throws {
        let dir = temporaryDirectory(self)
        let probe = dir + "/probe"
        writeFile(probe, String(repeating: "x", count: 1 << 16))
        guard Sys.punchHoles(probe, [0..<(1 << 16)]), let left = Sys.allocatedBytes(probe), left == 0 else {
            throw XCTSkip("this file system does not punch holes")
        }
        let month = seconds("2014-11-01")
        let events = randomEvents(count: 24_000, customers: 600, seed: 31).map {
            var e = $0
            e.datetime = month + e.datetime % (56 * 86_400)
            return e
        }
        var written: [Collect] = []
        for consume in [true, false] {
            let d = dir + "/\(consume)"
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false)
            let set = SpillSet(directory: d, threads: 2)
            for k in 0..<4 {
                var b = EventBuffer()
                for e in events[(k * 6_000)..<((k + 1) * 6_000)] { b.append(e) }
                try PartLayout.writePart(b, to: set, groupRows: 1_000)
            }
            let inputs = try set.open()
            XCTAssertEqual(inputs.count, 4)
            XCTAssertTrue(inputs.allSatisfy { $0.footer.rowGroups.count >= 6 }, "groups of a few customers each")
            let sink = Collect(d, spills: { inputs.map(\.path) })
            let before = sink.spills().reduce(0) { $0 + (Sys.allocatedBytes($1) ?? 0) }
            try RunMerge.merge(inputs, partRows: 1_000, threads: 2, into: sink, consumesInputs: consume, releaseBytes: 8_192)
            sink.allocated.append(sink.spills().reduce(0) { $0 + (Sys.allocatedBytes($1) ?? 0) })
            XCTAssertGreaterThanOrEqual(sink.parts.count, 20)
            if consume {
                for k in sink.allocated.indices.dropFirst() {
                    XCTAssertLessThanOrEqual(sink.allocated[k], sink.allocated[k - 1], "part \(k)")
                }
                // (A part's blocks are read while the punches of its own
                // range may still run: the figures vary by a range.)
                XCTAssertLessThan(sink.allocated[sink.allocated.count / 2], before, "freeing under way half-way")
                XCTAssertLessThan(sink.allocated[sink.allocated.count * 3 / 4], before * 3 / 4, "freed as the run goes")
                XCTAssertLessThan(sink.allocated.last!, before / 3, "little left at the end")
            } else {
                XCTAssertEqual(Set(sink.allocated), [before], "not consumed: the spills stay whole")
            }
            set.removeAll()
            written.append(sink)
        }
        XCTAssertTrue(written[0].parts == written[1].parts, "the same parts")
        let ev = EventsSchema.eventID, cu = EventsSchema.customerID
        XCTAssertEqual(written[0].parts.flatMap { $0[ev] }.sorted(), events.map(\.eventID))
        for k in written[0].parts.indices.dropFirst() {
            XCTAssertGreaterThan(written[0].parts[k][cu].min()!, written[0].parts[k - 1][cu].max()!, "parts in customer order")
        }
    }
}
