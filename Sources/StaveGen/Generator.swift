import CStaveSupport
import StaveFormat
import StaveIO

/// The synthetic data model (documented in README.md, "The generated data").
///
/// Customers: weight = 2.0 + exp(1.33 z), a shifted log-normal (every
/// customer listens a little, a few listen a lot). The z are the normal
/// quantiles (k + 0.5) / customers, dealt to customers in random order, so
/// the long tail has the same shape for every seed (independent draws made
/// the largest customer swing between 3,000 and 16,000 events); level Free/Silver/Gold
/// 57/33/10 %, with a mobile share of 50/73/80 % by level; a home zip (about
/// 7 % with a leading zero). Events: customer drawn by weight; track from a
/// mixture of 22 % Zipf(1) over a shuffled catalogue (a few very popular
/// tracks) and 78 % uniform; time uniform over the period (so parts of the
/// day come out 7:5:5:7 hours = 29/21/21/29 %); mobile by the customer's
/// level; listening zip the home zip 80 % of the time, else another
/// customer's home zip.
public struct GeneratorConfig: Sendable {
    public var rows: Int
    public var customers: Int
    public var seed: UInt64
    public var tracks: Int = 1701
    /// First second of the period and its length (default: 2014-10-01 .. 2014-12-31).
    public var start: Int64 = CivilTime.secondsFrom(year: 2014, month: 10, day: 1, hour: 0, minute: 0, second: 0)
    public var span: Int64 = 92 * 86_400

    public init(rows: Int, customers: Int, seed: UInt64) {
        self.rows = rows
        self.customers = customers
        self.seed = seed
    }

    public static let weightShift = 2.0
    public static let weightSigma = 1.33
    public static let zipfShare = 0.22
    public static let homeZipShare = 0.8
    public static let levelShares = [0.57, 0.33, 0.10]
    public static let mobileShareByLevel = [0.50, 0.73, 0.80]
    public static let campaignShares = [0.12, 0.58, 0.05, 0.10, 0.15]
}

/// One generated customer, in 32 bytes: the name and the address are
/// indexes into `Names` and spelt out when asked for, the sign date a day
/// number, the small fields single bytes (with 10M customers, two heap
/// strings a customer and then Int fields made most of `stave
/// generate`'s memory).
public struct CustomerRecord: Sendable {
    public var weight: Double
    var id32: UInt32
    public var zip: UInt32
    var signDayNumber: Int32
    var houseNumber: UInt16
    var firstName: UInt8, lastName: UInt8, adjective: UInt8, noun: UInt8, suffix: UInt8
    var gender8: UInt8, status8: UInt8, level8: UInt8, campaign8: UInt8, linked8: UInt8

    public var id: Int { Int(id32) }
    public var gender: Int { Int(gender8) }
    public var status: Int { Int(status8) }
    public var level: Int { Int(level8) }
    public var campaign: Int { Int(campaign8) }
    public var linkedWithApps: Int { Int(linked8) }
    /// The sign date's year, month and day.
    public var signDate: (year: Int, month: Int, day: Int) {
        let (y, m, d) = CivilTime.civilFromDays(Int64(signDayNumber))
        return (Int(y), Int(m), Int(d))
    }
    public var name: String {
        (gender == 0 ? Names.female[Int(firstName)] : Names.male[Int(firstName)]) + " " + Names.last[Int(lastName)]
    }
    public var address: String {
        "\(houseNumber) \(Names.adjectives[Int(adjective)]) \(Names.nouns[Int(noun)]) \(Names.suffixes[Int(suffix)])"
    }
}

public final class Generator {
    public let config: GeneratorConfig
    public private(set) var customers: [CustomerRecord] = []

