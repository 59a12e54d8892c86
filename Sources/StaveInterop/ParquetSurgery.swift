import CSnappy
import StaveFormat
import StaveIO

/// A Parquet file taken apart into its Thrift metadata and its pages, and
/// put back together with every offset and size recomputed and without page
/// CRCs. Tests and the structure-aware fuzzer (Fuzz/fuzz-parquet-struct)
/// change metadata fields and page bytes through it and get a file that is
/// well formed everywhere else, so the damage reaches the decoders instead
/// of stopping at a checksum or an offset check.
public struct ParquetSurgery {
    public struct Page {
        /// The page header (PageHeader), as decoded.
        public var header: ThriftStruct
        /// The page's stored bytes.
        public var body: [UInt8]
    }

    /// FileMetaData, as decoded.
    public var footer: ThriftStruct
    /// Per row group, per column chunk, its pages in file order.
    public var pages: [[[Page]]]

    // Field ids of parquet.thrift used here (ParquetThrift.swift).
    static let fileRowGroups = PQ.FileMetaData.rowGroups, rowGroupColumns = PQ.RowGroup.columns
    static let chunkFileOffset = PQ.ColumnChunk.fileOffset, chunkMeta = PQ.ColumnChunk.metaData
    static let metaCodec = PQ.ColumnMetaData.codec, metaUncompressed = PQ.ColumnMetaData.totalUncompressedSize
    static let metaCompressed = PQ.ColumnMetaData.totalCompressedSize, metaDataOffset = PQ.ColumnMetaData.dataPageOffset
    static let metaDictionaryOffset = PQ.ColumnMetaData.dictionaryPageOffset
    static let pageType = PQ.PageHeader.type, pageRawSize = PQ.PageHeader.uncompressedPageSize
    static let pageStoredSize = PQ.PageHeader.compressedPageSize, pageCRC = PQ.PageHeader.crc

    /// Takes `bytes` apart. Throws (a ThriftError) on a file it cannot
    /// walk: this is for well-formed seed files.
    public init(bytes: [UInt8]) throws {
        func fail(_ m: String) -> ThriftError { ThriftError(message: m) }
        let size = bytes.count
        guard size >= 12, Array(bytes[0..<4]) == Array("PAR1".utf8), Array(bytes[(size - 4)...]) == Array("PAR1".utf8) else {
            throw fail("not a plain Parquet file")
        }
        var length = 0
        for k in 0..<4 { length |= Int(bytes[size - 8 + k]) << (8 * k) }
        guard length > 0, length <= size - 12 else { throw fail("footer length") }
        let footerStart = size - 8 - length
        footer = try bytes.withUnsafeBytes { raw in
            var r = ThriftReader(UnsafeRawBufferPointer(rebasing: raw[footerStart..<(size - 8)]))
            return try r.readStruct()
        }
        var all: [[[Page]]] = []
        for rg in footer.structs(Self.fileRowGroups) ?? [] {
            var groupPages: [[Page]] = []
            for chunk in rg.structs(Self.rowGroupColumns) ?? [] {
                guard let md = chunk.structure(Self.chunkMeta), let data = md.int(Self.metaDataOffset), let total = md.int(Self.metaCompressed) else {
                    throw fail("column chunk without metadata")
                }
                var start = data
                if let d = md.int(Self.metaDictionaryOffset), d > 0, d < start { start = d }
                guard start >= 4, total >= 0, start + total <= Int64(footerStart) else { throw fail("chunk outside the data") }
                var p = Int(start)
                let end = Int(start + total)
                var list: [Page] = []
                while p < end {
                    let (header, used) = try bytes.withUnsafeBytes { raw -> (ThriftStruct, Int) in
                        var r = ThriftReader(UnsafeRawBufferPointer(rebasing: raw[p..<end]))
                        return (try r.readStruct(), r.position)
                    }
                    p += used
                    guard let stored = header.int(Self.pageStoredSize), stored >= 0, stored <= Int64(end - p) else { throw fail("page size") }
                    list.append(Page(header: header, body: Array(bytes[p..<(p + Int(stored))])))
                    p += Int(stored)
                }
                groupPages.append(list)
            }
            all.append(groupPages)
        }
        pages = all
    }

