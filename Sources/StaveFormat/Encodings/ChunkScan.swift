// One pass over a chunk's values that gathers what the writer needs to
// size FOR_BITPACK, RLE, DELTA and DELTA_RUNS exactly. Each of those used
// to read the values on its own (five passes, a third of a conversion's
// encoding time); `RLEChunk.runStats`, `DeltaChunk.encodedSize` and
// `DeltaRunsChunk.chooseWidth(_:min:max:)` remain as the simple
// references the tests compare this scan with.

struct ChunkScan {
    /// Smallest and largest value (0 and 0 for no values).
    var lo: Int64 = 0, hi: Int64 = 0
    /// Runs of equal values, and the shortest and longest (all 0 for no values).
    var runs = 0, shortest = 0, longest = 0
    /// Smallest and largest wrapping step v[i] &- v[i-1] (0 and 0 below two values).
    var stepLo: Int64 = 0, stepHi: Int64 = 0
    /// Steps below zero.
    var negativeSteps = 0
    /// stepsByWidth[b]: non-negative steps that need exactly b bits (b = 0
    /// for a step of 0); 65 entries, the last always 0.
    var stepsByWidth = [Int](repeating: 0, count: 65)

    init(_ values: UnsafeBufferPointer<Int64>) {
        let n = values.count
        guard let v = values.baseAddress, n > 0 else { return }
        var lo = v[0], hi = v[0]
        var stepLo = Int64.max, stepHi = Int64.min
        var runs = 1, runStart = 0, shortest = Int.max, longest = 0
        // Four histograms of 65 counts, row i adding to histogram i & 3:
        // consecutive rows with the same step width (a sorted column's zero
        // steps) would otherwise each wait for the previous row's store to
        // the same count. A step's bucket is 64 - its leading zero bits: 0
        // for a step of 0, b for a non-negative step of b bits (b <= 63),
        // and 64 exactly for the negative steps.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * 65) { hist in
            let h = hist.baseAddress!
            h.initialize(repeating: 0, count: 4 * 65)
            // Invariant: 1 <= i < n inside the loop, so v[i] is in bounds;
            // the count index is (i & 3) * 65 + 0...64.
            var prev = v[0]
            var i = 1
            while i < n {
                let x = v[i]
                let d = x &- prev
                prev = x
                lo = Swift.min(lo, x); hi = Swift.max(hi, x)
                stepLo = Swift.min(stepLo, d); stepHi = Swift.max(stepHi, d)
                // A new run starts at i exactly when the step is not 0
                // (wrapping subtraction is 0 only for equal values). With a
                // mask (all ones when it starts), not a branch or a select
                // the compiler turns into one: zips start a run every few rows.
                let starts = Int(truncatingIfNeeded: (d | (0 &- d)) &>> 63)
                // (The longest needs no mask: a run's length so far never
                // exceeds its full length, counted when it ends.)
                let length = i &- runStart
                shortest = Swift.min(shortest, length | (~starts & Int.max))
                longest = Swift.max(longest, length)
                runStart = (i & starts) | (runStart & ~starts)
                runs &-= starts
                h[(i & 3) &* 65 &+ (64 &- d.leadingZeroBitCount)] &+= 1
                i &+= 1
            }
            for b in 0..<64 { stepsByWidth[b] = h[b] &+ h[65 &+ b] &+ h[130 &+ b] &+ h[195 &+ b] }
            negativeSteps = h[64] &+ h[129] &+ h[194] &+ h[259]
        }
        shortest = Swift.min(shortest, n &- runStart)
        longest = Swift.max(longest, n &- runStart)
        if n < 2 { stepLo = 0; stepHi = 0 }
        self.lo = lo; self.hi = hi
        self.runs = runs; self.shortest = shortest; self.longest = longest
        self.stepLo = stepLo; self.stepHi = stepHi
    }
}
