import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import StaveIO

/// The line-by-line state of a conversion.
struct ParseState {
    var options: ConvertOptions
    let file: String
    let rejects: RejectsFile?
    var buffer = EventBuffer()
    var line = 1
    var rows = 0
    var rejected = 0
    var partsWritten = 0
    var headerDecided = false
    /// Empty (or blank) lines skipped: they carry no data.
    var blankLines = 0
    /// The first few rejected rows, as FILE:LINE:COLUMN: reason, for the
    /// message when --max-errors stops the run.
    var firstErrors: [String] = []
    /// When set, rejected lines are collected here instead of written.
    var collected: [BadRow]?
    /// When set, a full buffer is written on another thread while parsing
    /// goes on into a fresh one (at most one write in flight, so parts keep
    /// their order and memory holds at most two buffers).
    var overlapFlushes = false
    var flushes = FlushPipeline()
    /// An input larger than one buffer: each full buffer is spilled here,
    /// and `finish` lays all of them out as one run (RunMerge).
    var spills: SpillSet?
    var layoutSeconds = 0.0
    /// The input line of each row of `buffer` (for duplicate event ids).
    var lines: [Int] = []
    /// Refuses event ids seen before (nil with allowDuplicateIDs).
    var duplicates: DuplicateCheck?

    init(options: ConvertOptions, file: String, rejects: RejectsFile?) {
        self.options = options
        self.file = file
        self.rejects = rejects
    }

