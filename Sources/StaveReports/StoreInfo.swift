import StaveFormat
import StaveIO

/// What `stave inspect` shows: parts, and per column the encodings, sizes
/// and value ranges.
public struct StoreInfo: Sendable {
    public struct ColumnInfo: Sendable {
        public var name: String
        public var type: String
        public var encodings: [String: Int]
        public var zstdChunks: Int
        public var chunks: Int
        /// Rows times the type's natural width (8, 4, 8, 1, 4 bytes; for
        /// STRING the payload size, lengths plus text).
        public var plainBytes: Int
        /// After the lightweight encoding, before zstd.
        public var encodedBytes: Int
        /// On disk.
        public var storedBytes: Int
        public var min: Int64?
        public var max: Int64?
    }
    public struct PartInfo: Sendable {
        public var name: String
        public var rows: Int
        public var rowGroups: Int
        public var bytes: Int
    }

    public var path: String
    public var rows: Int
    public var bytes: Int
    public var generation: UInt64
    /// Files `stave follow` tails into the store: path and committed offset.
    public var follows: [FollowState]
    public var parts: [PartInfo]
    public var columns: [ColumnInfo]
    /// The customer table, if any: its file, rows, bytes and columns.
    public var customers: PartInfo?
    public var customerColumns: [ColumnInfo]

    static func naturalWidth(_ t: LogicalType) -> Int? {
        switch t {
        case .int64, .datetime: return 8
        case .uint32, .zip5, .date: return 4
        case .bool, .level, .campaign: return 1
        case .string: return nil
        }
    }

    static func partInfo(_ p: Part) -> PartInfo {
        PartInfo(name: p.path.split(separator: "/").last.map(String.init) ?? p.path,
                 rows: p.footer.rowCount, rowGroups: p.footer.rowGroups.count, bytes: p.file.size)
    }

    static func columnInfos(_ parts: [Part], schema: [ColumnSpec]) -> [ColumnInfo] {
        schema.enumerated().map { c, spec in
            var info = ColumnInfo(name: spec.name, type: spec.type.name, encodings: [:], zstdChunks: 0, chunks: 0,
                                  plainBytes: 0, encodedBytes: 0, storedBytes: 0, min: nil, max: nil)
            for part in parts {
                for g in part.footer.rowGroups {
                    let d = g.chunks[c]
                    info.chunks += 1
                    info.encodings[d.encoding.name, default: 0] += 1
                    if d.compression == .zstd { info.zstdChunks += 1 }
                    info.plainBytes += StoreInfo.naturalWidth(spec.type).map { g.rowCount * $0 } ?? Int(d.encodedLength)
                    info.encodedBytes += Int(d.encodedLength)
                    info.storedBytes += Int(d.storedLength)
                    info.min = Swift.min(info.min ?? d.min, d.min)
                    info.max = Swift.max(info.max ?? d.max, d.max)
                }
            }
            return info
        }
    }

    public init(_ store: Store) {
        path = store.path
        rows = store.rowCount
        generation = store.manifest.generation
        follows = store.manifest.follows
        parts = store.parts.map(StoreInfo.partInfo)
        bytes = parts.reduce(0) { $0 + $1.bytes }
        columns = StoreInfo.columnInfos(store.parts, schema: EventsSchema.columns)
        customers = store.customers.map(StoreInfo.partInfo)
        customerColumns = store.customers.map { StoreInfo.columnInfos([$0], schema: CustomersSchema.columns) } ?? []
    }

    static func render(_ v: Int64?, type: String) -> String {
        guard let v else { return "" }
        if type == "DATETIME" { return CivilTime.format(v) }
        if type == "ZIP5" { return DecimalText.zip5(v) }
        if type == "DATE" { return CivilTime.formatDate(v) }
        return String(v)
    }

