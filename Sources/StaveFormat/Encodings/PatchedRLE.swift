// Encoding 7, PATCHED_RLE: runs of a usual value, with exceptions.
//
//   offset size
//   0      4    run count r (u32); r = 0 exactly when the chunk has 0 rows
//   4      4    exception count e (u32)
//   8      ...  FOR_BITPACK block of the r run values
//   ...    ...  FOR_BITPACK block of the r run lengths (each >= 1, sum = rows)
//   ...    ...  FOR_BITPACK block of one flag per row, each 0 or 1; e are 1
//   ...    ...  FOR_BITPACK block of the e exception values
//
// Row i's value is the next exception value (in row order) if its flag is 1,
// else the value of the run containing it. Pays on listening zips: within a
// customer's run most events are at the home zip, the others elsewhere; RLE
// pays a run for each of those, this pays one flag bit per row and the
// value.

public struct PatchedRLEChunk: @unchecked Sendable {
    // @unchecked Sendable: `flags` points into the immutable payload, as in
    // FORBlock.
    public let runs: RLEChunk
    /// The flags as a little-endian bitmap (bit i of the stream is row i),
    /// or nil when the flag block has width 0 (every flag is `allFlag`).
    let flags: UnsafeRawBufferPointer?
    let allFlag: Bool
    /// before[k]: flags set in words 0..<k (with a width-1 flag block).
    let before: [Int32]
    public let exceptions: FORBlock
    public let count: Int

    // MARK: Analyze

    /// The writer's split of `values` into base runs and exceptions: a new
    /// run starts where a value other than the run's repeats at once (the
    /// next row, or the one after when the next is not the run's value).
    struct Plan {
        var runValues: [Int64] = []
        var runLengths: [Int64] = []
        var flags: [Int64] = []
        var exceptions: [Int64] = []
    }

    static func plan(_ v: UnsafeBufferPointer<Int64>) -> Plan {
        var p = Plan()
        p.flags = [Int64](repeating: 0, count: v.count)
        split(v, exception: { j, x in p.flags[j] = 1; p.exceptions.append(x) },
              run: { b, length in p.runValues.append(b); p.runLengths.append(Int64(length)) })
        return p
    }

    /// The split of `plan`, as it goes: `exception(j, x)` for each flagged
    /// row j (value x), `run(b, length)` for each base run, in row order.
    @inline(__always)
    static func split(_ v: UnsafeBufferPointer<Int64>, exception: (Int, Int64) -> Void, run: (Int64, Int) -> Void) {
        let n = v.count
        // Every index read is checked against n first.
        var i = 0
        while i < n {
            let b = v[i]
            var j = i + 1
            while j < n {
                let x = v[j]
                if x == b { j += 1; continue }
                let repeats = (j + 1 < n && v[j + 1] == x) || (j + 2 < n && v[j + 1] != b && v[j + 2] == x)
                if repeats { break }
                exception(j, x)
                j += 1
            }
            run(b, j - i)
            i = j
        }
    }

    static func size(of p: Plan) -> Int {
        func block(_ a: [Int64]) -> Int {
            var lo = Int64.max, hi = Int64.min
            for x in a { lo = min(lo, x); hi = max(hi, x) }
            if a.isEmpty { lo = 0; hi = 0 }
            return FORBlock.encodedSize(count: a.count, min: lo, max: hi)
        }
        return 8 + block(p.runValues) + block(p.runLengths) + block(p.flags) + block(p.exceptions)
    }

    /// No chunk of `count` rows whose RLE payload is `rleSize` bytes
    /// encodes smaller than this. Without exceptions the plan's runs are
    /// RLE's, so the payload is RLE's plus a flag block and an exception
    /// block (each at least a header); with exceptions it has four block
    /// headers and a flag bit per row.
    static func sizeLowerBound(count: Int, rleSize: Int) -> Int {
        Swift.min(rleSize + 2 * FORBlock.headerSize,
                  8 + 3 * FORBlock.headerSize + FORBlock.encodedSize(count: count, min: 0, max: 1))
    }

