// Structure-aware fuzzing of the Parquet reader. The seed files
// (Fuzz/Corpus/parquet: PyArrow, DuckDB, Spark and stave output) are taken
// apart once with ParquetSurgery, decompressed and stripped of their page
// CRCs; each input is then a recipe of changes to one of them:
//
//   byte 0          which seed (modulo the count); bit 7 set: page sizes are
//                   fitted to the changed bodies afterwards
//   11-byte records op (u8), target (u16 LE), value (u64 LE):
//     op % 6 == 0   integer field number `target` (page headers, then the
//                   footer) set to `value`
//     op % 6 == 1   ... set to an interesting value (0, -1, 2^31, 2^63 - 1, ...)
//     op % 6 == 2   ... moved by a small signed delta
//     op % 6 == 3   page `target`: one body byte replaced
//     op % 6 == 4   page `target`: a varint (a run header, a length) inserted
//     op % 6 == 5   page `target`: body truncated
//
// So every input is a well-formed file but for the fields it names, and
// the damage reaches the decoders (a byte-level fuzzer mostly breaks the
// Thrift framing or a CRC first). Invariants: no crash, no sanitizer
// report; an error is a ParquetError; values are as many as the rows.
import StaveFormat
import StaveIO
import StaveInterop

nonisolated(unsafe) var seeds: [ParquetSurgery] = []

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let dir = "Corpus/parquet"
    for name in Sys.listDirectory(dir).sorted() where name.hasSuffix(".parquet") {
        guard let bytes = try? Sys.readFile(dir + "/" + name, limit: 1 << 24), var s = try? ParquetSurgery(bytes: bytes) else { continue }
        s.dropChecksums()
        guard (try? s.decompress()) != nil else { continue }
        seeds.append(s)
    }
    precondition(!seeds.isEmpty, "no seed files in \(dir) (run from Fuzz/)")
    return 0
}

let interesting: [Int64] = [0, 1, -1, 2, 7, 8, 15, 16, 255, 256, 65_535, 65_536, Int64(Int32.max), Int64(Int32.min), 1 << 31, 1 << 32,
                            1 << 40, 1 << 59, Int64.max, Int64.min, Int64.max / 8]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    var s = seeds[Int(data[0] & 0x7F) % seeds.count]
    let pageCount = s.pages.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
    func withPage(_ index: Int, _ edit: (inout [UInt8]) -> Void) {
        guard pageCount > 0 else { return }
        var k = index % pageCount
        for g in s.pages.indices {
            for c in s.pages[g].indices {
                if k < s.pages[g][c].count { edit(&s.pages[g][c][k].body); return }
                k -= s.pages[g][c].count
            }
        }
    }
    var at = 1
    while at + 11 <= size {
        let op = Int(data[at]) % 6
        let target = Int(data[at + 1]) | Int(data[at + 2]) << 8
        var value: UInt64 = 0
        for k in 0..<8 { value |= UInt64(data[at + 3 + k]) << (8 * UInt64(k)) }
        at += 11
        switch op {
        case 0: s.editInteger(target) { _ in Int64(bitPattern: value) }
        case 1: s.editInteger(target) { _ in interesting[Int(value % UInt64(interesting.count))] }
        case 2: s.editInteger(target) { $0 &+ Int64(Int8(truncatingIfNeeded: value)) }
        case 3:
            withPage(target) { body in
                guard !body.isEmpty else { return }
                body[Int(value % UInt64(body.count))] = UInt8(truncatingIfNeeded: value >> 32)
            }
        case 4:
            withPage(target) { body in
                var x = value >> 16, v: [UInt8] = []
                while x >= 0x80 { v.append(UInt8(truncatingIfNeeded: x) | 0x80); x >>= 7 }
                v.append(UInt8(x))
                body.insert(contentsOf: v, at: Int((value & 0xFFFF) % UInt64(body.count + 1)))
            }
        default:
            withPage(target) { body in body.removeSubrange(Int(value % UInt64(body.count + 1))...) }
        }
    }
    if data[0] & 0x80 != 0 { s.fitSizes(raw: true) }
    let bytes = s.assemble()
    guard let file = try? ParquetFile(bytes: bytes, name: "fuzz.parquet") else { return 0 }
    for g in 0..<file.rowGroupCount {
        for c in 0..<file.columns.count {
            do {
                let (values, present) = try file.read(group: g, column: c)
                let n = file.rows(inGroup: g)
                let nulls = present.map { $0.filter { !$0 }.count } ?? 0
                let count: Int
                switch values {
                case .integers(let v): count = v.count
                case .doubles(let v): count = v.count
                case .int96(let v): count = v.count
                case .byteArrays(let o, let b):
                    count = o.count - 1
                    guard o.first == 0, o.last == b.count, zip(o, o.dropFirst()).allSatisfy({ $0 <= $1 }) else { fatalError("bad offsets") }
                }
                guard present == nil || present!.count == n, count == n - nulls else {
                    fatalError("\(count) values for \(n) rows with \(nulls) nulls")
                }
            } catch is ParquetError {
                continue
            } catch {
                fatalError("not a ParquetError: \(error)")
            }
        }
    }
    return 0
}
