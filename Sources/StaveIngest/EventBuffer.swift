import Dispatch
import StaveFormat
import StaveIO
import CStaveSupport

/// Rows buffered by the converter before they become one part, row by row
/// (32 bytes each): laying a part out reads the rows in a random order, and
/// one row is then one or two cache lines instead of six (one per column).
public struct EventBuffer: Sendable {
    public var rows: [EventRow] = []

    public init(capacity: Int = 0) { reserve(capacity) }

    public mutating func reserve(_ n: Int) { rows.reserveCapacity(n) }

    public var count: Int { rows.count }

    @inline(__always)
    public mutating func append(_ r: EventRow) { rows.append(r) }

    public mutating func append(contentsOf other: EventBuffer, rows range: Range<Int>) {
        rows += other.rows[range]
    }

    /// Appends rows decoded from a store (columns in EventsSchema order,
    /// values checked against their chunk statistics, which lie in each
    /// column's domain: the narrowing conversions cannot trap).
    public mutating func append(columns c: [[Int64]]) {
        let n = c[EventsSchema.eventID].count
        precondition(c.allSatisfy { $0.count == n }, "a row group's columns have one value per row")
        // No reserveCapacity(count + n) here: it reallocates to exactly that
        // size on every call, which copied the whole buffer once per row
        // group (compacting 300 groups took 6x as long); append grows it
        // geometrically. One pass over raw column buffers (all n long,
        // checked above).
        c[EventsSchema.eventID].withUnsafeBufferPointer { ev in
        c[EventsSchema.customerID].withUnsafeBufferPointer { cu in
        c[EventsSchema.trackID].withUnsafeBufferPointer { tr in
        c[EventsSchema.datetime].withUnsafeBufferPointer { dt in
        c[EventsSchema.mobile].withUnsafeBufferPointer { mo in
        c[EventsSchema.zip].withUnsafeBufferPointer { zi in
            for i in 0..<n {
                rows.append(EventRow(eventID: ev[i], customerID: UInt32(cu[i]), trackID: UInt32(tr[i]), datetime: dt[i],
                                     mobile: UInt8(mo[i]), zip: UInt32(zi[i])))
            }
        }
        }
        }
        }
        }
        }
    }

    public mutating func removeAll() { rows.removeAll(keepingCapacity: true) }
}

