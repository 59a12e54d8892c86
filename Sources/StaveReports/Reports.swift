import StaveFormat
import StaveInterop
import StaveIO
import StaveQuery

public enum ProfileReport {
    public static let columns = ["customer_id"] + Profile.columnNames

    public static func table(_ p: Profile) -> ResultTable {
        var t = ResultTable(columns: columns)
        t.rows.reserveCapacity(p.count)
        for i in 0..<p.count { t.rows.append(cells(p, i)) }
        return t
    }

    static func cells(_ p: Profile, _ i: Int) -> [Cell] {
        [.int(Int64(p.customer[i])), .int(p.uniqueTracks[i]), .int(p.morning[i]), .int(p.afternoon[i]),
         .int(p.evening[i]), .int(p.night[i]), .int(p.mobile[i]), .int(p.total(i))]
    }

    /// The rows of `page`, in its order: sorted by its column (ties by
    /// customer id, ascending), then `offset` rows skipped and at most
    /// `limit` kept.
    public static func rows(_ p: Profile, page: ProfilePage) -> [Int] {
        var order = Array(0..<p.count)
        if let sort = page.sort, sort != "customer_id", let k = Profile.columnNames.firstIndex(of: sort) {
            let key = p.column(k)
            let descending = page.order == .desc
            order.sort { a, b in key[a] != key[b] ? (descending ? key[a] > key[b] : key[a] < key[b]) : a < b }
        } else if page.order == .desc {
            order.reverse()
        }
        let start = min(page.offset, order.count)
        // min first: start + limit overflows for limits near Int.max.
        let end = page.limit.map { start + min(order.count - start, $0) } ?? order.count
        return Array(order[start..<end])
    }

    /// The page of the profile, with the customer table's attributes when
    /// `customers` is given.
    public static func table(_ p: Profile, page: ProfilePage, customers: CustomerTable?) throws -> ResultTable {
        let rows = page.isWhole ? Array(0..<p.count) : self.rows(p, page: page)
        var t = ResultTable(columns: columns + (customers == nil ? [] : customerColumns))
        t.rows.reserveCapacity(rows.count)
        for i in rows {
            var row = cells(p, i)
            if let customers { row += try attributes(of: p.customer[i], in: customers) }
            t.rows.append(row)
        }
        return t
    }

    /// CSV straight from the columns (the common case, no cells).
    /// Rows are formatted in blocks of 16,384 (on two threads: a million
    /// customers are 40 MB of text), each into one buffer with no
    /// allocation per row, and written in order.
    public static func writeCSV(_ p: Profile, to out: OutputFile, threads: Int = 2) throws {
        try writeCSVHeader(to: out)
        try writeCSVRows(p, to: out, threads: threads)
    }

    public static func writeCSVHeader(to out: OutputFile, naming: ColumnNaming = .current) throws {
        try out.write(columns.map { naming.name($0, in: .stats) }.joined(separator: ",") + "\n")
    }

    /// The rows of `p` (no header), so a profile given a slice at a time
    /// writes the same bytes as at once (ProfileCSV.writeRow, as the walk's
    /// CSV does).
    public static func writeCSVRows(_ p: Profile, to out: OutputFile, threads: Int = 2) throws {
        let rowBytes = ProfileCSV.maxRowBytes
        let blockRows = 16_384
        let blocks = (p.count + blockRows - 1) / blockRows
        var k = 0
        while k < blocks {
            // A few blocks at a time, so that memory holds a few MB of text.
            let batch = min(blocks - k, 2 * max(1, threads))
            let first = k
            let texts = try Parallel.map(batch, threads: threads) { b -> [UInt8] in
                let i = (first + b) * blockRows, end = min(p.count, i + blockRows)
                return [UInt8](unsafeUninitializedCapacity: (end - i) * rowBytes) { buf, n in
                    var q = buf.baseAddress!
                    p.customer.withUnsafeBufferPointer { cu in
                    p.uniqueTracks.withUnsafeBufferPointer { un in
                    p.morning.withUnsafeBufferPointer { mo in
                    p.afternoon.withUnsafeBufferPointer { af in
                    p.evening.withUnsafeBufferPointer { ev in
                    p.night.withUnsafeBufferPointer { ni in
                    p.mobile.withUnsafeBufferPointer { mb in
                        // Every column has p.count values (Profile), and
                        // r < p.count; each row has rowBytes of room.
                        for r in i..<end {
                            q += ProfileCSV.writeRow(customer: cu[r], unique: un[r], morning: mo[r], afternoon: af[r], evening: ev[r],
                                                     night: ni[r], mobile: mb[r], to: q)
                        }
                    }
                    }
                    }
                    }
                    }
                    }
                    }
                    n = q - buf.baseAddress!
                }
            }
            for t in texts { try out.write(t) }
            k += batch
        }
    }

    public static func write(_ p: Profile, format: OutputFormat, to out: OutputFile) throws {
        switch format {
        case .csv: try writeCSV(p, to: out)
        case .arrow: try out.write(ArrowStream.encode(arrowColumns(p), rows: p.count))
        default: try table(p).write(format, to: out)
        }
    }

    /// The profile's columns as Arrow arrays, straight from its columns
    /// (the same arrays, types and names as `table(p).arrowColumns()`,
    /// without a cell per value).
    public static func arrowColumns(_ p: Profile, naming: ColumnNaming = .current) -> [ArrowColumn] {
        var plays = [Int64](repeating: 0, count: p.count)
        for i in 0..<p.count { plays[i] = p.morning[i] &+ p.afternoon[i] &+ p.evening[i] &+ p.night[i] }
        let values: [[Int64]] = [p.customer.map { Int64($0) }, p.uniqueTracks, p.morning, p.afternoon, p.evening, p.night, p.mobile, plays]
        return zip(columns, values).map { ArrowColumn(name: naming.name($0, in: .stats), values: .int64($1)) }
    }
}

