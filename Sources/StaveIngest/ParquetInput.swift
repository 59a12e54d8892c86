import StaveFormat
import StaveInterop

/// Events from a Parquet file (what DuckDB, PyArrow and Spark write): the
/// six columns found by name, whatever their order, each in any of the
/// physical and logical types those tools use for it:
///
/// - event_id, customer_id, track_id: INT32 or INT64;
/// - datetime: INT64 TIMESTAMP (millis, micros or nanos; the converted types
///   TIMESTAMP_MILLIS/MICROS too), INT96 (Spark's default), or a string
///   `YYYY-MM-DD HH:MM:SS`; a UTC-adjusted timestamp is read as its UTC wall
///   clock; fractions of a second are an error (stave stores seconds);
/// - mobile: BOOLEAN, INT32 or INT64 (0 or 1);
/// - listening_zip: a string of five digits, or INT32/INT64 0...99999 (a zip
///   read as a number has lost its leading zeros; five digits restore them).
///
/// Value errors come as RowError with the row number (1-based, in file
/// order) standing for the line, so they go through the CSV path's rules:
/// an error, or with --skip-bad-rows a rejects line.
struct ParquetEvents {
    let file: ParquetFile
    /// Column index per stave column (EventsSchema order).
    let index: [Int]

    enum TimeKind { case seconds(divisor: Int64), int96, text }
    let time: TimeKind

    init(path: String) throws {
        let file = try ParquetFile(path: path)
        self.file = file
        var index: [Int] = []
        for name in EventsSchema.columnNames {
            guard let k = file.columns.firstIndex(where: { $0.name.lowercased() == name }) else {
                throw ParquetError(file: path, message: "no column '\(name)' (the file has: \(file.columns.map(\.name).joined(separator: ", ")); stave needs \(EventsSchema.columnNames.joined(separator: ", ")))")
            }
            index.append(k)
        }
        self.index = index
        let found = index
        func type(_ role: Int) -> ParquetColumnInfo { file.columns[found[role]] }
        func unsupported(_ role: Int, _ expected: String) -> ParquetError {
            let c = type(role)
            return ParquetError(file: path, message: "column '\(c.name)' is \(c.type)\(c.logicalKind.map { " (logical type \($0))" } ?? ""); stave reads it from \(expected)")
        }
        for role in [EventsSchema.eventID, EventsSchema.customerID, EventsSchema.trackID] where ![.int32, .int64].contains(type(role).type) {
            throw unsupported(role, "INT32 or INT64")
        }
        if ![.boolean, .int32, .int64].contains(type(EventsSchema.mobile).type) { throw unsupported(EventsSchema.mobile, "BOOLEAN, INT32 or INT64") }
        if ![.byteArray, .int32, .int64].contains(type(EventsSchema.zip).type) { throw unsupported(EventsSchema.zip, "a string or INT32/INT64") }
        let dt = type(EventsSchema.datetime)
        var kind: TimeKind
        switch dt.type {
        case .int96: kind = .int96
        case .byteArray: kind = .text
        case .int64:
            guard let unit = dt.timestampUnit else { throw unsupported(EventsSchema.datetime, "INT64 TIMESTAMP, INT96 or a string") }
            kind = .seconds(divisor: unit.perSecond)
        default: throw unsupported(EventsSchema.datetime, "INT64 TIMESTAMP, INT96 or a string")
        }
        time = kind
    }

    /// Decodes row group `g` and calls `row` for each row in order, with its
    /// 1-based row number in the file. Columns are converted whole (no
    /// per-row allocation); the first error of a row, in column order, is
    /// the one reported.
    func forEachRow(group g: Int, firstRow: Int, _ row: (Int, Result<EventRow, RowError>) throws -> Void) throws {
        let n = file.rows(inGroup: g)
        var columns: [[Int64]] = []
        var errors: [Int: RowError] = [:]
        for role in 0..<EventsSchema.columnNames.count {
            let (values, present) = try file.read(group: g, column: index[role])
            columns.append(convert(role, values, present: present, rows: n, errors: &errors))
        }
        for r in 0..<n {
            if let e = errors[r] {
                try row(firstRow + r, .failure(e))
                continue
            }
            try row(firstRow + r, .success(EventRow(eventID: columns[0][r], customerID: UInt32(columns[1][r]), trackID: UInt32(columns[2][r]),
                                                    datetime: columns[3][r], mobile: UInt8(columns[4][r]), zip: UInt32(columns[5][r]))))
        }
    }

