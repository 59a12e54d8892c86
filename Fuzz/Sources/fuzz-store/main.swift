// A store whose only part file is the input: opened, queried in full,
// verified. Checksums would stop almost every mutation at the first check,
// so the input is first made self-consistent where it can be: every chunk
// checksum (when the footer parses) and the footer checksum are recomputed,
// and the manifest agrees with the file (size, footer checksum, rows). What
// the fuzzer then exercises is the footer's validation and every encoding's
// payload parsing and decoding. Invariants: no crash, no out-of-bounds
// access (AddressSanitizer), only StaveError.
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

/// Recomputes the chunk checksums in the footer (if it parses) and the
/// footer checksum in the tail; returns the footer checksum and row count.
func fixChecksums(_ bytes: inout [UInt8]) -> (UInt64, Int) {
    let size = bytes.count
    guard size >= 40 else { return (0, 0) }
    let length = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: size - 16, as: UInt32.self) })
    guard length >= 24, length <= size - 40 else {
        return (bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: size - 24, as: UInt64.self) }, 0)
    }
    let start = size - 24 - length
    let footer = try? bytes.withUnsafeBytes {
        try PartFooter.parse(UnsafeRawBufferPointer(rebasing: $0[start..<(size - 24)]), dataEnd: UInt64(start), file: "fuzz")
    }
    if let footer {
        // Descriptor k of group g sits at 24 + 32 c + g (16 + 48 c) + 16 + 48 k; its checksum at +40.
        let c = footer.columns.count
        for (g, group) in footer.rowGroups.enumerated() {
            for (k, d) in group.chunks.enumerated() {
                let sum = bytes.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[Int(d.offset)..<(Int(d.offset) + Int(d.storedLength))])) }
                let at = start + 24 + 32 * c + g * (16 + 48 * c) + 16 + 48 * k + 40
                withUnsafeBytes(of: sum.littleEndian) { bytes.replaceSubrange(at..<(at + 8), with: $0) }
            }
        }
    }
    let sum = bytes.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[start..<(size - 24)])) }
    withUnsafeBytes(of: sum.littleEndian) { bytes.replaceSubrange((size - 24)..<(size - 16), with: $0) }
    let rows = Int(truncatingIfNeeded: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start + 16, as: UInt64.self) })
    return (sum, max(0, rows))
}

func check(_ input: [UInt8], asCustomers: Bool) {
    var bytes = input
    let size = bytes.count
    let (footerSum, rows) = fixChecksums(&bytes)
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
        // The fused path (decode as the walk goes), which only stores of
        // 2M rows take by default.
        _ = try Queries.profile(store, filter: QueryFilter(), threads: 2, fusedFrom: 0)
        _ = try Queries.profile(store, filter: QueryFilter(from: 1_414_800_000, to: 1_417_400_000), threads: 2, fusedFrom: 0)
        _ = try Queries.profile(store, filter: QueryFilter(from: 1_414_800_000, to: 1_417_400_000, customers: [48, 7]), threads: 1)
        // Zips: whole groups as runs (RLE, PATCHED_RLE), and as rows with a
        // customer filter.
        _ = try Queries.topZips(store, filter: QueryFilter(), limit: 5, threads: 2)
        _ = try Queries.topZips(store, filter: QueryFilter(customers: [3, 7]), limit: 5, threads: 1)
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
