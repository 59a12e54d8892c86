import StaveFormat

// The Thrift compact protocol, as Parquet uses it for its metadata (file
// footer, page headers): https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
//
// Writing: a small imperative writer (fields by id, structs nested with
// begin/end). Reading: a generic decoder into a tree of values, with every
// size checked against the bytes left (each element takes at least one
// byte, so no claimed count can make it allocate more than the input's
// size) and nesting bounded.

/// Compact protocol type codes.
public enum ThriftType: UInt8, Sendable {
    case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
    case binary = 8, list = 9, set = 10, map = 11, structure = 12
}

// MARK: Writing

public struct ThriftWriter {
    public private(set) var bytes: [UInt8] = []
    /// The last field id written, per open struct.
    private var lastField: [Int16] = [0]

    public init() {}

    public mutating func varint(_ v: UInt64) {
        var x = v
        while x >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: x) | 0x80)
            x >>= 7
        }
        bytes.append(UInt8(x))
    }

    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    /// A field header: the id as a delta from the last one when it fits in 4 bits.
    public mutating func field(_ id: Int16, _ type: ThriftType) {
        let delta = Int(id) - Int(lastField[lastField.count - 1])
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            varint(Self.zigzag(Int64(id)))
        }
        lastField[lastField.count - 1] = id
    }

    public mutating func bool(_ id: Int16, _ v: Bool) { field(id, v ? .boolTrue : .boolFalse) }
    public mutating func i32(_ id: Int16, _ v: Int32) { field(id, .i32); varint(Self.zigzag(Int64(v))) }
    public mutating func i64(_ id: Int16, _ v: Int64) { field(id, .i64); varint(Self.zigzag(v)) }
    public mutating func binary(_ id: Int16, _ v: [UInt8]) { field(id, .binary); rawBinary(v) }
    public mutating func string(_ id: Int16, _ v: String) { binary(id, Array(v.utf8)) }

    /// An element of a list of integers (i32 or i64: the same zigzag varint).
    public mutating func element(_ v: Int64) { varint(Self.zigzag(v)) }
    public mutating func rawBinary(_ v: [UInt8]) { varint(UInt64(v.count)); bytes += v }
    /// Bytes as they are (a `byte` field's value).
    public mutating func appendRaw(_ v: [UInt8]) { bytes += v }

    public mutating func listHeader(_ id: Int16, _ element: ThriftType, count: Int) {
        field(id, .list)
        listHeader(element, count: count)
    }

    public mutating func listHeader(_ element: ThriftType, count: Int) {
        if count < 15 {
            bytes.append(UInt8(count) << 4 | element.rawValue)
        } else {
            bytes.append(0xF0 | element.rawValue)
            varint(UInt64(count))
        }
    }

    /// A struct field: `body` writes its fields.
    public mutating func structure(_ id: Int16, _ body: (inout ThriftWriter) -> Void) {
        field(id, .structure)
        element(body)
    }

    /// A struct as a list element (or the top level).
    public mutating func element(_ body: (inout ThriftWriter) -> Void) {
        lastField.append(0)
        body(&self)
        bytes.append(0)
        lastField.removeLast()
    }
}

// MARK: Reading

/// A decoded Thrift value.
public indirect enum ThriftValue: Sendable, Equatable {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case binary([UInt8])
    case list([ThriftValue])
    case map([ThriftValue])
    case structure(ThriftStruct)
}

/// A decoded struct: field id -> value.
public struct ThriftStruct: Sendable, Equatable {
    public var fields: [Int16: ThriftValue] = [:]

    public subscript(_ id: Int16) -> ThriftValue? { fields[id] }

