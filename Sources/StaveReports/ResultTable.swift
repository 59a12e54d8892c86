#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import StaveIO

/// Output formats of every query command.
public enum OutputFormat: String, CaseIterable, Sendable {
    case csv, json, ndjson, table
    /// Apache Parquet (one file; see formats/PARQUET.md).
    case parquet
    /// An Arrow IPC stream (for pyarrow, Polars and notebooks).
    case arrow

    /// Binary formats, not for a terminal.
    public var isBinary: Bool { self == .parquet || self == .arrow }
}

/// One value of a result.
public enum Cell: Sendable, Equatable {
    case int(Int64)
    case double(Double)
    case string(String)
    case null
}

/// A result: named columns and rows of cells, written in any OutputFormat.
public struct ResultTable: Sendable {
    public var columns: [String]
    public var rows: [[Cell]]

    public init(columns: [String], rows: [[Cell]] = []) {
        self.columns = columns
        self.rows = rows
    }

    /// The first `n` rows.
    public func prefix(_ n: Int) -> ResultTable { ResultTable(columns: columns, rows: Array(rows.prefix(n))) }

    public func write(_ format: OutputFormat, to out: OutputFile, header: Bool = true) throws {
        switch format {
        case .csv:
            if header { try out.write(columns.map(CellText.csvQuoted).joined(separator: ",") + "\n") }
            for row in rows {
                try out.withBuffer { b in
                    for (k, cell) in row.enumerated() {
                        if k > 0 { b.append(44) }
                        CellText.appendCSV(cell, to: &b)
                    }
                    b.append(10)
                }
            }
        case .json:
            try out.write("[")
            for (r, row) in rows.enumerated() {
                try out.withBuffer { b in
                    b += Array((r == 0 ? "\n" : ",\n").utf8)
                    appendObject(row, to: &b)
                }
            }
            try out.write(rows.isEmpty ? "]\n" : "\n]\n")
        case .ndjson:
            for row in rows {
                try out.withBuffer { b in
                    appendObject(row, to: &b)
                    b.append(10)
                }
            }
        case .table:
            try out.write(TextTable.render(columns: columns, rows: rows.map { $0.map(CellText.readable) },
                                           rightAligned: rows.first.map { $0.map(CellText.isNumeric) } ?? [],
                                           maxWidth: out.displayColumns))
        case .parquet:
            try writeParquet(to: out)
        case .arrow:
            try writeArrow(to: out)
        }
    }

    /// A one-row result: JSON and NDJSON write the row as one object (not an
    /// array), table as one "name = value" line per column (DuckDB's
    /// `.mode line`), CSV as usual.
    public func writeObject(_ format: OutputFormat, to out: OutputFile) throws {
        if format == .table, rows.count == 1 {
            return try out.write(TextTable.renderLines(columns: columns, values: rows[0].map(CellText.readable)))
        }
        guard format == .json || format == .ndjson, rows.count == 1 else { return try write(format, to: out) }
        try out.withBuffer { b in
            appendObject(rows[0], to: &b)
            b.append(10)
        }
    }

    func appendObject(_ row: [Cell], to b: inout [UInt8]) {
        b.append(UInt8(ascii: "{"))
        for (k, cell) in row.enumerated() {
            if k > 0 { b.append(44) }
            CellText.appendJSONString(columns[k], to: &b)
            b.append(58)
            CellText.appendJSON(cell, to: &b)
        }
        b.append(UInt8(ascii: "}"))
    }
}

public enum CellText {
    /// Shortest round-trip form of a double (Swift's description).
    public static func double(_ d: Double) -> String { d.description }

    public static func plain(_ c: Cell) -> String {
        switch c {
        case .int(let v): return String(v)
        case .double(let d): return double(d)
        case .string(let s): return s
        case .null: return ""
        }
    }

    /// A cell for people: doubles rounded to about six significant digits
    /// (csv, json and parquet keep the shortest round-trip form).
    public static func readable(_ c: Cell) -> String {
        guard case .double(let d) = c else { return plain(c) }
        return readableDouble(d)
    }

