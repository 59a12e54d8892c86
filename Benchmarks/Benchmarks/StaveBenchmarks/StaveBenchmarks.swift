import Benchmark
import StaveFormat
import StaveGen
import StaveIngest
import StaveIO
import StaveQuery
#if canImport(Glibc)
import Glibc
#endif

/// Inputs are built once, before any measured closure: a generated store of
/// STAVE_BENCH_ROWS events (default 1M, 5,000 customers; 200 events each on
/// average, as the published data), converted to a store in /tmp.
enum Inputs {
    static let rows = Int(getenv("STAVE_BENCH_ROWS").map { String(cString: $0) } ?? "") ?? 1_000_000
    static let customers = max(1, rows / 200)
    static let dir = "/tmp/stave-bench-\(rows)"
    static let csvPath = dir + "/tracks.csv"
    static let storePath = dir + "/music.stave"

    nonisolated(unsafe) static var csv: [UInt8] = []
    nonisolated(unsafe) static var store: Store!

    static func prepare() {
        if Sys.kind(storePath) != .directory {
            if Sys.kind(dir) == .missing { try! Sys.mkdir(dir) }
            let gen = Generator(config: GeneratorConfig(rows: rows, customers: customers, seed: 42))
            let out = try! OutputFile(path: csvPath)
            try! gen.writeTracks { try out.write($0) }
            try! out.commit()
            var o = ConvertOptions()
            o.force = true
            _ = try! Converter(input: csvPath, output: storePath, options: o).run()
        }
        csv = try! Sys.readFile(csvPath, limit: 1 << 34)
        store = try! Store.open(storePath)
    }
}

let benchmarks: @Sendable () -> Void = {
    Inputs.prepare()
    let rows = Inputs.rows
    let config = Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
                                         maxDuration: .seconds(3), maxIterations: 200)

    // MARK: CSV parsing

    Benchmark("csv parse (lines)", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            var n = 0
            Inputs.csv.withUnsafeBufferPointer { buf in
                var start = 0
                let base = buf.baseAddress!
                while start < buf.count {
                    var end = start
                    while base[end] != 10 { end += 1 }
                    if case .success(let r) = EventLineParser.parse(UnsafeBufferPointer(start: base + start, count: end - start)) { n &+= Int(r.trackID) }
                    start = end + 1
                }
            }
            blackHole(n)
        }
    }

    // MARK: Encodings

    let values20 = (0..<65_536).map { Int64(($0 &* 2_654_435_761) & 0xFFFFF) }
    let runs = (0..<65_536).map { Int64($0 / 200) }
    for (name, values, id) in [("FOR_BITPACK 20-bit", values20, EncodingID.forBitpack), ("RLE", runs, .rle),
                               ("DICT", values20.map { $0 % 3000 * 33 }, .dictionary), ("DELTA", (0..<65_536).map(Int64.init), .delta)] {
        Benchmark("encode \(name) (65,536 values)", configuration: config) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(ChunkEncoder.encode(values, forcing: id)) }
        }
        let payload = ChunkEncoder.encode(values, forcing: id).payload
        Benchmark("decode \(name) to UInt32 (65,536 values)", configuration: config) { benchmark in
            var out = [UInt32](repeating: 0, count: values.count)
            let base = values.min()!
            for _ in benchmark.scaledIterations {
                try payload.withUnsafeBytes { p in
                    let layout = try ChunkLayout.parse(p, encoding: id, count: values.count, file: "b", what: "b")
                    try out.withUnsafeMutableBufferPointer { try layout.decode32(0..<values.count, base: base, into: $0.baseAddress!, file: "b", what: "b") }
                }
                blackHole(out)
            }
        }
    }

    Benchmark("xxh64 (8 MB)", configuration: config) { benchmark in
        let data = [UInt8](repeating: 7, count: 8 << 20)
        for _ in benchmark.scaledIterations { blackHole(XXH64.hash(data)) }
    }

    // MARK: Queries (in-process, store opened once)

    for threads in [1, 2] {
        Benchmark("profile, full, \(rows) rows, \(threads) thread(s)", configuration: config) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try Queries.profile(Inputs.store, filter: QueryFilter(), threads: threads))
            }
        }
    }
    let november = QueryFilter(from: try! CivilTime.parseBound("2014-11-01").get(), to: try! CivilTime.parseBound("2014-12-01").get())
    Benchmark("profile, one month (chunk skipping), \(rows) rows", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try Queries.profile(Inputs.store, filter: november, threads: 2)) }
    }
    Benchmark("stats, \(rows) rows", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try Queries.stats(Inputs.store, filter: QueryFilter(), threads: 2)) }
    }
    Benchmark("one customer, \(rows) rows", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Queries.profile(Inputs.store, filter: QueryFilter(customers: [48]), threads: 2))
        }
    }
    Benchmark("decode only (row groups for a full profile), \(rows) rows", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try RowGroupData.loadAll(store: Inputs.store, filter: QueryFilter(), threads: 2)) }
    }
    let groups = try! RowGroupData.loadAll(store: Inputs.store, filter: QueryFilter(), threads: 2)
    Benchmark("profile kernel only (decoded), \(rows) rows", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ProfileKernel.compute(groups: groups, threads: 2)) }
    }
}
