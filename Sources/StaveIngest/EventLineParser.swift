import StaveFormat

/// One parsed tracks.csv row.
public struct EventRow: Equatable, Sendable {
    public var eventID: Int64
    public var customerID: UInt32
    public var trackID: UInt32
    /// datetime, listening zip and mobile packed into one word, so a row is
    /// 24 bytes instead of 32: a convert holds up to two buffers of rows
    /// (the one being parsed and the one being sorted and spilled), and this
    /// is a quarter of its peak memory. Bits 0..<39: seconds since
    /// CivilTime.minSeconds (years 1...9999 span 3.2e11 s < 2^39); bits
    /// 39..<56: zip (at most 99,999 < 2^17); bits 56..<64: mobile.
    @usableFromInline var packed: UInt64

    @usableFromInline static let datetimeBits: UInt64 = 39
    @usableFromInline static let zipBits: UInt64 = 17
    @usableFromInline static let datetimeMask: UInt64 = (1 << datetimeBits) - 1
    @usableFromInline static let zipMask: UInt64 = (1 << zipBits) - 1

    /// - Precondition: datetime in CivilTime.minSeconds...maxSeconds and zip
    ///   at most 99,999 (every reader of rows validates both first).
    public init(eventID: Int64, customerID: UInt32, trackID: UInt32, datetime: Int64, mobile: UInt8, zip: UInt32) {
        self.eventID = eventID
        self.customerID = customerID
        self.trackID = trackID
        self.packed = 0
        self.datetime = datetime
        self.zip = zip
        self.mobile = mobile
    }

    public var datetime: Int64 {
        @inline(__always) get { Int64(packed & Self.datetimeMask) &+ CivilTime.minSeconds }
        @inline(__always) set {
            precondition(newValue >= CivilTime.minSeconds && newValue <= CivilTime.maxSeconds, "datetime in years 1...9999")
            packed = (packed & ~Self.datetimeMask) | UInt64(newValue &- CivilTime.minSeconds)
        }
    }

    public var zip: UInt32 {
        @inline(__always) get { UInt32(truncatingIfNeeded: (packed >> Self.datetimeBits) & Self.zipMask) }
        @inline(__always) set {
            precondition(newValue <= 99_999, "zip has five digits")
            packed = (packed & ~(Self.zipMask << Self.datetimeBits)) | (UInt64(newValue) << Self.datetimeBits)
        }
    }

    public var mobile: UInt8 {
        @inline(__always) get { UInt8(truncatingIfNeeded: packed >> 56) }
        @inline(__always) set { packed = (packed & ((1 << 56) - 1)) | (UInt64(newValue) << 56) }
    }
}

/// What is wrong with a row: 1-based byte column of the field (or of the
/// offending character), a message, and the field text.
public struct RowError: Error, Equatable, Sendable {
    public var column: Int
    public var message: String
    public var field: String
}

/// Parses one line of tracks.csv (RFC 4180 fields: bare or double-quoted,
/// "" inside quotes for a quote). The six fields are
/// event_id,customer_id,track_id,datetime,mobile,listening_zip.
///
/// The schema has no field that may hold a line break, so a line is always
/// one record: a quote left open at the end of a line is an error.
public enum EventLineParser {
    public static let fieldCount = 6

    /// `line` excludes the line terminator ("\n" and a preceding "\r").
    public static func parse(_ line: UnsafeBufferPointer<UInt8>) -> Result<EventRow, RowError> {
        if let row = parseExportShape(line) { return .success(row) }
        return parseGeneral(line)
    }

    /// The fast path: exactly the original export's shape,
    /// `digits,digits,digits,"YYYY-MM-DD HH:MM:SS",0|1,"ddddd"`. Returns nil
    /// on any deviation, valid or not; `parseGeneral` then decides, so the
    /// result (row or error) is always the general parser's (tested).
    @inline(__always)
    public static func parseExportShape(_ line: UnsafeBufferPointer<UInt8>) -> EventRow? {
        guard let p = line.baseAddress, line.count >= 37 else { return nil }
        let n = line.count
        var i = 0
        // A number of at most `digits` digits (19 for event ids, 10 for
        // UInt32 ids), in a UInt64 that so many digits cannot overflow: no
        // overflow checks per digit, one range check at the end. More
        // digits (leading zeros) take the general path.
        @inline(__always) func number(_ digits: Int, _ limit: UInt64) -> UInt64? {
            var v: UInt64 = 0
            let start = i
            let end = min(n, i + digits + 1)
            while i < end {
                let d = p[i] &- 48
                if d > 9 { break }
                v = v &* 10 &+ UInt64(d)
                i += 1
            }
            guard i > start, i - start <= digits, v <= limit, i < n, p[i] == 44 else { return nil }
            i += 1
            return v
        }
        guard let event = number(19, UInt64(Int64.max)), let customer = number(10, UInt64(UInt32.max)),
              let track = number(10, UInt64(UInt32.max)) else { return nil }
        // "datetime",m,"zip" is exactly 19 + 2 + 1 + 1 + 1 + 7 = 31 bytes.
        guard n - i == 31, p[i] == 34, p[i + 20] == 34, p[i + 21] == 44, p[i + 23] == 44,
              p[i + 24] == 34, p[i + 30] == 34 else { return nil }
        guard case .success(let when) = CivilTime.parse(p + i + 1, count: 19) else { return nil }
        let m = p[i + 22] &- 48
        guard m <= 1 else { return nil }
        var zip: UInt32 = 0
        for k in (i + 25)..<(i + 30) {
            let d = p[k] &- 48
            guard d <= 9 else { return nil }
            zip = zip * 10 + UInt32(d)
        }
        return EventRow(eventID: Int64(event), customerID: UInt32(customer), trackID: UInt32(track),
                        datetime: when, mobile: m, zip: zip)
    }

