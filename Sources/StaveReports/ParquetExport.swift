import StaveFormat
import StaveInterop
import StaveIO
import StaveQuery

/// Tables written as Parquet: the events (optionally split by customer into
/// several files), the customer table, and any query result.
public enum ParquetExport {
    /// The events' Parquet schema: ids as INT64, the datetime as a local
    /// TIMESTAMP in microseconds, mobile as INT32 0/1, the zip as a STRING of
    /// five digits (leading zeros kept).
    public static let eventSchema: [ParquetColumnSpec] = [
        ParquetColumnSpec("event_id", .int64),
        ParquetColumnSpec("customer_id", .int64),
        ParquetColumnSpec("track_id", .int64),
        ParquetColumnSpec("datetime", .int64, logical: .timestampMicros),
        ParquetColumnSpec("mobile", .int32),
        ParquetColumnSpec("listening_zip", .byteArray, logical: .string),
    ]

    /// Rows per row group (about 8 MB of Parquet for generated events).
    public static let rowGroupRows = 1 << 20

    /// The partition of a customer among `n` files: the high half of
    /// customer_id × 0x9E3779B97F4A7C15 (mod 2^64), modulo n. Every event of
    /// a customer lands in the same file.
    @inline(__always)
    public static func partition(of customer: Int64, among n: Int) -> Int {
        Int(((UInt64(bitPattern: customer) &* 0x9E37_79B9_7F4A_7C15) >> 32) % UInt64(n))
    }

    /// Buffers events and writes them as row groups of one file.
    public final class EventFile {
        let writer: ParquetFileWriter
        let out: OutputFile
        let groupRows: Int
        var columns = [[Int64]](repeating: [], count: 6)

        public init(out: OutputFile, groupRows: Int = ParquetExport.rowGroupRows, threads: Int) throws {
            self.out = out
            self.groupRows = groupRows
            writer = try ParquetFileWriter(output: out, schema: ParquetExport.eventSchema, threads: threads)
        }

        public var rows: Int { writer.rows + columns[0].count }

        public func append(_ c: [[Int64]], rows range: Range<Int>) throws {
            var start = range.lowerBound
            while start < range.upperBound {
                let take = min(range.upperBound - start, groupRows - columns[0].count)
                for k in 0..<6 { columns[k] += c[k][start..<(start + take)] }
                start += take
                if columns[0].count >= groupRows { try flush() }
            }
        }

        public func append(row c: [[Int64]], _ i: Int) throws {
            for k in 0..<6 { columns[k].append(c[k][i]) }
            if columns[0].count >= groupRows { try flush() }
        }

        func flush() throws {
            let n = columns[0].count
            guard n > 0 else { return }
            var zipBytes = [UInt8](repeating: 0, count: 5 * n)
            for (i, z) in columns[EventsSchema.zip].enumerated() {
                var v = z
                for d in stride(from: 4, through: 0, by: -1) { zipBytes[5 * i + d] = UInt8(48 + v % 10); v /= 10 }
            }
            try writer.writeRowGroup([
                ParquetColumnData(.int64(columns[EventsSchema.eventID])),
                ParquetColumnData(.int64(columns[EventsSchema.customerID])),
                ParquetColumnData(.int64(columns[EventsSchema.trackID])),
                // Seconds to microseconds: |seconds| < 2.6e11, far from overflow.
                ParquetColumnData(.int64(columns[EventsSchema.datetime].map { $0 * 1_000_000 })),
                ParquetColumnData(.int32(columns[EventsSchema.mobile].map { Int32($0) })),
                ParquetColumnData(.byteArray(offsets: Array(stride(from: 0, through: 5 * n, by: 5)), bytes: zipBytes)),
            ], rows: n)
            for k in 0..<6 { columns[k].removeAll(keepingCapacity: true) }
        }

        /// Writes the last row group and the footer, and commits the file.
        public func finish() throws {
            try flush()
            try writer.finish()
            try out.commit()
        }
    }