    public init(config: GeneratorConfig) {
        precondition(config.customers > 0 && config.customers <= Int(UInt32.max) && config.tracks > 0 && config.rows >= 0)
        self.config = config
        var rng = Xoshiro256(seed: config.seed ^ 0xC057_0000_0000_0001)
        customers.reserveCapacity(config.customers)
        let levels = AliasTable(weights: GeneratorConfig.levelShares)
        let campaigns = AliasTable(weights: GeneratorConfig.campaignShares)
        // Stratified log-normal weights, dealt in random order.
        let n = config.customers
        var weights = (0..<n).map { k in
            GeneratorConfig.weightShift + _exp(GeneratorConfig.weightSigma * NormalQuantile.value((Double(k) + 0.5) / Double(n)))
        }
        for i in stride(from: n - 1, to: 0, by: -1) { weights.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
        for id in 0..<config.customers {
            // The draws in the order the strings used to be built: the
            // same seed gives the same customers.
            let gender = rng.uniform() < 0.6 ? 0 : 1
            let first = UInt8(rng.below(UInt64(gender == 0 ? Names.female.count : Names.male.count)))
            let last = UInt8(rng.below(UInt64(Names.last.count)))
            let house = UInt16(1000 + rng.below(29_000))
            let adjective = UInt8(rng.below(UInt64(Names.adjectives.count)))
            let noun = UInt8(rng.below(UInt64(Names.nouns.count)))
            let suffix = UInt8(rng.below(UInt64(Names.suffixes.count)))
            let zip: UInt32 = rng.uniform() < 0.07 ? UInt32(rng.below(10_000)) : UInt32(10_000 + rng.below(90_000))
            let signDay = CivilTime.daysFromCivil(year: 2011, month: 1, day: 1) + Int64(rng.below(3 * 365 + 1))
            let status = rng.uniform() < 0.9 ? 1 : 0
            let level = levels.sample(&rng)
            let campaign = campaigns.sample(&rng)
            let linked = rng.uniform() < 0.5 ? 1 : 0
            customers.append(CustomerRecord(weight: weights[id], id32: UInt32(id), zip: zip, signDayNumber: Int32(signDay),
                                            houseNumber: house, firstName: first, lastName: last, adjective: adjective, noun: noun,
                                            suffix: suffix, gender8: UInt8(gender), status8: UInt8(status), level8: UInt8(level),
                                            campaign8: UInt8(campaign), linked8: UInt8(linked)))
        }
    }

    // MARK: cust.csv

    /// cust.csv as the original export: header, CRLF, quoted strings.
    public func writeCustomers(_ sink: (inout [UInt8]) throws -> Void) throws {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        out += Array("CustID,Name,Gender,Address,zip,SignDate,Status,Level,Campaign,LinkedWithApps\r\n".utf8)
        for c in customers {
            out += Array("\(c.id),\"\(c.name)\",\(c.gender),\"\(c.address)\",\"".utf8)
            DecimalText.append(UInt64(c.zip), to: &out, width: 5)
            out.append(UInt8(ascii: "\""))
            out += Array(",\"".utf8)
            let sign = c.signDate
            DecimalText.append(UInt64(sign.month), to: &out, width: 2); out.append(UInt8(ascii: "/"))
            DecimalText.append(UInt64(sign.day), to: &out, width: 2); out.append(UInt8(ascii: "/"))
            DecimalText.append(UInt64(sign.year), to: &out, width: 4)
            out += Array("\",\(c.status),\(c.level),\(c.campaign),\(c.linkedWithApps)\r\n".utf8)
            if out.count >= 1 << 16 { try sink(&out); out.removeAll(keepingCapacity: true) }
        }
        try sink(&out)
    }

    // MARK: tracks.csv

    /// tracks.csv as the original export: no header, LF, quoted datetime and
    /// zip. Streams in blocks; memory is O(customers + tracks + block).
    ///
    /// Each block's random draws are made in order on this thread (so the
    /// output is the same whatever `threads`); the table look-ups they
    /// select and the formatting of the lines run on `threads` threads,
    /// straight into one byte buffer.
    public func writeTracks(threads: Int = 2, progress: ((Int) -> Void)? = nil, _ sink: (inout [UInt8]) throws -> Void) throws {
        var rng = Xoshiro256(seed: config.seed ^ 0x7EAC_0000_0000_0002)
        // Track popularity: Zipf(1) over ranks, ranks shuffled onto ids.
        let t = config.tracks
        var ids = [Int32](repeating: 0, count: t)
        for i in 0..<t { ids[i] = Int32(i) }
        for i in stride(from: t - 1, to: 0, by: -1) { ids.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
        let tables = TrackTables(customers: customers, trackOfRank: ids, start: config.start, span: config.span)
        let blockRows = 1 << 16
        var block = Draws(capacity: blockRows)
        var out: [UInt8] = []
        var first = 0
        while first < config.rows {
            let n = min(blockRows, config.rows - first)
            block.removeAll()
            for _ in 0..<n { block.draw(&rng, tables: tables, start: config.start, span: config.span) }
            let pieces = max(1, min(threads, n / 4096))
            let base = first
            let texts = try Parallel.map(pieces, threads: threads) { k in
                block.format(rows: (n * k / pieces)..<(n * (k + 1) / pieces), firstEventID: base, tables: tables)
            }
            for text in texts { out += text }
            first += n
            if out.count >= 1 << 20 || first == config.rows {
                try sink(&out)
                out.removeAll(keepingCapacity: true)
                progress?(first)
            }
        }
        if config.rows == 0 { try sink(&out) }
        progress?(config.rows)
    }
}

/// What tracks.csv's draws are looked up in.
struct TrackTables: Sendable {
    /// Customers by weight, each outcome tagged with its `home`.
    let byCustomer: TaggedAliasTable
    /// Popularity ranks by Zipf(1), each outcome tagged with its track id.
    let zipf: TaggedAliasTable
    let tracks: Int
    /// Home zips by customer: a row's listening zip away from home.
    let zips: [UInt32]
    /// "YYYY-MM-DD " of each day of the period from `firstDay`, 16 bytes a
    /// day (the last 5 unused); empty when the period is too long for a
    /// table, and lines then format their dates with CivilTime.
    let dayText: [UInt8]
    let firstDay: Int64
    /// "00" to "99", two bytes each: hours, minutes and seconds.
    let pairs: [UInt8]

    /// The most days `dayText` covers (1.6 MB).
    static let maxTableDays: Int64 = 100_000

    /// A customer's home zip (below 2^24) and level, in one tag.
    static func home(zip: UInt32, level: Int) -> UInt32 { zip | UInt32(level) << 24 }

    init(customers: [CustomerRecord], trackOfRank: [Int32], start: Int64, span: Int64) {
        byCustomer = TaggedAliasTable(AliasTable(weights: customers.map(\.weight))) {
            TrackTables.home(zip: customers[$0].zip, level: customers[$0].level)
        }
        zipf = TaggedAliasTable(AliasTable(weights: (1...trackOfRank.count).map { 1.0 / Double($0) })) { UInt32(trackOfRank[$0]) }
        tracks = trackOfRank.count
        zips = customers.map(\.zip)
        let first = CivilTime.day(of: start)
        firstDay = first
        let days = CivilTime.day(of: start + max(span, 1) - 1) - first + 1
        var text: [UInt8] = []
        if days <= TrackTables.maxTableDays {
            text = [UInt8](repeating: 0, count: Int(days) * 16)
            var scratch = [UInt8](repeating: 0, count: 19)
            for d in 0..<Int(days) {
                scratch.withUnsafeMutableBufferPointer { CivilTime.format((first + Int64(d)) * CivilTime.secondsPerDay, into: $0.baseAddress!) }
                text.replaceSubrange(d * 16..<(d * 16 + 11), with: scratch[0..<11])
            }
        }
        dayText = text
        var pairs = [UInt8](repeating: 0, count: 200)
        for v in 0..<100 { pairs[2 * v] = UInt8(48 + v / 10); pairs[2 * v + 1] = UInt8(48 + v % 10) }
        self.pairs = pairs
    }
}

/// One block of tracks.csv's random draws, before their look-ups.
///
/// A row's draws, in this order (the generator's data model; the same seed
/// must give the same rows): the customer (alias slot, coin); a coin for
/// Zipf or uniform, then the track (Zipf: alias slot and coin, uniform: the
/// id); the time; the mobile coin; the home-zip coin, then (not home) the
/// customer whose home zip is used.
struct Draws: @unchecked Sendable {
    // @unchecked Sendable: read-only while its rows are formatted.
    struct Row {
        var customerSlot: Int32
        /// A Zipf rank slot (then trackCoin >= 0), or a uniform track id (trackCoin -1).
        var trackSlot: Int32
        /// -1: the customer's home zip; else the customer whose home zip it is.
        var zipOf: Int32
        var customerCoin: Double, trackCoin: Double, mobileCoin: Double
        var when: Int64
    }
    /// One array of rows, not a column each: one append a row.
    var draws: [Row] = []

    init(capacity: Int) { draws.reserveCapacity(capacity) }

    mutating func removeAll() { draws.removeAll(keepingCapacity: true) }

    /// Draws one row. No look-up: nothing here waits on a cache miss.
    @inline(__always)
    mutating func draw(_ rng: inout Xoshiro256, tables: TrackTables, start: Int64, span: Int64) {
        let c = tables.byCustomer.draw(&rng)
        var row = Row(customerSlot: Int32(c.slot), trackSlot: 0, zipOf: -1, customerCoin: c.coin, trackCoin: -1, mobileCoin: 0, when: 0)
        if rng.uniform() < GeneratorConfig.zipfShare {
            let z = tables.zipf.draw(&rng)
            row.trackSlot = Int32(z.slot); row.trackCoin = z.coin
        } else {
            row.trackSlot = Int32(rng.below(UInt64(tables.tracks)))
        }
        row.when = start + Int64(rng.below(UInt64(span)))
        row.mobileCoin = rng.uniform()
        if rng.uniform() >= GeneratorConfig.homeZipShare { row.zipOf = Int32(rng.below(UInt64(tables.zips.count))) }
        draws.append(row)
    }

    /// The lines of `rows`: `event,customer,track,"datetime",mobile,"zip"`,
    /// event ids counting from `firstEventID` + the block row.
    func format(rows: Range<Int>, firstEventID: Int, tables: TrackTables) -> [UInt8] {
        // The look-ups first, in a loop of their own: short and without
        // branches on looked-up values, so the misses of many rows overlap.
        let n = rows.count
        var customer = [Int32](repeating: 0, count: n), track = [Int32](repeating: 0, count: n)
        var mobile = [UInt8](repeating: 0, count: n), zip = [UInt32](repeating: 0, count: n), when = [Int64](repeating: 0, count: n)
        let share = GeneratorConfig.mobileShareByLevel
        // The look-ups 16 rows ahead are prefetched: at millions of
        // customers or tracks each is a cache miss, more than the loop's
        // out-of-order window overlaps on its own.
        let ahead = 16
        let customerSlots = tables.byCustomer.slots, zipfSlots = tables.zipf.slots
        for k in 0..<n {
            if k &+ ahead < n {
                let e = draws[rows.lowerBound + k + ahead]
                customerSlots.withUnsafeBufferPointer { stave_prefetch($0.baseAddress! + Int(e.customerSlot)) }
                if e.trackCoin >= 0 { zipfSlots.withUnsafeBufferPointer { stave_prefetch($0.baseAddress! + Int(e.trackSlot)) } }
            }
            let d = draws[rows.lowerBound + k]
            let (c, home) = tables.byCustomer.resolve(slot: Int(d.customerSlot), coin: d.customerCoin)
            customer[k] = Int32(c)
            track[k] = d.trackCoin < 0 ? d.trackSlot : Int32(bitPattern: tables.zipf.resolve(slot: Int(d.trackSlot), coin: d.trackCoin).tag)
            mobile[k] = d.mobileCoin < share[Int(home >> 24)] ? 1 : 0
            zip[k] = d.zipOf < 0 ? home & 0xFF_FFFF : tables.zips[Int(d.zipOf)]
            when[k] = d.when
        }
        // A line is at most 20 + 1 + 10 + 1 + 10 + 1 + 21 + 1 + 1 + 1 + 7 + 1 bytes.
        let lineBytes = 80
        // The event id as decimal text, counted up in place: right-aligned
        // to byte 40 with '0's to its left (so a carry widens it), `idLen`
        // digits long; 24 more bytes after it, so that a fixed 24-byte copy
        // from its first digit stays inside.
        var idText = [UInt8](repeating: 48, count: 64)
        var idLen = idText.withUnsafeMutableBufferPointer { t in
            let len = DecimalText.write(UInt64(firstEventID + rows.lowerBound), to: t.baseAddress! + 40)
            (t.baseAddress! + 40 - len).update(from: t.baseAddress! + 40, count: len)
            (t.baseAddress! + 40).update(repeating: 48, count: 24)
            return len
        }
        let useDays = !tables.dayText.isEmpty
        return [UInt8](unsafeUninitializedCapacity: n * lineBytes) { buf, written in
            var q = buf.baseAddress!
            customer.withUnsafeBufferPointer { cu in
            track.withUnsafeBufferPointer { tr in
            when.withUnsafeBufferPointer { wh in
            mobile.withUnsafeBufferPointer { mo in
            zip.withUnsafeBufferPointer { zi in
            idText.withUnsafeMutableBufferPointer { idb in
            tables.dayText.withUnsafeBufferPointer { days in
            tables.pairs.withUnsafeBufferPointer { pairs in
                // k < n = every resolved column's count, and rows lies inside
                // the block: every index is in bounds. A line's fixed-size
                // copies (24 bytes of id, 16 of date) end before byte 80 of
                // its room, and the buffer has 80 bytes a line. A row's day
                // lies in the period, which `days` covers when not empty.
                let id = idb.baseAddress!, pair = pairs.baseAddress!
                for k in 0..<n {
                    q.update(from: id + 40 - idLen, count: 24)
                    q += idLen; q[0] = 44; q += 1
                    q += DecimalText.write(UInt64(cu[k]), to: q); q[0] = 44; q += 1
                    q += DecimalText.write(UInt64(tr[k]), to: q); q[0] = 44; q[1] = 34; q += 2
                    if useDays {
                        let day = CivilTime.day(of: wh[k])
                        let sod = Int(wh[k] - day * CivilTime.secondsPerDay)
                        q.update(from: days.baseAddress! + Int(day - tables.firstDay) * 16, count: 16)
                        let h = sod / 3600, m = sod / 60 - h * 60, s = sod - sod / 60 * 60
                        q[11] = pair[2 * h]; q[12] = pair[2 * h + 1]; q[13] = 58
                        q[14] = pair[2 * m]; q[15] = pair[2 * m + 1]; q[16] = 58
                        q[17] = pair[2 * s]; q[18] = pair[2 * s + 1]
                    } else {
                        CivilTime.format(wh[k], into: q)
                    }
                    q += 19
                    q[0] = 34; q[1] = 44; q[2] = 48 &+ mo[k]; q[3] = 44; q[4] = 34; q += 5
                    var z = zi[k]
                    for j in stride(from: 4, through: 0, by: -1) { q[j] = UInt8(truncatingIfNeeded: 48 &+ z % 10); z /= 10 }
                    q[5] = 34; q[6] = 10; q += 7
                    // The next event id.
                    var i = 39
                    while id[i] == 57 { id[i] = 48; i -= 1 }
                    id[i] += 1
                    idLen = max(idLen, 40 - i)
                }
            }
            }
            }
            }
            }
            }
            }
            }
            written = q - buf.baseAddress!
        }
    }
}

enum Names {
    static let female = ["Paula", "Mary", "Linda", "Susan", "Karen", "Nancy", "Betty", "Helen", "Sandra", "Donna", "Carol", "Ruth",
                         "Sharon", "Michelle", "Laura", "Sarah", "Kimberly", "Deborah", "Jessica", "Shirley", "Cynthia", "Angela",
                         "Melissa", "Brenda", "Amy", "Anna", "Rebecca", "Virginia", "Kathleen", "Pamela", "Martha", "Debra"]
    static let male = ["Gregory", "James", "John", "Robert", "Michael", "William", "David", "Richard", "Charles", "Joseph",
                       "Thomas", "Christopher", "Daniel", "Paul", "Mark", "Donald", "George", "Kenneth", "Steven", "Edward",
                       "Brian", "Ronald", "Anthony", "Kevin", "Jason", "Matthew", "Gary", "Timothy", "Jose", "Larry"]
    static let last = ["Koval", "Peltier", "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia",
                       "Rodriguez", "Wilson", "Martinez", "Anderson", "Taylor", "Thomas", "Hernandez", "Moore", "Martin",
                       "Jackson", "Thompson", "White", "Lopez", "Lee", "Gonzalez", "Harris", "Clark", "Lewis", "Robinson",
                       "Walker", "Perez", "Hall", "Young", "Allen", "Sanchez", "Wright", "King", "Scott", "Green", "Baker"]
    static let adjectives = ["Easy", "Quiet", "Rustic", "Misty", "Golden", "Silent", "Sunny", "Hidden", "Lazy", "Shady",
                             "Grand", "Pleasant", "Merry", "Noble", "Crystal", "Velvet", "Amber", "Cozy", "Dusty", "Emerald"]
    static let nouns = ["Cider", "Gate", "Pine", "Oak", "Willow", "Brook", "Meadow", "Fox", "Pony", "Robin", "Maple",
                        "Cedar", "Harbor", "Spring", "Timber", "Prairie", "Deer", "Bear", "Leaf", "Stone"]
    static let suffixes = ["Point", "Bend", "Street", "Avenue", "Road", "Lane", "Way", "Court", "Trail", "Path",
                           "Drive", "Circle", "Place", "Ridge", "Run", "Terrace"]
}
