// The Arrow IPC streaming format (arrow/format/Columnar.rst, "Serialization
// and Interprocess Communication"; Message.fbs, Schema.fbs), written for
// query results: a Schema message, one RecordBatch message and the
// end-of-stream marker. pyarrow (`pa.ipc.open_stream`) and Polars
// (`pl.read_ipc_stream`) read it without parsing text.
//
// Each message: 0xFFFFFFFF, the metadata length (int32, the flatbuffer
// padded so that the body starts 8-aligned), the Message flatbuffer, then
// the body (buffers at 8-aligned offsets).

public enum ArrowColumnValues: Sendable {
    case int64([Int64])
    case float64([Double])
    /// UTF-8 strings: `offsets[i]..<offsets[i + 1]` of `bytes`.
    case utf8(offsets: [Int32], bytes: [UInt8])
}

public struct ArrowColumn: Sendable {
    public var name: String
    /// One value per row (a placeholder where the row is null).
    public var values: ArrowColumnValues
    /// Per row, whether it has a value (nil: every row does).
    public var valid: [Bool]?

    public init(name: String, values: ArrowColumnValues, valid: [Bool]? = nil) {
        self.name = name
        self.values = values
        self.valid = valid
    }
}

public enum ArrowStream {
    /// The whole stream for `columns` of `rows` rows.
    public static func encode(_ columns: [ArrowColumn], rows: Int) -> [UInt8] {
        var out: [UInt8] = []
        // Schema.
        let fields = columns.map { c -> FlatTable in
            var f = FlatTable()
            f.add(0, .string(c.name))
            f.add(1, .byte(c.valid == nil ? 0 : 1))
            var type = FlatTable()
            switch c.values {
            case .int64:
                f.add(2, .byte(2))              // Type.Int
                type.add(0, .int(64))           // bitWidth
                type.add(1, .byte(1))           // is_signed
            case .float64:
                f.add(2, .byte(3))              // Type.FloatingPoint
                type.add(0, .short(2))          // Precision.DOUBLE
            case .utf8:
                f.add(2, .byte(5))              // Type.Utf8
            }
            f.add(3, .table(type))
            f.add(5, .tables([]))               // children (readers expect the vector)
            return f
        }
        var schema = FlatTable()
        schema.add(0, .short(0))                // Endianness.Little
        schema.add(1, .tables(fields))
        message(header: 1, schema, body: [], into: &out)
        // One record batch.
        var body: [UInt8] = []
        var nodes: [UInt8] = [], buffers: [UInt8] = []
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func buffer(_ bytes: [UInt8]) {
            while body.count % 8 != 0 { body.append(0) }
            buffers += le(Int64(body.count)) + le(Int64(bytes.count))
            body += bytes
        }
        for c in columns {
            let nulls = c.valid.map { $0.reduce(0) { $0 + ($1 ? 0 : 1) } } ?? 0
            nodes += le(Int64(rows)) + le(Int64(nulls))
            if let valid = c.valid, nulls > 0 {
                var bits = [UInt8](repeating: 0, count: (rows + 7) / 8)
                for (i, v) in valid.enumerated() where v { bits[i / 8] |= 1 << UInt8(i % 8) }
                buffer(bits)
            } else {
                buffer([])
            }
            switch c.values {
            case .int64(let v): buffer(v.withUnsafeBytes { Array($0) })
            case .float64(let v): buffer(v.withUnsafeBytes { Array($0) })
            case .utf8(let offsets, let bytes):
                buffer(offsets.withUnsafeBytes { Array($0) })
                buffer(bytes)
            }
        }
        while body.count % 8 != 0 { body.append(0) }
        var batch = FlatTable()
        batch.add(0, .long(Int64(rows)))
        batch.add(1, .structs(nodes, count: columns.count))
        batch.add(2, .structs(buffers, count: buffers.count / 16))
        message(header: 3, batch, body: body, into: &out)
        // End of stream.
        out += [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        return out
    }

    /// One encapsulated message: Message { version V5, header, bodyLength }.
    static func message(header type: UInt8, _ header: FlatTable, body: [UInt8], into out: inout [UInt8]) {
        var m = FlatTable()
        m.add(0, .short(4))                     // MetadataVersion.V5
        m.add(1, .byte(type))                   // MessageHeader: 1 Schema, 3 RecordBatch
        m.add(2, .table(header))
        m.add(3, .long(Int64(body.count)))
        var meta = FlatBuffer.encode(m)
        while (8 + meta.count) % 8 != 0 { meta.append(0) }
        out += [0xFF, 0xFF, 0xFF, 0xFF]
        let n = UInt32(meta.count)
        out += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
        out += meta
        out += body
    }
}

// MARK: A minimal FlatBuffers encoder

/// A table to encode: fields by slot (their position in the schema).
struct FlatTable {
    indirect enum Value {
        case byte(UInt8), short(Int16), int(Int32), long(Int64)
        case string(String)
        case table(FlatTable)
        case tables([FlatTable])
        /// A vector of `count` structs whose fields are all 8 bytes wide.
        case structs([UInt8], count: Int)

        /// Bytes in the table: scalars inline, everything else a 4-byte offset.
        var width: Int {
            switch self {
            case .byte: return 1
            case .short: return 2
            case .int: return 4
            case .long: return 8
            default: return 4
            }
        }
    }

