#if canImport(Glibc)
import Glibc
#endif
import CSnappy
import StaveFormat
import StaveIO

// A Parquet reader for flat tables (formats/PARQUET.md): what DuckDB,
// PyArrow and Spark write by default. Every offset and size from the file
// is checked against the file before use; what it does not support (nested
// or repeated columns, encryption, codecs other than UNCOMPRESSED, SNAPPY
// and ZSTD, encodings other than PLAIN, dictionaries, RLE and
// DELTA_BINARY_PACKED) is a clear error naming it.

/// What went wrong with a Parquet file: unreadable or unsupported (exit 65).
public struct ParquetError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
}

public struct ParquetColumnInfo: Sendable, Equatable {
    public var name: String
    public var type: ParquetPhysicalType
    public var optional: Bool
    /// LogicalType union member id (1 STRING, 6 DATE, 8 TIMESTAMP, 10 INTEGER, ...).
    public var logicalKind: Int16?
    /// The unit of a timestamp column: from its TIMESTAMP logical type, or
    /// from the deprecated converted type (TIMESTAMP_MILLIS, TIMESTAMP_MICROS)
    /// of older writers. Nil for any other column.
    public var timestampUnit: ParquetTimeUnit?
    public var timestampUTC: Bool?
    /// The deprecated ConvertedType (0 UTF8, 9 TIMESTAMP_MILLIS, 10 TIMESTAMP_MICROS, ...).
    public var convertedType: Int32?
}

public enum ParquetTimeUnit: Sendable, Equatable {
    case millis, micros, nanos

    /// Ticks of this unit in a second.
    public var perSecond: Int64 {
        switch self {
        case .millis: return 1_000
        case .micros: return 1_000_000
        case .nanos: return 1_000_000_000
        }
    }
}

/// Decoded values of one column chunk.
public enum ParquetRead: Sendable {
    /// INT32, INT64 and BOOLEAN (0/1) values.
    case integers([Int64])
    case doubles([Double])
    /// INT96 as (nanoseconds of the day, Julian day).
    case int96([(nanos: Int64, julianDay: Int64)])
    case byteArrays(offsets: [Int], bytes: [UInt8])
}

