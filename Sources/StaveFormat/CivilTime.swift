// The DATETIME logical type: naive (zone-less) "YYYY-MM-DD HH:MM:SS" as whole
// seconds since 1970-01-01 00:00:00 in the proleptic Gregorian calendar.
// Conversions use Howard Hinnant's days_from_civil / civil_from_days.

public enum CivilTime {
    public static let minSeconds: Int64 = secondsFrom(year: 1, month: 1, day: 1, hour: 0, minute: 0, second: 0)
    public static let maxSeconds: Int64 = secondsFrom(year: 9999, month: 12, day: 31, hour: 23, minute: 59, second: 59)
    public static let secondsPerDay: Int64 = 86_400
    /// Day numbers (days since 1970-01-01) of 0001-01-01 and 9999-12-31.
    public static let minDay: Int64 = daysFromCivil(year: 1, month: 1, day: 1)
    public static let maxDay: Int64 = daysFromCivil(year: 9999, month: 12, day: 31)

    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civilFromDays(_ z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    public static func secondsFrom(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) -> Int64 {
        daysFromCivil(year: year, month: month, day: day) * secondsPerDay + hour * 3600 + minute * 60 + second
    }

    public static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    public static func daysIn(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Floor division of seconds into days.
    @inline(__always)
    public static func day(of seconds: Int64) -> Int64 {
        seconds >= 0 ? seconds / secondsPerDay : (seconds - secondsPerDay + 1) / secondsPerDay
    }

    /// Month number (year * 12 + month - 1) of a time: the v1 partition key.
    public static func monthIndex(of seconds: Int64) -> Int64 {
        let (y, m, _) = civilFromDays(day(of: seconds))
        return y * 12 + m - 1
    }

    /// First second of a month number.
    public static func monthStart(_ monthIndex: Int64) -> Int64 {
        let y = monthIndex >= 0 ? monthIndex / 12 : (monthIndex - 11) / 12
        let m = monthIndex - y * 12 + 1
        return daysFromCivil(year: y, month: m, day: 1) * secondsPerDay
    }

    // MARK: Parsing

    /// Parses exactly "YYYY-MM-DD HH:MM:SS" (19 bytes). On failure returns a
    /// message saying what is wrong. No allocation on success.
    public static func parse(_ p: UnsafePointer<UInt8>, count n: Int) -> Result<Int64, DatetimeError> {
        if n == 19, let v = parseCommon(p) { return .success(v) }
        return parse(p, count: n, allowDateOnly: false, allowT: false)
    }

    /// Years whose months `monthTable` holds: every datetime of a listening
    /// log falls in them, the rest take the general path.
    @usableFromInline static let tableYears: ClosedRange<Int> = 1900...2155

    /// Per month of `tableYears` (index (year - 1900) * 12 + month - 1): the
    /// day number of its first day times 32, plus its length in days. One
    /// look-up replaces days_from_civil and the leap-year rules.
    @usableFromInline static let monthTable: [Int32] = {
        var t: [Int32] = []
        t.reserveCapacity(tableYears.count * 12)
        for y in tableYears {
            for m in 1...12 {
                let first = daysFromCivil(year: Int64(y), month: Int64(m), day: 1)
                t.append(Int32(first * 32 + daysIn(year: Int64(y), month: Int64(m))))
            }
        }
        return t
    }()

    /// The common case of `parse`: a valid "YYYY-MM-DD HH:MM:SS" of years
    /// 1900...2155, without divisions or branches per field; nil for
    /// anything else, valid or not (the general path then decides, so
    /// results and errors are always the general path's; tested).
    /// - Precondition: p[0..<19] is readable.
    @inline(__always)
    static func parseCommon(_ p: UnsafePointer<UInt8>) -> Int64? {
        @inline(__always) func digit(_ k: Int) -> Int { Int(p[k] &- 48) }
        let y0 = digit(0), y1 = digit(1), y2 = digit(2), y3 = digit(3)
        let mo0 = digit(5), mo1 = digit(6), d0 = digit(8), d1 = digit(9)
        let h0 = digit(11), h1 = digit(12), mi0 = digit(14), mi1 = digit(15), s0 = digit(17), s1 = digit(18)
        // Every byte minus "0" wraps above 9 unless it is a digit.
        let allDigits = max(max(max(y0, y1), max(y2, y3)), max(max(mo0, mo1), max(d0, d1)),
                            max(max(h0, h1), max(max(mi0, mi1), max(s0, s1)))) <= 9
        let separators = p[4] == 45 && p[7] == 45 && p[10] == 32 && p[13] == 58 && p[16] == 58
        guard allDigits && separators else { return nil }
        let year = y0 * 1000 + y1 * 100 + y2 * 10 + y3
        let month = mo0 * 10 + mo1, day = d0 * 10 + d1
        let hour = h0 * 10 + h1, minute = mi0 * 10 + mi1, second = s0 * 10 + s1
        return tableSeconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    /// Seconds since the epoch of a date and time given as numbers of at
    /// most four (year) and two digits, through `monthTable`: nil unless the
    /// year is one of `tableYears` and every field is in range (then the
    /// general path decides). Inlinable, for parsers of other modules that
    /// have taken the digits apart themselves (EventLineParser).
    /// - Precondition: every argument is in 0...9999.
    @inlinable @inline(__always)
    public static func tableSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64? {
        guard tableYears.contains(year), month >= 1, month <= 12 else { return nil }
        let entry = Int64(monthTable[(year - 1900) * 12 + month - 1])
        guard day >= 1, Int64(day) <= entry & 31, hour <= 23, minute <= 59, second <= 59 else { return nil }
        return ((entry >> 5) + Int64(day - 1)) * secondsPerDay + Int64(hour * 3600 + minute * 60 + second)
    }

    public struct DatetimeError: Error, Sendable { public let message: String }

    /// The decimal number in p[at..<at + len], or nil if a byte is not a digit.
    /// - Precondition: the bytes are readable.
    @inline(__always)
    static func decimal(_ p: UnsafePointer<UInt8>, _ at: Int, _ len: Int) -> Int64? {
        var v: Int64 = 0
        for k in at..<(at + len) {
            let c = p[k] &- 48
            if c > 9 { return nil }
            v = v * 10 + Int64(c)
        }
        return v
    }

    /// Why y-mo-d is not a date of years 0001...9999, or nil if it is one.
    static func dateProblem(_ y: Int64, _ mo: Int64, _ d: Int64) -> DatetimeError? {
        guard y >= 1 else { return DatetimeError(message: "year 0000 out of range") }
        guard (1...12).contains(mo) else { return DatetimeError(message: "month \(mo) out of range") }
        guard d >= 1, d <= daysIn(year: y, month: mo) else {
            return DatetimeError(message: "day \(d) out of range for \(y)-\(mo < 10 ? "0" : "")\(mo)")
        }
        return nil
    }

    static func parse(_ p: UnsafePointer<UInt8>, count n: Int, allowDateOnly: Bool, allowT: Bool) -> Result<Int64, DatetimeError> {
        @inline(__always) func digits(_ at: Int, _ len: Int) -> Int64? { decimal(p, at, len) }
        // allowDateOnly marks a query bound, which may also leave out the seconds.
        let shape = allowDateOnly ? "expected YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS (a T may replace the space)" : "expected YYYY-MM-DD HH:MM:SS"
        guard n == 19 || (allowDateOnly && (n == 10 || n == 16)) else { return .failure(DatetimeError(message: shape)) }
        guard let y = digits(0, 4), p[4] == UInt8(ascii: "-"), let mo = digits(5, 2), p[7] == UInt8(ascii: "-"), let d = digits(8, 2) else {
            return .failure(DatetimeError(message: shape))
        }
        var h: Int64 = 0, mi: Int64 = 0, s: Int64 = 0
        if n >= 16 {
            let sep = p[10]
            guard sep == UInt8(ascii: " ") || (allowT && sep == UInt8(ascii: "T")),
                  let hh = digits(11, 2), p[13] == UInt8(ascii: ":"), let mm = digits(14, 2) else {
                return .failure(DatetimeError(message: shape))
            }
            (h, mi) = (hh, mm)
            if n == 19 {
                guard p[16] == UInt8(ascii: ":"), let ss = digits(17, 2) else { return .failure(DatetimeError(message: shape)) }
                s = ss
            }
        }
        if let e = dateProblem(y, mo, d) { return .failure(e) }
        guard h <= 23 else { return .failure(DatetimeError(message: "hour \(h) out of range")) }
        guard mi <= 59 else { return .failure(DatetimeError(message: "minute \(mi) out of range")) }
        guard s <= 59 else { return .failure(DatetimeError(message: "second \(s) out of range")) }
        return .success(secondsFrom(year: y, month: mo, day: d, hour: h, minute: mi, second: s))
    }

    /// Parses a query bound as people write one: a date (midnight), or a
    /// date and a time with or without seconds, after a space or a T
    /// ("2014-12-01", "2014-12-01 10:00", "2014-12-01T10:00:00").
    public static func parseBound(_ text: String) -> Result<Int64, DatetimeError> {
        var bytes = Array(text.utf8)
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { parse($0.baseAddress!, count: $0.count - 1, allowDateOnly: true, allowT: true) }
    }

    // MARK: Formatting

    /// Writes the 19-byte "YYYY-MM-DD HH:MM:SS" form of `seconds` at `out`.
    /// - Precondition: `seconds` in minSeconds...maxSeconds; `out` has 19 bytes.
    public static func format(_ seconds: Int64, into out: UnsafeMutablePointer<UInt8>) {
        let dayNumber = day(of: seconds)
        let sod = seconds - dayNumber * secondsPerDay
        let (y, m, d) = civilFromDays(dayNumber)
        @inline(__always) func put(_ v: Int64, _ at: Int, _ width: Int) {
            var x = v
            for k in stride(from: at + width - 1, through: at, by: -1) {
                out[k] = UInt8(48 + x % 10)
                x /= 10
            }
        }
        put(y, 0, 4); out[4] = 45; put(m, 5, 2); out[7] = 45; put(d, 8, 2); out[10] = 32
        put(sod / 3600, 11, 2); out[13] = 58; put(sod / 60 % 60, 14, 2); out[16] = 58; put(sod % 60, 17, 2)
    }

    public static func format(_ seconds: Int64) -> String {
        var buf = [UInt8](repeating: 0, count: 19)
        buf.withUnsafeMutableBufferPointer { format(seconds, into: $0.baseAddress!) }
        return String(decoding: buf, as: UTF8.self)
    }

    // MARK: Dates (the customer table's sign date)

    /// Parses a date as the original cust.csv writes it, MM/DD/YYYY, or in
    /// ISO form YYYY-MM-DD; returns the day number.
    public static func parseDate(_ p: UnsafePointer<UInt8>, count n: Int) -> Result<Int64, DatetimeError> {
        @inline(__always) func digits(_ at: Int, _ len: Int) -> Int64? { decimal(p, at, len) }
        let shape = "expected MM/DD/YYYY or YYYY-MM-DD"
        guard n == 10 else { return .failure(DatetimeError(message: shape)) }
        let y: Int64, mo: Int64, d: Int64
        if p[2] == UInt8(ascii: "/"), p[5] == UInt8(ascii: "/"), let mm = digits(0, 2), let dd = digits(3, 2), let yy = digits(6, 4) {
            (y, mo, d) = (yy, mm, dd)
        } else if p[4] == UInt8(ascii: "-"), p[7] == UInt8(ascii: "-"), let yy = digits(0, 4), let mm = digits(5, 2), let dd = digits(8, 2) {
            (y, mo, d) = (yy, mm, dd)
        } else {
            return .failure(DatetimeError(message: shape))
        }
        if let e = dateProblem(y, mo, d) { return .failure(e) }
        return .success(daysFromCivil(year: y, month: mo, day: d))
    }

    /// "YYYY-MM-DD" of a day number in minDay...maxDay.
    public static func formatDate(_ day: Int64) -> String {
        let (y, m, d) = civilFromDays(day)
        func pad(_ v: Int64, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// "YYYY-MM" of a day number in minDay...maxDay.
    public static func formatMonth(ofDay day: Int64) -> String {
        String(formatDate(day).prefix(7))
    }
}
