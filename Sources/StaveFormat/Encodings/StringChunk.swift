// Encoding 5, STRING: the values of a STRING column.
//
//   offset size
//   0      ...  FOR block of the row-count byte lengths (each 0...65,535)
//   ...    L    the UTF-8 bytes of every value, one after another, where L is
//               the sum of the lengths; nothing follows
//
// Value i is the bytes [sum of lengths before i, + length i). zstd on top
// does the real compression (names and addresses repeat words).

public struct StringChunk: @unchecked Sendable {
    // @unchecked Sendable: `bytes` points into an immutable payload that its
    // owner (a DecodedChunk) keeps alive and never writes.
    public let lengths: FORBlock
    public let bytes: UnsafeRawBufferPointer
    /// count + 1 offsets into `bytes`, computed and checked at parse.
    public let offsets: [Int]

    public var count: Int { offsets.count - 1 }

    /// Parses a chunk of `count` values: every length within 0...65,535 and
    /// the bytes present in full (the caller checks nothing follows).
    public static func parse(_ r: inout ByteReader, count: Int, file: String, what: String) throws -> StringChunk {
        let lengths = try FORBlock.parse(&r, count: count, file: file, what: what)
        var offsets = [Int](repeating: 0, count: count + 1)
        if count > 0 {
            let values = UnsafeMutablePointer<Int64>.allocate(capacity: count)
            defer { values.deallocate() }
            lengths.decode(0..<count, into: values)
            var total = 0
            for i in 0..<count {
                let n = values[i]
                guard n >= 0, n <= Int64(FormatConstants.maxStringBytes) else {
                    throw StaveError.corrupt(file: file, what: "\(what): string length \(n) outside 0...\(FormatConstants.maxStringBytes)")
                }
                total += Int(n) // at most count × 65,535: no overflow
                offsets[i + 1] = total
            }
        }
        let bytes = try r.readBytes(offsets[count])
        return StringChunk(lengths: lengths, bytes: bytes, offsets: offsets)
    }

    /// The bytes of value `i`.
    /// - Precondition: 0 <= i < count.
    public func rawValue(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[offsets[i]..<offsets[i + 1]])
    }

    /// Value `i` as a String; a value that is not valid UTF-8 is an error
    /// (a writer only stores valid UTF-8), never silently repaired.
    public func value(_ i: Int, file: String, what: String) throws -> String {
        guard let s = String(validating: rawValue(i), as: UTF8.self) else {
            throw StaveError.corrupt(file: file, what: "\(what): row \(i) is not valid UTF-8")
        }
        return s
    }

    /// Encodes values given as their lengths and their concatenated bytes.
    public static func encode(lengths: UnsafeBufferPointer<Int64>, bytes: [UInt8], into out: inout ByteWriter) {
        FORBlock.encode(lengths, into: &out)
        out.append(bytes: bytes)
    }
}
