// The MANIFEST of a store directory: which part files make up the table.
// A text file, replaced atomically (write a temporary file, fsync, rename).
//
//   stave-manifest 1            (2 when a customers line is present)
//   generation <u64>
//   customers <name> rows <n> bytes <size> footer <hex>   (version 2, optional)
//   part <name> rows <n> bytes <file size> footer <footer XXH64, 16 hex digits>
//   ...
//   checksum <XXH64 of every byte before this line, 16 hex digits>

public struct ManifestPart: Equatable, Sendable {
    public var name: String
    public var rows: Int
    public var bytes: UInt64
    public var footerChecksum: UInt64

    public init(name: String, rows: Int, bytes: UInt64, footerChecksum: UInt64) {
        self.name = name
        self.rows = rows
        self.bytes = bytes
        self.footerChecksum = footerChecksum
    }

    /// part-NNNNNN.stp with 6 to 20 digits: never a path.
    public static func isValidName(_ name: String) -> Bool { isValidName(name, prefix: "part-") }

    /// customers-NNNNNN.stp with 6 to 20 digits.
    public static func isValidCustomersName(_ name: String) -> Bool { isValidName(name, prefix: "customers-") }

    static func isValidName(_ name: String, prefix: String) -> Bool {
        let u = Array(name.utf8)
        let p = prefix.utf8.count
        guard u.count >= p + 10, u.count <= p + 24, name.hasPrefix(prefix), name.hasSuffix(".stp") else { return false }
        return u[p..<(u.count - 4)].allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    public static func name(number: Int) -> String { name(prefix: "part-", number: number) }

    public static func customersName(number: UInt64) -> String { name(prefix: "customers-", number: number) }

    static func name(prefix: String, number: some BinaryInteger) -> String {
        let digits = String(number)
        return prefix + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".stp"
    }
}

public struct Manifest: Equatable, Sendable {
    public var generation: UInt64
    public var parts: [ManifestPart]
    /// The customer table (a part of table kind 2), if the store has one.
    public var customers: ManifestPart?

    public init(generation: UInt64, parts: [ManifestPart], customers: ManifestPart? = nil) {
        self.generation = generation
        self.parts = parts
        self.customers = customers
    }

    public var rowCount: Int { parts.reduce(0) { $0 + $1.rows } }

    public static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    public func serialize() -> [UInt8] {
        var text = (customers == nil ? FormatConstants.manifestHeader : FormatConstants.manifestHeaderV2) + "\n"
        text += "generation \(generation)\n"
        if let c = customers {
            text += "customers \(c.name) rows \(c.rows) bytes \(c.bytes) footer \(Manifest.hex16(c.footerChecksum))\n"
        }
        for p in parts {
            text += "part \(p.name) rows \(p.rows) bytes \(p.bytes) footer \(Manifest.hex16(p.footerChecksum))\n"
        }
        var bytes = Array(text.utf8)
        bytes += Array("checksum \(Manifest.hex16(XXH64.hash(bytes)))\n".utf8)
        return bytes
    }

    public static let maxSize = 16 << 20

    public static func parse(_ bytes: [UInt8], path: String) throws -> Manifest {
        func bad(_ line: Int, _ detail: String) -> StaveError {
            .badStore(path: path, detail: "MANIFEST line \(line): \(detail)")
        }
        guard bytes.count <= maxSize else { throw StaveError.badStore(path: path, detail: "MANIFEST larger than \(maxSize) bytes") }
        guard bytes.last == UInt8(ascii: "\n") else { throw StaveError.truncated(file: path + "/MANIFEST", detail: "no final newline") }
        let lines = bytes.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count >= 3 else { throw StaveError.truncated(file: path + "/MANIFEST", detail: "\(lines.count) lines") }
        // The checksum line covers every byte before it.
        let last = String(decoding: lines[lines.count - 1], as: UTF8.self)
        let bodyLength = bytes.count - lines[lines.count - 1].count - 1
        let words = last.split(separator: " ")
        guard words.count == 2, words[0] == "checksum", words[1].utf8.count == 16, let sum = UInt64(words[1], radix: 16) else {
            throw bad(lines.count, "expected 'checksum <16 hex digits>'")
        }
        let actual = bytes.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[0..<bodyLength])) }
        guard actual == sum else { throw StaveError.checksumMismatch(file: path + "/MANIFEST", what: "manifest") }
        let header = String(decoding: lines[0], as: UTF8.self)
        guard header == FormatConstants.manifestHeader || header == FormatConstants.manifestHeaderV2 else {
            throw bad(1, "expected '\(FormatConstants.manifestHeader)' or '\(FormatConstants.manifestHeaderV2)'")
        }
        let version2 = header == FormatConstants.manifestHeaderV2
        let gen = String(decoding: lines[1], as: UTF8.self).split(separator: " ")
        guard gen.count == 2, gen[0] == "generation", let generation = UInt64(gen[1]) else { throw bad(2, "expected 'generation <n>'") }
        var parts: [ManifestPart] = []
        var seen = Set<String>()
        var customers: ManifestPart?
        var first = 2
        if version2, lines.count > 3, lines[2].starts(with: Array("customers ".utf8)) {
            let f = String(decoding: lines[2], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
            guard f.count == 8, f[2] == "rows", f[4] == "bytes", f[6] == "footer",
                  ManifestPart.isValidCustomersName(String(f[1])), let rows = Int(f[3]), rows >= 0,
                  let size = UInt64(f[5]), f[7].utf8.count == 16, let footer = UInt64(f[7], radix: 16) else {
                throw bad(3, "expected 'customers <customers-NNNNNN.stp> rows <n> bytes <n> footer <hex>'")
            }
            customers = ManifestPart(name: String(f[1]), rows: rows, bytes: size, footerChecksum: footer)
            first = 3
        }
        if version2 && customers == nil { throw bad(3, "a version 2 manifest must have a customers line") }
        for (k, raw) in lines[first..<(lines.count - 1)].enumerated() {
            let f = String(decoding: raw, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
            guard f.count == 8, f[0] == "part", f[2] == "rows", f[4] == "bytes", f[6] == "footer",
                  ManifestPart.isValidName(String(f[1])), let rows = Int(f[3]), rows >= 0,
                  let size = UInt64(f[5]), f[7].utf8.count == 16, let footer = UInt64(f[7], radix: 16) else {
                throw bad(k + first + 1, "expected 'part <part-NNNNNN.stp> rows <n> bytes <n> footer <hex>'")
            }
            guard seen.insert(String(f[1])).inserted else { throw bad(k + first + 1, "part \(f[1]) listed twice") }
            parts.append(ManifestPart(name: String(f[1]), rows: rows, bytes: size, footerChecksum: footer))
        }
        return Manifest(generation: generation, parts: parts, customers: customers)
    }
}
