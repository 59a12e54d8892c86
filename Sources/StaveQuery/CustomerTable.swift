import Dispatch
import CStaveSupport
import StaveFormat
import StaveIO

/// A store's customer table, decoded for lookups: the small columns as
/// arrays, the strings left in their chunks until a row is rendered.
public final class CustomerTable: @unchecked Sendable {
    // @unchecked Sendable: immutable after load; the string chunks point
    // into buffers their DecodedChunk keeps alive.
    public let path: String
    /// Strictly ascending (checked at load).
    public let ids: [UInt32]
    public let gender: [UInt8]
    public let zip: [UInt32]
    public let signDate: [Int64]
    public let status: [UInt8]
    public let level: [UInt8]
    public let campaign: [UInt8]
    public let linked: [UInt8]
    let nameChunks: [DecodedChunk]
    let addressChunks: [DecodedChunk]
    /// First row of each row group.
    let groupStarts: [Int]
    /// id -> row + 1 (0: absent), when the ids are dense enough.
    let dense: [Int32]

    public var count: Int { ids.count }

    init(path: String, ids: [UInt32], gender: [UInt8], zip: [UInt32], signDate: [Int64], status: [UInt8], level: [UInt8],
         campaign: [UInt8], linked: [UInt8], nameChunks: [DecodedChunk], addressChunks: [DecodedChunk], groupStarts: [Int]) {
        self.path = path
        self.ids = ids
        self.gender = gender
        self.zip = zip
        self.signDate = signDate
        self.status = status
        self.level = level
        self.campaign = campaign
        self.linked = linked
        self.nameChunks = nameChunks
        self.addressChunks = addressChunks
        self.groupStarts = groupStarts
        // A direct index costs 4 bytes per id value up to the largest id:
        // used when that is at most 4 entries per customer (plus slack).
        if let last = ids.last, Int(last) <= 4 * ids.count + 65_536 {
            var d = [Int32](repeating: 0, count: Int(last) + 1)
            for (row, id) in ids.enumerated() { d[Int(id)] = Int32(row + 1) }
            dense = d
        } else {
            dense = []
        }
    }

    /// Decodes the customer table of `store`, or nil if it has none.
    public static func load(_ store: Store) throws -> CustomerTable? {
        guard let part = store.customers else { return nil }
        var ids: [UInt32] = [], gender: [UInt8] = [], zip: [UInt32] = [], signDate: [Int64] = []
        var status: [UInt8] = [], level: [UInt8] = [], campaign: [UInt8] = [], linked: [UInt8] = []
        var names: [DecodedChunk] = [], addresses: [DecodedChunk] = [], starts: [Int] = []
        var previous: Int64 = -1
        for g in part.footer.rowGroups.indices {
            starts.append(ids.count)
            // decodeAllChecked: every value within the chunk's statistics,
            // which the footer check proved to lie in the column's domain
            // (so the narrowing conversions below cannot trap).
            func column(_ c: Int) throws -> [Int64] { try part.chunk(rowGroup: g, column: c).decodeAllChecked() }
            for v in try column(CustomersSchema.customerID) {
                guard v > previous else {
                    throw StaveError.corrupt(file: part.path, what: "column customer_id row group \(g): ids not strictly ascending (\(v) after \(previous))")
                }
                previous = v
                ids.append(UInt32(v))
            }
            gender += try column(CustomersSchema.gender).map { UInt8($0) }
            zip += try column(CustomersSchema.zip).map { UInt32($0) }
            signDate += try column(CustomersSchema.signDate)
            status += try column(CustomersSchema.status).map { UInt8($0) }
            level += try column(CustomersSchema.level).map { UInt8($0) }
            campaign += try column(CustomersSchema.campaign).map { UInt8($0) }
            linked += try column(CustomersSchema.linkedWithApps).map { UInt8($0) }
            let name = try part.chunk(rowGroup: g, column: CustomersSchema.name)
            let address = try part.chunk(rowGroup: g, column: CustomersSchema.address)
            _ = try name.strings()
            _ = try address.strings()
            names.append(name)
            addresses.append(address)
        }
        return CustomerTable(path: part.path, ids: ids, gender: gender, zip: zip, signDate: signDate, status: status, level: level,
                             campaign: campaign, linked: linked, nameChunks: names, addressChunks: addresses, groupStarts: starts)
    }

