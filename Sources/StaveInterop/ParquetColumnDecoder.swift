#if canImport(Glibc)
import Glibc
#endif
import CSnappy
import StaveFormat
import StaveIO

/// Decodes the pages of one column chunk into one array.
struct ColumnDecoder {
    let info: ParquetColumnInfo
    let rows: Int
    let file: ParquetFile
    let what: String
    var rowsDone = 0
    var integers: [Int64] = []
    var doubles: [Double] = []
    var int96: [(nanos: Int64, julianDay: Int64)] = []
    var offsets: [Int] = [0]
    var bytes: [UInt8] = []
    var present: [Bool]? = nil
    /// The dictionary, decoded like values.
    var dictionary: ParquetRead? = nil

    init(info: ParquetColumnInfo, rows: Int, file: ParquetFile, what: String) {
        self.info = info
        self.rows = rows
        self.file = file
        self.what = what
        if info.optional { present = [] }
    }

    func fail(_ m: String) -> ParquetError { file.fail("\(what): \(m)") }

    mutating func dictionary(_ body: [UInt8], count: Int) throws {
        var d = ColumnDecoder(info: ParquetColumnInfo(name: info.name, type: info.type, optional: false), rows: count, file: file, what: what + " dictionary")
        try body.withUnsafeBytes { try d.plain($0, count: count) }
        d.rowsDone = count
        dictionary = try d.finish().values
    }

    mutating func page(levels: [UInt8]?, values body: [UInt8], count n: Int64, encoding: Int64, v1: Bool) throws {
        guard n >= 0, n <= Int64(rows - rowsDone) else { throw fail("a page of \(n) values past the row group's \(rows) rows") }
        let count = Int(n)
        var present = count
        try body.withUnsafeBytes { raw in
            var data = raw
            if info.optional {
                // Definition levels, one bit each: v1 with a 4-byte length in the body, v2 in the header's section.
                var defs = [UInt32](repeating: 0, count: count)
                func decodeLevels(_ levelBytes: UnsafeRawBufferPointer) throws {
                    do { _ = try defs.withUnsafeMutableBufferPointer { try RLEHybrid.decode(levelBytes, width: 1, count: count, into: $0.baseAddress!) } }
                    catch let e as ThriftError { throw fail("definition levels: \(e.message)") }
                }
                if v1 {
                    guard data.count >= 4 else { throw fail("definition levels truncated") }
                    let length = Int(data[0]) | Int(data[1]) << 8 | Int(data[2]) << 16 | Int(data[3]) << 24
                    guard length <= data.count - 4 else { throw fail("definition levels longer than the page") }
                    try decodeLevels(UnsafeRawBufferPointer(rebasing: data[4..<(4 + length)]))
                    data = UnsafeRawBufferPointer(rebasing: data[(4 + length)...])
                } else {
                    try levels!.withUnsafeBytes { try decodeLevels($0) }
                }
                present = 0
                for d in defs { self.present!.append(d == 1); present += Int(d) }
            }
            switch Int32(clamping: encoding) {
            case ParquetCode.plain:
                try plain(data, count: present)
            case ParquetCode.rleDictionary, ParquetCode.plainDictionary:
                guard let dictionary else { throw fail("dictionary-encoded page without a dictionary page") }
                guard data.count >= 1 || present == 0 else { throw fail("dictionary indices truncated") }
                let width = present == 0 ? 0 : Int(data[0])
                var indices = [UInt32](repeating: 0, count: present)
                if present > 0 {
                    do { _ = try indices.withUnsafeMutableBufferPointer { try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: data[1...]), width: width, count: present, into: $0.baseAddress!) } }
                    catch let e as ThriftError { throw fail("dictionary indices: \(e.message)") }
                }
                try lookUp(indices, in: dictionary)
            case ParquetCode.rle where info.type == .boolean:
                guard data.count >= 4 else { throw fail("boolean RLE truncated") }
                var bits = [UInt32](repeating: 0, count: present)
                do { _ = try bits.withUnsafeMutableBufferPointer { try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: data[4...]), width: 1, count: present, into: $0.baseAddress!) } }
                catch let e as ThriftError { throw fail("booleans: \(e.message)") }
                integers += bits.lazy.map(Int64.init)
            case ParquetCode.deltaBinaryPacked where info.type == .int32 || info.type == .int64:
                do { integers += try DeltaBinaryPacked.decode(data, count: present) }
                catch let e as ThriftError { throw fail("DELTA_BINARY_PACKED: \(e.message)") }
            default:
                let names = [5: "DELTA_BINARY_PACKED", 6: "DELTA_LENGTH_BYTE_ARRAY", 7: "DELTA_BYTE_ARRAY", 9: "BYTE_STREAM_SPLIT", 3: "RLE", 4: "BIT_PACKED"]
                throw fail("encoding \(names[Int(encoding)] ?? "code \(encoding)") is not supported for \(info.type) (stave reads PLAIN, dictionaries, RLE booleans and DELTA_BINARY_PACKED integers)")
            }
        }
        rowsDone += count
    }

    mutating func lookUp(_ indices: [UInt32], in dictionary: ParquetRead) throws {
        switch dictionary {
        case .integers(let d):
            for i in indices { guard Int(i) < d.count else { throw fail("dictionary index \(i) of \(d.count)") }; integers.append(d[Int(i)]) }
        case .doubles(let d):
            for i in indices { guard Int(i) < d.count else { throw fail("dictionary index \(i) of \(d.count)") }; doubles.append(d[Int(i)]) }
        case .int96(let d):
            for i in indices { guard Int(i) < d.count else { throw fail("dictionary index \(i) of \(d.count)") }; int96.append(d[Int(i)]) }
        case .byteArrays(let o, let b):
            for i in indices {
                guard Int(i) < o.count - 1 else { throw fail("dictionary index \(i) of \(o.count - 1)") }
                bytes += b[o[Int(i)]..<o[Int(i) + 1]]
                offsets.append(bytes.count)
            }
        }
    }

    /// PLAIN values: fixed widths little-endian; byte arrays with a 4-byte
    /// length; booleans one bit each.
    mutating func plain(_ data: UnsafeRawBufferPointer, count: Int) throws {
        func fixed(_ width: Int) throws {
            guard count <= data.count / max(width, 1) else { throw fail("\(count) values of \(width) bytes in \(data.count) bytes") }
        }
        switch info.type {
        case .int32:
            try fixed(4)
            for k in 0..<count { integers.append(Int64(Int32(bitPattern: data.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self).littleEndian))) }
        case .int64:
            try fixed(8)
            for k in 0..<count { integers.append(Int64(bitPattern: data.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self).littleEndian)) }
        case .double:
            try fixed(8)
            for k in 0..<count { doubles.append(Double(bitPattern: data.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self).littleEndian)) }
        case .float:
            try fixed(4)
            for k in 0..<count { doubles.append(Double(Float(bitPattern: data.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self).littleEndian))) }
        case .boolean:
            guard count <= data.count * 8 else { throw fail("\(count) booleans in \(data.count) bytes") }
            for k in 0..<count { integers.append(Int64(data[k / 8] >> UInt8(k % 8) & 1)) }
        case .int96:
            try fixed(12)
            for k in 0..<count {
                let nanos = Int64(bitPattern: data.loadUnaligned(fromByteOffset: 12 * k, as: UInt64.self).littleEndian)
                let day = Int64(Int32(bitPattern: data.loadUnaligned(fromByteOffset: 12 * k + 8, as: UInt32.self).littleEndian))
                int96.append((nanos, day))
            }
        case .byteArray:
            var p = 0
            for _ in 0..<count {
                guard data.count - p >= 4 else { throw fail("byte array length truncated") }
                let n = Int(data.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian)
                p += 4
                guard n <= data.count - p else { throw fail("a byte array of \(n) bytes with \(data.count - p) left") }
                bytes += UnsafeRawBufferPointer(rebasing: data[p..<(p + n)])
                offsets.append(bytes.count)
                p += n
            }
        case .fixedLenByteArray:
            throw fail("FIXED_LEN_BYTE_ARRAY columns are not supported")
        }
    }

    func finish() throws -> (values: ParquetRead, present: [Bool]?) {
        guard rowsDone == rows else { throw fail("pages hold \(rowsDone) of \(rows) rows") }
        let values: ParquetRead
        switch info.type {
        case .int32, .int64, .boolean: values = .integers(integers)
        case .double, .float: values = .doubles(doubles)
        case .int96: values = .int96(int96)
        case .byteArray, .fixedLenByteArray: values = .byteArrays(offsets: offsets, bytes: bytes)
        }
        return (values, present)
    }
}