    public func int(_ id: Int16) -> Int64? { if case .int(let v)? = fields[id] { return v }; return nil }
    public func bool(_ id: Int16) -> Bool? { if case .bool(let v)? = fields[id] { return v }; return nil }
    public func binary(_ id: Int16) -> [UInt8]? { if case .binary(let v)? = fields[id] { return v }; return nil }
    public func string(_ id: Int16) -> String? { binary(id).flatMap { String(validating: $0, as: UTF8.self) } }
    public func structure(_ id: Int16) -> ThriftStruct? { if case .structure(let v)? = fields[id] { return v }; return nil }
    public func list(_ id: Int16) -> [ThriftValue]? { if case .list(let v)? = fields[id] { return v }; return nil }
    public func structs(_ id: Int16) -> [ThriftStruct]? {
        guard let l = list(id) else { return nil }
        var out: [ThriftStruct] = []
        for v in l { guard case .structure(let s) = v else { return nil }; out.append(s) }
        return out
    }
}

public struct ThriftError: Error, Equatable, Sendable {
    public var message: String
}

/// Unsigned LEB128 (7 bits a byte, least significant first), as Thrift's
/// compact protocol, Parquet's RLE run headers and DELTA_BINARY_PACKED use it.
enum Varint {
    /// Reads one varint at `p`, advancing it. Throws when the input ends
    /// first or the varint runs past 64 bits.
    static func read(_ data: UnsafeRawBufferPointer, _ p: inout Int) throws -> UInt64 {
        var out: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard p < data.count else { throw ThriftError(message: "truncated varint at byte \(p)") }
            let b = data[p]
            p += 1
            guard shift < 64 else { throw ThriftError(message: "varint longer than 10 bytes at byte \(p)") }
            out |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return out }
            shift += 7
        }
    }

    static func zigzag(_ u: UInt64) -> Int64 { Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1))) }
}

public struct ThriftReader {
    let bytes: UnsafeRawBufferPointer
    public private(set) var position = 0
    static let maxDepth = 32

    /// - Precondition: `bytes` stays valid while the reader is used.
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - position }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw ThriftError(message: "truncated at byte \(position)") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws -> UInt64 { try Varint.read(bytes, &position) }

    mutating func zigzag() throws -> Int64 { Varint.zigzag(try varint()) }

    mutating func count() throws -> Int {
        let n = try varint()
        // Every element takes at least one byte.
        guard n <= UInt64(remaining) else { throw ThriftError(message: "a count of \(n) with \(remaining) bytes left") }
        return Int(n)
    }

    /// Reads one struct (the top-level value of a Parquet metadata blob).
    public mutating func readStruct() throws -> ThriftStruct {
        try structBody(depth: 0)
    }

    mutating func structBody(depth: Int) throws -> ThriftStruct {
        guard depth < Self.maxDepth else { throw ThriftError(message: "nested deeper than \(Self.maxDepth)") }
        var out = ThriftStruct()
        var last: Int16 = 0
        while true {
            let header = try byte()
            if header == 0 { return out }
            guard let type = ThriftType(rawValue: header & 0x0F) else { throw ThriftError(message: "unknown type \(header & 0x0F) at byte \(position - 1)") }
            let delta = Int16(header >> 4)
            var id: Int16
            if delta != 0 {
                id = last &+ delta
            } else {
                let v = try zigzag()
                guard v >= Int64(Int16.min), v <= Int64(Int16.max) else { throw ThriftError(message: "field id \(v) out of range") }
                id = Int16(v)
            }
            last = id
            let value: ThriftValue
            switch type {
            case .boolTrue: value = .bool(true)
            case .boolFalse: value = .bool(false)
            default: value = try self.value(type, depth: depth + 1)
            }
            out.fields[id] = value
        }
    }

    mutating func value(_ type: ThriftType, depth: Int) throws -> ThriftValue {
        switch type {
        case .stop: throw ThriftError(message: "stop where a value was expected")
        case .boolTrue, .boolFalse:
            // As a list element: one byte, 1 true (0 or 2 false).
            return .bool(try byte() == 1)
        case .byte: return .int(Int64(Int8(bitPattern: try byte())))
        case .i16, .i32, .i64: return .int(try zigzag())
        case .double:
            guard remaining >= 8 else { throw ThriftError(message: "truncated double") }
            var bits: UInt64 = 0
            for k in 0..<8 { bits |= UInt64(bytes[position + k]) << (8 * UInt64(k)) }
            position += 8
            return .double(Double(bitPattern: bits))
        case .binary:
            let n = try count()
            defer { position += n }
            return .binary(Array(bytes[position..<(position + n)]))
        case .list, .set:
            guard depth < Self.maxDepth else { throw ThriftError(message: "nested deeper than \(Self.maxDepth)") }
            let header = try byte()
            var n = Int(header >> 4)
            if n == 15 { n = try count() }
            guard n <= remaining else { throw ThriftError(message: "a list of \(n) with \(remaining) bytes left") }
            guard let element = ThriftType(rawValue: header & 0x0F), element != .stop else { throw ThriftError(message: "unknown list element type \(header & 0x0F)") }
            var out: [ThriftValue] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try value(element, depth: depth + 1)) }
            return .list(out)
        case .map:
            guard depth < Self.maxDepth else { throw ThriftError(message: "nested deeper than \(Self.maxDepth)") }
            let n = try count()
            if n == 0 { return .map([]) }
            let kinds = try byte()
            guard let k = ThriftType(rawValue: kinds >> 4), let v = ThriftType(rawValue: kinds & 0x0F), k != .stop, v != .stop else {
                throw ThriftError(message: "unknown map types \(kinds)")
            }
            var out: [ThriftValue] = []
            for _ in 0..<n {
                out.append(try value(k, depth: depth + 1))
                out.append(try value(v, depth: depth + 1))
            }
            return .map(out)
        case .structure:
            return .structure(try structBody(depth: depth))
        }
    }
}