    /// The row of customer `id`, or nil if the table does not list it.
    @inline(__always)
    public func row(of id: UInt32) -> Int? {
        if !dense.isEmpty {
            guard Int(id) < dense.count else { return nil }
            let r = dense[Int(id)]
            return r == 0 ? nil : Int(r) - 1
        }
        var a = 0, b = ids.count
        while a < b {
            let m = (a + b) / 2
            if ids[m] < id { a = m + 1 } else { b = m }
        }
        return a < ids.count && ids[a] == id ? a : nil
    }

    func string(_ chunks: [DecodedChunk], _ row: Int) throws -> String {
        var g = groupStarts.count - 1
        while groupStarts[g] > row { g -= 1 }
        let chunk = chunks[g]
        return try withExtendedLifetime(chunk) {
            try chunk.strings().value(row - groupStarts[g], file: chunk.file, what: chunk.what)
        }
    }

    public func name(_ row: Int) throws -> String { try string(nameChunks, row) }
    public func address(_ row: Int) throws -> String { try string(addressChunks, row) }

    /// Every customer id matching `filter`, ascending.
    public func ids(matching filter: CustomerFilter) -> [UInt32] {
        ids.indices.filter { filter.matches(self, row: $0) }.map { ids[$0] }
    }
}

/// Restricts a query to customers with given attributes (each set: any of
/// its values; nil: no restriction). Customers absent from the customer
/// table match no attribute filter.
public struct CustomerFilter: Sendable, Hashable {
    public var levels: Set<UInt8>?
    public var campaigns: Set<UInt8>?
    public var genders: Set<UInt8>?
    public var statuses: Set<UInt8>?

    public init(levels: Set<UInt8>? = nil, campaigns: Set<UInt8>? = nil, genders: Set<UInt8>? = nil, statuses: Set<UInt8>? = nil) {
        self.levels = levels
        self.campaigns = campaigns
        self.genders = genders
        self.statuses = statuses
    }

    public var isEmpty: Bool { levels == nil && campaigns == nil && genders == nil && statuses == nil }

    @inline(__always)
    public func matches(_ t: CustomerTable, row: Int) -> Bool {
        if let levels, !levels.contains(t.level[row]) { return false }
        if let campaigns, !campaigns.contains(t.campaign[row]) { return false }
        if let genders, !genders.contains(t.gender[row]) { return false }
        if let statuses, !statuses.contains(t.status[row]) { return false }
        return true
    }

    /// Parses "A[,B...]" where each item is a number below `names.count` or
    /// (case-insensitively) one of `names`; `option` names the parameter in
    /// the error.
    public static func parseCodes(_ text: String, option: String, names: [String]) -> Result<Set<UInt8>, StaveError> {
        var out = Set<UInt8>()
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            let t = piece.trimmingPrefix(while: { $0 == " " }).trimmingSuffix()
            if let v = UInt8(t), Int(v) < names.count {
                out.insert(v)
            } else if let i = names.firstIndex(where: { $0.uppercased() == t.uppercased() }) {
                out.insert(UInt8(i))
            } else {
                let allowed = names.count == 2 && names == ["0", "1"] ? "0 or 1" : names.joined(separator: ", ") + " (or 0...\(names.count - 1))"
                return .failure(.usage("\(option): '\(piece)' is not one of \(allowed)"))
            }
        }
        return .success(out)
    }

    /// The query filter restricted to the matching customers (intersected
    /// with its own customer list, if any).
    public func apply(to filter: QueryFilter, table: CustomerTable) -> QueryFilter {
        guard !isEmpty else { return filter }
        var ids = table.ids(matching: self)
        if filter.customers != nil { ids = ids.filter { filter.wants(customer: $0) } }
        return QueryFilter(from: filter.from, to: filter.to, customers: ids)
    }
}
