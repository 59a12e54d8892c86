// Manifest.parse on arbitrary text. A valid checksum line is appended when
// the input lacks one, so that the grammar (not only the checksum) is
// exercised. Invariants: no crash; a manifest that parses serializes to
// text that parses back to the same manifest.
import StaveFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.last != 10 { bytes.append(10) }
    bytes += Array("checksum \(Manifest.hex16(XXH64.hash(bytes)))\n".utf8)
    for input in [Array(UnsafeBufferPointer(start: data, count: size)), bytes] {
        if let m = try? Manifest.parse(input, path: "fuzz") {
            guard let again = try? Manifest.parse(m.serialize(), path: "fuzz"), again == m else {
                fatalError("a parsed manifest does not round-trip")
            }
        }
    }
    return 0
}
