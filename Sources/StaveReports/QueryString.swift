/// The query part of a URL as name/value pairs, in order: split at `&`, each
/// at its first `=` (a name without `=` has the value ""), `+` read as a
/// space and %XX decoded, as HTML forms and URLSearchParams write them.
/// Invalid percent escapes and bytes that are not UTF-8 are errors naming
/// the parameter.
public enum QueryString {
    public static func parse(_ raw: String?) -> Result<[(String, String)], ParameterError> {
        guard let raw, !raw.isEmpty else { return .success([]) }
        var out: [(String, String)] = []
        for piece in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let (rawName, rawValue): (Substring, Substring)
            if let eq = piece.firstIndex(of: "=") {
                rawName = piece[..<eq]
                rawValue = piece[piece.index(after: eq)...]
            } else {
                rawName = piece
                rawValue = ""
            }
            guard let name = decode(rawName) else { return .failure(ParameterError(String(rawName), "is not a valid URL-encoded name")) }
            guard let value = decode(rawValue) else { return .failure(ParameterError(name, "is not a valid URL-encoded value")) }
            out.append((name, value))
        }
        return .success(out)
    }

    /// Percent-decodes `text` (`+` as a space); nil on a bad escape or
    /// invalid UTF-8.
    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = text.utf8.makeIterator()
        while let c = it.next() {
            switch c {
            case UInt8(ascii: "+"): bytes.append(32)
            case UInt8(ascii: "%"):
                guard let h = it.next().flatMap(hex), let l = it.next().flatMap(hex) else { return nil }
                bytes.append(h << 4 | l)
            default: bytes.append(c)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
