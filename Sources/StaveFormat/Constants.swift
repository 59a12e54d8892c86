// Every magic number, ID and fixed size of the on-disk format, in one place.
// formats/STAVE.md cites these names; change one only together with the spec.

/// The version stave's executables print (`stave --version`, `stave serve
/// --version`) and the C library returns (stave_version).
public let staveVersion = "0.1.0"

public enum FormatConstants {
    /// First and last 8 bytes of every part file: ASCII "STAVPART".
    public static let partMagic: [UInt8] = Array("STAVPART".utf8)
    /// The only part-file version this reader and writer know. A reader
    /// rejects any other value (see STAVE.md, "Versioning").
    public static let partVersion: UInt32 = 1
    /// Header: magic (8) + version u32 + reserved u32 (must be 0).
    public static let partHeaderSize = 16
    /// Tail: footer XXH64 u64 + footer length u32 + reserved u32 + magic (8).
    public static let partTailSize = 24
    /// Column chunks start at multiples of this, so that a mapped chunk is
    /// cache-line aligned and any typed load is naturally aligned.
    public static let chunkAlignment = 64
    /// Footer layout sizes.
    public static let footerFixedSize = 24
    public static let columnSpecSize = 32
    public static let columnNameCapacity = 24
    public static let rowGroupHeaderSize = 16
    public static let chunkDescriptorSize = 48
    /// A v1 writer never puts more rows than this in one row group.
    public static let maxRowGroupRows = 65_536
    /// Hard cap on the row count a reader accepts for one row group.
    public static let readerMaxRowGroupRows = 1 << 20
    /// Manifest file name inside a store directory and its first line.
    public static let manifestName = "MANIFEST"
    public static let manifestHeader = "stave-manifest 1"
    /// Version 2 of the manifest: version 1 plus an optional `customers` line.
    /// Writers write version 1 when there is no customer table.
    public static let manifestHeaderV2 = "stave-manifest 2"
    /// Table kinds (footer field `table_kind`).
    public static let tableKindEvents: UInt32 = 1
    public static let tableKindCustomers: UInt32 = 2
    /// The longest value of a STRING column, in bytes.
    public static let maxStringBytes = 65_535
}

/// Encoding IDs of chunk payloads. Numbers are never reused.
public enum EncodingID: UInt8, Sendable, CaseIterable {
    case forBitpack = 1
    case rle = 2
    case dictionary = 3
    case delta = 4
    /// Only for STRING columns, and the only encoding they use.
    case string = 5
    /// Ascending stretches as first values plus small steps (event ids).
    case deltaRuns = 6
    /// Runs of a usual value with flagged exceptions (listening zips).
    case patchedRLE = 7

    public var name: String {
        switch self {
        case .forBitpack: return "FOR_BITPACK"
        case .rle: return "RLE"
        case .dictionary: return "DICT"
        case .delta: return "DELTA"
        case .string: return "STRING"
        case .deltaRuns: return "DELTA_RUNS"
        case .patchedRLE: return "PATCHED_RLE"
        }
    }

    /// The encodings of integer columns (every one but STRING).
    public static let integerEncodings: [EncodingID] = [.forBitpack, .rle, .dictionary, .delta, .deltaRuns, .patchedRLE]
}

/// Compression IDs applied on top of an encoded payload.
public enum CompressionID: UInt8, Sendable {
    case none = 0
    case zstd = 1

    public var name: String { self == .none ? "none" : "zstd" }
}

/// Logical types of columns (footer column spec `logical_type`).
public enum LogicalType: UInt8, Sendable {
    /// Signed 64-bit integer, values 0...Int64.max in the events table.
    case int64 = 1
    /// Unsigned 32-bit integer.
    case uint32 = 2
    /// Naive (zone-less) date and time in whole seconds since
    /// 1970-01-01 00:00:00, proleptic Gregorian, years 0001...9999.
    case datetime = 3
    /// 0 or 1.
    case bool = 4
    /// A five-digit code 00000...99999, rendered with leading zeros.
    case zip5 = 5
    /// UTF-8 text of 0...65,535 bytes. Its integer view (what min and max
    /// describe, what a numeric decode yields) is the byte length.
    case string = 6
    /// A calendar date: days since 1970-01-01, proleptic Gregorian, years
    /// 0001...9999, rendered YYYY-MM-DD.
    case date = 7
    /// Customer level: 0 Free, 1 Silver, 2 Gold.
    case level = 8
    /// Sign-up campaign: 0 NONE, 1 30DAYFREE, 2 SUPERBOWL, 3 RETAILSTORE, 4 WEBOFFER.
    case campaign = 9

