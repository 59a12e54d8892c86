import Dispatch
import StaveFormat
import StaveIO
import CStaveSupport

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