    /// Six significant digits (at least one decimal), trailing zeros
    /// dropped: 3160.5953 is 3160.6, 0.000012345678 is 0.0000123457.
    /// Magnitudes from 1e15 and below 1e-6 (but not 0) in exponent form.
    public static func readableDouble(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "NaN" : (d > 0 ? "inf" : "-inf") }
        let m = d.magnitude
        if m != 0 && (m >= 1e15 || m < 1e-6) { return cFormat("%.5e", d) }
        let exponent = m == 0 ? 0 : Int(log10(m).rounded(.down))
        let decimals = max(1, 5 - exponent)
        var text = cFormat("%.\(decimals)f", d)
        while text.hasSuffix("0"), !text.hasSuffix(".0") { text.removeLast() }
        if text == "-0.0" { text = "0.0" }
        return text
    }

    /// printf's formatting of one double (no Foundation in this module).
    static func cFormat(_ format: String, _ d: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = withVaList([d]) { vsnprintf(&buffer, buffer.count, format, $0) }
        return String(decoding: buffer.prefix(max(0, min(Int(n), buffer.count - 1))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func isNumeric(_ c: Cell) -> Bool {
        switch c {
        case .int, .double: return true
        default: return false
        }
    }

    public static func csvQuoted(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) else { return s }
        return "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    static func appendCSV(_ c: Cell, to b: inout [UInt8]) {
        switch c {
        case .int(let v): DecimalText.append(signed: v, to: &b)
        case .double(let d): b += Array(double(d).utf8)
        case .string(let s): b += Array(csvQuoted(s).utf8)
        case .null: break
        }
    }

    static func appendJSON(_ c: Cell, to b: inout [UInt8]) {
        switch c {
        case .int(let v): DecimalText.append(signed: v, to: &b)
        case .double(let d): b += Array((d.isFinite ? double(d) : "null").utf8)
        case .string(let s): appendJSONString(s, to: &b)
        case .null: b += Array("null".utf8)
        }
    }

    public static func appendJSONString(_ s: String, to b: inout [UInt8]) {
        b.append(34)
        for u in s.utf8 {
            switch u {
            case 34: b += [92, 34]
            case 92: b += [92, 92]
            case 10: b += [92, 110]
            case 13: b += [92, 114]
            case 9: b += [92, 116]
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                b += [92, 117, 48, 48, hex[Int(u >> 4)], hex[Int(u & 15)]]
            default: b.append(u)
            }
        }
        b.append(34)
    }

    public static func jsonString(_ s: String) -> String {
        var b: [UInt8] = []
        appendJSONString(s, to: &b)
        return String(decoding: b, as: UTF8.self)
    }
}

/// Aligned text for terminals.
public enum TextTable {
    /// Columns separated by two spaces, a dashed line under the names.
    /// With `maxWidth` (the terminal's columns), a table wider than that
    /// keeps as many columns as fit, from both ends (the key on the left,
    /// totals on the right), shows a "…" column where the rest were, and
    /// ends with a line naming them.
    public static func render(columns: [String], rows: [[String]], rightAligned: [Bool], maxWidth: Int? = nil) -> String {
        var widths = columns.map(\.count)
        for row in rows { for (k, s) in row.enumerated() { widths[k] = max(widths[k], s.count) } }
        let shown = visibleColumns(widths: widths, maxWidth: maxWidth)
        let elided = shown.count < columns.count
        func line(_ cells: [String], header: Bool) -> String {
            var parts: [String] = []
            for (j, k) in shown.enumerated() {
                if elided, j > 0, shown[j - 1] + 1 != k { parts.append("…") }
                let s = cells[k]
                let pad = String(repeating: " ", count: widths[k] - s.count)
                parts.append((!header && k < rightAligned.count && rightAligned[k]) ? pad + s : s + pad)
            }
            return parts.joined(separator: "  ")
        }
        var out = line(columns, header: true) + "\n"
        out += line(widths.map { String(repeating: "-", count: $0) }, header: true) + "\n"
        for row in rows { out += line(row, header: false) + "\n" }
        if elided {
            let hidden = columns.indices.filter { !shown.contains($0) }.map { columns[$0] }
            out += "(\(hidden.count) of \(columns.count) columns hidden to fit \(maxWidth!) columns: \(hidden.joined(separator: ", ")); use a wider terminal or --format csv)\n"
        }
        return out
    }

    /// The columns (in order) that fit in `maxWidth`: all when they fit,
    /// else taken alternately from the left and the right (the first is
    /// always kept), leaving room for the "…" column.
    static func visibleColumns(widths: [Int], maxWidth: Int?) -> [Int] {
        let all = Array(widths.indices)
        guard let maxWidth, widths.reduce(0, +) + 2 * max(0, widths.count - 1) > maxWidth, widths.count > 1 else { return all }
        var left: [Int] = [0], right: [Int] = []
        var used = widths[0] + 3    // the first column, and "  …"
        var l = 1, r = widths.count - 1
        var takeRight = true
        while l <= r {
            let k = takeRight ? r : l
            guard used + 2 + widths[k] <= maxWidth else { break }
            used += 2 + widths[k]
            if takeRight { right.insert(k, at: 0); r -= 1 } else { left.append(k); l += 1 }
            takeRight.toggle()
        }
        return left + right
    }

    /// One "name = value" line per column, names right-aligned (DuckDB's
    /// `.mode line`), for one-row results.
    public static func renderLines(columns: [String], values: [String]) -> String {
        let width = columns.map(\.count).max() ?? 0
        var out = ""
        for (name, value) in zip(columns, values) {
            out += String(repeating: " ", count: width - name.count) + name + " = " + value + "\n"
        }
        return out
    }
}
