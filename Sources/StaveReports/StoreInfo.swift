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
        /// Rows times the type's natural width (8, 4, 8, 1, 4 bytes).
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
    public var parts: [PartInfo]
    public var columns: [ColumnInfo]

    static func naturalWidth(_ t: LogicalType) -> Int {
        switch t {
        case .int64, .datetime: return 8
        case .uint32, .zip5: return 4
        case .bool: return 1
        }
    }

    public init(_ store: Store) {
        path = store.path
        rows = store.rowCount
        generation = store.manifest.generation
        parts = store.parts.map { PartInfo(name: $0.path.split(separator: "/").last.map(String.init) ?? $0.path,
                                           rows: $0.footer.rowCount, rowGroups: $0.footer.rowGroups.count, bytes: $0.file.size) }
        bytes = parts.reduce(0) { $0 + $1.bytes }
        columns = EventsSchema.columns.enumerated().map { c, spec in
            var info = ColumnInfo(name: spec.name, type: spec.type.name, encodings: [:], zstdChunks: 0, chunks: 0,
                                  plainBytes: 0, encodedBytes: 0, storedBytes: 0, min: nil, max: nil)
            for part in store.parts {
                for g in part.footer.rowGroups {
                    let d = g.chunks[c]
                    info.chunks += 1
                    info.encodings[d.encoding.name, default: 0] += 1
                    if d.compression == .zstd { info.zstdChunks += 1 }
                    info.plainBytes += g.rowCount * StoreInfo.naturalWidth(spec.type)
                    info.encodedBytes += Int(d.encodedLength)
                    info.storedBytes += Int(d.storedLength)
                    info.min = Swift.min(info.min ?? d.min, d.min)
                    info.max = Swift.max(info.max ?? d.max, d.max)
                }
            }
            return info
        }
    }

    static func render(_ v: Int64?, type: String) -> String {
        guard let v else { return "" }
        if type == "DATETIME" { return CivilTime.format(v) }
        if type == "ZIP5" { return DecimalText.zip5(v) }
        return String(v)
    }

    public func text() -> String {
        var s = "store \(path): \(rows) rows in \(parts.count) part\(parts.count == 1 ? "" : "s"), \(bytes) bytes, generation \(generation)\n\n"
        s += TextTable.render(columns: ["part", "rows", "row_groups", "bytes"],
                              rows: parts.map { [$0.name, String($0.rows), String($0.rowGroups), String($0.bytes)] },
                              rightAligned: [false, true, true, true])
        s += "\n"
        s += TextTable.render(
            columns: ["column", "type", "encodings", "zstd", "plain_bytes", "encoded_bytes", "stored_bytes", "ratio", "min", "max"],
            rows: columns.map { c in
                let enc = c.encodings.sorted { $0.key < $1.key }.map { "\($0.key)x\($0.value)" }.joined(separator: " ")
                let ratio = c.storedBytes > 0 ? ((Double(c.plainBytes) / Double(c.storedBytes)) * 10).rounded() / 10 : 0
                return [c.name, c.type, enc, "\(c.zstdChunks)/\(c.chunks)", String(c.plainBytes), String(c.encodedBytes),
                        String(c.storedBytes), "\(ratio)x", StoreInfo.render(c.min, type: c.type), StoreInfo.render(c.max, type: c.type)]
            },
            rightAligned: [false, false, false, true, true, true, true, true, false, false])
        return s
    }

    public func json() -> String {
        func q(_ s: String) -> String { CellText.jsonString(s) }
        var s = "{\n  \"path\": \(q(path)),\n  \"rows\": \(rows),\n  \"bytes\": \(bytes),\n  \"generation\": \(generation),\n  \"parts\": ["
        s += parts.map { "\n    {\"name\": \(q($0.name)), \"rows\": \($0.rows), \"row_groups\": \($0.rowGroups), \"bytes\": \($0.bytes)}" }.joined(separator: ",")
        s += "\n  ],\n  \"columns\": ["
        s += columns.map { c in
            let enc = c.encodings.sorted { $0.key < $1.key }.map { "\(q($0.key)): \($0.value)" }.joined(separator: ", ")
            return "\n    {\"name\": \(q(c.name)), \"type\": \(q(c.type)), \"chunks\": \(c.chunks), \"encodings\": {\(enc)}, \"zstd_chunks\": \(c.zstdChunks), "
                + "\"plain_bytes\": \(c.plainBytes), \"encoded_bytes\": \(c.encodedBytes), \"stored_bytes\": \(c.storedBytes), "
                + "\"min\": \(c.min.map { q(StoreInfo.render($0, type: c.type)) } ?? "null"), \"max\": \(c.max.map { q(StoreInfo.render($0, type: c.type)) } ?? "null")}"
        }.joined(separator: ",")
        s += "\n  ]\n}\n"
        return s
    }
}
