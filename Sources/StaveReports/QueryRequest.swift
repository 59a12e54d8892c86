import StaveFormat
import StaveIO
import StaveQuery

// One description of every query the CLI and the server answer, one parser
// for its parameters and one runner: `stave profile ... --format json` and
// `GET /api/profile?...` go through the same code and write the same bytes.

/// A bad parameter: which one, and what is wrong with it. The message does
/// not repeat the name; each front end prefixes it in its own spelling
/// (`--from` on the command line, `from` in a URL).
public struct ParameterError: Error, Equatable, Sendable {
    public var parameter: String
    public var message: String

    public init(_ parameter: String, _ message: String) {
        self.parameter = parameter
        self.message = message
    }
}

/// What every query takes: a half-open time range and a customer list (the
/// row filter the kernels apply), and filters on customer attributes
/// (which `QueryRunner` turns into a customer list, in one place).
public struct QueryScope: Sendable, Hashable {
    public var rows: QueryFilter
    public var attributes: CustomerFilter

    public init(from: Int64? = nil, to: Int64? = nil, customers: [UInt32]? = nil, attributes: CustomerFilter = CustomerFilter()) {
        rows = QueryFilter(from: from, to: to, customers: customers)
        self.attributes = attributes
    }

    public var from: Int64? {
        get { rows.from }
        set { rows.from = newValue }
    }
    public var to: Int64? {
        get { rows.to }
        set { rows.to = newValue }
    }
    /// Sorted, without duplicates.
    public var customers: [UInt32]? { rows.customers }
}

public enum SortOrder: String, Sendable, Hashable, CaseIterable {
    case asc, desc
}

/// Which profile rows, in which order.
public struct ProfilePage: Sendable, Hashable {
    /// Append the customer table's attributes.
    public var withCustomers = false
    /// customer_id or one of Profile.columnNames; nil: by customer id.
    public var sort: String? = nil
    public var order: SortOrder = .asc
    /// At most this many rows (nil: all).
    public var limit: Int? = nil
    /// Skip this many rows first.
    public var offset = 0

    public init(withCustomers: Bool = false, sort: String? = nil, order: SortOrder = .asc, limit: Int? = nil, offset: Int = 0) {
        self.withCustomers = withCustomers
        self.sort = sort
        self.order = order
        self.limit = limit
        self.offset = offset
    }

    public static let sortColumns = ["customer_id"] + Profile.columnNames

    /// True when every row comes out in customer order (no paging).
    public var isWhole: Bool { (sort == nil || sort == "customer_id") && order == .asc && limit == nil && offset == 0 }
}

/// The names of the answers' columns. `current`: counts of listening
/// events are plays (plays, mobile_plays, first_play, avg_plays...), tracks
/// are tracks (unique_tracks). `v1`: the names of stave's first releases,
/// for scripts written against them (total_tracks and mobile_tracks in
/// profiles and stats; events, mobile_events, first_event, last_event,
/// store_events, avg_total_tracks, avg_mobile_tracks elsewhere). Chosen
/// with --column-names (or STAVE_COLUMN_NAMES) and the API's `names`.
public enum ColumnNaming: String, Sendable, Hashable, CaseIterable {
    case current, v1

    /// What a query's answer calls a column under this naming.
    public func name(_ column: String, in kind: QueryKind) -> String {
        guard self == .v1 else { return column }
        switch kind {
        case .profile, .customer, .stats:
            switch column {
            case "plays": return "total_tracks"
            case "mobile_plays": return "mobile_tracks"
            default: return column
            }
        case .summary, .breakdown, .hours, .topZips:
            switch column {
            case "plays": return "events"
            case "mobile_plays": return "mobile_events"
            case "first_play": return "first_event"
            case "last_play": return "last_event"
            case "store_plays": return "store_events"
            case "avg_plays": return "avg_total_tracks"
            case "avg_mobile_plays": return "avg_mobile_tracks"
            default: return column
            }
        }
    }

    /// A profile column as a user may still write it (the v1 names).
    public static func currentProfileColumn(_ name: String) -> String {
        switch name {
        case "total_tracks": return "plays"
        case "mobile_tracks": return "mobile_plays"
        default: return name
        }
    }
}

public enum QueryKind: Sendable, Hashable {
    case summary
    case profile(ProfilePage)
    case stats
    case breakdown(BreakdownKey)
    case hours(by: BreakdownKey?, perPart: Bool)
    case topZips(limit: Int)
    case customer(UInt32)
}

public struct QueryRequest: Sendable, Hashable {
    public var kind: QueryKind
    public var scope: QueryScope
    public var naming: ColumnNaming

    public init(_ kind: QueryKind, scope: QueryScope = QueryScope(), naming: ColumnNaming = .current) {
        self.kind = kind
        self.scope = scope
        self.naming = naming
    }