/// The v1 row order of a part: rows grouped by calendar month of `datetime`
/// (so a time-range query skips whole row groups), then by customer (so a
/// customer's events are one run per month and customer_id is RLE), then by
/// input order (so event ids in file order ascend within a run and take
/// DELTA_RUNS). Row groups hold at most 65,536 rows of one month.
public enum PartLayout {
    /// Returns the row permutation and the row-group boundaries into it.
    public static func order(_ buf: EventBuffer) -> (order: [UInt32], groups: [Range<Int>]) {
        let n = buf.count
        guard n > 0 else { return ([], []) }
        precondition(n <= Int(UInt32.max), "a part holds fewer than 2^32 rows")
        // Month of each row, through a table over the day span when it is small.
        var months = [Int64](repeating: 0, count: n)
        buf.rows.withUnsafeBufferPointer { rows in
            months.withUnsafeMutableBufferPointer { mo in
                var dmin = Int64.max, dmax = Int64.min
                for r in rows { let d = CivilTime.day(of: r.datetime); dmin = min(dmin, d); dmax = max(dmax, d) }
                if dmax - dmin < 1 << 20 {
                    let table = (dmin...dmax).map { CivilTime.monthIndex(of: $0 * CivilTime.secondsPerDay) }
                    table.withUnsafeBufferPointer { t in
                        // day(of:) of every row lies in dmin...dmax (the loop above).
                        for i in 0..<n { mo[i] = t[Int(CivilTime.day(of: rows[i].datetime) &- dmin)] }
                    }
                } else {
                    for i in 0..<n { mo[i] = CivilTime.monthIndex(of: rows[i].datetime) }
                }
            }
        }
        var mmin = Int64.max, mmax = Int64.min
        for m in months { mmin = min(mmin, m); mmax = max(mmax, m) }
        let distinct: [Int64]
        if mmax - mmin < 1 << 20 {
            var present = [Bool](repeating: false, count: Int(mmax - mmin) + 1)
            present.withUnsafeMutableBufferPointer { pr in
                for m in months { pr[Int(m &- mmin)] = true }
            }
            distinct = present.indices.filter { present[$0] }.map { mmin + Int64($0) }
        } else {
            distinct = Array(Set(months)).sorted()
        }
        // Bucket of each row: an array index when the month span is small.
        var bucket = [Int32](repeating: 0, count: n)
        if let first = distinct.first, let last = distinct.last, last - first < 1 << 20 {
            var index = [Int32](repeating: -1, count: Int(last - first) + 1)
            for (k, m) in distinct.enumerated() { index[Int(m - first)] = Int32(k) }
            index.withUnsafeBufferPointer { ix in
                months.withUnsafeBufferPointer { mo in
                    bucket.withUnsafeMutableBufferPointer { bu in
                        // Every month lies in first...last (distinct holds them all).
                        for i in 0..<n { bu[i] = ix[Int(mo[i] &- first)] }
                    }
                }
            }
        } else {
            var bucketOf: [Int64: Int32] = [:]
            for (k, m) in distinct.enumerated() { bucketOf[m] = Int32(k) }
            for i in 0..<n { bucket[i] = bucketOf[months[i]]! }
        }
        // Counting sort by month (stable).
        var counts = [Int](repeating: 0, count: distinct.count + 1)
        for b in bucket { counts[Int(b) + 1] += 1 }
        for k in 1..<counts.count { counts[k] += counts[k - 1] }
        let starts = counts
        var byMonth = [UInt32](repeating: 0, count: n)
        bucket.withUnsafeBufferPointer { bu in
            counts.withUnsafeMutableBufferPointer { c in
                byMonth.withUnsafeMutableBufferPointer { out in
                    // c[b] runs from starts[b] to starts[b + 1] - 1: inside 0..<n.
                    for i in 0..<n { let b = Int(bu[i]); out[c[b]] = UInt32(truncatingIfNeeded: i); c[b] &+= 1 }
                }
            }
        }

        // Within each month: a stable radix sort on the customer id, so each
        // customer's rows keep their input order. Months are sorted in
        // parallel, each into its own range of `order`.
        let order = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: n)
        defer { order.deallocate() }
        let shared = SendableBox((order, byMonth, starts, buf))
        DispatchQueue.concurrentPerform(iterations: distinct.count) { k in
            let (order, byMonth, starts, buf) = shared.value
            let range = starts[k]..<starts[k + 1]
            var keys = [UInt64](repeating: 0, count: range.count)
            var idx = [UInt32](repeating: 0, count: range.count)
            byMonth.withUnsafeBufferPointer { bm in
            buf.rows.withUnsafeBufferPointer { rows in
            keys.withUnsafeMutableBufferPointer { ky in
            idx.withUnsafeMutableBufferPointer { ix in
                var j = 0
                for r in range {
                    let i = Int(bm[r])
                    ky[j] = UInt64(rows[i].customerID)
                    ix[j] = UInt32(truncatingIfNeeded: i)
                    j &+= 1
                }
            }
            }
            }
            }
            RadixSort.sort(keys: &keys, values: &idx, bits: 32)
            // Each month writes only its own range of `order`.
            _ = UnsafeMutableBufferPointer(rebasing: order[range]).initialize(from: idx)
        }
        var groups: [Range<Int>] = []
        for k in distinct.indices {
            var s = starts[k]
            while s < starts[k + 1] {
                let e = min(s + FormatConstants.maxRowGroupRows, starts[k + 1])
                groups.append(s..<e)
                s = e
            }
        }
        return (Array(order), groups)
    }

    /// Gathers one row group's columns in `order`: one random read of a
    /// row, six sequential writes.
    /// - Precondition: `order` is a permutation of 0..<buf.count (from
    ///   `order(_:)`) and `rows` lies inside it, so every read is in bounds.
    public static func gather(_ buf: EventBuffer, order: [UInt32], rows: Range<Int>) -> RowGroupColumns {
        let n = rows.count
        func column() -> [Int64] { [Int64](repeating: 0, count: n) }
        var event = column(), customer = column(), track = column(), datetime = column(), mobile = column(), zip = column()
        buf.rows.withUnsafeBufferPointer { src in
        order.withUnsafeBufferPointer { o in
        event.withUnsafeMutableBufferPointer { ev in
        customer.withUnsafeMutableBufferPointer { cu in
        track.withUnsafeMutableBufferPointer { tr in
        datetime.withUnsafeMutableBufferPointer { dt in
        mobile.withUnsafeMutableBufferPointer { mo in
        zip.withUnsafeMutableBufferPointer { zi in
            var k = 0
            let end = rows.upperBound
            for r in rows {
                // A hint for the row 16 reads ahead (never faults).
                if r &+ 16 < end { stave_prefetch(src.baseAddress! + Int(o[r &+ 16])) }
                let row = src[Int(o[r])]
                ev[k] = row.eventID
                cu[k] = Int64(row.customerID)
                tr[k] = Int64(row.trackID)
                dt[k] = row.datetime
                mo[k] = Int64(row.mobile)
                zi[k] = Int64(row.zip)
                k &+= 1
            }
        }
        }
        }
        }
        }
        }
        }
        }
        var cols = [[Int64]](repeating: [], count: EventsSchema.columns.count)
        cols[EventsSchema.eventID] = event
        cols[EventsSchema.customerID] = customer
        cols[EventsSchema.trackID] = track
        cols[EventsSchema.datetime] = datetime
        cols[EventsSchema.mobile] = mobile
        cols[EventsSchema.zip] = zip
        return RowGroupColumns(columns: cols)
    }

    /// Sorts `buf` into row groups and writes them as one part of `builder`.
    public static func writePart(_ buf: EventBuffer, to builder: PartSink) throws {
        let (order, groups) = PartLayout.order(buf)
        guard !groups.isEmpty else { return }
        try builder.addPart(groupCount: groups.count) { g in
            PartLayout.gather(buf, order: order, rows: groups[g])
        }
    }
}