/// DELTA_BINARY_PACKED (Encodings.md, code 5): a header (block size,
/// miniblocks per block, value count, first value), then per block a zigzag
/// minimum delta, one bit width per miniblock and the miniblocks packed.
enum DeltaBinaryPacked {
    static func decode(_ data: UnsafeRawBufferPointer, count: Int) throws -> [Int64] {
        var p = 0
        func varint() throws -> UInt64 { try Varint.read(data, &p) }
        func zigzag() throws -> Int64 { Varint.zigzag(try varint()) }
        let blockSize = try varint(), miniblocks = try varint(), total = try varint()
        var value = try zigzag()
        guard blockSize > 0, blockSize % 128 == 0, miniblocks > 0, blockSize % miniblocks == 0, (blockSize / miniblocks) % 32 == 0,
              blockSize <= 1 << 20, miniblocks <= 1 << 10 else { throw ThriftError(message: "bad block sizes \(blockSize)/\(miniblocks)") }
        guard total == UInt64(count) else { throw ThriftError(message: "\(total) values where the page has \(count)") }
        var out: [Int64] = []
        out.reserveCapacity(count)
        if count > 0 { out.append(value) }
        let perMini = Int(blockSize / miniblocks)
        while out.count < count {
            let minDelta = try zigzag()
            guard Int(miniblocks) <= data.count - p else { throw ThriftError(message: "bit widths truncated") }
            let widths = (0..<Int(miniblocks)).map { Int(data[p + $0]) }
            p += Int(miniblocks)
            for w in widths {
                guard out.count < count else { break }
                guard w <= 64 else { throw ThriftError(message: "bit width \(w)") }
                let bytesNeeded = perMini * w / 8
                guard bytesNeeded <= data.count - p else { throw ThriftError(message: "miniblock truncated") }
                var bit = 0
                for _ in 0..<perMini {
                    var v: UInt64 = 0
                    for b in 0..<w {
                        let byte = data[p + (bit + b) / 8]
                        v |= UInt64((byte >> UInt8((bit + b) % 8)) & 1) << UInt64(b)
                    }
                    bit += w
                    if out.count < count {
                        value = value &+ minDelta &+ Int64(bitPattern: v)
                        out.append(value)
                    }
                }
                p += bytesNeeded
            }
        }
        return out
    }
}
