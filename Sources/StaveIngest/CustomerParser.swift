#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import StaveIO

/// Parses lines of cust.csv into customer columns. Fields, in order:
/// CustID, Name, Gender, Address, zip, SignDate, Status, Level, Campaign,
/// LinkedWithApps (see CustomersSchema for the stored columns).
public struct CustomerLineParser {
    var fields = CSVFields()
    public init() {}

    public static let fieldCount = 10

    /// Parses one line and appends it to `table`; on error appends nothing.
    public mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into table: inout CustomerColumns) -> RowError? {
        if line.isEmpty { return RowError(column: 1, message: "empty line", field: "") }
        if let e = fields.split(line) { return e }
        guard fields.count == Self.fieldCount else {
            let column = fields.count > Self.fieldCount ? fields.columns[Self.fieldCount] : line.count + 1
            return RowError(column: column, message: "expected \(Self.fieldCount) fields, found \(fields.count)", field: CSVLine.echo(line))
        }
        return fields.bytes.withUnsafeBufferPointer { b in
            func value(_ k: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: b[fields.range(k)]) }
            func fail(_ k: Int, _ message: String) -> RowError {
                let v = value(k)
                let shown = min(v.count, 60)
                var text = String(decoding: UnsafeBufferPointer(rebasing: v[0..<shown]), as: UTF8.self)
                if shown < v.count { text += "..." }
                return RowError(column: fields.columns[k], message: message, field: text)
            }
            func integer(_ k: Int, _ name: String, max: UInt64) -> (Int64?, RowError?) {
                let v = value(k)
                guard !v.isEmpty else { return (nil, fail(k, "empty \(name)")) }
                var x: UInt64 = 0
                for c in v {
                    let d = c &- 48
                    guard d <= 9 else { return (nil, fail(k, "\(name) is not a non-negative integer")) }
                    let (m, o1) = x.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(UInt64(d))
                    guard !o1, !o2, s <= max else { return (nil, fail(k, "\(name) out of range (0...\(max))")) }
                    x = s
                }
                return (Int64(x), nil)
            }
            /// A code: its number, or (for level and campaign) its name.
            func code(_ k: Int, _ name: String, names: [String]) -> (Int64?, RowError?) {
                let v = value(k)
                if !v.isEmpty, v.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
                    let (x, e) = integer(k, name, max: UInt64(names.count - 1))
                    if e != nil { return (nil, fail(k, "\(name) must be \(names.indices.map(String.init).joined(separator: ", "))")) }
                    return (x, nil)
                }
                let text = String(decoding: v, as: UTF8.self).uppercased()
                if let i = names.firstIndex(where: { $0.uppercased() == text }), names.count > 2 { return (Int64(i), nil) }
                return (nil, fail(k, "\(name) must be " + (names.count > 2 ? "one of \(names.joined(separator: ", ")) or 0...\(names.count - 1)" : "0 or 1")))
            }
            func text(_ k: Int, _ name: String) -> RowError? {
                let v = value(k)
                guard v.count <= FormatConstants.maxStringBytes else { return fail(k, "\(name) longer than \(FormatConstants.maxStringBytes) bytes") }
                guard String(validating: v, as: UTF8.self) != nil else { return fail(k, "\(name) is not valid UTF-8") }
                return nil
            }
            let (id, e0) = integer(0, "CustID", max: UInt64(UInt32.max)); if let e0 { return e0 }
            if let e = text(1, "Name") { return e }
            let (gender, e2) = code(2, "Gender", names: ["0", "1"]); if let e2 { return e2 }
            if let e = text(3, "Address") { return e }
            let z = value(4)
            guard z.count == 5, z.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return fail(4, "zip must be exactly 5 digits") }
            let zip = z.reduce(Int64(0)) { $0 * 10 + Int64($1 - 48) }
            let sign: Int64
            let d = value(5)
            guard !d.isEmpty else { return fail(5, "empty SignDate") }
            switch CivilTime.parseDate(d.baseAddress!, count: d.count) {
            case .success(let day): sign = day
            case .failure(let e): return fail(5, "bad SignDate: \(e.message)")
            }
            let (status, e6) = code(6, "Status", names: ["0", "1"]); if let e6 { return e6 }
            let (level, e7) = code(7, "Level", names: CustomersSchema.levelNames); if let e7 { return e7 }
            let (campaign, e8) = code(8, "Campaign", names: CustomersSchema.campaignNames); if let e8 { return e8 }
            let (linked, e9) = code(9, "LinkedWithApps", names: ["0", "1"]); if let e9 { return e9 }
            table.ids.append(id!)
            table.names.append(value(1))
            table.gender.append(gender!)
            table.address.append(value(3))
            table.zip.append(zip)
            table.signDate.append(sign)
            table.status.append(status!)
            table.level.append(level!)
            table.campaign.append(campaign!)
            table.linked.append(linked!)
            return nil
        }
    }

    /// Accepted headers (compared case-insensitively): the original export's
    /// and stave's column names.
    static func headerMatches(_ names: [String]) -> Bool {
        names == CustomersSchema.exportHeader.map { $0.lowercased() } || names == CustomersSchema.columnNames
    }
}

