// The footer of a part file: schema, row groups and chunk descriptors.
// Byte layout in formats/STAVE.md, section "Footer".

public struct ChunkDescriptor: Equatable, Sendable {
    public var offset: UInt64
    public var storedLength: UInt32
    public var encodedLength: UInt32
    public var encoding: EncodingID
    public var compression: CompressionID
    public var min: Int64
    public var max: Int64
    public var checksum: UInt64

    public init(offset: UInt64, storedLength: UInt32, encodedLength: UInt32, encoding: EncodingID,
                compression: CompressionID, min: Int64, max: Int64, checksum: UInt64) {
        self.offset = offset
        self.storedLength = storedLength
        self.encodedLength = encodedLength
        self.encoding = encoding
        self.compression = compression
        self.min = min
        self.max = max
        self.checksum = checksum
    }
}

public struct RowGroupDescriptor: Equatable, Sendable {
    public var rowCount: Int
    public var chunks: [ChunkDescriptor]
    public init(rowCount: Int, chunks: [ChunkDescriptor]) {
        self.rowCount = rowCount
        self.chunks = chunks
    }
}

public struct PartFooter: Equatable, Sendable {
    public var tableKind: UInt32
    public var columns: [ColumnSpec]
    public var rowGroups: [RowGroupDescriptor]

    public init(tableKind: UInt32 = FormatConstants.tableKindEvents, columns: [ColumnSpec] = EventsSchema.columns, rowGroups: [RowGroupDescriptor]) {
        self.tableKind = tableKind
        self.columns = columns
        self.rowGroups = rowGroups
    }

    public var rowCount: Int { rowGroups.reduce(0) { $0 + $1.rowCount } }

    // MARK: Serialize

    public func serialize() -> [UInt8] {
        var w = ByteWriter(capacity: FormatConstants.footerFixedSize + rowGroups.count * 400)
        w.append(tableKind)
        w.append(UInt32(columns.count))
        w.append(UInt32(rowGroups.count))
        w.append(UInt32(0))
        w.append(UInt64(rowCount))
        for c in columns {
            var name = Array(c.name.utf8.prefix(FormatConstants.columnNameCapacity))
            name += repeatElement(0, count: FormatConstants.columnNameCapacity - name.count)
            w.append(bytes: name)
            w.append(c.type.rawValue)
            w.appendZeros(7)
        }
        for g in rowGroups {
            w.append(UInt32(g.rowCount))
            w.appendZeros(12)
            for c in g.chunks {
                w.append(c.offset)
                w.append(c.storedLength)
                w.append(c.encodedLength)
                w.append(c.encoding.rawValue)
                w.append(c.compression.rawValue)
                w.appendZeros(6)
                w.append(c.min)
                w.append(c.max)
                w.append(c.checksum)
            }
        }
        return w.bytes
    }

    // MARK: Parse and validate