/// Stable LSD radix sort of (key, value) pairs by the low `bits` of the key,
/// 11 bits per pass; passes whose digit is the same for every key are skipped.
public enum RadixSort {
    /// Sorts `keys` (stable), moving `values` with them. Only the bits the
    /// largest key uses are sorted on (at most `bits`), in passes of at most
    /// 13 bits (8,192 counters fit in L2).
    public static func sort(keys: inout [UInt64], values: inout [UInt32], bits: Int) {
        let n = keys.count
        guard n > 1 else { return }
        precondition(values.count == n)
        var all: UInt64 = 0
        for k in keys { all |= k }
        let used = min(bits, 64 - all.leadingZeroBitCount)
        guard used > 0 else { return }
        let passes = (used + 12) / 13
        let radix = (used + passes - 1) / passes
        let buckets = 1 << radix
        let mask = UInt64(buckets - 1)
        var tmpKeys = [UInt64](repeating: 0, count: n)
        var tmpValues = [UInt32](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: buckets)
        var shift = 0
        while shift < used {
            let sh = UInt64(shift)
            let skip = keys.withUnsafeBufferPointer { ks in
                counts.withUnsafeMutableBufferPointer { c in
                    c.update(repeating: 0)
                    for k in ks { c[Int((k >> sh) & mask)] &+= 1 }
                    if c.contains(n) { return true }
                    var sum = 0
                    for b in 0..<buckets { let x = c[b]; c[b] = sum; sum &+= x }
                    return false
                }
            }
            if !skip {
                keys.withUnsafeBufferPointer { ks in
                values.withUnsafeBufferPointer { vs in
                tmpKeys.withUnsafeMutableBufferPointer { tk in
                tmpValues.withUnsafeMutableBufferPointer { tv in
                counts.withUnsafeMutableBufferPointer { c in
                    // c[b] stays below the end of bucket b: inside 0..<n.
                    for i in 0..<n {
                        let k = ks[i]
                        let b = Int((k >> sh) & mask)
                        let dst = c[b]
                        tk[dst] = k
                        tv[dst] = vs[i]
                        c[b] = dst &+ 1
                    }
                }
                }
                }
                }
                }
                swap(&keys, &tmpKeys)
                swap(&values, &tmpValues)
            }
            shift += radix
        }
    }
}
