// What the writer needs to size FOR_BITPACK, RLE, DELTA and DELTA_RUNS
// exactly, gathered in one pass over a chunk's values plus two passes only
// the chunks that use them pay for. Each encoding used to read the values
// on its own (five passes, a third of a conversion's encoding time);
// `RLEChunk.runStats`, `DeltaChunk.encodedSize` and
// `DeltaRunsChunk.chooseWidth(_:min:max:)` remain as the simple references
// the tests compare this scan with.

struct ChunkScan {
    /// Smallest and largest value (0 and 0 for no values).
    var lo: Int64 = 0, hi: Int64 = 0
    /// Runs of equal values (0 for no values).
    var runs = 0
    /// The shortest and longest run, computed only when `hasRunLengths`:
    /// when runs * 4 <= count * 3, the chunks RLE or PATCHED_RLE may take.
    var shortest = 0, longest = 0
    var hasRunLengths: Bool { runs * 4 <= count * 3 }
    /// Smallest and largest wrapping step v[i] &- v[i-1] (0 and 0 below two values).
    var stepLo: Int64 = 0, stepHi: Int64 = 0
    /// Steps below zero.
    var negativeSteps = 0
    /// stepsByWidth[b]: non-negative steps that need exactly b bits (b = 0
    /// for a step of 0); 65 entries, the last always 0. Computed only when
    /// negativeSteps > 0 (DELTA_RUNS is no candidate otherwise), else all 0.
    var stepsByWidth = [Int](repeating: 0, count: 65)
    let count: Int

    init(_ values: UnsafeBufferPointer<Int64>) {
        let n = values.count
        count = n
        guard let v = values.baseAddress, n > 0 else { return }
        // Pass 1: ranges and counts, no stores. Invariant: 1 <= i < n.
        var lo = v[0], hi = v[0]
        var stepLo = Int64.max, stepHi = Int64.min
        var changes = 0, negative = 0
        var prev = v[0]
        var i = 1
        while i < n {
            let x = v[i]
            let d = x &- prev
            prev = x
            lo = Swift.min(lo, x); hi = Swift.max(hi, x)
            stepLo = Swift.min(stepLo, d); stepHi = Swift.max(stepHi, d)
            // A run starts at i exactly when the step is not 0 (wrapping
            // subtraction is 0 only for equal values): the sign bit of
            // d | -d. Counted without a branch (zips change every few rows).
            changes &+= Int(truncatingIfNeeded: UInt64(bitPattern: d | (0 &- d)) &>> 63)
            negative &+= Int(truncatingIfNeeded: UInt64(bitPattern: d) &>> 63)
            i &+= 1
        }
        if n < 2 { stepLo = 0; stepHi = 0 }
        self.lo = lo; self.hi = hi
        self.stepLo = stepLo; self.stepHi = stepHi
        runs = 1 &+ changes
        negativeSteps = negative

        // Pass 2: run lengths. The mask is all ones where a run starts.
        if hasRunLengths {
            var runStart = 0, shortest = Int.max, longest = 0
            var i = 1  // 1 <= i < n in the loop
            while i < n {
                let d = v[i] &- v[i &- 1]
                let starts = Int(truncatingIfNeeded: (d | (0 &- d)) &>> 63)
                // (The longest needs no mask: a run's length so far never
                // exceeds its full length, counted when it ends.)
                let length = i &- runStart
                shortest = Swift.min(shortest, length | (~starts & Int.max))
                longest = Swift.max(longest, length)
                runStart = (i & starts) | (runStart & ~starts)
                i &+= 1
            }
            self.shortest = Swift.min(shortest, n &- runStart)
            self.longest = Swift.max(longest, n &- runStart)
        }

        // Pass 3: the step-width histogram, in four copies (row i adds to
        // copy i & 3) so that rows with the same width do not each wait for
        // the previous row's store to the same count. A step's bucket is 64
        // minus its leading zero bits: b for a non-negative step of b <= 63
        // bits, 64 exactly for the negative ones (not kept: counted above).
        if negative > 0 {
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * 65) { hist in
                let h = hist.baseAddress!
                h.initialize(repeating: 0, count: 4 * 65)
                // Invariant: 1 <= i < n; the index is (i & 3) * 65 + 0...64.
                var i = 1
                while i < n {
                    let d = v[i] &- v[i &- 1]
                    h[(i & 3) &* 65 &+ (64 &- d.leadingZeroBitCount)] &+= 1
                    i &+= 1
                }
                for b in 0..<64 { stepsByWidth[b] = h[b] &+ h[65 &+ b] &+ h[130 &+ b] &+ h[195 &+ b] }
            }
        }
    }
}
