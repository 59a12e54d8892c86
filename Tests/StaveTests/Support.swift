import Foundation
import XCTest
@testable import StaveFormat
import StaveIO
import StaveIngest
import StaveQuery

/// A fresh temporary directory, removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) -> String {
    let path = NSTemporaryDirectory() + "stave-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

func writeFile(_ path: String, _ text: String) {
    precondition(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), "cannot write \(path)")
}

func readFile(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

/// Converts CSV text into a store at dir/name.stave.
@discardableResult
func convert(_ csv: String, dir: String, name: String = "t", options: ConvertOptions = ConvertOptions()) throws -> String {
    let input = dir + "/\(name).csv"
    writeFile(input, csv)
    let output = dir + "/\(name).stave"
    _ = try Converter(input: input, output: output, options: options).run()
    return output
}

/// Formats rows as tracks.csv lines (quoted datetime and zip, as the original).
func csvLines(_ rows: [EventRow]) -> String {
    rows.map { r in
        let zip = String(repeating: "0", count: 5 - String(r.zip).count) + String(r.zip)
        return "\(r.eventID),\(r.customerID),\(r.trackID),\"\(CivilTime.format(r.datetime))\",\(r.mobile),\"\(zip)\"\n"
    }.joined()
}

func seconds(_ text: String) -> Int64 {
    try! CivilTime.parseBound(text).get()
}

/// A small seeded generator for test data (SplitMix64).
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Random events over Oct-Dec 2014 with some customers far heavier than others.
func randomEvents(count: Int, customers: Int, tracks: Int = 300, seed: UInt64) -> [EventRow] {
    var rng = TestRNG(seed)
    let start = seconds("2014-10-01")
    return (0..<count).map { i in
        let heavy = rng.below(4) == 0
        let c = heavy ? rng.below(max(1, customers / 10)) : rng.below(customers)
        return EventRow(eventID: Int64(i), customerID: UInt32(c * 7 + 3), trackID: UInt32(rng.below(tracks)),
                        datetime: start + Int64(rng.below(92 * 86_400)), mobile: UInt8(rng.below(2)),
                        zip: UInt32(rng.below(100_000)))
    }
}

// MARK: - The naive reference implementation

/// Profile computed the obvious way, from rows, with dictionaries and sets.
func referenceProfile(_ rows: [EventRow], filter: QueryFilter = QueryFilter()) -> Profile {
    var acc: [UInt32: ReferenceAccumulator] = [:]
    for r in rows {
        if let f = filter.from, r.datetime < f { continue }
        if let t = filter.to, r.datetime >= t { continue }
        if let cs = filter.customers, !cs.contains(r.customerID) { continue }
        let hour = Int(CivilTime.format(r.datetime).dropFirst(11).prefix(2))!
        var x = acc[r.customerID, default: ReferenceAccumulator()]
        x.tracks.insert(r.trackID)
        if hour < 5 || hour >= 22 { x.n += 1 } else if hour < 12 { x.m += 1 } else if hour < 17 { x.a += 1 } else { x.e += 1 }
        if r.mobile == 1 { x.mob += 1 }
        acc[r.customerID] = x
    }
    return referenceProfile(accumulated: acc)
}

/// One customer's events as the references count them.
struct ReferenceAccumulator { var tracks = Set<UInt32>(); var m = 0, a = 0, e = 0, n = 0, mob = 0 }

/// The profile of accumulated customers, in customer order.
func referenceProfile(accumulated acc: [UInt32: ReferenceAccumulator]) -> Profile {
    var p = Profile()
    for c in acc.keys.sorted() {
        let x = acc[c]!
        p.customer.append(c)
        p.uniqueTracks.append(Int64(x.tracks.count))
        p.morning.append(Int64(x.m)); p.afternoon.append(Int64(x.a)); p.evening.append(Int64(x.e))
        p.night.append(Int64(x.n)); p.mobile.append(Int64(x.mob))
    }
    return p
}