    /// Drops every page's CRC (so changed bytes are not caught by it).
    public mutating func dropChecksums() {
        for g in pages.indices { for c in pages[g].indices { for k in pages[g][c].indices { pages[g][c][k].header.fields[Self.pageCRC] = nil } } }
    }

    /// Decompresses every page (ZSTD and SNAPPY) and marks every chunk
    /// UNCOMPRESSED, so a test or the fuzzer can change page bytes directly.
    /// Data pages v2 keep their levels and lose the is_compressed flag.
    public mutating func decompress() throws {
        var groups = footer.structs(Self.fileRowGroups) ?? []
        for g in groups.indices where g < pages.count {
            var chunks = groups[g].structs(Self.rowGroupColumns) ?? []
            for c in chunks.indices where c < pages[g].count {
                guard var md = chunks[c].structure(Self.chunkMeta) else { continue }
                let codec = md.int(Self.metaCodec) ?? 0
                guard codec != 0 else { continue }
                for k in pages[g][c].indices {
                    var page = pages[g][c][k]
                    guard let raw = page.header.int(Self.pageRawSize), raw >= 0, raw <= 1 << 28 else { throw ThriftError(message: "page size") }
                    var levels = 0
                    typealias V2 = PQ.DataPageHeaderV2
                    if page.header.int(Self.pageType) == Int64(ParquetCode.dataPageV2), var v2 = page.header.structure(PQ.PageHeader.dataPageHeaderV2) {
                        levels = Int(v2.int(V2.definitionLevelsByteLength) ?? 0) + Int(v2.int(V2.repetitionLevelsByteLength) ?? 0)
                        guard levels >= 0, levels <= page.body.count else { throw ThriftError(message: "v2 levels") }
                        if v2.bool(V2.isCompressed) == false { continue }
                        v2.fields[V2.isCompressed] = .bool(false)
                        page.header.fields[PQ.PageHeader.dataPageHeaderV2] = .structure(v2)
                    }
                    let packed = Array(page.body[levels...])
                    var out = [UInt8](repeating: 0, count: Int(raw) - levels)
                    if codec == Int64(ParquetCode.zstd) {
                        try packed.withUnsafeBytes { src in
                            try out.withUnsafeMutableBytes { try Zstd.decompressExact(src, into: $0, file: "surgery", what: "page") }
                        }
                    } else if codec == Int64(ParquetCode.snappy) {
                        var n = out.count
                        let status = packed.withUnsafeBytes { src in
                            out.withUnsafeMutableBytes { dst in
                                snappy_uncompress(src.baseAddress?.assumingMemoryBound(to: CChar.self), src.count,
                                                  dst.baseAddress?.assumingMemoryBound(to: CChar.self), &n)
                            }
                        }
                        guard status == SNAPPY_OK, n == out.count else { throw ThriftError(message: "snappy") }
                    } else {
                        throw ThriftError(message: "codec \(codec)")
                    }
                    page.body = Array(page.body[..<levels]) + out
                    page.header.fields[Self.pageStoredSize] = .int(Int64(page.body.count))
                    pages[g][c][k] = page
                }
                md.fields[Self.metaCodec] = .int(Int64(ParquetCode.uncompressed))
                chunks[c].fields[Self.chunkMeta] = .structure(md)
            }
            groups[g].fields[Self.rowGroupColumns] = .list(chunks.map { .structure($0) })
        }
        footer.fields[Self.fileRowGroups] = .list(groups.map { .structure($0) })
    }

    /// Sets each page's stored size to its body's length (after a change to
    /// the body), and its raw size too when `raw` (uncompressed pages).
    public mutating func fitSizes(raw: Bool) {
        for g in pages.indices {
            for c in pages[g].indices {
                for k in pages[g][c].indices {
                    let n = Int64(pages[g][c][k].body.count)
                    pages[g][c][k].header.fields[Self.pageStoredSize] = .int(n)
                    if raw { pages[g][c][k].header.fields[Self.pageRawSize] = .int(n) }
                }
            }
        }
    }