    public func text() -> String {
        var s = "store \(path): \(rows) rows in \(parts.count) part\(parts.count == 1 ? "" : "s"), \(bytes) bytes, generation \(generation)\n"
        for f in follows { s += "follows \(f.path): \(f.offset) bytes committed\n" }
        s += "\n"
        s += TextTable.render(columns: ["part", "rows", "row_groups", "bytes"],
                              rows: parts.map { [$0.name, String($0.rows), String($0.rowGroups), String($0.bytes)] },
                              rightAligned: [false, true, true, true])
        s += "\n"
        s += StoreInfo.columnTable(columns)
        if let c = customers {
            s += "\ncustomer table \(c.name): \(c.rows) customers, \(c.rowGroups) row group\(c.rowGroups == 1 ? "" : "s"), \(c.bytes) bytes "
            s += "(string columns: min and max are byte lengths)\n\n"
            s += StoreInfo.columnTable(customerColumns)
        }
        return s
    }

    static func columnTable(_ columns: [ColumnInfo]) -> String {
        TextTable.render(
            columns: ["column", "type", "encodings", "zstd", "plain_bytes", "encoded_bytes", "stored_bytes", "ratio", "min", "max"],
            rows: columns.map { c in
                let enc = c.encodings.sorted { $0.key < $1.key }.map { "\($0.key)x\($0.value)" }.joined(separator: " ")
                let ratio = c.storedBytes > 0 ? ((Double(c.plainBytes) / Double(c.storedBytes)) * 10).rounded() / 10 : 0
                return [c.name, c.type, enc, "\(c.zstdChunks)/\(c.chunks)", String(c.plainBytes), String(c.encodedBytes),
                        String(c.storedBytes), "\(ratio)x", StoreInfo.render(c.min, type: c.type), StoreInfo.render(c.max, type: c.type)]
            },
            rightAligned: [false, false, false, true, true, true, true, true, false, false])
    }

    public func json() -> String {
        func q(_ s: String) -> String { CellText.jsonString(s) }
        var s = "{\n  \"path\": \(q(path)),\n  \"rows\": \(rows),\n  \"bytes\": \(bytes),\n  \"generation\": \(generation),\n"
        s += "  \"follows\": [" + follows.map { "{\"path\": \(q($0.path)), \"offset\": \($0.offset)}" }.joined(separator: ", ") + "],\n  \"parts\": ["
        s += parts.map { "\n    {\"name\": \(q($0.name)), \"rows\": \($0.rows), \"row_groups\": \($0.rowGroups), \"bytes\": \($0.bytes)}" }.joined(separator: ",")
        s += "\n  ],\n  \"columns\": ["
        s += StoreInfo.columnsJSON(columns, indent: "    ")
        s += "\n  ]"
        if let c = customers {
            s += ",\n  \"customer_table\": {\"name\": \(q(c.name)), \"rows\": \(c.rows), \"row_groups\": \(c.rowGroups), \"bytes\": \(c.bytes), \"columns\": ["
            s += StoreInfo.columnsJSON(customerColumns, indent: "    ")
            s += "\n  ]}"
        }
        s += "\n}\n"
        return s
    }

    static func columnsJSON(_ columns: [ColumnInfo], indent: String) -> String {
        func q(_ s: String) -> String { CellText.jsonString(s) }
        return columns.map { c in
            let enc = c.encodings.sorted { $0.key < $1.key }.map { "\(q($0.key)): \($0.value)" }.joined(separator: ", ")
            return "\n\(indent){\"name\": \(q(c.name)), \"type\": \(q(c.type)), \"chunks\": \(c.chunks), \"encodings\": {\(enc)}, \"zstd_chunks\": \(c.zstdChunks), "
                + "\"plain_bytes\": \(c.plainBytes), \"encoded_bytes\": \(c.encodedBytes), \"stored_bytes\": \(c.storedBytes), "
                + "\"min\": \(c.min.map { q(StoreInfo.render($0, type: c.type)) } ?? "null"), \"max\": \(c.max.map { q(StoreInfo.render($0, type: c.type)) } ?? "null")}"
        }.joined(separator: ",")
    }
}
