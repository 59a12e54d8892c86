import Dispatch
import StaveFormat
import StaveIO

// A Parquet writer for flat tables, following apache/parquet-format
// (README.md for the file layout, Encodings.md, LogicalTypes.md,
// src/main/thrift/parquet.thrift for the metadata): see formats/PARQUET.md
// for what stave writes and reads.
//
//   "PAR1" | column chunks of row group 0 | ... | FileMetaData (Thrift
//   compact) | its length (4 bytes, little-endian) | "PAR1"
//
// Each column chunk: a dictionary page (PLAIN) and RLE_DICTIONARY data
// pages when the values have few distinct values, else PLAIN data pages;
// every page zstd-compressed; data pages v1 of at most `pageRows` values;
// definition levels only for optional columns; min/max statistics and the
// null count per chunk; a CRC-32 in every page header.

public enum ParquetPhysicalType: Int32, Sendable, CustomStringConvertible {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7

    /// The name parquet.thrift gives it (what messages show).
    public var description: String {
        ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"][Int(rawValue)]
    }
}

public enum ParquetLogicalType: Sendable, Equatable {
    case string
    case date
    /// Local date and time (isAdjustedToUTC = false), microseconds.
    case timestampMicros
    case integer(bits: Int8, signed: Bool)
}

public struct ParquetColumnSpec: Sendable, Equatable {
    public var name: String
    public var type: ParquetPhysicalType
    public var logical: ParquetLogicalType?
    /// OPTIONAL (may hold nulls) rather than REQUIRED.
    public var optional: Bool

    public init(_ name: String, _ type: ParquetPhysicalType, logical: ParquetLogicalType? = nil, optional: Bool = false) {
        self.name = name
        self.type = type
        self.logical = logical
        self.optional = optional
    }
}

/// The values of one column of one row group.
public enum ParquetColumnValues: Sendable {
    case int32([Int32])
    case int64([Int64])
    case double([Double])
    /// Strings: `offsets[i]..<offsets[i + 1]` of `bytes` (offsets.count = values + 1).
    case byteArray(offsets: [Int], bytes: [UInt8])
}

public struct ParquetColumnData: Sendable {
    /// The values of the non-null rows, in row order.
    public var values: ParquetColumnValues
    /// Per row, whether it has a value (nil: every row does).
    public var present: [Bool]?

    public init(_ values: ParquetColumnValues, present: [Bool]? = nil) {
        self.values = values
        self.present = present
    }

    public var valueCount: Int {
        switch values {
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        case .double(let v): return v.count
        case .byteArray(let offsets, _): return offsets.count - 1
        }
    }
}

/// Parquet's numeric codes (parquet.thrift).
public final class ParquetFileWriter {
    public let schema: [ParquetColumnSpec]
    let out: OutputFile
    let zstdLevel: Int32
    let threads: Int
    /// Values per data page.
    public var pageRows = 1 << 17
    public static let createdBy = "stave version 0.1.0"

    struct ChunkMeta {
        var encodings: [Int32]
        var valueCount: Int
        var uncompressed: Int
        var compressed: Int
        var dataPageOffset: Int
        var dictionaryPageOffset: Int?
        var statistics: (min: [UInt8], max: [UInt8], nulls: Int)?
        var nulls: Int
    }

    struct RowGroupMeta {
        var columns: [ChunkMeta]
        var rows: Int
        var offset: Int
    }

    var rowGroups: [RowGroupMeta] = []
    var position = 0
    public private(set) var rows = 0

    public init(output: OutputFile, schema: [ParquetColumnSpec], zstdLevel: Int32 = 3, threads: Int = 2) throws {
        self.out = output
        self.schema = schema
        self.zstdLevel = zstdLevel
        self.threads = threads
        try write(Array("PAR1".utf8))
    }

    func write(_ bytes: [UInt8]) throws {
        try out.write(bytes)
        position += bytes.count
    }

