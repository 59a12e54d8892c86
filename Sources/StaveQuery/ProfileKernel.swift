import Dispatch
import StaveFormat
import StaveIO

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

    /// The seven numeric columns in output order.
    public static let columnNames = ["unique_tracks", "morning", "afternoon", "evening", "night", "mobile_tracks", "total_tracks"]

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

public enum ProfileKernel {
    /// Computes the profile of every customer with at least one event in the
    /// decoded row groups (their windows applied).
    public static func compute(groups: [RowGroupData], threads: Int) -> Profile {
        // 1. All runs, grouped by customer (stable: group order is kept).
        var runs: [CustomerRun] = []
        runs.reserveCapacity(groups.reduce(0) { $0 + $1.runs.count })
        for g in groups { runs.append(contentsOf: g.runs) }
        guard !runs.isEmpty else { return Profile() }
        runs = sortByCustomer(runs)
        var starts: [Int] = [0]
        var rowsBefore: [Int] = [0]
        var rowCount = 0
        for k in runs.indices {
            if k > 0 && runs[k].customer != runs[k - 1].customer {
                starts.append(k)
                rowsBefore.append(rowCount)
            }
            rowCount += Int(runs[k].end - runs[k].start)
        }
        starts.append(runs.count)
        rowsBefore.append(rowCount)
        let customers = starts.count - 1

        // 2. Split customers into contiguous slices of about equal rows.
        let workers = max(1, min(threads, customers / 64 + 1))
        var bounds = [0]
        var c = 0
        for w in 1..<workers {
            let target = rowCount * w / workers
            while c < customers && rowsBefore[c] < target { c += 1 }
            bounds.append(c)
        }
        bounds.append(customers)

        // 3. Kernels. Each worker writes only output slots bounds[w]..<bounds[w+1].
        let out = ProfileBuffers(count: customers)
        defer { out.deallocate() }
        let maxTrack = groups.reduce(Int64(0)) { max($0, $1.maxTrack) }
        withExtendedLifetime(groups) {
            let views = groups.map(GroupView.init)
            let shared = SendableBox((views, runs, starts, bounds, out))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let (views, runs, starts, bounds, out) = shared.value
                runSlice(customers: bounds[w]..<bounds[w + 1], views: views, runs: runs, starts: starts,
                         maxTrack: maxTrack, out: out)
            }
        }
        return out.profile()
    }

    /// Sorts runs by customer, keeping the order of runs of one customer.
    static func sortByCustomer(_ runs: [CustomerRun]) -> [CustomerRun] {
        var lo = UInt32.max, hi = UInt32.min
        for r in runs { lo = min(lo, r.customer); hi = max(hi, r.customer) }
        let span = Int(hi - lo) + 1
        if span <= max(4 * runs.count, 1 << 16) {
            var counts = [Int](repeating: 0, count: span + 1)
            for r in runs { counts[Int(r.customer - lo) + 1] += 1 }
            for k in 1...span { counts[k] += counts[k - 1] }
            var out = runs
            for r in runs {
                let k = Int(r.customer - lo)
                out[counts[k]] = r
                counts[k] += 1
            }
            return out
        }
        return runs.enumerated().sorted { ($0.element.customer, $0.offset) < ($1.element.customer, $1.offset) }.map(\.element)
    }

    /// Raw views of one group's buffers, valid while `groups` is alive.
    struct GroupView {
        let time: UnsafePointer<UInt32>
        let track: UnsafePointer<UInt32>
        let mobile: UnsafePointer<UInt8>
        let lo: UInt32
        let width: UInt32   // hi - lo, 0 when the window is empty
        let full: Bool

        init(_ g: RowGroupData) {
            // Safe while `groups` is kept alive (withExtendedLifetime in compute):
            // the arrays are never mutated after load.
            time = g.time.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 8)! }
            track = g.track.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 8)! }
            mobile = g.mobile.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 8)! }
            lo = g.lo
            width = g.hi > g.lo ? g.hi - g.lo : 0
            full = g.full
        }
    }

    static let bitmapLimit: Int64 = 1 << 28

    static func runSlice(customers: Range<Int>, views: [GroupView], runs: [CustomerRun], starts: [Int],
                         maxTrack: Int64, out: ProfileBuffers) {
        let useBitmap = maxTrack < bitmapLimit
        var bitmap = [UInt64](repeating: 0, count: useBitmap ? Int(maxTrack >> 6) + 1 : 0)
        var scratch: [UInt32] = []
        bitmap.withUnsafeMutableBufferPointer { bm in
            for c in customers {
                var morning: Int64 = 0, afternoon: Int64 = 0, evening: Int64 = 0, total: Int64 = 0, mobile: Int64 = 0
                var unique: Int64 = 0
                for k in starts[c]..<starts[c + 1] {
                    let run = runs[k]
                    let v = views[Int(run.group)]
                    let s = Int(run.start), e = Int(run.end)
                    let counts = v.full ? countFull(v, s, e) : countWindow(v, s, e)
                    morning += Int64(counts.0); afternoon += Int64(counts.1); evening += Int64(counts.2)
                    total += Int64(counts.3); mobile += Int64(counts.4)
                    if useBitmap {
                        unique += v.full ? markFull(v, s, e, bm) : markWindow(v, s, e, bm)
                    } else {
                        for i in s..<e where v.full || (v.time[i] &- v.lo) < v.width { scratch.append(v.track[i]) }
                    }
                }
                if useBitmap {
                    // Clear exactly the words this customer touched.
                    for k in starts[c]..<starts[c + 1] {
                        let run = runs[k]
                        let v = views[Int(run.group)]
                        for i in Int(run.start)..<Int(run.end) { bm[Int(v.track[i] >> 6)] = 0 }
                    }
                } else {
                    scratch.sort()
                    for i in scratch.indices where i == 0 || scratch[i] != scratch[i - 1] { unique += 1 }
                    scratch.removeAll(keepingCapacity: true)
                }
                out.customer[c] = runs[starts[c]].customer
                out.unique[c] = unique
                out.morning[c] = morning
                out.afternoon[c] = afternoon
                out.evening[c] = evening
                out.night[c] = total - morning - afternoon - evening
                out.mobile[c] = mobile
                out.present[c] = total > 0
            }
        }
    }

    /// (morning, afternoon, evening, total, mobile) over rows s..<e, all in range.
    @inline(__always)
    static func countFull(_ v: GroupView, _ s: Int, _ e: Int) -> (UInt32, UInt32, UInt32, UInt32, UInt32) {
        var m: UInt32 = 0, a: UInt32 = 0, ev: UInt32 = 0, mob: UInt32 = 0
        let t = v.time, mb = v.mobile
        // Branch-free: the unsigned compare (x - start) < length tests start <= x < start + length.
        for i in s..<e {
            let sod = t[i] % 86_400
            m &+= (sod &- DayParts.morningStart) < 7 * 3600 ? 1 : 0
            a &+= (sod &- DayParts.afternoonStart) < 5 * 3600 ? 1 : 0
            ev &+= (sod &- DayParts.eveningStart) < 5 * 3600 ? 1 : 0
            mob &+= UInt32(mb[i])
        }
        return (m, a, ev, UInt32(e - s), mob)
    }

    @inline(__always)
    static func countWindow(_ v: GroupView, _ s: Int, _ e: Int) -> (UInt32, UInt32, UInt32, UInt32, UInt32) {
        var m: UInt32 = 0, a: UInt32 = 0, ev: UInt32 = 0, tot: UInt32 = 0, mob: UInt32 = 0
        let t = v.time, mb = v.mobile, lo = v.lo, width = v.width
        for i in s..<e {
            let x = t[i]
            let inside: UInt32 = (x &- lo) < width ? 1 : 0
            let sod = x % 86_400
            m &+= inside & ((sod &- DayParts.morningStart) < 7 * 3600 ? 1 : 0)
            a &+= inside & ((sod &- DayParts.afternoonStart) < 5 * 3600 ? 1 : 0)
            ev &+= inside & ((sod &- DayParts.eveningStart) < 5 * 3600 ? 1 : 0)
            tot &+= inside
            mob &+= inside & UInt32(mb[i])
        }
        return (m, a, ev, tot, mob)
    }

    /// Sets the bit of each track in s..<e; returns how many were new.
    /// - Precondition: every track <= maxTrack, so `>> 6` indexes inside `bm`
    ///   (maxTrack is the maximum of the decoded values).
    @inline(__always)
    static func markFull(_ v: GroupView, _ s: Int, _ e: Int, _ bm: UnsafeMutableBufferPointer<UInt64>) -> Int64 {
        var fresh: Int64 = 0
        let tr = v.track
        for i in s..<e {
            let x = tr[i]
            let w = Int(x >> 6)
            let bit = UInt64(1) << UInt64(x & 63)
            let word = bm[w]
            fresh &+= (word & bit) == 0 ? 1 : 0
            bm[w] = word | bit
        }
        return fresh
    }

    @inline(__always)
    static func markWindow(_ v: GroupView, _ s: Int, _ e: Int, _ bm: UnsafeMutableBufferPointer<UInt64>) -> Int64 {
        var fresh: Int64 = 0
        let tr = v.track, t = v.time, lo = v.lo, width = v.width
        for i in s..<e where (t[i] &- lo) < width {
            let x = tr[i]
            let w = Int(x >> 6)
            let bit = UInt64(1) << UInt64(x & 63)
            let word = bm[w]
            fresh &+= (word & bit) == 0 ? 1 : 0
            bm[w] = word | bit
        }
        return fresh
    }
}

