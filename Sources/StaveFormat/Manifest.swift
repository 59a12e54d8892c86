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

/// Where `stave follow` has got to in a file it tails: committed together
/// with the rows it read, in the same manifest.
public struct FollowState: Equatable, Sendable {
    /// The followed file's path as given (no newline; at most 4,096 bytes).
    public var path: String
    /// Bytes of the file consumed: everything before is in the store (or
    /// was rejected); a partial last line is never consumed.
    public var offset: UInt64
    /// Identity of the file (st_dev, st_ino) when it was first followed.
    public var device: UInt64
    public var inode: UInt64
    /// XXH64 of the file's bytes [0, offset): a file rewritten in place is
    /// told apart from one that only grew.
    public var prefix: UInt64

    public init(path: String, offset: UInt64, device: UInt64, inode: UInt64, prefix: UInt64) {
        self.path = path
        self.offset = offset
        self.device = device
        self.inode = inode
        self.prefix = prefix
    }
}

public struct Manifest: Equatable, Sendable {
    public var generation: UInt64
    public var parts: [ManifestPart]
    /// The customer table (a part of table kind 2), if the store has one.
    public var customers: ManifestPart?
    /// Files `stave follow` tails into this store.
    public var follows: [FollowState]
    /// The smallest part (and customer table) number never used in this
    /// store: new files take numbers from here, so a name is never reused
    /// (a reader holding an old manifest never opens a different file under
    /// a name it knows). Version-1 manifests do not store it: it is then
    /// one more than the largest number listed.
    public var nextNumber: UInt64

    public init(generation: UInt64, parts: [ManifestPart], customers: ManifestPart? = nil, follows: [FollowState] = [], nextNumber: UInt64? = nil) {
        self.generation = generation
        self.parts = parts
        self.customers = customers
        self.follows = follows
        self.nextNumber = nextNumber ?? Manifest.impliedNext(parts: parts, customers: customers)
    }

    static func number(_ name: String) -> UInt64 {
        UInt64(name.split(separator: "-").last!.dropLast(4)) ?? 0
    }

    static func impliedNext(parts: [ManifestPart], customers: ManifestPart?) -> UInt64 {
        (parts + (customers.map { [$0] } ?? [])).map { number($0.name) }.max().map { $0 + 1 } ?? 1
    }

    /// True when the version-1 grammar can express this manifest.
    var fitsVersion1: Bool {
        customers == nil && follows.isEmpty && nextNumber == Manifest.impliedNext(parts: parts, customers: nil)
    }

    /// Takes the next unused file number.
    public mutating func takeNumber() -> UInt64 {
        defer { nextNumber += 1 }
        return nextNumber
    }

    public var rowCount: Int { parts.reduce(0) { $0 + $1.rows } }

    public static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    public func serialize() -> [UInt8] {
        let v1 = fitsVersion1
        var text = (v1 ? FormatConstants.manifestHeader : FormatConstants.manifestHeaderV2) + "\n"
        text += "generation \(generation)\n"
        if !v1 { text += "next-number \(nextNumber)\n" }
        if let c = customers {
            text += "customers \(c.name) rows \(c.rows) bytes \(c.bytes) footer \(Manifest.hex16(c.footerChecksum))\n"
        }
        for f in follows {
            text += "follow offset \(f.offset) device \(f.device) inode \(f.inode) prefix \(Manifest.hex16(f.prefix)) path \(f.path)\n"
        }
        for p in parts {
            text += "part \(p.name) rows \(p.rows) bytes \(p.bytes) footer \(Manifest.hex16(p.footerChecksum))\n"
        }
        var bytes = Array(text.utf8)
        bytes += Array("checksum \(Manifest.hex16(XXH64.hash(bytes)))\n".utf8)
        return bytes
    }

    public static let maxSize = 16 << 20
    public static let maxFollowPath = 4096

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
        var k = 2
        var next: UInt64?
        var customers: ManifestPart?
        var follows: [FollowState] = []
        var parts: [ManifestPart] = []
        var seen = Set<String>()
        func text(_ i: Int) -> String { String(decoding: lines[i], as: UTF8.self) }
        /// "<kind> <name> rows <n> bytes <n> footer <hex>"
        func entry(_ i: Int, kind: String, valid: (String) -> Bool) throws -> ManifestPart {
            let f = text(i).split(separator: " ", omittingEmptySubsequences: false)
            guard f.count == 8, f[0] == kind, f[2] == "rows", f[4] == "bytes", f[6] == "footer",
                  valid(String(f[1])), let rows = Int(f[3]), rows >= 0,
                  let size = UInt64(f[5]), f[7].utf8.count == 16, let footer = UInt64(f[7], radix: 16) else {
                throw bad(i + 1, "expected '\(kind) <\(kind == "part" ? "part" : "customers")-NNNNNN.stp> rows <n> bytes <n> footer <hex>'")
            }
            guard seen.insert(String(f[1])).inserted else { throw bad(i + 1, "\(f[1]) listed twice") }
            return ManifestPart(name: String(f[1]), rows: rows, bytes: size, footerChecksum: footer)
        }
        if version2 {
            let f = text(k).split(separator: " ")
            guard k < lines.count - 1, f.count == 2, f[0] == "next-number", let n = UInt64(f[1]) else {
                throw bad(k + 1, "expected 'next-number <n>'")
            }
            next = n
            k += 1
            if k < lines.count - 1, lines[k].starts(with: Array("customers ".utf8)) {
                customers = try entry(k, kind: "customers", valid: ManifestPart.isValidCustomersName)
                k += 1
            }
            var followed = Set<String>()
            while k < lines.count - 1, lines[k].starts(with: Array("follow ".utf8)) {
                let line = text(k)
                let f = line.split(separator: " ", maxSplits: 10, omittingEmptySubsequences: false)
                guard f.count == 11, f[1] == "offset", f[3] == "device", f[5] == "inode", f[7] == "prefix", f[9] == "path",
                      let offset = UInt64(f[2]), let device = UInt64(f[4]), let inode = UInt64(f[6]),
                      f[8].utf8.count == 16, let prefix = UInt64(f[8], radix: 16), !f[10].isEmpty, f[10].utf8.count <= maxFollowPath else {
                    throw bad(k + 1, "expected 'follow offset <n> device <n> inode <n> prefix <hex> path <path>'")
                }
                guard followed.insert(String(f[10])).inserted else { throw bad(k + 1, "\(f[10]) followed twice") }
                follows.append(FollowState(path: String(f[10]), offset: offset, device: device, inode: inode, prefix: prefix))
                k += 1
            }
        }
        while k < lines.count - 1 {
            parts.append(try entry(k, kind: "part", valid: ManifestPart.isValidName))
            k += 1
        }
        let manifest = Manifest(generation: generation, parts: parts, customers: customers, follows: follows, nextNumber: next)
        if let next {
            // Every listed number lies below next-number (names are never reused).
            guard Manifest.impliedNext(parts: parts, customers: customers) <= next else {
                throw bad(3, "next-number \(next) is not above every file number listed")
            }
        }
        return manifest
    }
}