    /// Parses a footer and checks every rule a reader relies on: the schema,
    /// sizes, chunk ranges inside [header, dataEnd), known IDs, statistics in
    /// the column's domain, one calendar month per row group.
    public static func parse(_ bytes: UnsafeRawBufferPointer, dataEnd: UInt64, file: String) throws -> PartFooter {
        var r = ByteReader(bytes, file: file, what: "footer")
        let kind: UInt32 = try r.read()
        guard let schema = TableSchema.columns(kind: kind) else {
            throw StaveError.corrupt(file: file, what: "footer: unknown table kind \(kind)")
        }
        let columnCount = Int(try r.read(UInt32.self))
        let groupCount = Int(try r.read(UInt32.self))
        try r.expectZero(UInt32.self, field: "footer reserved")
        let rowCount: UInt64 = try r.read()
        guard columnCount == schema.count else {
            throw StaveError.corrupt(file: file, what: "footer: \(columnCount) columns, table kind \(kind) has \(schema.count)")
        }
        let groupSize = FormatConstants.rowGroupHeaderSize + columnCount * FormatConstants.chunkDescriptorSize
        let (groupsBytes, o1) = groupCount.multipliedReportingOverflow(by: groupSize)
        let expected = FormatConstants.footerFixedSize + columnCount * FormatConstants.columnSpecSize
        guard !o1, groupsBytes <= bytes.count, expected + groupsBytes == bytes.count else {
            throw StaveError.corrupt(file: file, what: "footer: length \(bytes.count) does not match \(groupCount) row groups")
        }
        var columns: [ColumnSpec] = []
        for k in 0..<columnCount {
            let raw = try r.readBytes(FormatConstants.columnNameCapacity)
            let nameBytes = raw.prefix { $0 != 0 }
            let typeRaw: UInt8 = try r.read()
            for _ in 0..<7 { try r.expectZero(UInt8.self, field: "column spec padding") }
            guard let type = LogicalType(rawValue: typeRaw) else {
                throw StaveError.corrupt(file: file, what: "footer: column \(k) has unknown logical type \(typeRaw)")
            }
            let spec = ColumnSpec(name: String(decoding: nameBytes, as: UTF8.self), type: type)
            guard spec == schema[k] else {
                throw StaveError.corrupt(file: file, what: "footer: column \(k) is \(spec.name) \(type.name), expected \(schema[k].name) \(schema[k].type.name)")
            }
            columns.append(spec)
        }
        var groups: [RowGroupDescriptor] = []
        groups.reserveCapacity(groupCount)
        var total: UInt64 = 0
        for g in 0..<groupCount {
            let rows = Int(try r.read(UInt32.self))
            try r.expectZero(UInt32.self, field: "row group reserved")
            try r.expectZero(UInt64.self, field: "row group reserved")
            guard rows >= 1, rows <= FormatConstants.readerMaxRowGroupRows else {
                throw StaveError.corrupt(file: file, what: "row group \(g): row count \(rows) outside 1...\(FormatConstants.readerMaxRowGroupRows)")
            }
            total += UInt64(rows)
            var chunks: [ChunkDescriptor] = []
            chunks.reserveCapacity(columnCount)
            for c in 0..<columnCount {
                // Named only for an error: formatting it for every chunk of
                // every part was most of the cost of opening a large store.
                var what: String { "column \(columns[c].name) row group \(g)" }
                let offset: UInt64 = try r.read()
                let stored: UInt32 = try r.read()
                let encodedLength: UInt32 = try r.read()
                let encRaw: UInt8 = try r.read()
                let compRaw: UInt8 = try r.read()
                for _ in 0..<6 { try r.expectZero(UInt8.self, field: "chunk descriptor padding") }
                let lo: Int64 = try r.read()
                let hi: Int64 = try r.read()
                let checksum: UInt64 = try r.read()
                guard let enc = EncodingID(rawValue: encRaw) else {
                    throw StaveError.unknownEncoding(file: file, what: what, id: encRaw)
                }
                guard let comp = CompressionID(rawValue: compRaw) else {
                    throw StaveError.unknownEncoding(file: file, what: "\(what) (compression)", id: compRaw)
                }
                guard offset % UInt64(FormatConstants.chunkAlignment) == 0,
                      rangeInside(offset: offset, length: UInt64(stored), lower: UInt64(FormatConstants.partHeaderSize), upper: dataEnd) else {
                    throw StaveError.outOfBounds(file: file, what: "\(what): bytes \(offset)+\(stored) outside the data region 16..<\(dataEnd)")
                }
                let isString = columns[c].type == .string
                guard (enc == .string) == isString else {
                    throw StaveError.corrupt(file: file, what: "\(what): encoding \(enc.name) does not fit a \(columns[c].type.name) column")
                }
                let domain = columns[c].type.domain
                guard lo <= hi, domain.contains(lo), domain.contains(hi) else {
                    throw StaveError.corrupt(file: file, what: "\(what): statistics \(lo)...\(hi) outside the \(columns[c].type.name) domain")
                }
                // A cap on the payload, which bounds every allocation: a
                // writer picks the smallest encoding, never larger than
                // FOR_BITPACK's 24 + 8 x rows bytes (a forced PATCHED_RLE of
                // all-distinct values could need more; no writer does that).
                // STRING adds the bytes: at most `max` per row (rows <= 2^20
                // and max <= 65,535: no overflow).
                let cap = 64 + 16 * UInt64(rows) + (isString ? UInt64(rows) * UInt64(hi) : 0)
                guard UInt64(encodedLength) <= cap else {
                    throw StaveError.corrupt(file: file, what: "\(what): declared size \(encodedLength) exceeds the limit \(cap) for \(rows) rows")
                }
                guard comp != .none || stored == encodedLength else {
                    throw StaveError.corrupt(file: file, what: "\(what): uncompressed chunk with stored size \(stored) != \(encodedLength)")
                }
                if kind == FormatConstants.tableKindEvents, c == EventsSchema.datetime, CivilTime.monthIndex(of: lo) != CivilTime.monthIndex(of: hi) {
                    throw StaveError.corrupt(file: file, what: "\(what): row group spans more than one calendar month")
                }
                chunks.append(ChunkDescriptor(offset: offset, storedLength: stored, encodedLength: encodedLength, encoding: enc,
                                              compression: comp, min: lo, max: hi, checksum: checksum))
            }
            groups.append(RowGroupDescriptor(rowCount: rows, chunks: chunks))
        }
        guard total == rowCount else {
            throw StaveError.corrupt(file: file, what: "footer: row groups hold \(total) rows, footer says \(rowCount)")
        }
        return PartFooter(tableKind: kind, columns: columns, rowGroups: groups)
    }
}