/// Output columns written in disjoint slices by the kernel's workers.
final class ProfileBuffers: @unchecked Sendable {
    // @unchecked Sendable: each worker writes only its own index range.
    let count: Int
    let customer: UnsafeMutableBufferPointer<UInt32>
    let unique, morning, afternoon, evening, night, mobile: UnsafeMutableBufferPointer<Int64>
    let present: UnsafeMutableBufferPointer<Bool>

    init(count: Int) {
        self.count = count
        customer = .allocate(capacity: count); customer.initialize(repeating: 0)
        func make() -> UnsafeMutableBufferPointer<Int64> {
            let b = UnsafeMutableBufferPointer<Int64>.allocate(capacity: count)
            b.initialize(repeating: 0)
            return b
        }
        unique = make(); morning = make(); afternoon = make(); evening = make(); night = make(); mobile = make()
        present = .allocate(capacity: count); present.initialize(repeating: false)
    }

    func deallocate() {
        customer.deallocate(); unique.deallocate(); morning.deallocate(); afternoon.deallocate()
        evening.deallocate(); night.deallocate(); mobile.deallocate(); present.deallocate()
    }

    /// Customers with at least one event in range, in customer order.
    func profile() -> Profile {
        var p = Profile()
        let keep = (0..<count).filter { present[$0] }
        p.customer = keep.map { customer[$0] }
        p.uniqueTracks = keep.map { unique[$0] }
        p.morning = keep.map { morning[$0] }
        p.afternoon = keep.map { afternoon[$0] }
        p.evening = keep.map { evening[$0] }
        p.night = keep.map { night[$0] }
        p.mobile = keep.map { mobile[$0] }
        return p
    }
}