    /// Parses every complete line in `data` (and at EOF the unterminated last
    /// one); returns the number of bytes consumed. Large blocks are split at
    /// line boundaries and parsed on all threads (no field of the schema may
    /// hold a line break, so a line is always a record); results, errors and
    /// rejects are merged back in file order. A full buffer is spilled into
    /// `sink`; without one (follow) it is left for the caller to commit.
    mutating func consume(_ data: UnsafeBufferPointer<UInt8>, atEOF: Bool, sink: PartSink?) throws -> Int {
        guard let base = data.baseAddress, data.count > 0 else { return 0 }
        let n = data.count
        var start = 0
        // The first line with data decides about the header: handled on its
        // own (blank lines before it are skipped).
        while !headerDecided {
            guard let hit = memchr(base + start, 0x0A, n - start) else {
                if !atEOF { return start }
                try handle(ParseState.stripCR(UnsafeBufferPointer(start: base + start, count: n - start)), sink: sink)
                line += 1
                return n
            }
            let end = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            try handle(ParseState.stripCR(UnsafeBufferPointer(start: base + start, count: end - start)), sink: sink)
            line += 1
            start = end + 1
        }
        // The region of complete lines.
        var regionEnd = n
        if !atEOF {
            // The last newline (memrchr is not in Swift's Glibc module; the
            // last line is short, so a backward scan is cheap).
            var k = n - 1
            while k >= start && base[k] != 0x0A { k -= 1 }
            guard k >= start else { return start }
            regionEnd = k + 1
        }
        guard regionEnd > start else { return start }
        // Split at newlines into one segment per worker.
        let workers = (regionEnd - start) >= 1 << 18 ? max(1, options.threads) : 1
        var bounds = [start]
        for w in 1..<max(workers, 1) {
            let target = start + (regionEnd - start) * w / workers
            let from = max(target, bounds.last!)
            if let hit = memchr(base + from, 0x0A, regionEnd - from) {
                bounds.append(base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) + 1)
            } else {
                bounds.append(regionEnd)
            }
        }
        bounds.append(regionEnd)
        let strict = !options.skipBadRows
        let segments = UnsafeMutableBufferPointer<Segment>.allocate(capacity: workers)
        segments.initialize(repeating: Segment())
        defer { segments.deinitialize(); segments.deallocate() }
        // Each worker writes only segments[w]; the input bytes are read-only.
        let box = SendableBox((segments, UnsafeBufferPointer(rebasing: data[0..<regionEnd]), bounds))
        if workers == 1 {
            segments[0] = ParseState.parseLines(UnsafeBufferPointer(rebasing: data[bounds[0]..<bounds[1]]), strict: strict)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let (segs, bytes, b) = box.value
                segs[w] = ParseState.parseLines(UnsafeBufferPointer(rebasing: bytes[b[w]..<b[w + 1]]), strict: strict)
            }
        }
        for w in 0..<workers {
            var segment = segments[w]
            for bad in segment.bad {
                try reject(line: line + bad.line, error: bad.error, raw: bad.raw)
            }
            rows += segment.buffer.count
            blankLines += segment.blank
            // Fill the buffer up to exactly bufferRows before each flush.
            var taken = 0
            while taken < segment.buffer.count {
                let take = min(segment.buffer.count - taken, options.bufferRows - buffer.count)
                buffer.append(contentsOf: segment.buffer, rows: taken..<(taken + take))
                let first = line
                lines += segment.rowLines[taken..<(taken + take)].map { first + Int($0) }
                taken += take
                if buffer.count >= options.bufferRows, let sink { try flush(sink: sink) }
            }
            segment.buffer = EventBuffer()
            line += segment.lines
        }
        return regionEnd
    }

    /// A worker's result: rows parsed, lines seen, bad lines (line numbers
    /// relative to the segment's first line).
    struct Segment {
        var buffer = EventBuffer()
        var lines = 0
        var blank = 0
        /// Per row, its line relative to the segment's first.
        var rowLines: [Int32] = []
        var bad: [BadRow] = []
    }

    /// An empty line, or one of spaces and tabs only: no data, skipped and counted.
    static func isBlank(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in text where b != 32 && b != 9 { return false }
        return true
    }

    static func stripCR(_ text: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        if let last = text.last, last == 0x0D { return UnsafeBufferPointer(rebasing: text.dropLast()) }
        return text
    }

    /// Parses the lines of one segment; in strict mode stops at the first bad line.
    static func parseLines(_ seg: UnsafeBufferPointer<UInt8>, strict: Bool) -> Segment {
        var out = Segment()
        out.buffer.reserve(seg.count / 40 + 16)
        guard let base = seg.baseAddress else { return out }
        let n = seg.count
        var start = 0
        while start < n {
            var end = n
            if let hit = memchr(base + start, 0x0A, n - start) {
                end = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            }
            let text = stripCR(UnsafeBufferPointer(start: base + start, count: end - start))
            if isBlank(text) {
                out.blank += 1
                out.lines += 1
                start = end + 1
                continue
            }
            switch EventLineParser.parse(text) {
            case .success(let row):
                out.buffer.append(row)
                out.rowLines.append(Int32(truncatingIfNeeded: out.lines))
            case .failure(let e):
                out.bad.append(BadRow(line: out.lines, error: e, raw: Array(text)))
                if strict { out.lines += 1; return out }
            }
            out.lines += 1
            start = end + 1
        }
        return out
    }

    /// Reports a bad line: an error in strict mode, else a reject.
    mutating func reject(line: Int, error e: RowError, raw: [UInt8]) throws {
        guard options.skipBadRows else {
            throw StaveError.csv(file: file, line: line, column: e.column, message: e.message, field: e.field)
        }
        rejected += 1
        if firstErrors.count < 5 { firstErrors.append("\(file):\(line):\(e.column): \(e.message)" + (e.field.isEmpty ? "" : " (\(e.field))")) }
        if collected != nil {
            collected!.append(BadRow(line: line, error: e, raw: raw))
        } else {
            try rejects?.add(BadRow(line: line, error: e, raw: raw))
        }
        if let max = options.maxErrors, rejected >= max {
            // The rejects file keeps every row rejected so far.
            try rejects?.commit()
            throw StaveError.tooManyBadRows(file: file, count: rejected, first: firstErrors)
        }
    }

    mutating func handle(_ text: UnsafeBufferPointer<UInt8>, sink: PartSink?) throws {
        var text = text
        if ParseState.isBlank(text) {
            // No data; a blank first line does not decide about the header.
            blankLines += 1
            return
        }
        if !headerDecided {
            headerDecided = true
            // A UTF-8 byte order mark before the first line is not data.
            if text.count >= 3, text[0] == 0xEF, text[1] == 0xBB, text[2] == 0xBF {
                text = UnsafeBufferPointer(rebasing: text[3...])
            }
            if options.header.isHeader(text) {
                let names = CSVLine.headerNames(text)
                if names != EventsSchema.columnNames {
                    // A header is checked, never guessed past: always an error.
                    throw StaveError.csv(file: file, line: line, column: 1,
                                         message: "header does not match the expected columns \(EventsSchema.columnNames.joined(separator: ","))",
                                         field: CSVLine.echo(text))
                }
                return
            }
        }
        switch EventLineParser.parse(text) {
        case .success(let row):
            buffer.append(row)
            lines.append(line)
            rows += 1
            if buffer.count >= options.bufferRows, let sink { try flush(sink: sink) }
        case .failure(let e):
            try reject(line: line, error: e, raw: Array(text))
        }
    }

    /// Parses the complete lines of `data` (never a partial last line) into
    /// `buffer`, collecting rejected lines; returns the bytes consumed.
    mutating func consumeCollecting(_ data: UnsafeBufferPointer<UInt8>, into rejects: inout [BadRow]) throws -> Int {
        collected = []
        defer { rejects += collected ?? []; collected = nil }
        // No sink: the caller (follow) writes the buffer in its own commits.
        return try consume(data, atEOF: false, sink: nil)
    }

    /// A full buffer, with more input to come: spilled (sorted, as a
    /// scratch part), so that `finish` can lay out the whole input as one
    /// run whose parts cover disjoint customer ranges.
    mutating func flush(sink: PartSink) throws {
        guard buffer.count > 0 else { return }
        if spills == nil { spills = SpillSet(directory: sink.scratchDirectory, threads: options.threads) }
        try write(to: spills!)
    }

    /// Writes the buffer into `sink` (on another thread with
    /// `overlapFlushes`, while parsing goes on into a fresh buffer).
    mutating func write(to sink: PartSink, checked: Bool = false) throws {
        if !checked { try checkDuplicates() }
        guard buffer.count > 0 else { return }
        let groupRows = sink is SpillSet ? SpillSet.groupRows : FormatConstants.maxRowGroupRows
        guard overlapFlushes else {
            try PartLayout.writePart(buffer, to: sink, groupRows: groupRows)
            buffer.removeAll()
            return
        }
        try flushes.submit(&buffer, to: sink, groupRows: groupRows, reserve: min(options.bufferRows, 1 << 22))
    }

    /// The buffer's rows whose event id was seen before (earlier in the
    /// input or in the store): the first is an error; with skipBadRows every
    /// one goes to the rejects and leaves the buffer.
    mutating func checkDuplicates() throws {
        guard let check = duplicates, buffer.count > 0 else { lines.removeAll(keepingCapacity: true); return }
        let found = try check.check(buffer, lines: lines)
        lines.removeAll(keepingCapacity: true)
        guard !found.isEmpty else { return }
        if !options.skipBadRows {
            let d = found[0]
            throw StaveError.csv(file: file, line: d.line, column: 1, message: d.error.message, field: d.error.field)
        }
        var drop = [Bool](repeating: false, count: buffer.count)
        for d in found {
            drop[d.row] = true
            rows -= 1
            try reject(line: d.line, error: d.error, raw: Array(ParseState.csvText(buffer.rows[d.row]).utf8))
        }
        var kept = EventBuffer()
        kept.reserve(buffer.count - found.count)
        for (i, r) in buffer.rows.enumerated() where !drop[i] { kept.append(r) }
        buffer = kept
    }

    /// A row as tracks.csv writes it (the rejects file's text of a row
    /// refused after parsing).
    static func csvText(_ r: EventRow) -> String {
        let zip = String(r.zip)
        return "\(r.eventID),\(r.customerID),\(r.trackID),\"\(CivilTime.format(r.datetime))\",\(r.mobile),\"\(String(repeating: "0", count: max(0, 5 - zip.count)) + zip)\""
    }

    /// At the end of the input: the rows become parts of `sink`. One
    /// buffer's worth becomes one part; more become one run (the spills
    /// merged by customer range), and the spills are removed.
    mutating func finish(sink: PartSink, progress: ((Int, Int) -> Void)? = nil) throws {
        defer { spills?.removeAll() }
        guard let spills else {
            try checkDuplicates()
            if buffer.count > 0 { partsWritten += 1 }
            try write(to: sink, checked: true)
            try finishFlushes()
            return
        }
        try write(to: spills)
        try finishFlushes()
        // The buffer the last write handed back (empty, its pages still
        // resident) is not filled again: the merge has buffers of its own.
        buffer = EventBuffer()
        let t0 = Sys.monotonicSeconds()
        defer { layoutSeconds = Sys.monotonicSeconds() - t0 }
        let total = spills.rows
        partsWritten += try RunMerge.merge(try spills.open(), partRows: options.bufferRows, threads: options.threads, into: sink,
                                           consumesInputs: true, progress: progress.map { p in { p($0, total) } })
    }

    /// Waits for the write in flight, if any, and rethrows its error.
    mutating func finishFlushes() throws { try flushes.finish() }

    /// Waits for the write in flight without reporting it (the caller is
    /// already failing): nothing may still write into a store being abandoned.
    mutating func drainFlushes() {
        flushes.drain()
        spills?.removeAll()
    }
}

