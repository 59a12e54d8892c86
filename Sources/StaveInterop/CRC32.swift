import CDeflate

/// CRC-32 as Parquet page checksums use it (polynomial 0x04C11DB7, the one
/// of gzip and zlib, reflected: 0xEDB88320), from libdeflate, which uses the
/// CPU's carry-less multiply (PCLMULQDQ) where there is one.
public enum CRC32 {
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        // An empty buffer may have no base address; its CRC is 0.
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        return libdeflate_crc32(0, base, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}