    /// One column as stave stores it: a value per row (0 where the row is
    /// bad), checked in one pass; the first error of a row, in column order,
    /// is kept in `errors`.
    func convert(_ role: Int, _ values: ParquetRead, present: [Bool]?, rows n: Int, errors: inout [Int: RowError]) -> [Int64] {
        let name = EventsSchema.columnNames[role]
        var out = [Int64](repeating: 0, count: n)
        /// Row r holding the k-th non-null value, for every present row.
        func rowsWithValues(_ body: (_ r: Int, _ k: Int) -> Void) {
            if let present {
                var k = 0
                for r in 0..<n {
                    if present[r] { body(r, k); k += 1 } else if errors[r] == nil {
                        errors[r] = RowError(column: role + 1, message: "\(name) is null", field: "")
                    }
                }
            } else {
                for r in 0..<n { body(r, r) }
            }
        }
        func bad(_ r: Int, _ message: String, _ field: String) {
            if errors[r] == nil { errors[r] = RowError(column: role + 1, message: message, field: field) }
        }
        switch (role, values) {
        case (EventsSchema.eventID, .integers(let v)):
            rowsWithValues { r, k in if v[k] >= 0 { out[r] = v[k] } else { bad(r, "\(name) is negative", String(v[k])) } }
        case (EventsSchema.customerID, .integers(let v)), (EventsSchema.trackID, .integers(let v)):
            rowsWithValues { r, k in
                if v[k] >= 0 && v[k] <= Int64(UInt32.max) { out[r] = v[k] } else { bad(r, "\(name) out of range 0...\(UInt32.max)", String(v[k])) }
            }
        case (EventsSchema.mobile, .integers(let v)):
            rowsWithValues { r, k in if v[k] == 0 || v[k] == 1 { out[r] = v[k] } else { bad(r, "mobile must be 0 or 1", String(v[k])) } }
        case (EventsSchema.zip, .integers(let v)):
            rowsWithValues { r, k in if v[k] >= 0 && v[k] <= 99_999 { out[r] = v[k] } else { bad(r, "listening_zip out of range 0...99999", String(v[k])) } }
        case (EventsSchema.zip, .byteArrays(let o, let b)):
            rowsWithValues { r, k in
                var z: Int64 = 0
                var ok = o[k + 1] - o[k] == 5
                if ok {
                    for i in o[k]..<o[k + 1] {
                        let d = b[i] &- 48
                        if d > 9 { ok = false; break }
                        z = z * 10 + Int64(d)
                    }
                }
                if ok { out[r] = z } else { bad(r, "listening_zip is not five digits", String(decoding: b[o[k]..<o[k + 1]].prefix(60), as: UTF8.self)) }
            }
        case (EventsSchema.datetime, .integers(let v)):
            guard case .seconds(let divisor) = time else { break }
            rowsWithValues { r, k in
                let (q, rem) = v[k].quotientAndRemainder(dividingBy: divisor)
                if rem != 0 { return bad(r, "datetime has a fraction of a second (stave stores whole seconds)", String(v[k])) }
                switch Self.checkedSeconds(q) {
                case .success(let s): out[r] = s
                case .failure(let e): bad(r, e.message, e.field)
                }
            }
        case (EventsSchema.datetime, .int96(let v)):
            // Julian day 2440588 is 1970-01-01.
            rowsWithValues { r, k in
                let (nanos, day) = v[k]
                guard nanos >= 0, nanos < 86_400 * 1_000_000_000 else { return bad(r, "datetime INT96 time of day out of range", String(nanos)) }
                guard nanos % 1_000_000_000 == 0 else { return bad(r, "datetime has a fraction of a second (stave stores whole seconds)", String(nanos)) }
                switch Self.checkedSeconds((day - 2_440_588) * 86_400 + nanos / 1_000_000_000) {
                case .success(let s): out[r] = s
                case .failure(let e): bad(r, e.message, e.field)
                }
            }
        case (EventsSchema.datetime, .byteArrays(let o, let b)):
            b.withUnsafeBufferPointer { buf in
                rowsWithValues { r, k in
                    let count = o[k + 1] - o[k]
                    guard count > 0, let base = buf.baseAddress else { return bad(r, "datetime is empty", "") }
                    switch CivilTime.parse(base + o[k], count: count) {
                    case .success(let v): out[r] = v
                    case .failure(let e): bad(r, "datetime: \(e.message)", String(decoding: b[o[k]..<o[k + 1]].prefix(60), as: UTF8.self))
                    }
                }
            }
        default:
            rowsWithValues { r, _ in bad(r, "\(name) has an unexpected type", "") }
        }
        return out
    }

    static func checkedSeconds(_ s: Int64) -> Result<Int64, RowError> {
        guard s >= CivilTime.minSeconds, s <= CivilTime.maxSeconds else {
            return .failure(RowError(column: EventsSchema.datetime + 1, message: "datetime outside years 1...9999", field: String(s)))
        }
        return .success(s)
    }
}