    /// Appends one row group (every column with `rows` rows).
    public func writeRowGroup(_ columns: [ParquetColumnData], rows: Int) throws {
        precondition(columns.count == schema.count, "one ParquetColumnData per column")
        for (k, c) in columns.enumerated() {
            let nulls = c.present.map { $0.reduce(0) { $0 + ($1 ? 0 : 1) } } ?? 0
            precondition(c.present == nil || c.present!.count == rows, "\(schema[k].name): presence for every row")
            precondition(c.valueCount == rows - nulls, "\(schema[k].name): \(c.valueCount) values for \(rows - nulls) present rows")
            precondition(schema[k].optional || nulls == 0, "\(schema[k].name) is REQUIRED but has nulls")
        }
        // Encode and compress every column on the workers; write in order.
        let encoded = UnsafeMutableBufferPointer<ParquetChunk?>.allocate(capacity: columns.count)
        encoded.initialize(repeating: nil)
        defer { encoded.deinitialize(); encoded.deallocate() }
        let box = SendableBox((encoded, columns, schema, zstdLevel, pageRows))
        // Each iteration writes only its own slot k; the inputs are read-only.
        DispatchQueue.concurrentPerform(iterations: columns.count) { k in
            let (slots, cols, specs, level, page) = box.value
            slots[k] = ParquetChunk.encode(cols[k], spec: specs[k], rows: rows, level: level, pageRows: page)
        }
        let start = position
        var metas: [ChunkMeta] = []
        for k in 0..<columns.count {
            let chunk = encoded[k]!
            var meta = chunk.meta
            let base = position
            if meta.dictionaryPageOffset != nil { meta.dictionaryPageOffset = base }
            meta.dataPageOffset = base + chunk.dataPageStart
            try write(chunk.bytes)
            metas.append(meta)
        }
        rowGroups.append(RowGroupMeta(columns: metas, rows: rows, offset: start))
        self.rows += rows
    }

