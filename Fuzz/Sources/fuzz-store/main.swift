// A store whose only part file is the input: opened, queried in full,
// verified. The manifest is made to agree with the input (size, footer
// checksum and row count read from the input's own tail and footer), so
// that the part's own checks are what the fuzzer exercises. Invariants: no
// crash, no out-of-bounds access (AddressSanitizer), only StaveError.
#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import StaveIO
import StaveQuery

let dir: String = {
    var template = Array("/tmp/stave-fuzz-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { fatalError("mkdtemp") }
    return String(cString: p)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The same bytes as an events part, then as a customer table.
    for asCustomers in [false, true] { check(bytes, asCustomers: asCustomers) }
    return 0
}

func check(_ bytes: [UInt8], asCustomers: Bool) {
    let size = bytes.count
    var footerSum: UInt64 = 0, rows = 0
    if size >= 40 {
        footerSum = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: size - 24, as: UInt64.self) }
        let length = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: size - 16, as: UInt32.self) })
        if length >= 24, length <= size - 40 {
            let start = size - 24 - length
            rows = Int(truncatingIfNeeded: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start + 16, as: UInt64.self) })
            rows = max(0, rows)
        }
    }
    let name = asCustomers ? "customers-000001.stp" : "part-000001.stp"
    let entry = ManifestPart(name: name, rows: rows, bytes: UInt64(size), footerChecksum: footerSum)
    let manifest = asCustomers ? Manifest(generation: 1, parts: [], customers: entry) : Manifest(generation: 1, parts: [entry])
    // Plain writes (no fsync: nothing here needs durability).
    func put(_ path: String, _ b: [UInt8]) {
        do {
            let fd = try Sys.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            defer { Sys.close(fd) }
            try b.withUnsafeBytes { try Sys.writeAll(fd, $0, path: path) }
        } catch {
            fatalError("cannot write the fuzz store: \(error)")
        }
    }
    put(dir + "/" + name, bytes)
    put(dir + "/MANIFEST", manifest.serialize())
    do {
        let store = try Store.open(dir)
        _ = try Queries.profile(store, filter: QueryFilter(), threads: 2)
        _ = try Queries.profile(store, filter: QueryFilter(from: 1_414_800_000, to: 1_417_400_000, customers: [48, 7]), threads: 1)
        try RowReader.forEachRowGroup(store) { _ in }
        if let t = try CustomerTable.load(store) {
            for r in 0..<t.count { _ = try t.name(r); _ = try t.address(r) }
        }
    } catch is StaveError {
    } catch {
        fatalError("an error that is not a StaveError: \(error)")
    }
    _ = Verifier.verify(dir)
    Sys.unlink(dir + "/" + name)
}
