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
            try out.write(TextTable.render(columns: columns, rows: rows.map { $0.map(CellText.plain) },
                                           rightAligned: rows.first.map { $0.map(CellText.isNumeric) } ?? []))
        case .parquet:
            try writeParquet(to: out)
        case .arrow:
            try writeArrow(to: out)
        }
    }

    /// A one-row result: JSON and NDJSON write the row as one object (not an
    /// array); CSV and table as usual.
    public func writeObject(_ format: OutputFormat, to out: OutputFile) throws {
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
    public static func render(columns: [String], rows: [[String]], rightAligned: [Bool]) -> String {
        var widths = columns.map(\.count)
        for row in rows { for (k, s) in row.enumerated() { widths[k] = max(widths[k], s.count) } }
        func line(_ cells: [String], header: Bool) -> String {
            cells.enumerated().map { k, s in
                let pad = String(repeating: " ", count: widths[k] - s.count)
                return (!header && k < rightAligned.count && rightAligned[k]) ? pad + s : s + pad
            }.joined(separator: "  ")
        }
        var out = line(columns, header: true) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in rows { out += line(row, header: false) + "\n" }
        return out
    }
}
