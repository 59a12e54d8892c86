#if canImport(Glibc)
import Glibc
#endif
import StaveFormat

/// An opened, validated store: its manifest and every part's footer checked
/// (see `Part.open`). Chunk bytes are checked when a chunk is read.
public final class Store: @unchecked Sendable {
    // @unchecked Sendable: immutable after open.
    public let path: String
    public let manifest: Manifest
    public let parts: [Part]
    /// The customer table (table kind 2), if the store has one.
    public let customers: Part?

    public var rowCount: Int { manifest.rowCount }

    init(path: String, manifest: Manifest, parts: [Part], customers: Part?) {
        self.path = path
        self.manifest = manifest
        self.parts = parts
        self.customers = customers
    }

    public static func open(_ path: String) throws -> Store {
        switch Sys.kind(path) {
        case .missing: throw StaveError.badStore(path: path, detail: "no such store")
        case .directory: break
        default: throw StaveError.badStore(path: path, detail: "not a store directory")
        }
        let manifestPath = path + "/" + FormatConstants.manifestName
        guard Sys.kind(manifestPath) == .file else { throw StaveError.badStore(path: path, detail: "no MANIFEST: not a stave store") }
        // A snapshot: the shared reader lock from reading MANIFEST until every
        // file it names is open and mapped (a writer deletes files only while
        // it holds the lock exclusively; a mapping outlives the file's name).
        // Stores written before the reader lock existed have no READERS
        // file: then a file that vanishes between the two steps means a
        // writer replaced the manifest, and opening starts again.
        var attempt = 0
        while true {
            attempt += 1
            let lock = Sys.lockShared(path + "/" + StoreFiles.readerLock)
            defer { if let lock { Sys.close(lock) } }
            let manifest = try Manifest.parse(try Sys.readFile(manifestPath, limit: Manifest.maxSize), path: path)
            do {
                var parts: [Part] = []
                for entry in manifest.parts {
                    parts.append(try Part.open(directory: path, entry: entry, kind: FormatConstants.tableKindEvents))
                }
                let customers = try manifest.customers.map { try Part.open(directory: path, entry: $0, kind: FormatConstants.tableKindCustomers) }
                return Store(path: path, manifest: manifest, parts: parts, customers: customers)
            } catch StaveError.badStore(let p, let detail) where detail.hasSuffix(Part.missingSuffix) && attempt < 5 {
                let now = try? Manifest.parse(try Sys.readFile(manifestPath, limit: Manifest.maxSize), path: path)
                if now == manifest { throw StaveError.badStore(path: p, detail: detail) }
            }
        }
    }
}

/// One mapped part file with its validated footer.
public final class Part: @unchecked Sendable {
    // @unchecked Sendable: immutable after open; the mapping is read-only.
    public let path: String
    public let file: MappedFile
    public let footer: PartFooter
    public let footerOffset: Int

    init(path: String, file: MappedFile, footer: PartFooter, footerOffset: Int) {
        self.path = path
        self.file = file
        self.footer = footer
        self.footerOffset = footerOffset
    }

    /// Maps and validates a part: size as the manifest says, magic at both
    /// ends, known version, footer inside the file and matching its checksum
    /// (in the tail and in the manifest), footer rules (PartFooter.parse).
    static let missingSuffix = " listed in MANIFEST is missing"

    public static func open(directory: String, entry: ManifestPart, kind: UInt32) throws -> Part {
        let path = directory + "/" + entry.name
        guard Sys.kind(path) == .file else {
            throw StaveError.badStore(path: directory, detail: "\(entry.name)" + missingSuffix)
        }
        let file = try MappedFile(path: path)
        guard UInt64(file.size) == entry.bytes else {
            throw StaveError.truncated(file: path, detail: "\(file.size) bytes, MANIFEST says \(entry.bytes)")
        }
        return try file.withBytes { bytes in
            let minimum = FormatConstants.partHeaderSize + FormatConstants.partTailSize
            guard bytes.count >= minimum else {
                throw StaveError.truncated(file: path, detail: "\(bytes.count) bytes, less than header and tail")
            }
            try PartHeader.validate(UnsafeRawBufferPointer(rebasing: bytes[0..<FormatConstants.partHeaderSize]), file: path)
            let tailStart = bytes.count - FormatConstants.partTailSize
            let tail = try PartTail.parse(UnsafeRawBufferPointer(rebasing: bytes[tailStart...]), file: path)
            let footerLength = Int(tail.footerLength)
            guard footerLength <= tailStart - FormatConstants.partHeaderSize else {
                throw StaveError.outOfBounds(file: path, what: "footer length \(footerLength) larger than the file")
            }
            let footerStart = tailStart - footerLength
            let footerBytes = UnsafeRawBufferPointer(rebasing: bytes[footerStart..<tailStart])
            let sum = XXH64.hash(footerBytes)
            guard sum == tail.footerChecksum else { throw StaveError.checksumMismatch(file: path, what: "footer") }
            guard sum == entry.footerChecksum else {
                throw StaveError.badStore(path: directory, detail: "part \(entry.name) is not the part MANIFEST lists (footer checksum differs)")
            }
            let footer = try PartFooter.parse(footerBytes, dataEnd: UInt64(footerStart), file: path)
            guard footer.tableKind == kind else {
                throw StaveError.badStore(path: directory, detail: "\(entry.name) holds table kind \(footer.tableKind), MANIFEST lists it as kind \(kind)")
            }
            guard footer.rowCount == entry.rows else {
                throw StaveError.corrupt(file: path, what: "\(footer.rowCount) rows, MANIFEST says \(entry.rows)")
            }
            return Part(path: path, file: file, footer: footer, footerOffset: footerStart)
        }
    }