    /// The file: pages laid out chunk after chunk, the footer's chunk
    /// offsets and sizes set to where the pages now are (unless
    /// `keepFooterOffsets`, for a test that damages them on purpose), then
    /// `editFooter` applied last.
    public func assemble(keepFooterOffsets: Bool = false, editFooter: ((inout ThriftStruct) -> Void)? = nil) -> [UInt8] {
        var out = Array("PAR1".utf8)
        var footer = self.footer
        var groups = footer.structs(Self.fileRowGroups) ?? []
        for g in groups.indices {
            var chunks = groups[g].structs(Self.rowGroupColumns) ?? []
            for c in chunks.indices where g < pages.count && c < pages[g].count {
                let start = out.count
                var dictionaryOffset: Int? = nil, dataOffset: Int? = nil
                var raw = 0
                for page in pages[g][c] {
                    var w = ThriftWriter()
                    w.write(page.header)
                    if page.header.int(Self.pageType) == Int64(ParquetCode.dictionaryPage) { dictionaryOffset = dictionaryOffset ?? out.count } else { dataOffset = dataOffset ?? out.count }
                    // Wrapping: the header's sizes may be anything (a test or the fuzzer set them).
                    raw = raw &+ w.bytes.count &+ Int(truncatingIfNeeded: page.header.int(Self.pageRawSize) ?? 0)
                    out += w.bytes
                    out += page.body
                }
                guard !keepFooterOffsets, var md = chunks[c].structure(Self.chunkMeta) else { continue }
                md.fields[Self.metaDataOffset] = .int(Int64(dataOffset ?? start))
                md.fields[Self.metaDictionaryOffset] = dictionaryOffset.map { .int(Int64($0)) }
                md.fields[Self.metaCompressed] = .int(Int64(out.count - start))
                md.fields[Self.metaUncompressed] = .int(Int64(raw))
                chunks[c].fields[Self.chunkMeta] = .structure(md)
                chunks[c].fields[Self.chunkFileOffset] = .int(Int64(start))
            }
            groups[g].fields[Self.rowGroupColumns] = .list(chunks.map { .structure($0) })
        }
        footer.fields[Self.fileRowGroups] = .list(groups.map { .structure($0) })
        editFooter?(&footer)
        var w = ThriftWriter()
        w.write(footer)
        out += w.bytes
        let n = UInt32(truncatingIfNeeded: w.bytes.count)
        out += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
        out += Array("PAR1".utf8)
        return out
    }

    // MARK: Integer fields, by number

    /// The number of integer values in the page headers and the footer.
    public var integerCount: Int {
        var n = 0
        var copy = self
        copy.visitIntegers { _ in n += 1 }
        return n
    }

    /// Calls `body` with every integer of the page headers (in file order)
    /// then of the footer, each by reference.
    public mutating func visitIntegers(_ body: (inout Int64) -> Void) {
        for g in pages.indices { for c in pages[g].indices { for k in pages[g][c].indices { Self.visit(&pages[g][c][k].header, body) } } }
        Self.visit(&footer, body)
    }

    /// Changes integer number `index` (modulo the count) with `edit`.
    public mutating func editInteger(_ index: Int, _ edit: (Int64) -> Int64) {
        let total = integerCount
        guard total > 0 else { return }
        let target = index % total
        var k = 0
        visitIntegers { v in
            if k == target { v = edit(v) }
            k += 1
        }
    }

    static func visit(_ s: inout ThriftStruct, _ body: (inout Int64) -> Void) {
        for id in s.fields.keys.sorted() {
            var v = s.fields[id]!
            visit(&v, body)
            s.fields[id] = v
        }
    }

    static func visit(_ v: inout ThriftValue, _ body: (inout Int64) -> Void) {
        switch v {
        case .int(var x):
            body(&x)
            v = .int(x)
        case .list(var items):
            for i in items.indices { visit(&items[i], body) }
            v = .list(items)
        case .map(var items):
            for i in items.indices { visit(&items[i], body) }
            v = .map(items)
        case .structure(var inner):
            visit(&inner, body)
            v = .structure(inner)
        case .bool, .double, .binary:
            break
        }
    }
}
