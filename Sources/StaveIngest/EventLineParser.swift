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
    static let maxFieldEcho = 60

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
        @inline(__always) func number(_ limit: UInt64) -> UInt64? {
            var v: UInt64 = 0
            let start = i
            while i < n {
                let d = p[i] &- 48
                if d > 9 { break }
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(d))
                if o1 || o2 || s > limit { return nil }
                v = s
                i += 1
            }
            guard i > start, i < n, p[i] == 44 else { return nil }
            i += 1
            return v
        }
        guard let event = number(UInt64(Int64.max)), let customer = number(UInt64(UInt32.max)),
              let track = number(UInt64(UInt32.max)) else { return nil }
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

    /// Any RFC 4180 line, with a precise error for every malformed one.
    public static func parseGeneral(_ line: UnsafeBufferPointer<UInt8>) -> Result<EventRow, RowError> {
        var row = EventRow(eventID: 0, customerID: 0, trackID: 0, datetime: 0, mobile: 0, zip: 0)
        let n = line.count
        if n == 0 { return .failure(RowError(column: 1, message: "empty line", field: "")) }
        guard let p = line.baseAddress else { return .failure(RowError(column: 1, message: "empty line", field: "")) }
        var pos = 0
        var field = 0
        // Scratch for fields with escaped quotes: the rare path.
        var unescaped: [UInt8] = []
        while true {
            let fieldStart = pos
            var valueStart = pos
            var valueEnd = pos
            var hadEscape = false
            if pos < n && p[pos] == UInt8(ascii: "\"") {
                pos += 1
                valueStart = pos
                var closed = false
                while pos < n {
                    let c = p[pos]
                    if c == UInt8(ascii: "\"") {
                        if pos + 1 < n && p[pos + 1] == UInt8(ascii: "\"") {
                            if !hadEscape { unescaped = Array(UnsafeBufferPointer(start: p + valueStart, count: pos - valueStart)); hadEscape = true }
                            unescaped.append(UInt8(ascii: "\""))
                            pos += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    if hadEscape { unescaped.append(c) }
                    pos += 1
                }
                guard closed else {
                    return .failure(RowError(column: fieldStart + 1, message: "unclosed quote", field: text(p + fieldStart, n - fieldStart)))
                }
                valueEnd = pos
                pos += 1
                if pos < n && p[pos] != UInt8(ascii: ",") {
                    let what = p[pos] == UInt8(ascii: "\r") ? "carriage return" : "character"
                    return .failure(RowError(column: pos + 1, message: "unexpected \(what) after closing quote", field: text(p + fieldStart, pos + 1 - fieldStart)))
                }
            } else {
                while pos < n && p[pos] != UInt8(ascii: ",") {
                    let c = p[pos]
                    if c == UInt8(ascii: "\"") {
                        return .failure(RowError(column: pos + 1, message: "quote inside an unquoted field", field: text(p + fieldStart, min(n, pos + 1) - fieldStart)))
                    }
                    if c == UInt8(ascii: "\r") {
                        return .failure(RowError(column: pos + 1, message: "stray carriage return", field: text(p + fieldStart, pos - fieldStart)))
                    }
                    pos += 1
                }
                valueStart = fieldStart
                valueEnd = pos
            }
            if field >= fieldCount {
                return .failure(RowError(column: fieldStart + 1, message: "too many fields (expected \(fieldCount))", field: text(p + fieldStart, n - fieldStart)))
            }
            let err: RowError?
            if hadEscape {
                err = unescaped.withUnsafeBufferPointer { convert(field, $0.baseAddress!, $0.count, &row) }
            } else {
                err = convert(field, p + valueStart, valueEnd - valueStart, &row)
            }
            if var e = err {
                e.column = fieldStart + 1
                return .failure(e)
            }
            field += 1
            if pos >= n { break }
            pos += 1 // the comma
            if pos == n {
                // A trailing comma: one more, empty, field.
                if field >= fieldCount {
                    return .failure(RowError(column: pos + 1, message: "too many fields (expected \(fieldCount))", field: ""))
                }
                return .failure(RowError(column: pos + 1, message: "empty \(EventsSchema.columns[field].name)", field: ""))
            }
        }
        guard field == fieldCount else {
            return .failure(RowError(column: n + 1, message: "expected \(fieldCount) fields, found \(field)", field: text(p, n)))
        }
        return .success(row)
    }

    /// A field or line as an error shows it: at most maxFieldEcho bytes;
    /// text that is not valid UTF-8 or holds control bytes (binary data,
    /// say a compressed file stave does not read) with every byte outside
    /// printable ASCII as \xNN, so the message stays one readable line.
    static func text(_ p: UnsafePointer<UInt8>, _ n: Int) -> String {
        let shown = min(n, maxFieldEcho)
        let bytes = UnsafeBufferPointer(start: p, count: shown)
        var s: String
        if let valid = String(validating: bytes, as: UTF8.self), !bytes.contains(where: { ($0 < 0x20 && $0 != 9) || $0 == 0x7f }) {
            s = valid
        } else {
            let hex = Array("0123456789abcdef".utf8)
            var escaped: [UInt8] = []
            for b in bytes {
                if b >= 0x20 && b < 0x7f { escaped.append(b) } else { escaped += [92, 120, hex[Int(b >> 4)], hex[Int(b & 15)]] }
            }
            s = String(decoding: escaped, as: UTF8.self)
        }
        if shown < n { s += "..." }
        return s
    }

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

    /// Splits a header line into its names: split at commas, trimmed of
    /// spaces, one pair of surrounding quotes removed, lowercased.
    public static func headerNames(_ line: UnsafeBufferPointer<UInt8>) -> [String] {
        String(decoding: line, as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false).map { raw in
            var s = raw.trimmingPrefix(while: { $0 == " " })
            while s.last == " " { s = s.dropLast() }
            if s.count >= 2, s.first == "\"", s.last == "\"" { s = s.dropFirst().dropLast() }
            return s.lowercased()
        }
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