    /// Writes the footer. The OutputFile is the caller's to commit.
    public func finish() throws {
        var w = ThriftWriter()
        typealias F = PQ.FileMetaData
        typealias S = PQ.SchemaElement
        typealias L = PQ.LogicalType
        w.element { m in
            m.i32(F.version, 1)
            m.listHeader(F.schema, .structure, count: schema.count + 1)
            m.element { root in
                root.string(S.name, "schema")
                root.i32(S.numChildren, Int32(schema.count))
            }
            for c in schema {
                m.element { e in
                    e.i32(S.type, c.type.rawValue)
                    e.i32(S.repetitionType, c.optional ? ParquetCode.optional : ParquetCode.required)
                    e.string(S.name, c.name)
                    switch c.logical {
                    case .string?:
                        e.i32(S.convertedType, ParquetCode.utf8)
                        e.structure(S.logicalType) { l in l.structure(L.string) { _ in } }
                    case .date?:
                        e.i32(S.convertedType, ParquetCode.date)
                        e.structure(S.logicalType) { l in l.structure(L.date) { _ in } }
                    case .timestampMicros?:
                        // No converted type: TIMESTAMP_MICROS would mean UTC-adjusted.
                        e.structure(S.logicalType) { l in
                            l.structure(L.timestamp) { t in
                                t.bool(PQ.TimestampType.isAdjustedToUTC, false)
                                t.structure(PQ.TimestampType.unit) { u in u.structure(PQ.TimeUnit.micros) { _ in } }
                            }
                        }
                    case .integer(let bits, let signed)?:
                        e.i32(S.convertedType, ParquetCode.convertedInteger(bits: bits, signed: signed))
                        e.structure(S.logicalType) { l in
                            l.structure(L.integer) { t in
                                t.field(PQ.IntType.bitWidth, .byte); t.bytesAppend(UInt8(bitPattern: bits))
                                t.bool(PQ.IntType.isSigned, signed)
                            }
                        }
                    case nil: break
                    }
                }
            }
            m.i64(F.numRows, Int64(rows))
            m.listHeader(F.rowGroups, .structure, count: rowGroups.count)
            for (ordinal, g) in rowGroups.enumerated() {
                m.element { rg in
                    typealias R = PQ.RowGroup
                    typealias M = PQ.ColumnMetaData
                    typealias T = PQ.Statistics
                    rg.listHeader(R.columns, .structure, count: g.columns.count)
                    for (k, c) in g.columns.enumerated() {
                        rg.element { cc in
                            cc.i64(PQ.ColumnChunk.fileOffset, Int64(c.dictionaryPageOffset ?? c.dataPageOffset))
                            cc.structure(PQ.ColumnChunk.metaData) { md in
                                md.i32(M.type, schema[k].type.rawValue)
                                md.listHeader(M.encodings, .i32, count: c.encodings.count)
                                for e in c.encodings { md.element(Int64(e)) }
                                md.listHeader(M.pathInSchema, .binary, count: 1)
                                md.rawBinary(Array(schema[k].name.utf8))
                                md.i32(M.codec, ParquetCode.zstd)
                                md.i64(M.numValues, Int64(c.valueCount))
                                md.i64(M.totalUncompressedSize, Int64(c.uncompressed))
                                md.i64(M.totalCompressedSize, Int64(c.compressed))
                                md.i64(M.dataPageOffset, Int64(c.dataPageOffset))
                                if let d = c.dictionaryPageOffset { md.i64(M.dictionaryPageOffset, Int64(d)) }
                                md.structure(M.statistics) { st in
                                    if let s = c.statistics, schema[k].type != .byteArray {
                                        // The deprecated signed min/max, for older readers.
                                        st.binary(T.max, s.max)
                                        st.binary(T.min, s.min)
                                    }
                                    st.i64(T.nullCount, Int64(c.nulls))
                                    if let s = c.statistics {
                                        st.binary(T.maxValue, s.max)
                                        st.binary(T.minValue, s.min)
                                    }
                                }
                            }
                        }
                    }
                    let total = g.columns.reduce(0) { $0 + $1.uncompressed }
                    rg.i64(R.totalByteSize, Int64(total))
                    rg.i64(R.numRows, Int64(g.rows))
                    rg.i64(R.fileOffset, Int64(g.offset))
                    rg.i64(R.totalCompressedSize, Int64(g.columns.reduce(0) { $0 + $1.compressed }))
                    rg.field(R.ordinal, .i16); rg.element(Int64(ordinal))
                }
            }
            m.string(F.createdBy, Self.createdBy)
            m.listHeader(F.columnOrders, .structure, count: schema.count)
            for _ in schema { m.element { o in o.structure(PQ.ColumnOrder.typeOrder) { _ in } } }
        }
        let footer = w.bytes
        try write(footer)
        let n = UInt32(footer.count)
        try write([UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + Array("PAR1".utf8))
    }
}

extension ThriftWriter {
    /// One raw byte (the value of a `byte` field).
    mutating func bytesAppend(_ b: UInt8) { appendRaw([b]) }
}

/// One column chunk, encoded and compressed: its bytes (pages with their
/// headers) and metadata with offsets relative to the chunk start.
struct ParquetChunk {
    var bytes: [UInt8]
    var meta: ParquetFileWriter.ChunkMeta
    var dataPageStart: Int

