// In-process timings of stave's queries, for the comparison harness and for
// measuring changes: opens a store once, runs each query `runs` times after
// one warm-up, prints one JSON object per query with the median and the
// minimum in milliseconds.
//
//   stave-timer STORE [--runs N] [--threads T] [--only NAME]
import StaveFormat
import StaveIO
import StaveIngest
import StaveQuery
#if canImport(Glibc)
import Glibc
#endif

var args = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    let v = args[i + 1]
    args.removeSubrange(i...(i + 1))
    return v
}
let runs = Int(option("--runs") ?? "") ?? 20
let threads = Int(option("--threads") ?? "") ?? 2
let only = option("--only")
guard let path = args.first, !path.hasPrefix("-") else {
    print("usage: stave-timer STORE [--runs N] [--threads T] [--only NAME]")
    exit(args.first == "--help" || args.first == "-h" ? 0 : 64)
}
// The decode cost of each encoding, ns per row (`--only decode_encodings`,
// no store needed): what DecodeWeight.nanosecondsPerRow is set from.
// 65,536-row chunks of the shapes each encoding is chosen for, decoded to
// UInt32 as a query does, 2,000 times each.
if only == "decode_encodings" {
    var rng = UInt64(0x9E37_79B9_7F4A_7C15)
    func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 11 }
    let n = 65_536
    let shapes: [(EncodingID, [Int64])] = [
        (.forBitpack, (0..<n).map { _ in Int64(next() % 2_000_000) }),
        (.rle, (0..<n).map { Int64($0 / 50) }),
        (.dictionary, (0..<n).map { _ in Int64(next() % 3000) * 331 }),
        (.delta, (0..<n).map { Int64($0 * 3) + Int64(next() % 3) }),
        (.deltaRuns, (0..<n).map { (i: Int) -> Int64 in
            let run = Int64(i / 40), within = Int64(i % 40)
            return run * 7 + within * 900 + Int64(next() % 100)
        }),
        (.patchedRLE, (0..<n).map { (i: Int) -> Int64 in next() % 5 == 0 ? Int64(next() % 100_000) : Int64(i / 60) }),
    ]
    for (id, values) in shapes {
        let payload = ChunkEncoder.encode(values, forcing: id).payload
        let base = values.min()!
        var out = [UInt32](repeating: 0, count: n)
        var times: [Double] = []
        for _ in 0..<7 {
            let t0 = Sys.monotonicSeconds()
            for _ in 0..<300 {
                try payload.withUnsafeBytes { p in
                    let layout = try ChunkLayout.parse(p, encoding: id, count: n, file: "b", what: "b")
                    try out.withUnsafeMutableBufferPointer { try layout.decode32(0..<n, base: base, into: $0.baseAddress!, file: "b", what: "b") }
                }
            }
            times.append((Sys.monotonicSeconds() - t0) * 1e9 / Double(300 * n))
        }
        times.sort()
        print("{\"encoding\":\"\(id.name)\",\"ns_per_row_median\":\(times[3]),\"min\":\(times[0]),\"check\":\(out.reduce(0, &+))}")
    }
    exit(0)
}
// The line parser alone, ns per line on one thread (`--only parse_lines`,
// the path is a tracks.csv, not a store; a header line counts as a line the
// parser refuses): the first 64 MB of it read into memory, up to its last
// newline, every line parsed 7 times over.
if only == "parse_lines" {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
        let message = Array("stave-timer: cannot open \(path)\n".utf8)
        _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(66)
    }
    var bytes = [UInt8](repeating: 0, count: 64 << 20)
    var got = 0
    while got < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
        if n <= 0 { break }
        got += n
    }
    close(fd)
    bytes.removeSubrange(got...)
    while let last = bytes.last, last != 10 { bytes.removeLast() }
    var times: [Double] = []
    var lines = 0, check = 0
    for _ in 0..<7 {
        lines = 0
        let t0 = Sys.monotonicSeconds()
        bytes.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!
            var start = 0
            while start < buf.count {
                var end = start
                while base[end] != 10 { end += 1 }
                let stop = end > start && base[end - 1] == 13 ? end - 1 : end
                if case .success(let r) = EventLineParser.parse(UnsafeBufferPointer(start: base + start, count: stop - start)) {
                    check &+= Int(r.trackID) &+ Int(r.datetime) &+ Int(r.zip)
                }
                lines += 1
                start = end + 1
            }
        }
        times.append((Sys.monotonicSeconds() - t0) * 1e9 / Double(max(1, lines)))
    }
    times.sort()
    print("{\"query\":\"parse_lines\",\"lines\":\(lines),\"ns_per_line_median\":\(times[3]),\"min\":\(times[0]),\"check\":\(check)}")
    exit(0)
}
Sys.tuneAllocator   // as the CLI's queries do (QueryRunner)
let store: Store
do {
    store = try Store.open(path)
} catch {
    let message = Array("stave-timer: \(error)\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(66)
}

@MainActor func measure(_ name: String, _ body: () throws -> Void) rethrows {
    if let only, only != name { return }
    let first0 = Sys.monotonicSeconds()
    try body()
    let first = (Sys.monotonicSeconds() - first0) * 1000
    var times: [Double] = []
    for _ in 0..<runs {
        let t0 = Sys.monotonicSeconds()
        try body()
        times.append((Sys.monotonicSeconds() - t0) * 1000)
    }
    times.sort()
    let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    print("{\"query\":\"\(name)\",\"threads\":\(threads),\"runs\":\(runs),\"median_ms\":\(median),\"min_ms\":\(times[0]),\"first_ms\":\(first)}")
}

func bound(_ s: String) -> Int64 { try! CivilTime.parseBound(s).get() }


let month = QueryFilter(from: bound("2014-11-01"), to: bound("2014-12-01"))

try measure("profile") { _ = try Queries.profile(store, filter: QueryFilter(), threads: threads) }
// The same profile forced through each path (fused: decode as the walk
// goes; general: decode everything, then the kernel).
try measure("profile_fused") { _ = try Queries.profile(store, filter: QueryFilter(), threads: threads, fusedFrom: 0) }
// What `stave profile --format csv` does inside its process: the walk
// formats each customer's row as it goes (the text is dropped here).
try measure("profile_csv") {
    var bytes = 0
    try Queries.forEachProfileCSV(store, filter: QueryFilter(), threads: threads, rows: { bytes += $0.count }, profile: { bytes += $0.count })
    precondition(bytes > 0)
}
try measure("profile_general") { _ = try Queries.profile(store, filter: QueryFilter(), threads: threads, fusedFrom: .max) }
try measure("profile_month") { _ = try Queries.profile(store, filter: month, threads: threads) }
try measure("stats") { _ = try Queries.stats(store, filter: QueryFilter(), threads: threads) }
try measure("customer") { _ = try Queries.profile(store, filter: QueryFilter(customers: [48]), threads: threads) }
// The customer-dimension queries (need a customer table), against the
// profile over the same range: the target is at most 2x.
if let table = try CustomerTable.load(store) {
    try measure("breakdown_level") {
        _ = try Queries.breakdown(store, table: table, by: .level, filter: QueryFilter(), threads: threads)
    }
    try measure("breakdown_level_month") {
        _ = try Queries.breakdown(store, table: table, by: .level, filter: month, threads: threads)
    }
    try measure("hours_by_level") {
        _ = try Queries.hours(store, by: .level, filter: QueryFilter(), table: table, threads: threads)
    }
    try measure("profile_gold") {
        _ = try Queries.profile(store, filter: CustomerFilter(levels: [2]).apply(to: QueryFilter(), table: table), threads: threads)
    }
    try measure("customer_table_load") { _ = try CustomerTable.load(store) }
}
try measure("top_zips") {
    _ = try Queries.topZips(store, filter: QueryFilter(), limit: 10, threads: threads)
}
try measure("top_zips_month") {
    _ = try Queries.topZips(store, filter: month, limit: 10, threads: threads)
}
try measure("hours") {
    _ = try Queries.hours(store, by: nil, filter: QueryFilter(), table: nil, threads: threads)
}
try measure("decode") { _ = try RowGroupData.loadAll(store: store, filter: QueryFilter(), threads: threads) }
// The whole store decoded, for the kernel alone: only when it is measured
// (it holds about 3 bytes a row).
if only == nil || only == "kernel" {
    let groups = try RowGroupData.loadAll(store: store, filter: QueryFilter(), threads: threads)
    measure("kernel") { _ = ProfileKernel.compute(groups: groups, threads: threads) }
}
let part = store.parts[0]
measure("decode_track_chunks_1thread") {
    for g in part.footer.rowGroups.indices {
        let c = try! part.chunk(rowGroup: g, column: EventsSchema.trackID)
        var out = [UInt32](repeating: 0, count: c.rowCount)
        out.withUnsafeMutableBufferPointer { try! c.decode32(0..<c.rowCount, base: 0, into: $0.baseAddress!) }
    }
}
measure("checksum_only_1thread") {
    for g in part.footer.rowGroups.indices { _ = try! part.chunk(rowGroup: g, column: EventsSchema.trackID) }
}
// The writer's encoding choice and encoding (no zstd) of every chunk of
// the first part, on one thread: what a conversion spends per chunk
// besides parsing, ordering and compressing.
// (Decoded only when asked for: it holds the part's rows as Int64.)
let partColumns = only == "encode_part_1thread" ? try part.footer.rowGroups.indices.map { try part.decodeRowGroup($0) } : []
measure("encode_part_1thread") {
    for group in partColumns {
        for column in group { _ = ChunkEncoder.encode(column) }
    }
}
// A conversion's layout of one buffer: the first part's rows in event-id
// order (the order a generated file has them in) ordered by month and
// customer (PartLayout.order, which sorts its months in parallel), then
// gathered into row groups on one thread (a conversion gathers its groups
// on the encoding workers).
let layoutBuffer: EventBuffer = only == "layout_part_1thread" ? try {
    var buf = EventBuffer()
    for g in part.footer.rowGroups.indices { buf.append(columns: try part.decodeRowGroup(g)) }
    buf.rows.sort { $0.eventID < $1.eventID }
    return buf
}() : EventBuffer()
measure("layout_part_1thread") {
    let (order, groups) = PartLayout.order(layoutBuffer)
    var check: Int64 = 0
    for g in groups { check &+= PartLayout.gather(layoutBuffer, order: order, rows: g).columns[EventsSchema.customerID][0] }
    precondition(groups.isEmpty || check >= 0)
}