    /// The exact payload size of `encode(values)`: `size(of: plan(values))`
    /// without building the plan (the writer sizes every candidate chunk,
    /// and builds the plan only for the chunks PATCHED_RLE wins).
    public static func encodedSize(_ values: UnsafeBufferPointer<Int64>) -> Int {
        let n = values.count
        guard n > 0 else { return size(of: Plan()) }
        var runs = 0, exceptions = 0
        var valueLo = Int64.max, valueHi = Int64.min, lengthLo = Int64.max, lengthHi = Int64.min
        var exceptionLo = Int64.max, exceptionHi = Int64.min
        split(values, exception: { _, x in
            exceptions += 1
            exceptionLo = min(exceptionLo, x); exceptionHi = max(exceptionHi, x)
        }, run: { b, length in
            runs += 1
            valueLo = min(valueLo, b); valueHi = max(valueHi, b)
            lengthLo = min(lengthLo, Int64(length)); lengthHi = max(lengthHi, Int64(length))
        })
        if exceptions == 0 { exceptionLo = 0; exceptionHi = 0 }
        // The first row of a run is never flagged, so the flags span 0...1
        // with exceptions and 0...0 without.
        return 8 + FORBlock.encodedSize(count: runs, min: valueLo, max: valueHi)
            + FORBlock.encodedSize(count: runs, min: lengthLo, max: lengthHi)
            + FORBlock.encodedSize(count: n, min: 0, max: exceptions > 0 ? 1 : 0)
            + FORBlock.encodedSize(count: exceptions, min: exceptionLo, max: exceptionHi)
    }

    // MARK: Encode

    static func encode(_ p: Plan, into out: inout ByteWriter) {
        out.append(UInt32(p.runValues.count))
        out.append(UInt32(p.exceptions.count))
        FORBlock.encode(p.runValues, into: &out)
        FORBlock.encode(p.runLengths, into: &out)
        FORBlock.encode(p.flags, into: &out)
        FORBlock.encode(p.exceptions, into: &out)
    }

    // MARK: Decode

    public static func parse(_ r: inout ByteReader, count: Int, file: String, what: String) throws -> PatchedRLEChunk {
        let runCount = Int(try r.read(UInt32.self))
        let exceptionCount = Int(try r.read(UInt32.self))
        guard runCount <= count, (runCount == 0) == (count == 0), exceptionCount <= count else {
            throw StaveError.corrupt(file: file, what: "\(what): PATCHED_RLE counts \(runCount) runs, \(exceptionCount) exceptions for \(count) rows")
        }
        let valueBlock = try FORBlock.parse(&r, count: runCount, file: file, what: what)
        let lengthBlock = try FORBlock.parse(&r, count: runCount, file: file, what: what)
        let flagBlock = try FORBlock.parse(&r, count: count, file: file, what: what)
        let exceptions = try FORBlock.parse(&r, count: exceptionCount, file: file, what: what)
        let values = valueBlock.decodeAll()
        let ends = try RLEChunk.runEnds(lengthBlock.decodeAll(), count: count, encoding: "PATCHED_RLE", file: file, what: what)
        // Flags: 0 or 1 each, so width 1 with reference 0, or width 0.
        let flags: UnsafeRawBufferPointer?
        let allFlag: Bool
        var ones = 0
        var before: [Int32] = []
        switch (flagBlock.reference, flagBlock.width) {
        case (0, 0), (1, 0):
            flags = nil
            allFlag = flagBlock.reference == 1
            ones = allFlag ? count : 0
        case (0, 1):
            flags = flagBlock.stream
            allFlag = false
            let words = (count + 63) / 64
            before.reserveCapacity(words + 1)
            for k in 0..<words {
                before.append(Int32(ones))
                ones += PatchedRLEChunk.word(flagBlock.stream, k, count: count).nonzeroBitCount
            }
            before.append(Int32(ones))
        default:
            throw StaveError.corrupt(file: file, what: "\(what): PATCHED_RLE flags are not 0 or 1 (reference \(flagBlock.reference), width \(flagBlock.width))")
        }
        guard ones == exceptionCount else {
            throw StaveError.corrupt(file: file, what: "\(what): PATCHED_RLE has \(ones) flagged rows but \(exceptionCount) exceptions")
        }
        return PatchedRLEChunk(runs: RLEChunk(values: values, ends: ends), flags: flags, allFlag: allFlag,
                               before: before, exceptions: exceptions, count: count)
    }