/// Buffers written into a sink as parts on another thread while the
/// caller fills the next one (convert's overlapped flushes, RunMerge's
/// parts). At most one write is in flight, so parts reach the sink one at a
/// time, in order, and memory holds at most two buffers; the buffer a write
/// hands back, emptied, is the next one filled (a fresh buffer of millions
/// of rows costs a page fault every 4 KiB).
struct FlushPipeline {
    private var inFlight: FlushJob?
    private var spare: EventBuffer?

    /// Waits for the write in flight (rethrowing its error), then starts
    /// writing `buffer` and leaves in its place the buffer that write handed
    /// back, or a new one with room for `reserve` rows.
    mutating func submit(_ buffer: inout EventBuffer, to sink: PartSink, groupRows: Int, reserve: Int = 0) throws {
        try waitForWrite()
        var next = spare ?? EventBuffer()
        if spare == nil && reserve > 0 { next.reserve(reserve) }
        spare = nil
        swap(&next, &buffer)
        inFlight = FlushJob.start(next, sink: sink, groupRows: groupRows)
    }

    /// Waits for the write in flight, if any, and rethrows its error; keeps
    /// its buffer for the next `submit`.
    mutating func waitForWrite() throws {
        guard let job = inFlight else { return }
        inFlight = nil
        spare = try job.wait()
    }