    public var name: String {
        switch self {
        case .int64: return "INT64"
        case .uint32: return "UINT32"
        case .datetime: return "DATETIME"
        case .bool: return "BOOL"
        case .zip5: return "ZIP5"
        case .string: return "STRING"
        case .date: return "DATE"
        case .level: return "LEVEL"
        case .campaign: return "CAMPAIGN"
        }
    }

    /// The closed range of values a column of this type may hold.
    public var domain: ClosedRange<Int64> {
        switch self {
        case .int64: return 0...Int64.max
        case .uint32: return 0...Int64(UInt32.max)
        case .datetime: return CivilTime.minSeconds...CivilTime.maxSeconds
        case .bool: return 0...1
        case .zip5: return 0...99_999
        case .string: return 0...Int64(FormatConstants.maxStringBytes)
        case .date: return CivilTime.minDay...CivilTime.maxDay
        case .level: return 0...Int64(CustomersSchema.levelNames.count - 1)
        case .campaign: return 0...Int64(CustomersSchema.campaignNames.count - 1)
        }
    }
}

/// A column of a table schema.
public struct ColumnSpec: Equatable, Sendable {
    public var name: String
    public var type: LogicalType
    public init(name: String, type: LogicalType) {
        self.name = name
        self.type = type
    }
}

/// The events table of v1: the columns of tracks.csv, in file order.
public enum EventsSchema {
    public static let eventID = 0
    public static let customerID = 1
    public static let trackID = 2
    public static let datetime = 3
    public static let mobile = 4
    public static let zip = 5
    public static let columns: [ColumnSpec] = [
        ColumnSpec(name: "event_id", type: .int64),
        ColumnSpec(name: "customer_id", type: .uint32),
        ColumnSpec(name: "track_id", type: .uint32),
        ColumnSpec(name: "datetime", type: .datetime),
        ColumnSpec(name: "mobile", type: .bool),
        ColumnSpec(name: "listening_zip", type: .zip5),
    ]
    public static var columnNames: [String] { columns.map(\.name) }
}

/// The customer table (table kind 2): the columns of cust.csv, in file order.
public enum CustomersSchema {
    public static let customerID = 0
    public static let name = 1
    public static let gender = 2
    public static let address = 3
    public static let zip = 4
    public static let signDate = 5
    public static let status = 6
    public static let level = 7
    public static let campaign = 8
    public static let linkedWithApps = 9
    public static let columns: [ColumnSpec] = [
        ColumnSpec(name: "customer_id", type: .uint32),
        ColumnSpec(name: "name", type: .string),
        ColumnSpec(name: "gender", type: .bool),
        ColumnSpec(name: "address", type: .string),
        ColumnSpec(name: "zip", type: .zip5),
        ColumnSpec(name: "sign_date", type: .date),
        ColumnSpec(name: "status", type: .bool),
        ColumnSpec(name: "level", type: .level),
        ColumnSpec(name: "campaign", type: .campaign),
        ColumnSpec(name: "linked_with_apps", type: .bool),
    ]
    public static var columnNames: [String] { columns.map(\.name) }
    /// The header of the original cust.csv export, in column order.
    public static let exportHeader = ["CustID", "Name", "Gender", "Address", "zip", "SignDate", "Status", "Level", "Campaign", "LinkedWithApps"]
    public static let levelNames = ["Free", "Silver", "Gold"]
    public static let campaignNames = ["NONE", "30DAYFREE", "SUPERBOWL", "RETAILSTORE", "WEBOFFER"]
}

public enum TableSchema {
    /// The columns of a table kind, or nil for an unknown kind.
    public static func columns(kind: UInt32) -> [ColumnSpec]? {
        switch kind {
        case FormatConstants.tableKindEvents: return EventsSchema.columns
        case FormatConstants.tableKindCustomers: return CustomersSchema.columns
        default: return nil
        }
    }
}