    /// Every column of row group `g`, decoded and checked against the
    /// chunk statistics (so every value lies in its column's domain).
    public func decodeRowGroup(_ g: Int) throws -> [[Int64]] {
        try footer.columns.indices.map { try chunk(rowGroup: g, column: $0).decodeAllChecked() }
    }

    /// Every column of row group `g`, as `decodeRowGroup`, but the group's
    /// bytes are read from the file (pread) into one heap buffer instead of
    /// through the mapping. For a merge that reads a little of each of
    /// hundreds of files (RunMerge's spills): the kernel maps a freshly
    /// written file's page cache in folios of up to 2 MiB, so reading a
    /// 100 KB group through the mapping can make megabytes resident, which
    /// release hints do not keep down (a later fault maps a released folio
    /// back whole). Read this way, only the group's own bytes are held, and
    /// only while it is decoded. Every chunk's checksum is checked as usual.
    public func readRowGroup(_ g: Int) throws -> [[Int64]] {
        let chunks = footer.rowGroups[g].chunks
        guard let lo = chunks.map({ Int($0.offset) }).min(),
              let hi = chunks.map({ Int($0.offset) + Int($0.storedLength) }).max() else { return [] }
        // Safe: PartFooter.parse checked offset + storedLength <= footer
        // start <= file size for every chunk, so every range read is in
        // the file. A writer lays a group's chunks out one after another
        // (with alignment padding): one pread of the span. A footer that
        // spreads them further apart (a damaged or hostile one) has each
        // read on its own, so the buffer holds their bytes and no more.
        let stored = chunks.reduce(0) { $0 + Int($1.storedLength) }
        let contiguous = hi - lo <= stored + chunks.count * FormatConstants.chunkAlignment
        let buffer = OwnedBuffer(count: contiguous ? hi - lo : stored)
        var at: [Int] = []   // where each chunk's bytes start in the buffer
        let fd = try Sys.open(path, flags: O_RDONLY | O_CLOEXEC)
        defer { Sys.close(fd) }
        if contiguous {
            try Sys.preadFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer.mutableBytes[0..<(hi - lo)]), offset: lo, path: path)
            at = chunks.map { Int($0.offset) - lo }
        } else {
            var next = 0
            for d in chunks {
                let n = Int(d.storedLength)
                try Sys.preadFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer.mutableBytes[next..<(next + n)]),
                                   offset: Int(d.offset), path: path)
                at.append(next)
                next += n
            }
        }
        return try footer.columns.indices.map { c in
            let bytes = UnsafeRawBufferPointer(rebasing: buffer.mutableBytes[at[c]..<(at[c] + Int(chunks[c].storedLength))])
            return try chunk(stored: bytes, owner: buffer, rowGroup: g, column: c).decodeAllChecked()
        }
    }

    /// Reads one chunk: checksum, decompression (capped at the declared size),
    /// payload parse. The result keeps what it points into alive.
    public func chunk(rowGroup g: Int, column c: Int) throws -> DecodedChunk {
        let d = footer.rowGroups[g].chunks[c]
        // Safe: PartFooter.parse checked offset + storedLength <= footer start <= file size.
        let stored = UnsafeRawBufferPointer(rebasing: file.bytes[Int(d.offset)..<(Int(d.offset) + Int(d.storedLength))])
        return try chunk(stored: stored, owner: file, rowGroup: g, column: c)
    }

    /// Chunk `c` of row group `g` from its stored bytes, which `owner` keeps
    /// alive (the mapping, or a buffer they were read into).
    private func chunk(stored: UnsafeRawBufferPointer, owner: AnyObject, rowGroup g: Int, column c: Int) throws -> DecodedChunk {
        let group = footer.rowGroups[g]
        let d = group.chunks[c]
        let what = "column \(footer.columns[c].name) row group \(g)"
        guard XXH64.hash(stored) == d.checksum else { throw StaveError.checksumMismatch(file: path, what: what) }
        switch d.compression {
        case .none:
            let layout = try ChunkLayout.parse(stored, encoding: d.encoding, count: group.rowCount, file: path, what: what)
            return DecodedChunk(owner: owner, layout: layout, descriptor: d, rowCount: group.rowCount, file: path, what: what)
        case .zstd:
            let buffer = OwnedBuffer(count: Int(d.encodedLength))
            try Zstd.decompress(stored, into: buffer.mutableBytes, file: path, what: what)
            let layout = try ChunkLayout.parse(UnsafeRawBufferPointer(buffer.mutableBytes), encoding: d.encoding, count: group.rowCount, file: path, what: what)
            return DecodedChunk(owner: buffer, layout: layout, descriptor: d, rowCount: group.rowCount, file: path, what: what)
        }
    }
}