    static func encode(_ column: ParquetColumnData, spec: ParquetColumnSpec, rows: Int, level: Int32, pageRows: Int) -> ParquetChunk {
        var bytes: [UInt8] = []
        var uncompressed = 0
        var encodings: [Int32] = [ParquetCode.rle]
        let nulls = rows - column.valueCount
        /// Appends one page (header + compressed body).
        func page(type: Int32, body: [UInt8], header: (inout ThriftWriter) -> Void) {
            let packed = Zstd.compress(body, level: level)
            var w = ThriftWriter()
            w.element { h in
                h.i32(PQ.PageHeader.type, type)
                h.i32(PQ.PageHeader.uncompressedPageSize, Int32(body.count))
                h.i32(PQ.PageHeader.compressedPageSize, Int32(packed.count))
                // The page checksum: CRC-32 of the bytes as stored.
                h.i32(PQ.PageHeader.crc, Int32(bitPattern: CRC32.checksum(packed)))
                header(&h)
            }
            uncompressed += w.bytes.count + body.count
            bytes += w.bytes
            bytes += packed
        }
        let dictionary = PageDictionary.build(column.values, rows: column.valueCount)
        var dataStart = 0
        if let dictionary {
            encodings += [ParquetCode.plain, ParquetCode.rleDictionary]
            page(type: ParquetCode.dictionaryPage, body: dictionary.plain) { h in
                h.structure(PQ.PageHeader.dictionaryPageHeader) { d in
                    d.i32(PQ.DictionaryPageHeader.numValues, Int32(dictionary.count))
                    d.i32(PQ.DictionaryPageHeader.encoding, ParquetCode.plain)
                }
            }
            dataStart = bytes.count
        } else {
            encodings.append(ParquetCode.plain)
        }
        // Data pages over row ranges; the values of the present rows.
        var row = 0, value = 0
        repeat {
            let end = min(rows, row + pageRows)
            var body: [UInt8] = []
            var present = end - row
            if let p = column.present {
                let levels = p[row..<end].map { UInt32($0 ? 1 : 0) }
                present = levels.reduce(0) { $0 + Int($1) }
                let encoded = RLEHybrid.encode(levels, width: 1)
                let n = UInt32(encoded.count)
                body += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
                body += encoded
            }
            let range = value..<(value + present)
            if let dictionary {
                let width = RLEHybrid.width(UInt32(max(dictionary.count - 1, 0)))
                body.append(UInt8(width))
                dictionary.indices[range].withUnsafeBufferPointer { RLEHybrid.encode($0, width: width, into: &body) }
            } else {
                Plain.append(column.values, range, to: &body)
            }
            page(type: ParquetCode.dataPage, body: body) { h in
                typealias D = PQ.DataPageHeader
                h.structure(PQ.PageHeader.dataPageHeader) { d in
                    d.i32(D.numValues, Int32(end - row))
                    d.i32(D.encoding, dictionary == nil ? ParquetCode.plain : ParquetCode.rleDictionary)
                    d.i32(D.definitionLevelEncoding, ParquetCode.rle)
                    d.i32(D.repetitionLevelEncoding, ParquetCode.rle)
                }
            }
            row = end
            value += present
        } while row < rows
        let stats = Plain.minMax(column.values)
        let meta = ParquetFileWriter.ChunkMeta(encodings: encodings, valueCount: rows, uncompressed: uncompressed, compressed: bytes.count,
                                               dataPageOffset: dataStart, dictionaryPageOffset: dictionary == nil ? nil : 0,
                                               statistics: stats, nulls: nulls)
        return ParquetChunk(bytes: bytes, meta: meta, dataPageStart: dataStart)
    }

    /// A chunk's dictionary: distinct values in first-seen order (PLAIN
    /// encoded) and each value's index. Built only when it pays: at most
    /// 2^16 distinct values and at most half as many as values.
    struct PageDictionary {
        var plain: [UInt8]
        var count: Int
        var indices: [UInt32]

        static let maxEntries = 1 << 16

        static func build(_ values: ParquetColumnValues, rows: Int) -> PageDictionary? {
            let limit = min(maxEntries, max(1, rows / 2))
            switch values {
            case .int32(let v): return integers(v.lazy.map(Int64.init), count: v.count, limit: limit, width: 4)
            case .int64(let v): return integers(v.lazy, count: v.count, limit: limit, width: 8)
            case .double: return nil
            case .byteArray(let offsets, let bytes):
                var index: [ArraySlice<UInt8>: UInt32] = [:]
                var plain: [UInt8] = []
                var indices = [UInt32]()
                indices.reserveCapacity(offsets.count - 1)
                for k in 0..<(offsets.count - 1) {
                    let s = bytes[offsets[k]..<offsets[k + 1]]
                    if let i = index[s] { indices.append(i); continue }
                    guard index.count < limit else { return nil }
                    let i = UInt32(index.count)
                    index[s] = i
                    indices.append(i)
                    Plain.appendLength(s.count, to: &plain)
                    plain += s
                }
                return PageDictionary(plain: plain, count: index.count, indices: indices)
            }
        }

