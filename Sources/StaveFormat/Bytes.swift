// Little-endian byte writing and bounds-checked reading.

/// Appends little-endian values to a growable byte array.
public struct ByteWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(bytes other: some Sequence<UInt8>) {
        bytes.append(contentsOf: other)
    }

    public mutating func appendZeros(_ n: Int) {
        bytes.append(contentsOf: repeatElement(0, count: n))
    }
}

/// Reads little-endian values from a buffer, throwing instead of reading past
/// its end. Used on every byte that comes from disk.
public struct ByteReader {
    public let buffer: UnsafeRawBufferPointer
    public private(set) var position: Int
    let file: String
    let what: String

    /// - Warning: `buffer` must stay valid while the reader is used.
    public init(_ buffer: UnsafeRawBufferPointer, file: String, what: String, position: Int = 0) {
        self.buffer = buffer
        self.position = position
        self.file = file
        self.what = what
    }

    public var remaining: Int { buffer.count - position }

    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        let size = MemoryLayout<T>.size
        guard position >= 0, size <= buffer.count - position else {
            throw StaveError.truncated(file: file, detail: "\(what) ends early at byte \(position)")
        }
        // Safe: position + size <= buffer.count was checked above.
        let v = buffer.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: v)
    }

    public mutating func readBytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= buffer.count - position else {
            throw StaveError.truncated(file: file, detail: "\(what) ends early at byte \(position)")
        }
        // Safe: the slice [position, position + n) lies inside buffer (checked).
        let slice = UnsafeRawBufferPointer(rebasing: buffer[position..<(position + n)])
        position += n
        return slice
    }

    public mutating func expectZero<T: FixedWidthInteger>(_: T.Type, field: String) throws {
        let v: T = try read()
        guard v == 0 else {
            throw StaveError.corrupt(file: file, what: "\(what): reserved field \(field) is \(v), must be 0")
        }
    }
}

/// Overflow-safe check that [offset, offset + length) lies inside [lower, upper).
@inline(__always)
public func rangeInside(offset: UInt64, length: UInt64, lower: UInt64, upper: UInt64) -> Bool {
    guard offset >= lower, offset <= upper else { return false }
    return length <= upper - offset
}