    /// Waits for the last write and lets its buffer go.
    mutating func finish() throws {
        defer { spare = nil }
        try waitForWrite()
    }

    /// `finish` without reporting an error (the caller is already failing).
    mutating func drain() { try? finish() }
}

/// One part being written on a global-queue thread.
final class FlushJob: @unchecked Sendable {
    // @unchecked Sendable: `error` and `buffer` are written by the worker
    // before it signals `done` and read only after waiting on it.
    private let done = DispatchSemaphore(value: 0)
    private var error: Error?
    private var buffer: EventBuffer

    private init(_ buffer: EventBuffer) { self.buffer = buffer }

    static func start(_ buffer: EventBuffer, sink: PartSink, groupRows: Int = FormatConstants.maxRowGroupRows) -> FlushJob {
        let job = FlushJob(buffer)
        // The sink is used by this worker alone until the job is waited for
        // (ParseState waits before the next flush, the commit or an abort).
        let box = SendableBox(sink)
        DispatchQueue.global().async {
            do { try PartLayout.writePart(job.buffer, to: box.value, groupRows: groupRows) } catch { job.error = error }
            job.buffer.removeAll()
            job.done.signal()
        }
        return job
    }

    /// Waits for the write; returns the buffer emptied (its memory kept, for
    /// the next fill: a fresh one costs a page fault every 4 KiB).
    @discardableResult
    func wait() throws -> EventBuffer {
        done.wait()
        if let error { throw error }
        return buffer
    }
}