    /// True when the answer needs the store's customer table (the runner
    /// then fails on a store without one).
    public var needsCustomerTable: Bool {
        if !scope.attributes.isEmpty { return true }
        switch kind {
        case .breakdown: return true
        case .hours(let key, _): return key != nil
        case .profile(let page): return page.withCustomers
        case .summary, .stats, .topZips, .customer: return false
        }
    }
}

// MARK: Parsing parameter values (shared by the CLI options and the URL parser)

public enum QueryParameters {
    /// A range bound: YYYY-MM-DD, 'YYYY-MM-DD HH:MM' or 'YYYY-MM-DD HH:MM:SS' (or with a T).
    public static func bound(_ name: String, _ text: String) -> Result<Int64, ParameterError> {
        switch CivilTime.parseBound(text) {
        case .success(let v): return .success(v)
        case .failure(let e): return .failure(ParameterError(name, "'\(text)': \(e.message)"))
        }
    }

    public static func range(from: Int64?, to: Int64?, fromName: String, toName: String) -> ParameterError? {
        if let from, let to, to < from { return ParameterError(toName, "is before \(fromName)") }
        return nil
    }

    public static func customers(_ name: String, _ text: String) -> Result<[UInt32], ParameterError> {
        QueryFilter.parseCustomers(text, option: name).mapError { ParameterError(name, strip(name, $0.description)) }
    }

    /// Level, campaign, gender or status codes (names or numbers).
    public static func codes(_ name: String, _ text: String, attribute: String) -> Result<Set<UInt8>, ParameterError> {
        let names: [String]
        switch attribute {
        case "level": names = CustomersSchema.levelNames
        case "campaign": names = CustomersSchema.campaignNames
        default: names = ["0", "1"]
        }
        return CustomerFilter.parseCodes(text, option: name, names: names).mapError { ParameterError(name, strip(name, $0.description)) }
    }

    public static func breakdownKey(_ name: String, _ text: String) -> Result<BreakdownKey, ParameterError> {
        guard let k = BreakdownKey(rawValue: text) else {
            return .failure(ParameterError(name, "'\(text)' is not one of " + BreakdownKey.allCases.map(\.rawValue).joined(separator: ", ")))
        }
        return .success(k)
    }

    public static func integer(_ name: String, _ text: String, in range: ClosedRange<Int>) -> Result<Int, ParameterError> {
        guard let v = Int(text), range.contains(v) else {
            return .failure(ParameterError(name, "'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)"))
        }
        return .success(v)
    }

    /// A profile column to sort by; the v1 names (total_tracks,
    /// mobile_tracks) still mean their columns.
    public static func sortColumn(_ name: String, _ text: String) -> Result<String, ParameterError> {
        let column = ColumnNaming.currentProfileColumn(text)
        guard ProfilePage.sortColumns.contains(column) else {
            return .failure(ParameterError(name, "'\(text)' is not one of " + ProfilePage.sortColumns.joined(separator: ", ")))
        }
        return .success(column)
    }

    public static func naming(_ name: String, _ text: String) -> Result<ColumnNaming, ParameterError> {
        guard let n = ColumnNaming(rawValue: text) else { return .failure(ParameterError(name, "'\(text)' is not current or v1")) }
        return .success(n)
    }

    public static func order(_ name: String, _ text: String) -> Result<SortOrder, ParameterError> {
        guard let o = SortOrder(rawValue: text) else { return .failure(ParameterError(name, "'\(text)' is not asc or desc")) }
        return .success(o)
    }

    public static func flag(_ name: String, _ text: String) -> Result<Bool, ParameterError> {
        switch text {
        case "1", "true", "yes", "": return .success(true)
        case "0", "false", "no": return .success(false)
        default: return .failure(ParameterError(name, "'\(text)' is not true or false (1 or 0)"))
        }
    }

    /// "--level: 'x' is not ..." -> "'x' is not ...".
    static func strip(_ name: String, _ message: String) -> String {
        message.hasPrefix(name + ": ") ? String(message.dropFirst(name.count + 2)) : message
    }

    /// The largest page of profile rows and of zips a URL may ask for
    /// (responses stay bounded).
    public static let maxPage = 10_000
    public static let maxZips = 1_000
}

// MARK: Parsing a URL's query

extension QueryRequest {
    /// The request of `endpoint` ("summary", "profile", "stats", "breakdown",
    /// "hours", "top-zips", or "customers" with `id`) from URL query
    /// parameters (already percent-decoded). Unknown parameters are errors,
    /// so a typo never silently means "no filter"; a list parameter given
    /// several times joins its lists (customer=48&customer=49, as the CLI's
    /// repeated --customer); any other given twice is an error.
    /// `bounded` (the server's rule): a profile page defaults to 100 rows and
    /// holds at most QueryParameters.maxPage, top zips at most maxZips.
    /// Unbounded (the C library's): a profile has every row unless a limit
    /// is given, and no limit has a ceiling.
    public static func parse(endpoint: String, id: String? = nil, query: [(String, String)], bounded: Bool = true) -> Result<QueryRequest, ParameterError> {
        do {
            return .success(try parseThrowing(endpoint: endpoint, id: id, query: query, bounded: bounded))
        } catch {
            return .failure(error)
        }
    }