    /// Word k (64 flags) of a width-1 stream of `count` flags, with bits at
    /// or past `count` cleared. The stream holds ceil(count/8) + 8 bytes, so
    /// an 8-byte load at byte 8k, k <= (count - 1) / 64, is inside it.
    @inline(__always)
    static func word(_ stream: UnsafeRawBufferPointer, _ k: Int, count: Int) -> UInt64 {
        var w = UInt64(littleEndian: stream.loadUnaligned(fromByteOffset: 8 &* k, as: UInt64.self))
        let valid = count &- 64 &* k
        if valid < 64 { w &= (UInt64(1) &<< UInt64(valid)) &- 1 }
        return w
    }

    /// Flags of rows 64k..<64k+64 as bits (bit b is row 64k + b), rows at
    /// or past `count` clear; k must be in 0..<(count + 63) / 64.
    public func flagWord(_ k: Int) -> UInt64 {
        precondition(k >= 0 && 64 &* k < count)
        guard let flags else {
            guard allFlag else { return 0 }
            let valid = count &- 64 &* k
            return valid >= 64 ? UInt64.max : (UInt64(1) &<< UInt64(valid)) &- 1
        }
        return PatchedRLEChunk.word(flags, k, count: count)
    }

    /// Calls `body(row, exceptionIndex)` for every flagged row in `range`, in order.
    public func forEachException(in range: Range<Int>, _ body: (Int, Int) throws -> Void) rethrows {
        guard !range.isEmpty else { return }
        guard let flags else {
            if allFlag { for i in range { try body(i, i) } }
            return
        }
        var j = exceptionsBefore(range.lowerBound)
        var k = range.lowerBound >> 6
        while 64 &* k < range.upperBound {
            var w = PatchedRLEChunk.word(flags, k, count: count)
            let lowBits = range.lowerBound &- 64 &* k
            if lowBits > 0 { w &= ~((UInt64(1) &<< UInt64(lowBits)) &- 1) }
            let highBits = range.upperBound &- 64 &* k
            if highBits < 64 { w &= (UInt64(1) &<< UInt64(highBits)) &- 1 }
            while w != 0 {
                let bit = w.trailingZeroBitCount
                try body(64 &* k &+ bit, j)
                j &+= 1
                w &= w &- 1
            }
            k &+= 1
        }
    }

    /// The number of flagged rows among rows 0..<row (row <= count): the
    /// index of the first exception at or after `row`.
    public func exceptionsBefore(_ row: Int) -> Int {
        guard let flags else { return allFlag ? row : 0 }
        precondition(row >= 0 && row <= count)
        // before has (count + 63) / 64 + 1 entries, so index row / 64 is inside.
        let k = row &>> 6
        let rest = row & 63
        var n = Int(before[k])
        if rest > 0 { n &+= (PatchedRLEChunk.word(flags, k, count: count) & ((UInt64(1) &<< UInt64(rest)) &- 1)).nonzeroBitCount }
        return n
    }

    /// Decodes rows `range`: the runs, then the exceptions over them.
    public func decode(_ range: Range<Int>, into out: UnsafeMutablePointer<Int64>) {
        guard !range.isEmpty else { return }
        var o = 0
        runs.forEachRun(in: range) { v, rows in
            (out + o).update(repeating: v, count: rows.count)
            o += rows.count
        }
        let first = exceptionsBefore(range.lowerBound)
        let m = exceptionsBefore(range.upperBound) - first
        guard m > 0 else { return }
        let values = UnsafeMutablePointer<Int64>.allocate(capacity: m)
        defer { values.deallocate() }
        // The flagged rows of `range` are exceptions first..<first + m,
        // inside 0..<exceptions.count (parse checked the flag count).
        exceptions.decode(first..<(first + m), into: values)
        forEachException(in: range) { i, j in out[i - range.lowerBound] = values[j - first] }
    }
}