public enum StatsReport {
    public static let columns = ["column", "count", "mean", "variance", "stddev", "min", "max", "num_nonzeros", "norm_l1", "norm_l2"]

    static func cells(_ s: ColumnStats) -> [Cell] {
        [.string(s.column), .int(Int64(s.count)), s.mean.map(Cell.double) ?? .null, s.variance.map(Cell.double) ?? .null,
         s.stddev.map(Cell.double) ?? .null, s.min.map(Cell.int) ?? .null, s.max.map(Cell.int) ?? .null,
         .int(Int64(s.numNonzeros)), .double(s.normL1), .double(s.normL2)]
    }

    public static func table(_ stats: [ColumnStats]) -> ResultTable {
        ResultTable(columns: columns, rows: stats.map(cells))
    }

    /// CSV, NDJSON and table: one row per column. JSON: one object keyed by column name.
    public static func write(_ stats: [ColumnStats], format: OutputFormat, to out: OutputFile) throws {
        guard format == .json else { return try table(stats).write(format, to: out) }
        var b: [UInt8] = Array("{".utf8)
        for (k, s) in stats.enumerated() {
            b += Array((k == 0 ? "\n  " : ",\n  ").utf8)
            CellText.appendJSONString(s.column, to: &b)
            b += Array(": {".utf8)
            let row = cells(s)
            for f in 1..<columns.count {
                if f > 1 { b += Array(", ".utf8) }
                CellText.appendJSONString(columns[f], to: &b)
                b += Array(": ".utf8)
                CellText.appendJSON(row[f], to: &b)
            }
            b += Array("}".utf8)
        }
        b += Array("\n}\n".utf8)
        try out.write(b)
    }
}

/// Events written back out: CSV in the original export's shape (datetime and
/// zip quoted), or JSON / NDJSON / table with typed values.
public enum EventExport {
    /// Fixed widths of the table format (rows stream row group by row group,
    /// so widths cannot come from the data): wide enough for every value.
    static let tableWidths = [19, 11, 10, 19, 6, 13]

    public static func writeHeader(format: OutputFormat, header: Bool, to out: OutputFile) throws {
        if format == .csv && header { try out.write(EventsSchema.columnNames.joined(separator: ",") + "\n") }
        if format == .json { try out.write("[") }
        if format == .table {
            let names = EventsSchema.columnNames
            try out.write(names.indices.map { pad(names[$0], tableWidths[$0], right: false) }.joined(separator: "  ") + "\n")
            try out.write(tableWidths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n")
        }
    }

    static func pad(_ s: String, _ width: Int, right: Bool) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }

    public static func writeRows(_ cols: EventColumns, format: OutputFormat, first: inout Bool, to out: OutputFile) throws {
        let ev = cols.columns[EventsSchema.eventID], cu = cols.columns[EventsSchema.customerID]
        let tr = cols.columns[EventsSchema.trackID], dt = cols.columns[EventsSchema.datetime]
        let mo = cols.columns[EventsSchema.mobile], zi = cols.columns[EventsSchema.zip]
        var stamp = [UInt8](repeating: 0, count: 19)
        switch format {
        case .csv, .json, .ndjson:
            for i in 0..<cols.count {
                stamp.withUnsafeMutableBufferPointer { CivilTime.format(dt[i], into: $0.baseAddress!) }
                let isFirst = first
                first = false
                try out.withBuffer { b in
                    if format == .csv {
                        DecimalText.append(signed: ev[i], to: &b); b.append(44)
                        DecimalText.append(signed: cu[i], to: &b); b.append(44)
                        DecimalText.append(signed: tr[i], to: &b); b.append(44); b.append(34)
                        b += stamp
                        b.append(34); b.append(44)
                        DecimalText.append(signed: mo[i], to: &b); b.append(44); b.append(34)
                        DecimalText.append(UInt64(zi[i]), to: &b, width: 5)
                        b.append(34); b.append(10)
                    } else {
                        if format == .json { b += Array((isFirst ? "\n" : ",\n").utf8) }
                        b += Array("{\"event_id\":".utf8); DecimalText.append(signed: ev[i], to: &b)
                        b += Array(",\"customer_id\":".utf8); DecimalText.append(signed: cu[i], to: &b)
                        b += Array(",\"track_id\":".utf8); DecimalText.append(signed: tr[i], to: &b)
                        b += Array(",\"datetime\":\"".utf8); b += stamp
                        b += Array("\",\"mobile\":".utf8); DecimalText.append(signed: mo[i], to: &b)
                        b += Array(",\"listening_zip\":\"".utf8); DecimalText.append(UInt64(zi[i]), to: &b, width: 5)
                        b += Array("\"}".utf8)
                        if format == .ndjson { b.append(10) }
                    }
                }
            }
        case .table:
            for i in 0..<cols.count {
                let cells = [String(ev[i]), String(cu[i]), String(tr[i]), CivilTime.format(dt[i]), String(mo[i]), DecimalText.zip5(zi[i])]
                let right = [true, true, true, false, true, false]
                try out.write(cells.indices.map { pad(cells[$0], tableWidths[$0], right: right[$0]) }.joined(separator: "  ") + "\n")
            }
            first = first && cols.count == 0
        case .parquet, .arrow:
            throw StaveError.usage("events are written as Parquet by ParquetExport.EventFile, not row by row")
        }
    }

    public static func writeFooter(format: OutputFormat, wroteAny: Bool, to out: OutputFile) throws {
        if format == .json { try out.write(wroteAny ? "\n]\n" : "]\n") }
    }
}
