/// The one RFC 4180 field splitter of stave's CSV inputs (tracks.csv through
/// `EventLineParser.parseGeneral`, cust.csv through `CSVFields`, and the
/// header check of both through `headerNames`).
///
/// A field is bare or double-quoted, with "" inside quotes for a quote. The
/// schemas have no field that may hold a line break, so a line is always one
/// record: a quote still open at the end of the line is an error.
enum CSVLine {
    /// The most bytes of a field or line an error message shows.
    static let maxEcho = 60

    /// Calls `body` with each field of `line` (without its terminator), in
    /// order: the 1-based byte column where the field starts, and its value,
    /// unescaped. The value is valid during the call only. A trailing comma
    /// ends the line with one more, empty field at column `line.count + 1`.
    /// Returns the first error: a malformed field's, or the first `body`
    /// returns (which stops the split there).
    ///
    /// Unescaping copies into one scratch array, and only for a quoted value
    /// that holds a "" (the rare path): every other value points into `line`.
    static func forEachField(_ line: UnsafeBufferPointer<UInt8>,
                             _ body: (_ column: Int, _ value: UnsafeBufferPointer<UInt8>) -> RowError?) -> RowError? {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ",")
        let n = line.count
        guard let p = line.baseAddress else { return body(1, line) }
        var pos = 0
        var unescaped: [UInt8] = []
        while true {
            let fieldStart = pos
            var valueStart = pos
            var hadEscape = false
            if pos < n && p[pos] == quote {
                pos += 1
                valueStart = pos
                var closed = false
                while pos < n {
                    let c = p[pos]
                    if c == quote {
                        if pos + 1 < n && p[pos + 1] == quote {
                            if !hadEscape {
                                unescaped.removeAll(keepingCapacity: true)
                                unescaped.append(contentsOf: UnsafeBufferPointer(start: p + valueStart, count: pos - valueStart))
                                hadEscape = true
                            }
                            unescaped.append(quote)
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
                    return RowError(column: fieldStart + 1, message: "unclosed quote", field: echo(p + fieldStart, n - fieldStart))
                }
                let valueEnd = pos
                pos += 1
                if pos < n && p[pos] != comma {
                    let what = p[pos] == UInt8(ascii: "\r") ? "carriage return" : "character"
                    return RowError(column: pos + 1, message: "unexpected \(what) after closing quote", field: echo(p + fieldStart, pos + 1 - fieldStart))
                }
                let e = hadEscape
                    ? unescaped.withUnsafeBufferPointer { body(fieldStart + 1, $0) }
                    : body(fieldStart + 1, UnsafeBufferPointer(start: p + valueStart, count: valueEnd - valueStart))
                if let e { return e }
            } else {
                while pos < n && p[pos] != comma {
                    let c = p[pos]
                    if c == quote {
                        return RowError(column: pos + 1, message: "quote inside an unquoted field", field: echo(p + fieldStart, min(n, pos + 1) - fieldStart))
                    }
                    if c == UInt8(ascii: "\r") {
                        return RowError(column: pos + 1, message: "stray carriage return", field: echo(p + fieldStart, pos - fieldStart))
                    }
                    pos += 1
                }
                if let e = body(fieldStart + 1, UnsafeBufferPointer(start: p + fieldStart, count: pos - fieldStart)) { return e }
            }
            if pos >= n { return nil }
            pos += 1 // the comma
            if pos == n { return body(pos + 1, UnsafeBufferPointer(start: p + pos, count: 0)) }
        }
    }

    /// A field or line as an error shows it: at most `maxEcho` bytes; text
    /// that is not valid UTF-8 or holds control bytes (binary data, say a
    /// compressed file stave does not read) with every byte outside
    /// printable ASCII as \xNN, so the message stays one readable line.
    static func echo(_ p: UnsafePointer<UInt8>, _ n: Int) -> String {
        let shown = min(n, maxEcho)
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

    /// `echo` of a whole line (or what follows `from`).
    static func echo(_ line: UnsafeBufferPointer<UInt8>, from: Int = 0) -> String {
        guard let p = line.baseAddress, from < line.count else { return "" }
        return echo(p + from, line.count - from)
    }

    /// A header line's names: its fields (split as any line is), trimmed of
    /// spaces, lowercased. Nil when the line does not split: a malformed
    /// header matches no schema.
    static func headerNames(_ line: UnsafeBufferPointer<UInt8>) -> [String]? {
        var names: [String] = []
        let e = forEachField(line) { _, value in
            var s = Substring(String(decoding: value, as: UTF8.self))
            while s.first == " " { s = s.dropFirst() }
            while s.last == " " { s = s.dropLast() }
            names.append(s.lowercased())
            return nil
        }
        return e == nil ? names : nil
    }
}

/// The fields of one CSV line, unescaped into one reusable buffer: no
/// allocation per line once the buffers have grown (cust.csv, whose lines
/// are parsed a field at a time after the split).
struct CSVFields {
    /// The unescaped values, one after another.
    var bytes: [UInt8] = []
    /// Field k is bytes[ends[k-1] ..< ends[k]] (ends[-1] = 0).
    var ends: [Int] = []
    /// 1-based byte column where field k starts in the line.
    var columns: [Int] = []

    var count: Int { ends.count }

    func range(_ k: Int) -> Range<Int> { (k == 0 ? 0 : ends[k - 1])..<ends[k] }

    /// Splits `line` (without its terminator) with `CSVLine.forEachField`.
    mutating func split(_ line: UnsafeBufferPointer<UInt8>) -> RowError? {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        columns.removeAll(keepingCapacity: true)
        return CSVLine.forEachField(line) { column, value in
            columns.append(column)
            bytes.append(contentsOf: value)
            ends.append(bytes.count)
            return nil
        }
    }
}