    var fields: [(slot: Int, value: Value)] = []

    mutating func add(_ slot: Int, _ value: Value) { fields.append((slot, value)) }
}

/// Lays a FlatBuffer out front to back: the root offset, then each table
/// after its vtable, then what the table points to. Offsets (uoffset) thus
/// always point forward, as the format requires; each table starts 8-aligned
/// so its 8-byte fields are aligned, vectors of 8-byte structs likewise.
enum FlatBuffer {
    static func encode(_ root: FlatTable) -> [UInt8] {
        var b: [UInt8] = [0, 0, 0, 0]
        let r = table(root, &b)
        patch(&b, at: 0, to: r)
        return b
    }

    static func put<T: FixedWidthInteger>(_ v: T, _ b: inout [UInt8], at p: Int) {
        withUnsafeBytes(of: v.littleEndian) { for (k, x) in $0.enumerated() { b[p + k] = x } }
    }

    /// Writes the uoffset at `p` pointing to `target` (> p).
    static func patch(_ b: inout [UInt8], at p: Int, to target: Int) {
        put(UInt32(target - p), &b, at: p)
    }

    static func table(_ t: FlatTable, _ b: inout [UInt8]) -> Int {
        // Field positions inside the table: soffset, then 8-byte fields from
        // offset 8, then 4-, 2- and 1-byte fields.
        var offsets = [Int](repeating: 0, count: t.fields.count)
        var size = 4
        let hasLong = t.fields.contains { $0.value.width == 8 }
        if hasLong { size = 8 }
        for width in [8, 4, 2, 1] {
            for (k, f) in t.fields.enumerated() where f.value.width == width {
                offsets[k] = size
                size += width
            }
        }
        while size % 4 != 0 { size += 1 }
        // The vtable: its size, the table's size, one entry per slot.
        let slots = (t.fields.map(\.slot).max() ?? -1) + 1
        while b.count % 2 != 0 { b.append(0) }
        let vtable = b.count
        b += [UInt8](repeating: 0, count: 4 + 2 * slots)
        put(UInt16(4 + 2 * slots), &b, at: vtable)
        put(UInt16(size), &b, at: vtable + 2)
        for (k, f) in t.fields.enumerated() { put(UInt16(offsets[k]), &b, at: vtable + 4 + 2 * f.slot) }
        while b.count % 8 != 0 { b.append(0) }
        let start = b.count
        b += [UInt8](repeating: 0, count: size)
        put(Int32(start - vtable), &b, at: start)
        var children: [(at: Int, value: FlatTable.Value)] = []
        for (k, f) in t.fields.enumerated() {
            let p = start + offsets[k]
            switch f.value {
            case .byte(let v): b[p] = v
            case .short(let v): put(v, &b, at: p)
            case .int(let v): put(v, &b, at: p)
            case .long(let v): put(v, &b, at: p)
            default: children.append((p, f.value))
            }
        }
        for (p, value) in children { patch(&b, at: p, to: object(value, &b)) }
        return start
    }

    /// A non-scalar value; returns its position.
    static func object(_ v: FlatTable.Value, _ b: inout [UInt8]) -> Int {
        switch v {
        case .string(let s):
            while b.count % 4 != 0 { b.append(0) }
            let p = b.count
            let bytes = Array(s.utf8)
            b += [0, 0, 0, 0]
            put(UInt32(bytes.count), &b, at: p)
            b += bytes
            b.append(0)
            return p
        case .table(let t):
            return table(t, &b)
        case .tables(let ts):
            while b.count % 4 != 0 { b.append(0) }
            let p = b.count
            b += [UInt8](repeating: 0, count: 4 + 4 * ts.count)
            put(UInt32(ts.count), &b, at: p)
            for (k, t) in ts.enumerated() { patch(&b, at: p + 4 + 4 * k, to: table(t, &b)) }
            return p
        case .structs(let bytes, let count):
            // The elements 8-aligned: the length just before them.
            while (b.count + 4) % 8 != 0 { b.append(0) }
            let p = b.count
            b += [0, 0, 0, 0]
            put(UInt32(count), &b, at: p)
            b += bytes
            return p
        case .byte, .short, .int, .long:
            preconditionFailure("scalars are stored inline")
        }
    }
}