    /// Any RFC 4180 line, with a precise error for every malformed one:
    /// split by `CSVLine.forEachField`, each field converted as it comes (so
    /// the first error in the line is the one reported).
    public static func parseGeneral(_ line: UnsafeBufferPointer<UInt8>) -> Result<EventRow, RowError> {
        var row = EventRow(eventID: 0, customerID: 0, trackID: 0, datetime: 0, mobile: 0, zip: 0)
        let n = line.count
        guard n > 0, let p = line.baseAddress else { return .failure(RowError(column: 1, message: "empty line", field: "")) }
        var field = 0
        let error = CSVLine.forEachField(line) { column, value in
            if field >= fieldCount {
                return RowError(column: column, message: "too many fields (expected \(fieldCount))", field: CSVLine.echo(line, from: column - 1))
            }
            // After a trailing comma: the field is missing, not malformed.
            if column > n { return RowError(column: column, message: "empty \(EventsSchema.columns[field].name)", field: "") }
            if var e = convert(field, value.baseAddress ?? p, value.count, &row) {
                e.column = column
                return e
            }
            field += 1
            return nil
        }
        if let error { return .failure(error) }
        guard field == fieldCount else {
            return .failure(RowError(column: n + 1, message: "expected \(fieldCount) fields, found \(field)", field: text(p, n)))
        }
        return .success(row)
    }

    /// A field or line as an error shows it (`CSVLine.echo`).
    static func text(_ p: UnsafePointer<UInt8>, _ n: Int) -> String { CSVLine.echo(p, n) }

    /// Converts field `index`'s value; nil on success.
    @inline(__always)
    static func convert(_ index: Int, _ p: UnsafePointer<UInt8>, _ n: Int, _ row: inout EventRow) -> RowError? {
        // The column name is needed only for a message: computed on the error path.
        var name: String { EventsSchema.columns[index].name }
        switch index {
        case EventsSchema.eventID, EventsSchema.customerID, EventsSchema.trackID:
            guard n > 0 else { return RowError(column: 0, message: "empty \(name)", field: "") }
            let limit: UInt64 = index == EventsSchema.eventID ? UInt64(Int64.max) : UInt64(UInt32.max)
            var v: UInt64 = 0
            for k in 0..<n {
                let d = p[k] &- 48
                guard d <= 9 else { return RowError(column: 0, message: "\(name) is not a non-negative integer", field: text(p, n)) }
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(d))
                guard !o1, !o2, s <= limit else { return RowError(column: 0, message: "\(name) out of range (max \(limit))", field: text(p, n)) }
                v = s
            }
            switch index {
            case EventsSchema.eventID: row.eventID = Int64(v)
            case EventsSchema.customerID: row.customerID = UInt32(v)
            default: row.trackID = UInt32(v)
            }
        case EventsSchema.datetime:
            switch CivilTime.parse(p, count: n) {
            case .success(let s): row.datetime = s
            case .failure(let e): return RowError(column: 0, message: "bad datetime: \(e.message)", field: text(p, n))
            }
        case EventsSchema.mobile:
            guard n == 1, p[0] == 48 || p[0] == 49 else { return RowError(column: 0, message: "mobile must be 0 or 1", field: text(p, n)) }
            row.mobile = p[0] - 48
        default:
            guard n == 5 else { return RowError(column: 0, message: "listening_zip must be exactly 5 digits", field: text(p, n)) }
            var v: UInt32 = 0
            for k in 0..<5 {
                let d = p[k] &- 48
                guard d <= 9 else { return RowError(column: 0, message: "listening_zip must be exactly 5 digits", field: text(p, n)) }
                v = v * 10 + UInt32(d)
            }
            row.zip = v
        }
        return nil
    }

    /// True when the first field of a line is not a number: then the line is
    /// taken for a header (unless --no-header says otherwise).
    public static func looksLikeHeader(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        var k = 0
        if k < line.count && line[k] == UInt8(ascii: "\"") { k += 1 }
        guard k < line.count else { return false }
        let c = line[k]
        return !(c >= 48 && c <= 57)
    }
}
