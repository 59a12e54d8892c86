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