        /// Integers: through a direct table when their range is small
        /// (no hashing per value), a hash table otherwise.
        static func integers<S: Sequence>(_ values: S, count: Int, limit: Int, width: Int) -> PageDictionary? where S.Element == Int64 {
            var lo = Int64.max, hi = Int64.min
            for v in values { lo = min(lo, v); hi = max(hi, v) }
            guard count > 0 else { return nil }
            var indices = [UInt32]()
            indices.reserveCapacity(count)
            var plain: [UInt8] = []
            var entries = 0
            func emit(_ v: Int64) {
                var x = UInt64(bitPattern: v)
                for _ in 0..<width { plain.append(UInt8(truncatingIfNeeded: x)); x >>= 8 }
            }
            let span = hi.subtractingReportingOverflow(lo)
            if !span.overflow && span.partialValue < 1 << 22 {
                var table = [UInt32](repeating: UInt32.max, count: Int(span.partialValue) + 1)
                for v in values {
                    let slot = Int(v &- lo)
                    if table[slot] == UInt32.max {
                        guard entries < limit else { return nil }
                        table[slot] = UInt32(entries)
                        entries += 1
                        emit(v)
                    }
                    indices.append(table[slot])
                }
            } else {
                var table: [Int64: UInt32] = [:]
                for v in values {
                    if let i = table[v] { indices.append(i); continue }
                    guard entries < limit else { return nil }
                    table[v] = UInt32(entries)
                    entries += 1
                    emit(v)
                    indices.append(table[v]!)
                }
            }
            return PageDictionary(plain: plain, count: entries, indices: indices)
        }
    }
}

/// PLAIN encoding (little-endian fixed widths; byte arrays with a 4-byte length).
enum Plain {
    static func appendLength(_ n: Int, to out: inout [UInt8]) {
        let v = UInt32(n)
        out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
    }

    static func append(_ values: ParquetColumnValues, _ range: Range<Int>, to out: inout [UInt8]) {
        func raw<T>(_ v: [T]) {
            v[range].withUnsafeBytes { out += $0 }
        }
        switch values {
        case .int32(let v): raw(v)
        case .int64(let v): raw(v)
        case .double(let v): raw(v)
        case .byteArray(let offsets, let bytes):
            for k in range {
                appendLength(offsets[k + 1] - offsets[k], to: &out)
                out += bytes[offsets[k]..<offsets[k + 1]]
            }
        }
    }

    /// The smallest and largest value, PLAIN-encoded (byte arrays without
    /// their length), by the column order of their type: signed for
    /// integers, numeric for doubles (NaN ignored), unsigned bytewise for
    /// byte arrays. Nil without values.
    static func minMax(_ values: ParquetColumnValues) -> (min: [UInt8], max: [UInt8], nulls: Int)? {
        func le<T>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
        switch values {
        case .int32(let v):
            guard let lo = v.min(), let hi = v.max() else { return nil }
            return (le(lo.littleEndian), le(hi.littleEndian), 0)
        case .int64(let v):
            guard let lo = v.min(), let hi = v.max() else { return nil }
            return (le(lo.littleEndian), le(hi.littleEndian), 0)
        case .double(let v):
            let numbers = v.filter { !$0.isNaN }
            guard var lo = numbers.min(), var hi = numbers.max() else { return nil }
            if lo == 0 { lo = -0.0 }
            if hi == 0 { hi = 0.0 }
            return (le(lo.bitPattern.littleEndian), le(hi.bitPattern.littleEndian), 0)
        case .byteArray(let offsets, let bytes):
            guard offsets.count > 1 else { return nil }
            var lo = bytes[offsets[0]..<offsets[1]], hi = lo
            for k in 1..<(offsets.count - 1) {
                let s = bytes[offsets[k]..<offsets[k + 1]]
                if s.lexicographicallyPrecedes(lo) { lo = s }
                if hi.lexicographicallyPrecedes(s) { hi = s }
            }
            return (Array(lo), Array(hi), 0)
        }
    }
}
