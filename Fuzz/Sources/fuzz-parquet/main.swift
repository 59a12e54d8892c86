// The Parquet reader on arbitrary bytes: the footer, the schema, every
// column of every row group (pages, levels, dictionaries, decompression).
// Invariants: no crash, no sanitizer report, no allocation past the
// reader's caps; an error is a ParquetError. The seed corpus holds small
// files from stave, PyArrow, DuckDB (snappy, zstd, none; pages v1 and v2;
// dictionaries and PLAIN; optional columns; INT96 timestamps).
import StaveInterop

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
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