// MARK: Writing a decoded tree back

extension ThriftWriter {
    /// Writes a decoded struct back as a top-level value (or list element):
    /// what `ThriftReader.readStruct` decodes to an equal tree. Integers are
    /// written as i64 (the reader makes no difference between the integer
    /// types; compact i16, i32 and i64 share the zigzag varint), fields in
    /// ascending id order.
    public mutating func write(_ s: ThriftStruct) {
        element { w in w.writeFields(s) }
    }

    mutating func writeFields(_ s: ThriftStruct) {
        for id in s.fields.keys.sorted() {
            switch s.fields[id]! {
            case .bool(let b): bool(id, b)
            case .int(let v): i64(id, v)
            case .double(let d):
                field(id, .double)
                appendRaw(withUnsafeBytes(of: d.bitPattern.littleEndian) { Array($0) })
            case .binary(let b): binary(id, b)
            case .list(let items):
                field(id, .list)
                writeList(items)
            case .map(let items):
                field(id, .map)
                writeMap(items)
            case .structure(let inner):
                structure(id) { w in w.writeFields(inner) }
            }
        }
    }

    static func elementType(_ v: ThriftValue) -> ThriftType {
        switch v {
        case .bool: return .boolTrue
        case .int: return .i64
        case .double: return .double
        case .binary: return .binary
        case .list: return .list
        case .map: return .map
        case .structure: return .structure
        }
    }

    mutating func writeElement(_ v: ThriftValue) {
        switch v {
        case .bool(let b): appendRaw([b ? 1 : 2])
        case .int(let x): element(x)
        case .double(let d): appendRaw(withUnsafeBytes(of: d.bitPattern.littleEndian) { Array($0) })
        case .binary(let b): rawBinary(b)
        case .list(let items): writeList(items)
        case .map(let items): writeMap(items)
        case .structure(let inner): element { w in w.writeFields(inner) }
        }
    }

    mutating func writeList(_ items: [ThriftValue]) {
        listHeader(items.first.map(Self.elementType) ?? .i32, count: items.count)
        for v in items { writeElement(v) }
    }

    /// A map as the reader keeps it: keys and values alternating.
    mutating func writeMap(_ items: [ThriftValue]) {
        let n = items.count / 2
        varint(UInt64(n))
        guard n > 0 else { return }
        appendRaw([Self.elementType(items[0]).rawValue << 4 | Self.elementType(items[1]).rawValue])
        for v in items.prefix(2 * n) { writeElement(v) }
    }
}