    /// The customer table with typed columns: sign_date as DATE, the codes as
    /// INT32, level and campaign by name.
    public static func writeCustomers(_ t: CustomerTable, to out: OutputFile, threads: Int) throws {
        let schema = [
            ParquetColumnSpec("customer_id", .int64), ParquetColumnSpec("name", .byteArray, logical: .string),
            ParquetColumnSpec("gender", .int32), ParquetColumnSpec("address", .byteArray, logical: .string),
            ParquetColumnSpec("zip", .byteArray, logical: .string), ParquetColumnSpec("sign_date", .int32, logical: .date),
            ParquetColumnSpec("status", .int32), ParquetColumnSpec("level", .byteArray, logical: .string),
            ParquetColumnSpec("campaign", .byteArray, logical: .string), ParquetColumnSpec("linked_with_apps", .int32),
        ]
        let w = try ParquetFileWriter(output: out, schema: schema, threads: threads)
        var start = 0
        while start < t.count {
            let end = min(t.count, start + rowGroupRows)
            let rows = start..<end
            func strings(_ f: (Int) throws -> String) rethrows -> ParquetColumnData {
                var offsets = [0], bytes: [UInt8] = []
                for r in rows { bytes += Array(try f(r).utf8); offsets.append(bytes.count) }
                return ParquetColumnData(.byteArray(offsets: offsets, bytes: bytes))
            }
            try w.writeRowGroup([
                ParquetColumnData(.int64(rows.map { Int64(t.ids[$0]) })),
                try strings { try t.name($0) },
                ParquetColumnData(.int32(rows.map { Int32(t.gender[$0]) })),
                try strings { try t.address($0) },
                strings { DecimalText.zip5(Int64(t.zip[$0])) },
                ParquetColumnData(.int32(rows.map { Int32(t.signDate[$0]) })),
                ParquetColumnData(.int32(rows.map { Int32(t.status[$0]) })),
                strings { CustomersSchema.levelNames[Int(t.level[$0])] },
                strings { CustomersSchema.campaignNames[Int(t.campaign[$0])] },
                ParquetColumnData(.int32(rows.map { Int32(t.linked[$0]) })),
            ], rows: rows.count)
            start = end
        }
        try w.finish()
    }
}

extension ResultTable {
    /// The column types of a result for Parquet and Arrow: INT64 when every
    /// value is an integer, DOUBLE when they are numbers, else STRING; a
    /// column with a null is optional (nullable).
    public enum ColumnKind: Sendable { case int64, double, string }

    public func columnKinds() -> [(kind: ColumnKind, nullable: Bool)] {
        columns.indices.map { k in
            var kind: ColumnKind? = nil
            var nullable = false
            for row in rows {
                switch row[k] {
                case .null: nullable = true
                case .int: if kind == nil { kind = .int64 }
                case .double: if kind != .string { kind = .double }
                case .string: kind = .string
                }
            }
            return (kind ?? .int64, nullable)
        }
    }

    /// The result as one Parquet file (row groups of a million rows).
    public func writeParquet(to out: OutputFile, threads: Int = 2) throws {
        let kinds = columnKinds()
        let schema = zip(columns, kinds).map { name, k -> ParquetColumnSpec in
            switch k.kind {
            case .int64: return ParquetColumnSpec(name, .int64, optional: k.nullable)
            case .double: return ParquetColumnSpec(name, .double, optional: k.nullable)
            case .string: return ParquetColumnSpec(name, .byteArray, logical: .string, optional: k.nullable)
            }
        }
        let w = try ParquetFileWriter(output: out, schema: schema, threads: threads)
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + ParquetExport.rowGroupRows)
            var data: [ParquetColumnData] = []
            for (k, kind) in kinds.enumerated() {
                let present: [Bool]? = kind.nullable ? rows[start..<end].map { $0[k] != .null } : nil
                switch kind.kind {
                case .int64:
                    data.append(ParquetColumnData(.int64(rows[start..<end].compactMap { if case .int(let v) = $0[k] { return v }; return nil }), present: present))
                case .double:
                    data.append(ParquetColumnData(.double(rows[start..<end].compactMap {
                        switch $0[k] { case .double(let v): return v; case .int(let v): return Double(v); default: return nil }
                    }), present: present))
                case .string:
                    var offsets = [0], bytes: [UInt8] = []
                    for row in rows[start..<end] where row[k] != .null {
                        bytes += Array(CellText.plain(row[k]).utf8)
                        offsets.append(bytes.count)
                    }
                    data.append(ParquetColumnData(.byteArray(offsets: offsets, bytes: bytes), present: present))
                }
            }
            try w.writeRowGroup(data, rows: end - start)
            start = end
        }
        try w.finish()
    }
}

extension ResultTable {
    /// The result as an Arrow IPC stream (one record batch).
    public func writeArrow(to out: OutputFile) throws {
        try out.write(ArrowStream.encode(arrowColumns(), rows: rows.count))
    }

    /// The result's columns as Arrow arrays (the IPC stream's and the C
    /// interface's): int64, float64 or utf8 as `columnKinds` says.
    public func arrowColumns() -> [ArrowColumn] {
        zip(self.columns, columnKinds()).enumerated().map { k, pair -> ArrowColumn in
            let (name, kind) = pair
            let valid: [Bool]? = kind.nullable ? rows.map { $0[k] != .null } : nil
            switch kind.kind {
            case .int64:
                return ArrowColumn(name: name, values: .int64(rows.map { if case .int(let v) = $0[k] { return v }; return 0 }), valid: valid)
            case .double:
                return ArrowColumn(name: name, values: .float64(rows.map {
                    switch $0[k] { case .double(let v): return v; case .int(let v): return Double(v); default: return 0 }
                }), valid: valid)
            case .string:
                var offsets: [Int32] = [0], bytes: [UInt8] = []
                for row in rows {
                    if row[k] != .null { bytes += Array(CellText.plain(row[k]).utf8) }
                    offsets.append(Int32(bytes.count))
                }
                return ArrowColumn(name: name, values: .utf8(offsets: offsets, bytes: bytes), valid: valid)
            }
        }
    }
}