/// The 24-byte tail at the end of a part file.
public struct PartTail: Equatable, Sendable {
    public var footerChecksum: UInt64
    public var footerLength: UInt32

    public init(footerChecksum: UInt64, footerLength: UInt32) {
        self.footerChecksum = footerChecksum
        self.footerLength = footerLength
    }

    public func serialize() -> [UInt8] {
        var w = ByteWriter(capacity: FormatConstants.partTailSize)
        w.append(footerChecksum)
        w.append(footerLength)
        w.append(UInt32(0))
        w.append(bytes: FormatConstants.partMagic)
        return w.bytes
    }

    /// Parses the last 24 bytes of a file.
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> PartTail {
        guard bytes.count == FormatConstants.partTailSize else {
            throw StaveError.truncated(file: file, detail: "tail is \(bytes.count) bytes")
        }
        guard Array(bytes[16..<24]) == FormatConstants.partMagic else { throw StaveError.badMagic(file: file) }
        var r = ByteReader(bytes, file: file, what: "tail")
        let checksum: UInt64 = try r.read()
        let length: UInt32 = try r.read()
        try r.expectZero(UInt32.self, field: "tail reserved")
        return PartTail(footerChecksum: checksum, footerLength: length)
    }
}

/// The 16-byte header at the start of a part file.
public enum PartHeader {
    public static func serialize() -> [UInt8] {
        var w = ByteWriter(capacity: FormatConstants.partHeaderSize)
        w.append(bytes: FormatConstants.partMagic)
        w.append(FormatConstants.partVersion)
        w.append(UInt32(0))
        return w.bytes
    }

    public static func validate(_ bytes: UnsafeRawBufferPointer, file: String) throws {
        guard bytes.count >= FormatConstants.partHeaderSize else {
            throw StaveError.truncated(file: file, detail: "\(bytes.count) bytes, shorter than the header")
        }
        guard Array(bytes[0..<8]) == FormatConstants.partMagic else { throw StaveError.badMagic(file: file) }
        var r = ByteReader(bytes, file: file, what: "header", position: 8)
        let version: UInt32 = try r.read()
        guard version == FormatConstants.partVersion else { throw StaveError.unsupportedVersion(file: file, version: version) }
        try r.expectZero(UInt32.self, field: "header reserved")
    }
}
