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
    ///
    /// Memory: 20 bytes a row (a month bucket, customer keys and row
    /// indices, and the radix sort's scratch), then the order itself.
    public static func order(_ buf: EventBuffer, groupRows: Int = FormatConstants.maxRowGroupRows) -> (order: [UInt32], groups: [Range<Int>]) {
        let n = buf.count
        guard n > 0 else { return ([], []) }
        precondition(n <= Int(UInt32.max), "a part holds fewer than 2^32 rows")
        // 1. Each row's month, as an index into the sorted distinct months:
        //    through a table over the day span when it is small.
        var bucket = [Int32](repeating: 0, count: n)
        var distinct: [Int64] = []
        buf.rows.withUnsafeBufferPointer { rows in
            bucket.withUnsafeMutableBufferPointer { bu in
                var dmin = Int64.max, dmax = Int64.min
                for r in rows { let d = CivilTime.day(of: r.datetime); dmin = min(dmin, d); dmax = max(dmax, d) }
                if dmax - dmin < 1 << 20 {
                    let monthOfDay = (dmin...dmax).map { CivilTime.monthIndex(of: $0 * CivilTime.secondsPerDay) }
                    // Months of consecutive days ascend: the distinct ones
                    // are the changes along the table.
                    var index = [Int32](repeating: 0, count: monthOfDay.count)
                    for (k, m) in monthOfDay.enumerated() {
                        if distinct.last != m { distinct.append(m) }
                        index[k] = Int32(distinct.count - 1)
                    }
                    // Bucket of every day present; months without rows are
                    // dropped below (a bucket with no rows makes no group).
                    index.withUnsafeBufferPointer { ix in
                        // day(of:) of every row lies in dmin...dmax (the loop above).
                        for i in 0..<n { bu[i] = ix[Int(CivilTime.day(of: rows[i].datetime) &- dmin)] }
                    }
                } else {
                    distinct = Array(Set(rows.map { CivilTime.monthIndex(of: $0.datetime) })).sorted()
                    var bucketOf: [Int64: Int32] = [:]
                    for (k, m) in distinct.enumerated() { bucketOf[m] = Int32(k) }
                    for i in 0..<n { bu[i] = bucketOf[CivilTime.monthIndex(of: rows[i].datetime)]! }
                }
            }
        }
        // 2. Counting sort by month (stable), writing each row's customer
        //    and index into its month's range.
        var starts = [Int](repeating: 0, count: distinct.count + 1)
        for b in bucket { starts[Int(b) + 1] += 1 }
        for k in 1..<starts.count { starts[k] += starts[k - 1] }
        var keys = [UInt32](repeating: 0, count: n)
        var order = [UInt32](repeating: 0, count: n)
        buf.rows.withUnsafeBufferPointer { rows in
        bucket.withUnsafeBufferPointer { bu in
        keys.withUnsafeMutableBufferPointer { ky in
        order.withUnsafeMutableBufferPointer { ix in
            var at = starts
            // at[b] runs from starts[b] to starts[b + 1] - 1: inside 0..<n.
            for i in 0..<n {
                let b = Int(bu[i])
                let j = at[b]
                ky[j] = rows[i].customerID
                ix[j] = UInt32(truncatingIfNeeded: i)
                at[b] = j &+ 1
            }
        }
        }
        }
        }
        bucket = []
        // 3. Within each month, a stable radix sort on the customer id, so
        //    each customer's rows keep their input order. Months are sorted
        //    in parallel, each in its own range of the arrays.
        keys.withUnsafeMutableBufferPointer { ky in
            order.withUnsafeMutableBufferPointer { ix in
                let shared = SendableBox((ky, ix, starts))
                DispatchQueue.concurrentPerform(iterations: distinct.count) { k in
                    let (ky, ix, starts) = shared.value
                    let range = starts[k]..<starts[k + 1]
                    RadixSort.sort(keys: UnsafeMutableBufferPointer(rebasing: ky[range]), values: UnsafeMutableBufferPointer(rebasing: ix[range]))
                }
            }
        }
        var groups: [Range<Int>] = []
        for k in distinct.indices {
            var s = starts[k]
            while s < starts[k + 1] {
                let e = min(s + groupRows, starts[k + 1])
                groups.append(s..<e)
                s = e
            }
        }
        return (order, groups)
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
    public static func writePart(_ buf: EventBuffer, to builder: PartSink, groupRows: Int = FormatConstants.maxRowGroupRows) throws {
        let (order, groups) = PartLayout.order(buf, groupRows: groupRows)
        guard !groups.isEmpty else { return }
        try builder.addPart(groupCount: groups.count) { g in
            PartLayout.gather(buf, order: order, rows: groups[g])
        }
    }
}

/// Stable LSD radix sort of (key, value) pairs, in passes of at most 11
/// bits (2,048 counters stay in L1) over the bits the largest key uses;
/// passes whose digit is the same for every key are skipped. The one radix
/// sort of the code base (customer ids in a part layout, event ids in the
/// duplicate check).
public enum RadixSort {
    /// Sorts `keys` (stable), moving `values` with them, in place.
    /// - Precondition: keys and values have the same count (disjoint buffers).
    public static func sort<K: FixedWidthInteger & UnsignedInteger>(keys: UnsafeMutableBufferPointer<K>, values: UnsafeMutableBufferPointer<UInt32>) {
        let n = keys.count
        precondition(values.count == n)
        guard n > 1 else { return }
        var all: K = 0
        for k in keys { all |= k }
        let used = K.bitWidth - all.leadingZeroBitCount
        guard used > 0 else { return }
        let passes = (used + 10) / 11
        let radix = (used + passes - 1) / passes
        let buckets = 1 << radix
        let mask = K(buckets - 1)
        let tmpKeys = UnsafeMutableBufferPointer<K>.allocate(capacity: n)
        let tmpValues = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: n)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: buckets)
        defer { tmpKeys.deallocate(); tmpValues.deallocate(); counts.deallocate() }
        var (srcK, srcV, dstK, dstV) = (keys, values, tmpKeys, tmpValues)
        var shift = 0
        while shift < used {
            counts.update(repeating: 0)
            for k in srcK { counts[Int(truncatingIfNeeded: (k &>> K(shift)) & mask)] &+= 1 }
            if !counts.contains(n) {
                var sum = 0
                for b in 0..<buckets { let x = counts[b]; counts[b] = sum; sum &+= x }
                // counts[b] stays below the end of bucket b: inside 0..<n.
                for i in 0..<n {
                    let k = srcK[i]
                    let b = Int(truncatingIfNeeded: (k &>> K(shift)) & mask)
                    let d = counts[b]
                    dstK[d] = k
                    dstV[d] = srcV[i]
                    counts[b] = d &+ 1
                }
                swap(&srcK, &dstK)
                swap(&srcV, &dstV)
            }
            shift += radix
        }
        if srcK.baseAddress != keys.baseAddress {
            _ = keys.update(fromContentsOf: srcK)
            _ = values.update(fromContentsOf: srcV)
        }
    }

    /// Sorts arrays (stable); see `sort(keys:values:)`.
    public static func sort<K: FixedWidthInteger & UnsignedInteger>(keys: inout [K], values: inout [UInt32]) {
        keys.withUnsafeMutableBufferPointer { k in values.withUnsafeMutableBufferPointer { v in sort(keys: k, values: v) } }
    }
}
