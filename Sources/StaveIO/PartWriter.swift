import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import StaveFormat

/// How the writer applies zstd on top of an encoded payload.
public struct CompressionPolicy: Sendable {
    /// zstd level; 0 disables compression.
    public var level: Int32
    /// Keep zstd only when it saves at least this fraction of the payload:
    /// decompression costs scan time, so small gains are not worth it.
    public var minGain: Double
    /// Payloads smaller than this are never compressed.
    public var minBytes: Int

    /// Scratch data (a conversion's spills, read back once): every
    /// integer column FOR_BITPACK, customer ids RLE, no zstd, no choice
    /// made. Fast to write and to read, about 13 bytes a row.
    public var scratch = false

    public init(level: Int32 = 3, minGain: Double = 0.10, minBytes: Int = 1024) {
        self.level = level
        self.minGain = minGain
        self.minBytes = minBytes
    }

    public static let spill: CompressionPolicy = {
        var p = CompressionPolicy(level: 0)
        p.scratch = true
        return p
    }()
}

/// The columns of one row group, already in row order.
public struct RowGroupColumns: Sendable {
    /// One array per column; for a STRING column, the byte lengths.
    public var columns: [[Int64]]
    /// For each STRING column (by index), the concatenated UTF-8 bytes.
    public var strings: [Int: [UInt8]]
    public init(columns: [[Int64]], strings: [Int: [UInt8]] = [:]) {
        self.columns = columns
        self.strings = strings
    }
    public var rowCount: Int { columns.first?.count ?? 0 }
}

/// Writes one part file: header, aligned chunks, footer, tail.
public enum PartWriter {
    struct EncodedChunk {
        var stored: [UInt8]
        var encodedLength: Int
        var encoding: EncodingID
        var compression: CompressionID
        var min: Int64
        var max: Int64
    }

    /// The decode weight of each column of the events table: what every
    /// query scans weighs decode time; event ids (read by export alone) do
    /// not (formats/STAVE.md, "How the writer chooses").
    static func weight(tableKind: UInt32, column c: Int) -> DecodeWeight {
        guard tableKind == FormatConstants.tableKindEvents else { return .size }
        switch c {
        case EventsSchema.eventID: return .size
        case EventsSchema.customerID: return .runs
        default: return .scanned
        }
    }

    static func encodeChunk(_ values: [Int64], strings: [UInt8]? = nil, policy: CompressionPolicy, weight: DecodeWeight = .size) -> EncodedChunk {
        let forcing: EncodingID? = policy.scratch ? (weight.runColumn ? .rle : .forBitpack) : nil
        let r = strings.map { ChunkEncoder.encodeStrings(lengths: values, bytes: $0) } ?? ChunkEncoder.encode(values, forcing: forcing, weight: weight)
        var stored = r.payload
        var compression = CompressionID.none
        if policy.level > 0, r.payload.count >= policy.minBytes {
            let z = Zstd.compress(r.payload, level: policy.level)
            if weight.keepsZstd(payload: r.payload.count, compressed: z.count, minGain: policy.minGain) {
                stored = z
                compression = .zstd
            }
        }
        return EncodedChunk(stored: stored, encodedLength: r.payload.count, encoding: r.encoding,
                            compression: compression, min: r.min, max: r.max)
    }

    /// Writes `groupCount` row groups, built on demand by `makeGroup`, to
    /// `path` (created; must not exist) and fsyncs it. Groups are built and
    /// encoded in batches on `threads` threads, so memory holds one batch;
    /// the file is written in order.
    public static func write(groupCount: Int, to path: String, policy: CompressionPolicy, threads: Int,
                             tableKind: UInt32 = FormatConstants.tableKindEvents,
                             makeGroup: @escaping @Sendable (Int) -> RowGroupColumns) throws -> ManifestPart {
        let schema = TableSchema.columns(kind: tableKind)!
        let columnCount = schema.count
        let fd = try Sys.open(path, flags: O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o644)
        var ok = false
        defer {
            Sys.close(fd)
            if !ok { Sys.unlink(path) }
        }
        var out = ByteWriter(capacity: 1 << 20)
        var written: UInt64 = 0
        func drain(force: Bool) throws {
            if force || out.count >= 1 << 20 {
                try out.bytes.withUnsafeBytes { try Sys.writeAll(fd, $0, path: path) }
                written += UInt64(out.count)
                out.bytes.removeAll(keepingCapacity: true)
            }
        }
        out.append(bytes: PartHeader.serialize())
        var rowGroups: [RowGroupDescriptor] = []
        var rows = 0
        let batch = max(1, threads) * 4
        var first = 0
        while first < groupCount {
            let count = min(batch, groupCount - first)
            // Each iteration writes only its own slot g of `results`.
            let results = UnsafeMutableBufferPointer<(rows: Int, chunks: [EncodedChunk])?>.allocate(capacity: count)
            results.initialize(repeating: nil)
            defer { results.deinitialize(); results.deallocate() }
            let box = SendableBox(results)
            let base = first
            DispatchQueue.concurrentPerform(iterations: count) { g in
                let group = makeGroup(base + g)
                precondition(group.columns.count == columnCount)
                box.value[g] = (group.rowCount, group.columns.indices.map { c in
                    encodeChunk(group.columns[c], strings: schema[c].type == .string ? group.strings[c] ?? [] : nil, policy: policy,
                                weight: weight(tableKind: tableKind, column: c))
                })
            }
            for g in 0..<count {
                let (groupRows, chunks) = results[g]!
                var descriptors: [ChunkDescriptor] = []
                for c in 0..<columnCount {
                    let chunk = chunks[c]
                    // Align the absolute file offset (the buffer is drained in pieces).
                    let position = written + UInt64(out.count)
                    let alignment = UInt64(FormatConstants.chunkAlignment)
                    out.appendZeros(Int((alignment - position % alignment) % alignment))
                    let offset = written + UInt64(out.count)
                    out.append(bytes: chunk.stored)
                    descriptors.append(ChunkDescriptor(
                        offset: offset, storedLength: UInt32(chunk.stored.count), encodedLength: UInt32(chunk.encodedLength),
                        encoding: chunk.encoding, compression: chunk.compression, min: chunk.min, max: chunk.max,
                        checksum: XXH64.hash(chunk.stored)))
                    try drain(force: false)
                }
                rowGroups.append(RowGroupDescriptor(rowCount: groupRows, chunks: descriptors))
                rows += groupRows
            }
            first += count
        }
        let end = written + UInt64(out.count)
        out.appendZeros(Int((8 - end % 8) % 8))
        let footer = PartFooter(tableKind: tableKind, columns: schema, rowGroups: rowGroups).serialize()
        let footerSum = XXH64.hash(footer)
        out.append(bytes: footer)
        out.append(bytes: PartTail(footerChecksum: footerSum, footerLength: UInt32(footer.count)).serialize())
        try drain(force: true)
        try Sys.fsync(fd, path: path)
        ok = true
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return ManifestPart(name: name, rows: rows, bytes: written, footerChecksum: footerSum)
    }
}

/// Moves a value into a `concurrentPerform` closure.
/// @unchecked Sendable: used only for buffers whose slots each worker writes
/// exclusively (documented at every use).
public struct SendableBox<T>: @unchecked Sendable {
    public var value: T
    public init(_ value: T) { self.value = value }
}