public final class ParquetFile: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; reads only.
    public let path: String
    /// Keeps `bytes` valid: the MappedFile, or the copy of in-memory bytes.
    let owner: AnyObject
    let bytes: UnsafeRawBufferPointer
    public let columns: [ParquetColumnInfo]
    public let rowCount: Int
    /// Per row group: rows, and per column the chunk's metadata struct.
    let groups: [(rows: Int, chunks: [ThriftStruct])]
    let dataEnd: Int

    public var rowGroupCount: Int { groups.count }
    public func rows(inGroup g: Int) -> Int { groups[g].rows }

    /// The largest row group stave decodes (a column of it is held in memory).
    public static let maxGroupRows = 1 << 24
    /// The largest page, uncompressed.
    public static let maxPageBytes = 1 << 28

    func fail(_ message: String) -> ParquetError { ParquetError(file: path, message: message) }

    public static func isParquet(path: String) -> Bool {
        guard let fd = try? Sys.open(path, flags: O_RDONLY | O_CLOEXEC) else { return false }
        defer { Sys.close(fd) }
        guard let head = try? Sys.pread(fd, count: 4, offset: 0, path: path) else { return false }
        return head == Array("PAR1".utf8)
    }

    /// Maps the file at `path`.
    public convenience init(path: String) throws {
        let file = try MappedFile(path: path)
        try self.init(owner: file, bytes: file.bytes, path: path)
    }

    /// Reads a Parquet file held in memory (`name` for messages).
    public convenience init(bytes: [UInt8], name: String) throws {
        let copy = OwnedBytes(bytes)
        try self.init(owner: copy, bytes: copy.view, path: name)
    }

    /// - Precondition: `owner` keeps `bytes` valid and unchanged.
    init(owner: AnyObject, bytes: UnsafeRawBufferPointer, path: String) throws {
        self.path = path
        self.owner = owner
        self.bytes = bytes
        let file = (bytes: bytes, size: bytes.count)
        let size = file.size
        let fail = { (m: String) in ParquetError(file: path, message: m) }
        guard size >= 12 else { throw fail("not a Parquet file (\(size) bytes)") }
        let magic = Array("PAR1".utf8)
        guard Array(file.bytes[0..<4]) == magic else { throw fail("not a Parquet file (no PAR1 at the start)") }
        guard Array(file.bytes[(size - 4)..<size]) == magic else {
            if Array(file.bytes[(size - 4)..<size]) == Array("PARE".utf8) { throw fail("encrypted Parquet files are not supported") }
            throw fail("truncated or not a Parquet file (no PAR1 at the end)")
        }
        var length = 0
        for k in 0..<4 { length |= Int(file.bytes[size - 8 + k]) << (8 * k) }
        guard length > 0, length <= size - 12 else { throw fail("footer length \(length) does not fit in the file (\(size) bytes)") }
        dataEnd = size - 8 - length
        let meta: ThriftStruct
        do {
            var reader = ThriftReader(UnsafeRawBufferPointer(rebasing: file.bytes[dataEnd..<(size - 8)]))
            meta = try reader.readStruct()
        } catch let e as ThriftError {
            throw fail("unreadable footer: \(e.message)")
        }
        typealias F = PQ.FileMetaData
        typealias S = PQ.SchemaElement
        guard meta.int(F.version) != nil, let schema = meta.structs(F.schema), let rows = meta.int(F.numRows), let rowGroups = meta.structs(F.rowGroups) else {
            throw fail("footer lacks version, schema, num_rows or row_groups")
        }
        guard meta[F.encryptionAlgorithm] == nil else { throw fail("encrypted Parquet files are not supported") }
        guard let root = schema.first, let children = root.int(S.numChildren), children == Int64(schema.count - 1) else {
            throw fail("nested schemas are not supported (the schema must be one flat list of columns)")
        }
        var columns: [ParquetColumnInfo] = []
        for e in schema.dropFirst() {
            let name = e.string(S.name) ?? "?"
            guard e.int(S.numChildren) == nil || e.int(S.numChildren) == 0, let t = e.int(S.type), let type = ParquetPhysicalType(rawValue: Int32(clamping: t)) else {
                throw fail("column '\(name)': nested or untyped columns are not supported")
            }
            let repetition = e.int(S.repetitionType) ?? Int64(ParquetCode.required)
            guard repetition == Int64(ParquetCode.required) || repetition == Int64(ParquetCode.optional) else {
                throw fail("column '\(name)': repeated columns are not supported")
            }
            var info = ParquetColumnInfo(name: name, type: type, optional: repetition == Int64(ParquetCode.optional))
            info.convertedType = e.int(S.convertedType).map { Int32(clamping: $0) }
            if let logical = e.structure(S.logicalType), let kind = logical.fields.keys.first {
                info.logicalKind = kind
                if kind == PQ.LogicalType.timestamp, let ts = logical.structure(PQ.LogicalType.timestamp) {
                    info.timestampUTC = ts.bool(PQ.TimestampType.isAdjustedToUTC)
                    switch ts.structure(PQ.TimestampType.unit)?.fields.keys.first {
                    case PQ.TimeUnit.millis?: info.timestampUnit = .millis
                    case PQ.TimeUnit.micros?: info.timestampUnit = .micros
                    case PQ.TimeUnit.nanos?: info.timestampUnit = .nanos
                    default: break
                    }
                }
            }
            if info.timestampUnit == nil, info.convertedType == ParquetCode.timestampMillis { info.timestampUnit = .millis }
            if info.timestampUnit == nil, info.convertedType == ParquetCode.timestampMicros { info.timestampUnit = .micros }
            columns.append(info)
        }
        self.columns = columns
        guard rows >= 0 else { throw fail("negative row count") }
        var groups: [(Int, [ThriftStruct])] = []
        var total = 0
        for (g, rg) in rowGroups.enumerated() {
            guard let chunks = rg.structs(PQ.RowGroup.columns), chunks.count == columns.count, let n = rg.int(PQ.RowGroup.numRows), n >= 0, n <= Int64(Self.maxGroupRows) else {
                throw fail("row group \(g): missing columns or a row count outside 0...\(Self.maxGroupRows)")
            }
            for (c, chunk) in chunks.enumerated() {
                guard chunk.string(PQ.ColumnChunk.filePath) == nil else { throw fail("row group \(g) column '\(columns[c].name)': data in another file is not supported") }
                guard chunk[PQ.ColumnChunk.cryptoMetadata] == nil, chunk[PQ.ColumnChunk.encryptedColumnMetadata] == nil else { throw fail("encrypted columns are not supported") }
                guard chunk.structure(PQ.ColumnChunk.metaData) != nil else { throw fail("row group \(g) column '\(columns[c].name)': no column metadata") }
            }
            groups.append((Int(n), chunks))
            total += Int(n)
        }
        guard total == Int(rows) else { throw fail("row groups hold \(total) rows, the footer says \(rows)") }
        self.groups = groups
        rowCount = total
    }

    // MARK: Column chunks

    /// Decodes column `c` of row group `g`. For an optional column,
    /// `present` says which rows have a value (`values` holds only those);
    /// it is nil for a required one. What a null means is the caller's
    /// business (ParquetEvents refuses it, naming the row).
    public func read(group g: Int, column c: Int) throws -> (values: ParquetRead, present: [Bool]?) {
        let info = columns[c]
        let rows = groups[g].rows
        let what = "row group \(g) column '\(info.name)'"
        typealias M = PQ.ColumnMetaData
        typealias H = PQ.PageHeader
        guard let md = groups[g].chunks[c].structure(PQ.ColumnChunk.metaData), let codec = md.int(M.codec), let dataOffset = md.int(M.dataPageOffset),
              let compressedSize = md.int(M.totalCompressedSize), let valueCount = md.int(M.numValues) else { throw fail("\(what): incomplete column metadata") }
        guard md.int(M.type) == Int64(info.type.rawValue) else { throw fail("\(what): metadata type differs from the schema") }
        guard valueCount == Int64(rows) else { throw fail("\(what): \(valueCount) values in a row group of \(rows) rows") }
        var start = dataOffset
        if let d = md.int(M.dictionaryPageOffset), d > 0, d < start { start = d }
        guard start >= 4, compressedSize >= 0, start <= Int64(dataEnd), compressedSize <= Int64(dataEnd) - start else {
            throw fail("\(what): chunk at \(start) of \(compressedSize) bytes lies outside the data (\(dataEnd) bytes)")
        }
        // In range: checked above against dataEnd <= bytes.count; `owner` keeps the bytes alive.
        let chunk = UnsafeRawBufferPointer(rebasing: bytes[Int(start)..<Int(start + compressedSize)])
        var decoder = ColumnDecoder(info: info, rows: rows, file: self, what: what)
        var p = 0
        while decoder.rowsDone < rows {
            guard p < chunk.count else { throw fail("\(what): pages end after \(decoder.rowsDone) of \(rows) rows") }
            var reader = ThriftReader(UnsafeRawBufferPointer(rebasing: chunk[p...]))
            let header: ThriftStruct
            do { header = try reader.readStruct() } catch let e as ThriftError { throw fail("\(what): unreadable page header: \(e.message)") }
            p += reader.position
            guard let type = header.int(H.type), let rawSize = header.int(H.uncompressedPageSize), let storedSize = header.int(H.compressedPageSize),
                  rawSize >= 0, storedSize >= 0, storedSize <= Int64(chunk.count - p), rawSize <= Int64(Self.maxPageBytes) else {
                throw fail("\(what): page header with missing or impossible sizes")
            }
            let stored = UnsafeRawBufferPointer(rebasing: chunk[p..<(p + Int(storedSize))])
            p += Int(storedSize)
            if let crc = header.int(H.crc), UInt32(truncatingIfNeeded: crc) != CRC32.checksum(stored) {
                throw fail("\(what): page checksum mismatch (the page is damaged)")
            }
            switch Int32(clamping: type) {
            case ParquetCode.dictionaryPage:
                guard let d = header.structure(H.dictionaryPageHeader), let n = d.int(PQ.DictionaryPageHeader.numValues), n >= 0, n <= rawSize else { throw fail("\(what): bad dictionary page header") }
                let body = try decompress(stored, codec: codec, size: Int(rawSize), what: what)
                try decoder.dictionary(body, count: Int(n))
            case ParquetCode.dataPage:
                guard let d = header.structure(H.dataPageHeader), let n = d.int(PQ.DataPageHeader.numValues), let enc = d.int(PQ.DataPageHeader.encoding) else { throw fail("\(what): bad data page header") }
                let body = try decompress(stored, codec: codec, size: Int(rawSize), what: what)
                try decoder.page(levels: nil, values: body, count: n, encoding: enc, v1: true)
            case ParquetCode.dataPageV2:
                typealias V2 = PQ.DataPageHeaderV2
                guard let d = header.structure(H.dataPageHeaderV2), let n = d.int(V2.numValues), let enc = d.int(V2.encoding), let nulls = d.int(V2.numNulls),
                      let defLength = d.int(V2.definitionLevelsByteLength), let repLength = d.int(V2.repetitionLevelsByteLength), defLength >= 0, repLength == 0,
                      defLength <= storedSize, nulls >= 0 else { throw fail("\(what): bad data page v2 header") }
                let levels = UnsafeRawBufferPointer(rebasing: stored[0..<Int(defLength)])
                let rest = UnsafeRawBufferPointer(rebasing: stored[Int(defLength)...])
                let compressed = d.bool(V2.isCompressed) ?? true
                let valueBytes = Int(rawSize) - Int(defLength)
                guard valueBytes >= 0 else { throw fail("\(what): data page v2 levels larger than the page") }
                let body = compressed ? try decompress(rest, codec: codec, size: valueBytes, what: what) : Array(rest)
                guard body.count == valueBytes else { throw fail("\(what): data page v2 sizes disagree") }
                try decoder.page(levels: Array(levels), values: body, count: n, encoding: enc, v1: false)
            default:
                continue // index pages and unknown page types carry no values
            }
        }
        return try decoder.finish()
    }

    func decompress(_ stored: UnsafeRawBufferPointer, codec: Int64, size: Int, what: String) throws -> [UInt8] {
        switch Int32(clamping: codec) {
        case ParquetCode.uncompressed:
            guard stored.count == size else { throw fail("\(what): uncompressed page of \(stored.count) bytes, header says \(size)") }
            return Array(stored)
        case ParquetCode.zstd:
            var out = [UInt8](repeating: 0, count: size)
            do {
                try out.withUnsafeMutableBytes { try Zstd.decompressExact(stored, into: $0, file: path, what: what) }
            } catch let e as StaveError { throw fail("\(e)") }
            return out
        case ParquetCode.snappy:
            var length = 0
            guard snappy_uncompressed_length(stored.baseAddress?.assumingMemoryBound(to: CChar.self), stored.count, &length) == SNAPPY_OK,
                  length == size else { throw fail("\(what): snappy data does not decode to the page's \(size) bytes") }
            var out = [UInt8](repeating: 0, count: max(size, 1))
            var n = out.count
            let status = out.withUnsafeMutableBytes {
                snappy_uncompress(stored.baseAddress?.assumingMemoryBound(to: CChar.self), stored.count, $0.baseAddress?.assumingMemoryBound(to: CChar.self), &n)
            }
            guard status == SNAPPY_OK, n == size else { throw fail("\(what): corrupt snappy data") }
            out.removeSubrange(size...)
            return out
        default:
            let names = [2: "GZIP", 3: "LZO", 4: "BROTLI", 5: "LZ4", 7: "LZ4_RAW"]
            throw fail("\(what): compression \(names[Int(codec)] ?? "code \(codec)") is not supported (stave reads UNCOMPRESSED, SNAPPY and ZSTD)")
        }
    }
}

/// A copy of bytes at a stable address, freed with the object.
final class OwnedBytes {
    private let storage: UnsafeMutableRawBufferPointer
    /// The copied bytes (exactly as many as given).
    let view: UnsafeRawBufferPointer

    init(_ source: [UInt8]) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 16)
        source.withUnsafeBytes { if $0.count > 0 { storage.copyMemory(from: $0) } }
        self.storage = storage
        view = UnsafeRawBufferPointer(start: storage.baseAddress, count: source.count)
    }

    deinit { storage.deallocate() }
}
