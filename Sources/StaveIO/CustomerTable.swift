import StaveFormat

/// A STRING column being built: byte lengths and concatenated UTF-8 bytes.
public struct StringColumn: Sendable, Equatable {
    public var lengths: [Int64] = []
    public var bytes: [UInt8] = []
    public init() {}

    public mutating func append(_ value: UnsafeBufferPointer<UInt8>) {
        lengths.append(Int64(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func append(_ value: String) {
        var v = value
        v.withUTF8 { append($0) }
    }

    /// Offsets of every value: count + 1 entries.
    func offsets() -> [Int] {
        var o = [Int](repeating: 0, count: lengths.count + 1)
        for i in lengths.indices { o[i + 1] = o[i] + Int(lengths[i]) }
        return o
    }

    /// The values in the order `order` gives (indices into this column).
    func permuted(_ order: [Int]) -> StringColumn {
        let o = offsets()
        var out = StringColumn()
        out.lengths.reserveCapacity(order.count)
        out.bytes.reserveCapacity(bytes.count)
        for i in order {
            out.lengths.append(lengths[i])
            out.bytes.append(contentsOf: bytes[o[i]..<o[i + 1]])
        }
        return out
    }

    /// Rows `range` as a chunk's lengths and bytes.
    func slice(_ range: Range<Int>, offsets o: [Int]) -> (lengths: [Int64], bytes: [UInt8]) {
        (Array(lengths[range]), Array(bytes[o[range.lowerBound]..<o[range.upperBound]]))
    }
}

/// The customer table being written, column by column (CustomersSchema order).
public struct CustomerColumns: Sendable, Equatable {
    public var ids: [Int64] = []
    public var names = StringColumn()
    public var gender: [Int64] = []
    public var address = StringColumn()
    public var zip: [Int64] = []
    public var signDate: [Int64] = []
    public var status: [Int64] = []
    public var level: [Int64] = []
    public var campaign: [Int64] = []
    public var linked: [Int64] = []

    public init() {}

    public var count: Int { ids.count }

    /// The rows `order` lists (indices into this table), in that order.
    public func permuted(_ order: [Int]) -> CustomerColumns {
        var out = CustomerColumns()
        func p(_ a: [Int64]) -> [Int64] { order.map { a[$0] } }
        out.ids = p(ids); out.gender = p(gender); out.zip = p(zip); out.signDate = p(signDate)
        out.status = p(status); out.level = p(level); out.campaign = p(campaign); out.linked = p(linked)
        out.names = names.permuted(order)
        out.address = address.permuted(order)
        return out
    }
}

public enum CustomerTableWriter {
    /// Writes `table` (sorted by id, ids unique) as a part of table kind 2 at
    /// `path` (created; must not exist), fsynced. Row groups of at most
    /// 65,536 customers.
    public static func write(_ table: CustomerColumns, to path: String, policy: CompressionPolicy) throws -> ManifestPart {
        let n = table.count
        let size = FormatConstants.maxRowGroupRows
        let groups = (n + size - 1) / size
        let nameOffsets = table.names.offsets()
        let addressOffsets = table.address.offsets()
        return try PartWriter.write(groupCount: groups, to: path, policy: policy, threads: 1,
                                    tableKind: FormatConstants.tableKindCustomers) { g in
            let r = (g * size)..<min(n, (g + 1) * size)
            let name = table.names.slice(r, offsets: nameOffsets)
            let address = table.address.slice(r, offsets: addressOffsets)
            let columns: [[Int64]] = [Array(table.ids[r]), name.lengths, Array(table.gender[r]), address.lengths, Array(table.zip[r]),
                                      Array(table.signDate[r]), Array(table.status[r]), Array(table.level[r]), Array(table.campaign[r]),
                                      Array(table.linked[r])]
            return RowGroupColumns(columns: columns, strings: [CustomersSchema.name: name.bytes, CustomersSchema.address: address.bytes])
        }
    }
}

/// Changes to an existing store, under its writer lock.
public enum StoreEditor {
    /// Replaces the store's customer table atomically (see StoreTransaction):
    /// a reader sees either the old table or the new one, each complete.
    /// Returns the new table's entry and the rows of the table it replaced
    /// (nil when the store had none).
    public static func replaceCustomers(store path: String, table: CustomerColumns, policy: CompressionPolicy) throws -> (entry: ManifestPart, previousRows: Int?) {
        let t = try StoreTransaction(path: path, policy: policy)
        let previous = t.manifest.customers?.rows
        let entry = try t.setCustomers(table)
        try t.commit()
        return (entry, previous)
    }
}
