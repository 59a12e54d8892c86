/// CRC-32 as Parquet page checksums use it (polynomial 0x04C11DB7, the one
/// of gzip and zlib, reflected: 0xEDB88320), table-driven, eight bytes a step.
public enum CRC32 {
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xFF)] }
        }
        return t
    }()

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        let t = tables
        var i = 0
        let n = bytes.count
        while n - i >= 8 {
            let lo = bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
            let hi = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
            c = t[7][Int(lo & 0xFF)] ^ t[6][Int(lo >> 8 & 0xFF)] ^ t[5][Int(lo >> 16 & 0xFF)] ^ t[4][Int(lo >> 24)]
                ^ t[3][Int(hi & 0xFF)] ^ t[2][Int(hi >> 8 & 0xFF)] ^ t[1][Int(hi >> 16 & 0xFF)] ^ t[0][Int(hi >> 24)]
            i += 8
        }
        while i < n {
            c = t[0][Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
            i += 1
        }
        return ~c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}
