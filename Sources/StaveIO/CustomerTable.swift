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

    /// The rows sorted by customer id (stable: equal ids keep input order).
    public func sortedByID() -> CustomerColumns {
        permuted(ids.indices.sorted { ids[$0] != ids[$1] ? ids[$0] < ids[$1] : $0 < $1 })
    }

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
    /// The lock file every writer of an existing store holds (flock).
    public static let lockName = "LOCK"

    /// Runs `body` holding the store's writer lock; a second writer gets a
    /// clear error instead of waiting or racing.
    public static func withWriterLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        guard Sys.kind(path) == .directory, Sys.kind(path + "/" + FormatConstants.manifestName) == .file else {
            throw StaveError.badStore(path: path, detail: "no such store")
        }
        guard let fd = try Sys.tryLock(path + "/" + lockName) else {
            throw StaveError.badStore(path: path, detail: "another stave process is writing to this store (it holds \(lockName))")
        }
        defer { Sys.close(fd) }
        return try body()
    }

    /// Replaces the store's customer table atomically: the new table is
    /// written and fsynced under a new name, then a new MANIFEST (generation
    /// + 1) naming it replaces the old one by rename, the directory is
    /// fsynced, and only then is the old table file removed. A reader sees
    /// either the old manifest or the new one, each complete.
    public static func replaceCustomers(store path: String, table: CustomerColumns, policy: CompressionPolicy) throws -> ManifestPart {
        try withWriterLock(path) {
            let store = try Store.open(path)
            let old = store.manifest
            var manifest = old
            manifest.generation += 1
            let name = ManifestPart.customersName(number: manifest.takeNumber())
            let temp = path + "/" + name + ".tmp-\(Sys.pid)"
            Sys.unlink(temp)
            let written = try CustomerTableWriter.write(table, to: temp, policy: policy)
            var ok = false
            defer { if !ok { Sys.unlink(temp) } }
            try Sys.rename(temp, path + "/" + name)
            var entry = written
            entry.name = name
            manifest.customers = entry
            let out = try OutputFile(path: path + "/" + FormatConstants.manifestName)
            try out.write(manifest.serialize())
            do {
                try out.commit()
            } catch {
                // Remove the new table only if the new manifest did not land.
                let current = try? Manifest.parse(Sys.readFile(path + "/" + FormatConstants.manifestName, limit: Manifest.maxSize), path: path)
                if current?.customers?.name != name { Sys.unlink(path + "/" + name) }
                ok = true
                throw error
            }
            ok = true
            if let previous = old.customers, previous.name != name { Sys.unlink(path + "/" + previous.name) }
            return entry
        }
    }
}
