import Dispatch
import StaveFormat
import StaveIO
import CStaveSupport

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