/// Options for reading cust.csv.
public struct CustomerLoadOptions: Sendable {
    public var header: HeaderMode = .auto
    public var skipBadRows = false
    public var rejectsPath: String?
    public var maxErrors: Int?
    public init() {}
}

public struct CustomerLoadResult: Sendable {
    /// Sorted by id, ids unique.
    public var table: CustomerColumns
    public var rejected: Int
    public var bytes: Int
}

/// Reads a whole cust.csv (the customer table is small next to the events:
/// about 80 bytes a customer) into sorted customer columns.
public enum CustomerLoader {
    /// The largest cust.csv accepted (about 25 million customers).
    public static let maxFileSize = 2 << 30

    public static func load(path: String, options: CustomerLoadOptions) throws -> CustomerLoadResult {
        switch Sys.kind(path) {
        case .missing: throw StaveError.missingInput(path: path)
        case .directory: throw StaveError.io(path: path, operation: "open", errno: EISDIR)
        default: break
        }
        // Plain, gzip or zstd (by content, as the events are read).
        let data = try InputReader.readAll(path: path, limit: maxFileSize)
        var rejects: RejectsFile?
        if options.skipBadRows, let r = options.rejectsPath { rejects = try RejectsFile(path: r, mode: .replace) }
        defer { rejects?.abandon() }
        var table = CustomerColumns()
        var lines: [Int] = []   // the line number of each row in `table`
        var spans: [Range<Int>] = []   // and its bytes in `data`
        var bad: [BadRow] = []
        var parser = CustomerLineParser()
        try data.withUnsafeBufferPointer { all in
            var start = 0
            var line = 1
            if all.count >= 3, all[0] == 0xEF, all[1] == 0xBB, all[2] == 0xBF { start = 3 }
            var first = true
            while start < all.count {
                var end = start
                while end < all.count && all[end] != 0x0A { end += 1 }
                var text = UnsafeBufferPointer(rebasing: all[start..<end])
                if let last = text.last, last == 0x0D { text = UnsafeBufferPointer(rebasing: text.dropLast()) }
                defer { start = end + 1; line += 1; first = false }
                if first {
                    if options.header.isHeader(text) {
                        guard CustomerLineParser.headerMatches(CSVLine.headerNames(text) ?? []) else {
                            throw StaveError.csv(file: path, line: line, column: 1,
                                                 message: "header does not match \(CustomersSchema.exportHeader.joined(separator: ",")) (or \(CustomersSchema.columnNames.joined(separator: ",")))",
                                                 field: CSVLine.echo(text))
                        }
                        continue
                    }
                }
                if let e = parser.parse(text, into: &table) {
                    guard options.skipBadRows else {
                        throw StaveError.csv(file: path, line: line, column: e.column, message: e.message, field: e.field)
                    }
                    bad.append(BadRow(line: line, error: e, raw: Array(text)))
                    if let max = options.maxErrors, bad.count >= max { throw StaveError.tooManyBadRows(file: path, count: bad.count, first: bad.prefix(5).map { "\(path):\($0.line):\($0.error.column): \($0.error.message)" }) }
                } else {
                    lines.append(line)
                    spans.append(start..<(start + text.count))
                }
            }
        }
        // Sort by id; a repeated id is an error naming both lines (or, when
        // skipping bad rows, every later occurrence is rejected).
        let order = table.ids.indices.sorted { table.ids[$0] != table.ids[$1] ? table.ids[$0] < table.ids[$1] : lines[$0] < lines[$1] }
        var keep: [Int] = []
        keep.reserveCapacity(order.count)
        var firstLine = 0
        for (k, i) in order.enumerated() {
            if k > 0, table.ids[order[k - 1]] == table.ids[i] {
                let message = "duplicate customer id \(table.ids[i]) (first on line \(firstLine))"
                guard options.skipBadRows else {
                    throw StaveError.csv(file: path, line: lines[i], column: 1, message: message, field: String(table.ids[i]))
                }
                bad.append(BadRow(line: lines[i], error: RowError(column: 1, message: message, field: ""), raw: Array(data[spans[i]])))
                if let max = options.maxErrors, bad.count >= max { throw StaveError.tooManyBadRows(file: path, count: bad.count, first: bad.prefix(5).map { "\(path):\($0.line):\($0.error.column): \($0.error.message)" }) }
                continue
            }
            firstLine = lines[i]
            keep.append(i)
        }
        let sorted = table.permuted(keep)
        if let rejects {
            for b in bad.sorted(by: { $0.line < $1.line }) { try rejects.add(b) }
            try rejects.commit()
        }
        return CustomerLoadResult(table: sorted, rejected: bad.count, bytes: data.count)
    }
}
