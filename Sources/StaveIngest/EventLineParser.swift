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
    ///
    /// Eight bytes at a time (SWAR): the 31-byte tail after the ids is
    /// checked as four words against a template of fixed bytes and digits,
    /// and each id is read a word at a time (its length from the first byte
    /// that is not a digit, its value by three multiplications), so that
    /// the ids' varying lengths cost no branch per digit.
    @inline(__always)
    public static func parseExportShape(_ line: UnsafeBufferPointer<UInt8>) -> EventRow? {
        guard let p = line.baseAddress, line.count >= 37 else { return nil }
        // The tail `"YYYY-MM-DD HH:MM:SS",m,"ddddd"` is the line's last 31
        // bytes; the ids lie before it.
        let tail = line.count - 31
        // Unaligned 8-byte loads. Invariant: every load starts at most at
        // `tail` + 23, so it ends inside the line.
        @inline(__always) func word(_ at: Int) -> UInt64 {
            UInt64(littleEndian: UnsafeRawPointer(p + at).loadUnaligned(as: UInt64.self))
        }
        let wa = word(tail), wb = word(tail + 8), wc = word(tail + 16), wd = word(tail + 23)
        let fixed = (wa & Template.fixedA ^ Template.bytesA) | (wb & Template.fixedB ^ Template.bytesB)
            | (wc & Template.fixedC ^ Template.bytesC) | (wd & Template.fixedD ^ Template.bytesD)
        let xa = Template.digits(wa, fixed: Template.fixedA), xb = Template.digits(wb, fixed: Template.fixedB)
        let xc = Template.digits(wc, fixed: Template.fixedC), xd = Template.digits(wd, fixed: Template.fixedD)
        guard fixed | Template.nonDigits(xa) | Template.nonDigits(xb) | Template.nonDigits(xc) | Template.nonDigits(xd) == 0 else {
            return nil
        }
        @inline(__always) func lane(_ x: UInt64, _ k: UInt64) -> Int { Int(truncatingIfNeeded: (x &>> (8 &* k)) & 0xFF) }
        let mobile = UInt8(truncatingIfNeeded: lane(xc, 6))
        guard mobile <= 1, let when = CivilTime.tableSeconds(
            year: lane(xa, 1) &* 1000 &+ lane(xa, 2) &* 100 &+ lane(xa, 3) &* 10 &+ lane(xa, 4),
            month: lane(xa, 6) &* 10 &+ lane(xa, 7), day: lane(xb, 1) &* 10 &+ lane(xb, 2),
            hour: lane(xb, 4) &* 10 &+ lane(xb, 5), minute: lane(xb, 7) &* 10 &+ lane(xc, 0),
            second: lane(xc, 2) &* 10 &+ lane(xc, 3)) else { return nil }
        let zip = UInt32(truncatingIfNeeded: lane(xd, 2) &* 10_000 &+ lane(xd, 3) &* 1000 &+ lane(xd, 4) &* 100
                         &+ lane(xd, 5) &* 10 &+ lane(xd, 6))
        var i = 0
        // A number of 1...`digits` digits followed by a comma, a word at a
        // time. p[tail] is a quote (checked above), so a run of digits
        // stops before it and every load starts at most at `tail`.
        @inline(__always) func number(_ digits: Int, _ limit: UInt64) -> UInt64? {
            var v: UInt64 = 0
            let start = i
            while true {
                let x = word(i) &- Template.zeros
                // Digits before the first byte that is not one (a borrow
                // from a byte below "0" only reaches the bytes after it).
                let k = Template.nonDigits(x).trailingZeroBitCount &>> 3
                guard i - start + k <= digits else { return nil }
                if k > 0 { v = v &* Template.powersOf10[k] &+ Template.eightDigits(x &<< UInt64(64 - 8 * k)) }
                i += k
                if k < 8 { break }
            }
            // At most 19 digits: v < 10^19 < 2^64, no overflow.
            guard i > start, v <= limit, p[i] == 44 else { return nil }
            i += 1
            return v
        }
        guard let event = number(19, UInt64(Int64.max)), let customer = number(10, UInt64(UInt32.max)),
              let track = number(10, UInt64(UInt32.max)), i == tail else { return nil }
        return EventRow(eventID: Int64(event), customerID: UInt32(customer), trackID: UInt32(track),
                        datetime: when, mobile: mobile, zip: zip)
    }

    /// The export shape's tail as four 8-byte words (little-endian: byte k
    /// of a word is bits 8k..<8k + 8), each a template of fixed bytes and
    /// digits: `"YYYY-MM`, `-DD HH:M`, `M:SS",m,` and `,"ddddd"` (the last
    /// two overlap by the comma). `fixed` masks the fixed bytes, `bytes`
    /// holds their values; every other byte must be a digit.
    /// `FastPathTests` derives these constants from the templates.
    @usableFromInline enum Template {
        @usableFromInline static let fixedA: UInt64 = 0x0000_FF00_0000_00FF, bytesA: UInt64 = 0x0000_2D00_0000_0022
        @usableFromInline static let fixedB: UInt64 = 0x00FF_0000_FF00_00FF, bytesB: UInt64 = 0x003A_0000_2000_002D
        @usableFromInline static let fixedC: UInt64 = 0xFF00_FFFF_0000_FF00, bytesC: UInt64 = 0x2C00_2C22_0000_3A00
        @usableFromInline static let fixedD: UInt64 = 0xFF00_0000_0000_FFFF, bytesD: UInt64 = 0x2200_0000_0000_222C
        @usableFromInline static let zeros: UInt64 = 0x3030_3030_3030_3030
        @usableFromInline static let powersOf10: [UInt64] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]

        /// The word's digit bytes minus "0", its fixed bytes made 0 (so that
        /// no borrow crosses a byte below "0" that is meant to be there).
        @inline(__always) @usableFromInline
        static func digits(_ w: UInt64, fixed: UInt64) -> UInt64 { ((w & ~fixed) | (zeros & fixed)) &- zeros }

        /// The high bit of every byte of `x` (a word minus "0" bytewise) that
        /// was not a digit: x > 9 sets it after adding 0x76, or x wrapped
        /// (the byte was below "0"). Exact up to the first such byte.
        @inline(__always) @usableFromInline
        static func nonDigits(_ x: UInt64) -> UInt64 { ((x &+ 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080 }

        /// The number whose eight decimal digits (values 0...9) are the
        /// word's bytes, the first byte the most significant (Lemire's
        /// eight-digit parse: pairs, then quads, then the whole).
        @inline(__always) @usableFromInline
        static func eightDigits(_ x: UInt64) -> UInt64 {
            let pairs = (x &* (10 << 8 + 1)) &>> 8 & 0x00FF_00FF_00FF_00FF
            let quads = (pairs &* (100 << 16 + 1)) &>> 16 & 0x0000_FFFF_0000_FFFF
            return (quads &* (10_000 << 32 + 1)) &>> 32
        }
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
