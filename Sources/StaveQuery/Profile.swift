import Dispatch
import StaveFormat
import StaveIO
import CStaveSupport

/// Per-customer listening profiles, sorted by customer id.
public struct Profile: Sendable, Equatable {
    public var customer: [UInt32] = []
    public var uniqueTracks: [Int64] = []
    public var morning: [Int64] = []
    public var afternoon: [Int64] = []
    public var evening: [Int64] = []
    public var night: [Int64] = []
    public var mobile: [Int64] = []

    public init() {}

    public var count: Int { customer.count }

    public func total(_ i: Int) -> Int64 { morning[i] + afternoon[i] + evening[i] + night[i] }

    /// The customers from `first` on (the profile is in customer order).
    public func customers(from first: UInt32) -> Profile {
        var a = 0, b = count
        while a < b { let m = (a + b) / 2; if customer[m] < first { a = m + 1 } else { b = m } }
        var p = Profile()
        p.customer = Array(customer[a...]); p.uniqueTracks = Array(uniqueTracks[a...]); p.morning = Array(morning[a...])
        p.afternoon = Array(afternoon[a...]); p.evening = Array(evening[a...]); p.night = Array(night[a...]); p.mobile = Array(mobile[a...])
        return p
    }

    /// The seven numeric columns in output order.
    public static let columnNames = ["unique_tracks", "morning", "afternoon", "evening", "night", "mobile_plays", "plays"]

    public func column(_ k: Int) -> [Int64] {
        switch k {
        case 0: return uniqueTracks
        case 1: return morning
        case 2: return afternoon
        case 3: return evening
        case 4: return night
        case 5: return mobile
        default: return (0..<count).map(total)
        }
    }
}

/// Parts of the day by the hour written in the datetime, as seconds of the day.
public enum DayParts {
    public static let morningStart: UInt32 = 5 * 3600     // 05:00:00
    public static let afternoonStart: UInt32 = 12 * 3600  // 12:00:00
    public static let eveningStart: UInt32 = 17 * 3600    // 17:00:00
    public static let nightStart: UInt32 = 22 * 3600      // 22:00:00
}