    static func parseThrowing(endpoint: String, id: String?, query: [(String, String)], bounded: Bool) throws(ParameterError) -> QueryRequest {
        var values: [String: String] = [:]
        let lists: Set<String> = ["customer", "level", "campaign", "gender", "status"]
        for (name, value) in query {
            if let earlier = values[name] {
                guard lists.contains(name) else { throw ParameterError(name, "is given more than once") }
                values[name] = earlier + "," + value
            } else {
                values[name] = value
            }
        }
        let scopeNames = ["from", "to", "customer", "level", "campaign", "gender", "status", "names"]
        let allowed: [String]
        switch endpoint {
        case "summary", "stats": allowed = scopeNames
        case "profile": allowed = scopeNames + ["with_customers", "sort", "order", "limit", "offset"]
        case "breakdown": allowed = scopeNames + ["by"]
        case "hours": allowed = scopeNames + ["by", "per"]
        case "top-zips": allowed = scopeNames + ["limit"]
        case "customers": allowed = ["from", "to", "names"]
        default: throw ParameterError("path", "unknown endpoint '\(endpoint)'")
        }
        for name in values.keys.sorted() where !allowed.contains(name) {
            throw ParameterError(name, "is not a parameter of /api/\(endpoint) (it takes: \(allowed.joined(separator: ", ")))")
        }
        func get<T>(_ name: String, _ parse: (String, String) -> Result<T, ParameterError>) throws(ParameterError) -> T? {
            guard let text = values[name] else { return nil }
            return try parse(name, text).get()
        }
        var scope = QueryScope()
        scope.from = try get("from", QueryParameters.bound)
        scope.to = try get("to", QueryParameters.bound)
        if let e = QueryParameters.range(from: scope.from, to: scope.to, fromName: "from", toName: "to") { throw e }
        scope = QueryScope(from: scope.from, to: scope.to, customers: try get("customer", QueryParameters.customers))
        scope.attributes = CustomerFilter(levels: try get("level") { QueryParameters.codes($0, $1, attribute: "level") },
                                          campaigns: try get("campaign") { QueryParameters.codes($0, $1, attribute: "campaign") },
                                          genders: try get("gender") { QueryParameters.codes($0, $1, attribute: "gender") },
                                          statuses: try get("status") { QueryParameters.codes($0, $1, attribute: "status") })
        let naming = try get("names", QueryParameters.naming) ?? .current
        var request = try kind()
        request.naming = naming
        return request

        func kind() throws(ParameterError) -> QueryRequest {
        switch endpoint {
        case "summary": return QueryRequest(.summary, scope: scope)
        case "stats": return QueryRequest(.stats, scope: scope)
        case "profile":
            let page = ProfilePage(withCustomers: try get("with_customers", QueryParameters.flag) ?? false,
                                   sort: try get("sort", QueryParameters.sortColumn),
                                   order: try get("order", QueryParameters.order) ?? .asc,
                                   limit: try get("limit") { QueryParameters.integer($0, $1, in: 0...(bounded ? QueryParameters.maxPage : Int.max)) } ?? (bounded ? 100 : nil),
                                   offset: try get("offset") { QueryParameters.integer($0, $1, in: 0...Int(Int32.max)) } ?? 0)
            return QueryRequest(.profile(page), scope: scope)
        case "breakdown":
            guard let key = try get("by", QueryParameters.breakdownKey) else { throw ParameterError("by", "is required: " + BreakdownKey.allCases.map(\.rawValue).joined(separator: ", ")) }
            return QueryRequest(.breakdown(key), scope: scope)
        case "hours":
            let per = try get("per") { name, text -> Result<Bool, ParameterError> in
                text == "hour" ? .success(false) : text == "part" ? .success(true) : .failure(ParameterError(name, "'\(text)' is not hour or part"))
            }
            return QueryRequest(.hours(by: try get("by", QueryParameters.breakdownKey), perPart: per ?? false), scope: scope)
        case "top-zips":
            return QueryRequest(.topZips(limit: try get("limit") { QueryParameters.integer($0, $1, in: 1...(bounded ? QueryParameters.maxZips : Int.max)) } ?? 10), scope: scope)
        default:
            guard let id, let v = UInt32(id) else { throw ParameterError("id", "'\(id ?? "")' is not a customer id (0...\(UInt32.max))") }
            return QueryRequest(.customer(v), scope: scope)
        }
        }
    }
}