/// Heap bytes owned by a chunk after decompression.
final class OwnedBuffer: @unchecked Sendable {
    // @unchecked Sendable: written once by zstd before any reader sees it.
    let mutableBytes: UnsafeMutableRawBufferPointer
    init(count: Int) {
        mutableBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        if count == 0 { return }
    }
    deinit { mutableBytes.deallocate() }
}

/// A chunk whose bytes passed their checksum and whose payload parsed.
public struct DecodedChunk: @unchecked Sendable {
    // @unchecked Sendable: `layout` points into `owner`, which is immutable
    // and kept alive by this struct.
    let owner: AnyObject
    public let layout: ChunkLayout
    public let descriptor: ChunkDescriptor
    public let rowCount: Int
    public let file: String
    public let what: String

    public func decode(_ range: Range<Int>, into out: UnsafeMutablePointer<Int64>) throws {
        try withExtendedLifetime(owner) { try layout.decode(range, into: out, file: file, what: what) }
    }

    public func decodeAll() throws -> [Int64] {
        try withExtendedLifetime(owner) { try layout.decodeAll(count: rowCount, file: file, what: what) }
    }

    /// Decodes every row and checks that the values lie within the chunk's
    /// statistics (which PartFooter.parse proved to lie in the column's
    /// domain), or, with `exactStatistics`, that min and max are exactly the
    /// smallest and largest value (what `stave verify` demands).
    public func decodeAllChecked(exactStatistics: Bool = false) throws -> [Int64] {
        let values = try decodeAll()
        var lo = Int64.max, hi = Int64.min
        for v in values { lo = min(lo, v); hi = max(hi, v) }
        guard lo >= descriptor.min, hi <= descriptor.max else {
            throw StaveError.corrupt(file: file, what: "\(what): values \(lo)...\(hi) outside its statistics \(descriptor.min)...\(descriptor.max)")
        }
        if exactStatistics, lo != descriptor.min || hi != descriptor.max {
            throw StaveError.corrupt(file: file, what: "\(what): statistics say \(descriptor.min)...\(descriptor.max), values are \(lo)...\(hi)")
        }
        return values
    }

    public func decode32(_ range: Range<Int>, base: Int64, into out: UnsafeMutablePointer<UInt32>) throws {
        try withExtendedLifetime(owner) { try layout.decode32(range, base: base, into: out, file: file, what: what) }
    }

    /// The STRING layout of this chunk (a STRING column's), or an error.
    public func strings() throws -> StringChunk {
        guard case .string(let s) = layout else { throw StaveError.corrupt(file: file, what: "\(what): not a STRING chunk") }
        return s
    }

    /// Every value of a STRING chunk, each checked to be valid UTF-8.
    public func decodeStrings() throws -> [String] {
        try withExtendedLifetime(owner) {
            let s = try strings()
            return try (0..<s.count).map { try s.value($0, file: file, what: what) }
        }
    }

    public func decodeBool(_ range: Range<Int>, into out: UnsafeMutablePointer<UInt8>) throws {
        try withExtendedLifetime(owner) { try layout.decodeBool(range, into: out, file: file, what: what) }
    }
}
