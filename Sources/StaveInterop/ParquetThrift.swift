// The names of the numbers in Parquet's metadata: the field ids of the
// parquet.thrift structures stave reads and writes, and the values of its
// enums (https://github.com/apache/parquet-format, src/main/thrift/parquet.thrift).
// The reader, the writer and ParquetSurgery use these names, never bare ids.

/// Field ids, one caseless enum per Thrift struct.
enum PQ {
    enum FileMetaData {
        static let version: Int16 = 1, schema: Int16 = 2, numRows: Int16 = 3, rowGroups: Int16 = 4
        static let createdBy: Int16 = 6, columnOrders: Int16 = 7, encryptionAlgorithm: Int16 = 8
    }
    enum SchemaElement {
        static let type: Int16 = 1, repetitionType: Int16 = 3, name: Int16 = 4, numChildren: Int16 = 5
        static let convertedType: Int16 = 6, logicalType: Int16 = 10
    }
    /// A union: the field set names the logical type.
    enum LogicalType {
        static let string: Int16 = 1, date: Int16 = 6, timestamp: Int16 = 8, integer: Int16 = 10
    }
    enum TimestampType {
        static let isAdjustedToUTC: Int16 = 1, unit: Int16 = 2
    }
    /// A union: MILLIS, MICROS or NANOS.
    enum TimeUnit {
        static let millis: Int16 = 1, micros: Int16 = 2, nanos: Int16 = 3
    }
    enum IntType {
        static let bitWidth: Int16 = 1, isSigned: Int16 = 2
    }
    enum RowGroup {
        static let columns: Int16 = 1, totalByteSize: Int16 = 2, numRows: Int16 = 3, fileOffset: Int16 = 5
        static let totalCompressedSize: Int16 = 6, ordinal: Int16 = 7
    }
    enum ColumnChunk {
        static let filePath: Int16 = 1, fileOffset: Int16 = 2, metaData: Int16 = 3
        static let cryptoMetadata: Int16 = 8, encryptedColumnMetadata: Int16 = 9
    }
    enum ColumnMetaData {
        static let type: Int16 = 1, encodings: Int16 = 2, pathInSchema: Int16 = 3, codec: Int16 = 4
        static let numValues: Int16 = 5, totalUncompressedSize: Int16 = 6, totalCompressedSize: Int16 = 7
        static let dataPageOffset: Int16 = 9, dictionaryPageOffset: Int16 = 11, statistics: Int16 = 12
    }
    enum Statistics {
        /// The deprecated signed min/max, written for older readers.
        static let max: Int16 = 1, min: Int16 = 2
        static let nullCount: Int16 = 3, maxValue: Int16 = 5, minValue: Int16 = 6
    }
    /// A union: TYPE_ORDER is the only member.
    enum ColumnOrder {
        static let typeOrder: Int16 = 1
    }
    enum PageHeader {
        static let type: Int16 = 1, uncompressedPageSize: Int16 = 2, compressedPageSize: Int16 = 3, crc: Int16 = 4
        static let dataPageHeader: Int16 = 5, dictionaryPageHeader: Int16 = 7, dataPageHeaderV2: Int16 = 8
    }
    enum DataPageHeader {
        static let numValues: Int16 = 1, encoding: Int16 = 2, definitionLevelEncoding: Int16 = 3, repetitionLevelEncoding: Int16 = 4
    }
    enum DictionaryPageHeader {
        static let numValues: Int16 = 1, encoding: Int16 = 2
    }
    enum DataPageHeaderV2 {
        static let numValues: Int16 = 1, numNulls: Int16 = 2, numRows: Int16 = 3, encoding: Int16 = 4
        static let definitionLevelsByteLength: Int16 = 5, repetitionLevelsByteLength: Int16 = 6, isCompressed: Int16 = 7
    }
}

/// Values of parquet.thrift's enums.
enum ParquetCode {
    // Encoding
    static let plain: Int32 = 0, rle: Int32 = 3, rleDictionary: Int32 = 8, plainDictionary: Int32 = 2
    static let deltaBinaryPacked: Int32 = 5, deltaLengthByteArray: Int32 = 6, deltaByteArray: Int32 = 7, byteStreamSplit: Int32 = 9
    // PageType
    static let dataPage: Int32 = 0, dictionaryPage: Int32 = 2, dataPageV2: Int32 = 3
    // CompressionCodec
    static let uncompressed: Int32 = 0, snappy: Int32 = 1, gzip: Int32 = 2, zstd: Int32 = 6
    // FieldRepetitionType
    static let required: Int32 = 0, optional: Int32 = 1, repeated: Int32 = 2
    // ConvertedType (the legacy annotation, written next to the logical type)
    static let utf8: Int32 = 0, date: Int32 = 6, timestampMillis: Int32 = 9, timestampMicros: Int32 = 10
    /// INT_8...INT_64 are 15...18, UINT_8...UINT_64 are 11...14.
    static func convertedInteger(bits: Int8, signed: Bool) -> Int32 {
        precondition([8, 16, 32, 64].contains(bits), "an integer logical type of \(bits) bits")
        return (signed ? 15 : 11) + Int32(bits.trailingZeroBitCount - 3)
    }
}
