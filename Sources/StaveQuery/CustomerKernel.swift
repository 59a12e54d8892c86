// The per-customer kernel: one customer's runs in, its profile out
// (day-part counts through a lane table, unique tracks through a bitmap
// or a sorted list), and the buffers its workers fill in disjoint slices.

import Dispatch
import StaveFormat
import StaveIO
import CStaveSupport

extension ProfileKernel {
    /// Raw views of one group's buffers, valid while `groups` is alive.
    struct GroupView {
        let codes: UnsafePointer<UInt8>
        let track16: UnsafePointer<UInt16>?
        let track32: UnsafePointer<UInt32>?
        let full: Bool
        let runs: UnsafePointer<CustomerRun>
        let runCount: Int

        init(_ g: RowGroupData) {
            // Safe while `groups` is kept alive (withExtendedLifetime in compute):
            // the arrays are never mutated after load.
            codes = g.codes.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 8)! }
            track16 = g.track16.isEmpty ? nil : g.track16.withUnsafeBufferPointer { $0.baseAddress }
            track32 = g.track32.isEmpty ? nil : g.track32.withUnsafeBufferPointer { $0.baseAddress }
            full = g.full
            runs = g.runs.withUnsafeBufferPointer { $0.baseAddress ?? UnsafePointer(bitPattern: 16)! }
            runCount = g.runs.count
        }
    }

    static let bitmapLimit: Int64 = 1 << 28
    /// Bitmaps of at most this many words (track ids below 4,096) are zeroed
    /// whole after each customer.
    static let smallBitmapWords = 64

    static func runSlice(customers: Range<Int>, views viewArray: [GroupView], runs runArray: [CustomerRun], starts startArray: [Int],
                         maxTrack: Int64, out: ProfileBuffers) {
        viewArray.withUnsafeBufferPointer { views in
        runArray.withUnsafeBufferPointer { runs in
        startArray.withUnsafeBufferPointer { starts in
            let state = CustomerState(maxTrack: maxTrack)
            for c in customers {
                let mine = UnsafeBufferPointer(rebasing: runs[starts[c]..<starts[c + 1]])
                out.set(c, customer: mine[0].customer, state.profile(mine, views: views))
            }
        }
        }
        }
    }

    /// One customer's figures, before `night` is derived from the total.
    struct CustomerCounts {
        var unique: Int64 = 0, morning: Int64 = 0, afternoon: Int64 = 0, evening: Int64 = 0, total: Int64 = 0, mobile: Int64 = 0
    }

    /// A worker's reusable state for profiling one customer after another:
    /// the lane table, the track bitmap (kept all zero between customers)
    /// or, for track ids too large for it, a list to sort.
    final class CustomerState {
        let useBitmap: Bool
        /// A copy of `laneTable` (16 entries), owned.
        let lanes: UnsafeMutablePointer<UInt64>
        /// Owned; empty without the bitmap.
        let bm: UnsafeMutableBufferPointer<UInt64>
        /// Owned, `smallCustomerRows` slots: the bitmap words profileSmall
        /// set for the current customer, so that it zeroes them without a
        /// second pass over the customer's runs.
        let touched: UnsafeMutablePointer<Int32>
        var scratch: [UInt32] = []

        init(maxTrack: Int64) {
            useBitmap = maxTrack < ProfileKernel.bitmapLimit
            lanes = .allocate(capacity: 16)
            lanes.initialize(from: ProfileKernel.laneTable, count: 16)
            bm = .allocate(capacity: useBitmap ? Int(maxTrack >> 6) + 1 : 0)
            bm.initialize(repeating: 0)
            touched = .allocate(capacity: ProfileKernel.smallCustomerRows)
        }

        deinit {
            lanes.deallocate()
            bm.deallocate()
            touched.deallocate()
        }

        /// The usual customer of a high-cardinality store (a few short runs,
        /// every row inside the window, tracks in the bitmap): the runs'
        /// rows added into one packed word, unpacked once, instead of per
        /// run (the per-run work cost more than the rows of a run of 3).
        /// nil when the customer is not that case.
        /// - Precondition: as for `profile`.
        @inline(__always)
        func profileSmall(_ runs: UnsafeBufferPointer<CustomerRun>, views: UnsafeBufferPointer<GroupView>) -> CustomerCounts? {
            guard useBitmap else { return nil }
            var rows = 0
            for run in runs {
                let v = views[Int(run.group)]
                guard v.full, v.track16 != nil || v.track32 != nil else { return nil }
                rows &+= Int(run.end) &- Int(run.start)
            }
            guard rows <= ProfileKernel.smallCustomerRows else { return nil }
            let lanes = UnsafePointer(self.lanes), bm = self.bm, touched = self.touched
            var acc: UInt64 = 0
            var fresh: Int64 = 0
            // One slot per row: rows <= smallCustomerRows, touched's size.
            // (Not kept for a small bitmap, which is zeroed whole.)
            var marked = 0
            let small = bm.count <= ProfileKernel.smallBitmapWords
            @inline(__always) func add<T: FixedWidthInteger & UnsignedInteger>(_ codes: UnsafePointer<UInt8>, _ tr: UnsafePointer<T>, _ s: Int, _ e: Int,
                                                                               record: Bool) {
                for k in s..<e {
                    acc &+= lanes[Int(codes[k] & 15)]
                    let x = Int(tr[k])
                    let w = x &>> 6
                    let bit = UInt64(1) &<< UInt64(x & 63)
                    let word = bm[w]
                    fresh &+= (word & bit) == 0 ? 1 : 0
                    bm[w] = word | bit
                    if record {
                        touched[marked] = Int32(truncatingIfNeeded: w)
                        marked &+= 1
                    }
                }
            }
            // Each call site passes a constant: one loop without the list.
            for run in runs {
                let v = views[Int(run.group)]
                let s = Int(run.start), e = Int(run.end)
                if small {
                    if let t = v.track16 { add(v.codes, t, s, e, record: false) } else { add(v.codes, v.track32!, s, e, record: false) }
                } else {
                    if let t = v.track16 { add(v.codes, t, s, e, record: true) } else { add(v.codes, v.track32!, s, e, record: true) }
                }
            }
            if small {
                bm.update(repeating: 0)
            } else {
                // w < bm.count <= 2^22 (bitmapLimit / 64): Int32 holds it.
                for i in 0..<marked { bm[Int(touched[i])] = 0 }
            }
            var r = CustomerCounts()
            r.morning = Int64(acc & 0xFFF)
            r.afternoon = Int64((acc &>> 12) & 0xFFF)
            r.evening = Int64((acc &>> 24) & 0xFFF)
            r.total = Int64((acc &>> 36) & 0xFFF)
            r.mobile = Int64((acc &>> 48) & 0xFFF)
            r.unique = fresh
            return r
        }

        /// The figures of the customer whose runs are `runs`.
        /// - Precondition: every run's group indexes `views`, its rows lie
        ///   inside that group, and its tracks are <= the maxTrack given
        ///   to init (the views and runs come from the same groups).
        @inline(__always)
        func profile(_ runs: UnsafeBufferPointer<CustomerRun>, views: UnsafeBufferPointer<GroupView>) -> CustomerCounts {
            if let r = profileSmall(runs, views: views) { return r }
            var r = CustomerCounts()
            let useBitmap = self.useBitmap, lanes = UnsafePointer(self.lanes), bm = self.bm
            for run in runs {
                let v = views[Int(run.group)]
                let s = Int(run.start), e = Int(run.end)
                guard e > s else { continue }
                if useBitmap && v.full && (v.track16 != nil || v.track32 != nil) {
                    // The common case in one pass over the run.
                    let x = v.track16.map { ProfileKernel.countAndMark(v.codes, $0, s, e, lanes, bm) }
                        ?? ProfileKernel.countAndMark(v.codes, v.track32!, s, e, lanes, bm)
                    r.morning += Int64(x.0); r.afternoon += Int64(x.1); r.evening += Int64(x.2)
                    r.total += Int64(x.3); r.mobile += Int64(x.4); r.unique += x.5
                    continue
                }
                let x = ProfileKernel.count(v.codes, s, e, lanes)
                r.morning += Int64(x.0); r.afternoon += Int64(x.1); r.evening += Int64(x.2)
                r.total += Int64(x.3); r.mobile += Int64(x.4)
                if useBitmap {
                    if let t = v.track16 {
                        r.unique += v.full ? ProfileKernel.mark(t, s, e, bm) : ProfileKernel.mark(t, v.codes, s, e, bm)
                    } else if let t = v.track32 {
                        r.unique += v.full ? ProfileKernel.mark(t, s, e, bm) : ProfileKernel.mark(t, v.codes, s, e, bm)
                    }
                } else if let t = v.track32 {
                    for i in s..<e where v.codes[i] & RowGroupData.windowBit != 0 { scratch.append(t[i]) }
                } else if let t = v.track16 {
                    // A group of small ids next to one with huge ids.
                    for i in s..<e where v.codes[i] & RowGroupData.windowBit != 0 { scratch.append(UInt32(t[i])) }
                }
            }
            if useBitmap && bm.count <= ProfileKernel.smallBitmapWords {
                // A small bitmap is cheaper to zero whole than to walk
                // the customer's tracks again.
                bm.update(repeating: 0)
            } else if useBitmap {
                // Clear exactly the words this customer touched.
                for run in runs {
                    let v = views[Int(run.group)]
                    if let t = v.track16 {
                        ProfileKernel.clear(t, Int(run.start), Int(run.end), bm)
                    } else if let t = v.track32 {
                        ProfileKernel.clear(t, Int(run.start), Int(run.end), bm)
                    }
                }
            } else {
                scratch.sort()
                for i in scratch.indices where i == 0 || scratch[i] != scratch[i - 1] { r.unique += 1 }
                scratch.removeAll(keepingCapacity: true)
            }
            return r
        }
    }

    /// Rows of a customer whose figures `CustomerState.profileSmall`
    /// accumulates in one packed word (every lane stays below 4,096).
    static let smallCustomerRows = 4095

    /// For each of the 16 codes (see RowGroupData.codes), the increments it
    /// makes in five 12-bit lanes: 0 morning, 1 afternoon, 2 evening,
    /// 3 inside the window (total), 4 mobile. Rows outside the window add 0.
    static let laneTable: [UInt64] = (0..<16).map { (c: Int) -> UInt64 in
        guard c & Int(RowGroupData.windowBit) != 0 else { return 0 }
        var v: UInt64 = 1 << 36
        switch c & 3 {
        case 1: v |= 1
        case 2: v |= 1 << 12
        case 3: v |= 1 << 24
        default: break
        }
        if c & Int(RowGroupData.mobileBit) != 0 { v |= 1 << 48 }
        return v
    }

    /// (morning, afternoon, evening, total, mobile) of rows s..<e inside the
    /// window: one table load and one add per row, no branches; the lanes are
    /// emptied every 4,095 rows, before any can overflow.
    /// - Precondition: `lanes` points at `laneTable`; every code is < 16.
    @inline(__always)
    static func count(_ codes: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ lanes: UnsafePointer<UInt64>) -> (UInt32, UInt32, UInt32, UInt32, UInt32) {
        var m: UInt32 = 0, a: UInt32 = 0, ev: UInt32 = 0, tot: UInt32 = 0, mob: UInt32 = 0
        var i = s
        while i < e {
            let end = min(e, i + 4095)
            var acc: UInt64 = 0
            for k in i..<end { acc &+= lanes[Int(codes[k] & 15)] }
            m &+= UInt32(acc & 0xFFF)
            a &+= UInt32((acc &>> 12) & 0xFFF)
            ev &+= UInt32((acc &>> 24) & 0xFFF)
            tot &+= UInt32((acc &>> 36) & 0xFFF)
            mob &+= UInt32((acc &>> 48) & 0xFFF)
            i = end
        }
        return (m, a, ev, tot, mob)
    }

    /// `count` and `mark` (all rows inside the window) in one pass.
    /// - Precondition: as for `count` and `mark`.
    @inline(__always)
    static func countAndMark<T: FixedWidthInteger & UnsignedInteger>(_ codes: UnsafePointer<UInt8>, _ tr: UnsafePointer<T>, _ s: Int, _ e: Int, _ lanes: UnsafePointer<UInt64>,
                             _ bm: UnsafeMutableBufferPointer<UInt64>) -> (UInt32, UInt32, UInt32, UInt32, UInt32, Int64) {
        var m: UInt32 = 0, a: UInt32 = 0, ev: UInt32 = 0, tot: UInt32 = 0, mob: UInt32 = 0
        var fresh: Int64 = 0
        var i = s
        while i < e {
            let end = min(e, i + 4095)
            var acc: UInt64 = 0
            for k in i..<end {
                acc &+= lanes[Int(codes[k] & 15)]
                let x = Int(tr[k])
                let w = x &>> 6
                let bit = UInt64(1) &<< UInt64(x & 63)
                let word = bm[w]
                fresh &+= (word & bit) == 0 ? 1 : 0
                bm[w] = word | bit
            }
            m &+= UInt32(acc & 0xFFF)
            a &+= UInt32((acc &>> 12) & 0xFFF)
            ev &+= UInt32((acc &>> 24) & 0xFFF)
            tot &+= UInt32((acc &>> 36) & 0xFFF)
            mob &+= UInt32((acc &>> 48) & 0xFFF)
            i = end
        }
        return (m, a, ev, tot, mob, fresh)
    }

    /// Sets the bit of each track of s..<e; returns how many were new.
    /// - Precondition: every track <= maxTrack, so `>> 6` indexes inside `bm`
    ///   (maxTrack is the maximum of the decoded values).
    @inline(__always)
    static func mark<T: FixedWidthInteger & UnsignedInteger>(_ tr: UnsafePointer<T>, _ s: Int, _ e: Int, _ bm: UnsafeMutableBufferPointer<UInt64>) -> Int64 {
        var fresh: Int64 = 0
        for i in s..<e {
            let x = Int(tr[i])
            let w = x &>> 6
            let bit = UInt64(1) &<< UInt64(x & 63)
            let word = bm[w]
            fresh &+= (word & bit) == 0 ? 1 : 0
            bm[w] = word | bit
        }
        return fresh
    }

    /// As `mark`, for rows inside the window only.
    @inline(__always)
    static func mark<T: FixedWidthInteger & UnsignedInteger>(_ tr: UnsafePointer<T>, _ codes: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ bm: UnsafeMutableBufferPointer<UInt64>) -> Int64 {
        var fresh: Int64 = 0
        for i in s..<e where codes[i] & RowGroupData.windowBit != 0 {
            let x = Int(tr[i])
            let w = x &>> 6
            let bit = UInt64(1) &<< UInt64(x & 63)
            let word = bm[w]
            fresh &+= (word & bit) == 0 ? 1 : 0
            bm[w] = word | bit
        }
        return fresh
    }

    @inline(__always)
    static func clear<T: FixedWidthInteger & UnsignedInteger>(_ tr: UnsafePointer<T>, _ s: Int, _ e: Int, _ bm: UnsafeMutableBufferPointer<UInt64>) {
        for i in s..<e { bm[Int(tr[i]) &>> 6] = 0 }
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

    /// Writes slot `k`: the customer and its figures.
    @inline(__always)
    func set(_ k: Int, customer id: UInt32, _ r: ProfileKernel.CustomerCounts) {
        customer[k] = id
        unique[k] = r.unique
        morning[k] = r.morning
        afternoon[k] = r.afternoon
        evening[k] = r.evening
        night[k] = r.total - r.morning - r.afternoon - r.evening
        mobile[k] = r.mobile
        present[k] = r.total > 0
    }

    func deallocate() {
        customer.deallocate(); unique.deallocate(); morning.deallocate(); afternoon.deallocate()
        evening.deallocate(); night.deallocate(); mobile.deallocate(); present.deallocate()
    }

    /// Customers with at least one event in range, in customer order.
    func profile() -> Profile {
        var n = 0
        for k in 0..<count where present[k] { n += 1 }
        var p = Profile()
        // One pass writing the seven columns (each exactly n long).
        func column<T>(_ src: UnsafeMutableBufferPointer<T>) -> [T] {
            [T](unsafeUninitializedCapacity: n) { out, written in
                var j = 0
                for k in 0..<count where present[k] { (out.baseAddress! + j).initialize(to: src[k]); j += 1 }
                written = j
            }
        }
        p.customer = column(customer)
        p.uniqueTracks = column(unique)
        p.morning = column(morning)
        p.afternoon = column(afternoon)
        p.evening = column(evening)
        p.night = column(night)
        p.mobile = column(mobile)
        return p
    }
}
