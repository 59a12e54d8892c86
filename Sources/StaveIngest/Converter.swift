import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import StaveIO
import StaveInterop

public enum HeaderMode: String, Sendable {
    case auto, present, absent

    /// Whether `line`, the first with data, is a header: as the mode says,
    /// or (auto) when its first field is not a number.
    func isHeader(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        switch self {
        case .present: return true
        case .absent: return false
        case .auto: return EventLineParser.looksLikeHeader(line)
        }
    }
}

public struct ConvertOptions: Sendable {
    public var header: HeaderMode = .auto
    public var skipBadRows = false
    public var rejectsPath: String?
    public var maxErrors: Int?
    /// Keep rows whose event id is already in the store or earlier in the
    /// input (by default they are an error, or rejects with skipBadRows).
    public var allowDuplicateIDs = false
    /// Rows buffered before a part is written: bounds memory independently
    /// of the input size (the README's "Bounded memory" gives the bytes a row).
    public var bufferRows = 3_500_000
    /// Write each full buffer on another thread while the next one is
    /// parsed (CSV input): up to two buffers in memory.
    public var overlapFlushes = true
    public var force = false
    public var threads = 2
    public var compression = CompressionPolicy()
    /// cust.csv to store as the customer table, and how to read it.
    public var customersPath: String?
    public var customerOptions = CustomerLoadOptions()
    public init() {}
}

public struct ConvertSummary: Sendable {
    public var rows: Int
    public var rejected: Int
    public var parts: Int
    public var inputBytes: Int
    public var outputBytes: UInt64
    public var seconds: Double
    /// Customers stored and customer rows rejected (0 without --customers).
    public var customers = 0
    public var customersRejected = 0
    /// "CSV" or "Parquet".
    public var inputKind = "CSV"
    /// A compressed input: its compression (gzip, zstd) and compressed size.
    public var compressed: (kind: String, bytes: Int)? = nil
    /// Empty or blank lines skipped.
    public var blankLines = 0
    /// An input larger than one buffer: seconds spent laying the spilled
    /// buffers out as one run at the end (part of `seconds`), else 0.
    public var layoutSeconds = 0.0
}

/// How far a conversion has read its input.
public struct ConvertProgress: Sendable {
    /// Bytes of the input read (compressed bytes of a compressed input;
    /// for Parquet, the share of the file's row groups read, in bytes).
    public var bytes: Int
    /// The input's size, nil for a pipe.
    public var totalBytes: Int?
    /// Rows parsed so far (good and rejected).
    public var rows: Int
    /// True for the last call of the reading phase (its counts are final).
    public var done = false
}

/// Streams tracks.csv (a file, or "-" for standard input) into a new store.
public final class Converter {
    public let inputPath: String
    public let outputPath: String
    public let options: ConvertOptions
    /// Called after each block read: how far the input is.
    public var progress: ((ConvertProgress) -> Void)?
    /// Called while an input larger than one buffer is laid out as a run
    /// (RunMerge), with the rows written so far and the total.
    public var mergeProgress: ((Int, Int) -> Void)?

    static let blockSize = 4 << 20
    static let maxLineLength = 1 << 16

    public init(input: String, output: String, options: ConvertOptions) {
        inputPath = input
        outputPath = output
        self.options = options
    }

    var displayName: String { inputPath == "-" ? "<stdin>" : inputPath }

    public func run() throws -> ConvertSummary {
        Sys.tuneWriterAllocator
        let t0 = Sys.monotonicSeconds()
        let builder = try StoreBuilder(path: outputPath, force: options.force, policy: options.compression, threads: options.threads)
        // Aborted here on any error, not left to deinit: a part written on
        // another thread may hold the last reference to the builder for a
        // moment, and the process may exit before that deinit runs (it left
        // the temporary directory behind on a full disk).
        var customers: CustomerLoadResult?
        var summary: ConvertSummary
        do {
            // The customer table first: a bad cust.csv fails before the long part.
            if let path = options.customersPath {
                let loaded = try CustomerLoader.load(path: path, options: options.customerOptions)
                try builder.setCustomers(loaded.table)
                customers = loaded
            }
            summary = try ingest(into: builder) { try builder.commit() }
        } catch {
            builder.abort()
            throw error
        }
        summary.outputBytes = builder.bytesWritten + builder.customerBytes
        summary.customers = customers?.table.count ?? 0
        summary.customersRejected = customers?.rejected ?? 0
        summary.seconds = Sys.monotonicSeconds() - t0
        return summary
    }

    /// `stave append`: the rows become new parts of the existing store at
    /// `outputPath`, committed atomically under its writer lock (all rows
    /// or, on any error, none).
    public func append() throws -> ConvertSummary {
        Sys.tuneWriterAllocator
        let t0 = Sys.monotonicSeconds()
        let t = try StoreTransaction(path: outputPath, policy: options.compression, threads: options.threads)
        // Aborted here on any error, not left to deinit (see run()).
        var summary: ConvertSummary
        do {
            // Under the writer lock: the store cannot change while its event
            // ids are checked against the new rows.
            let existing = options.allowDuplicateIDs ? nil : try Store.open(t.path)
            summary = try ingest(into: t, existing: existing) { try t.commit() }
        } catch {
            t.abort()
            throw error
        }
        summary.outputBytes = t.bytesWritten
        summary.seconds = Sys.monotonicSeconds() - t0
        return summary
    }

    /// Reads the input to its end into `sink`, then commits the rejects file
    /// and calls `commit`.
    func ingest(into sink: PartSink, existing: Store? = nil, commit: () throws -> Void) throws -> ConvertSummary {
        if inputPath != "-", ParquetFile.isParquet(path: inputPath) { return try ingestParquet(into: sink, existing: existing, commit: commit) }
        let fd: Int32 = inputPath == "-" ? 0 : try Sys.openInput(inputPath)
        defer { if fd != 0 { Sys.close(fd) } }
        Sys.widenPipe(fd)   // standard input or a named pipe; nothing for a file
        // Progress counts raw (compressed) bytes against the file's size.
        let total: Int? = inputPath == "-" ? nil : try? Sys.fileSize(fd, path: inputPath)
        let input = try InputReader(fd: fd, path: displayName)
        var rejects: RejectsFile?
        if options.skipBadRows, let r = options.rejectsPath { rejects = try RejectsFile(path: r, mode: .replace) }
        defer { rejects?.abandon() }

        var state = ParseState(options: options, file: displayName, rejects: rejects)
        if !options.allowDuplicateIDs { state.duplicates = DuplicateCheck(file: displayName, store: existing.map(StoreEventIds.init)) }
        state.buffer.reserve(min(options.bufferRows, 1 << 20))
        state.overlapFlushes = options.overlapFlushes
        defer { state.drainFlushes() }
        // One buffer: leftover partial line at the front, new data after it.
        var data = [UInt8](repeating: 0, count: Converter.blockSize * 2)
        var filled = 0
        var bytesRead = 0
        var eof = false
        while !eof {
            if data.count - filled < Converter.blockSize { data += [UInt8](repeating: 0, count: Converter.blockSize) }
            let n = try data.withUnsafeMutableBytes { try input.read(into: $0.baseAddress! + filled, count: $0.count - filled) }
            if n == 0 { eof = true }
            filled += n
            bytesRead += n
            let consumed = try data.withUnsafeBufferPointer { buf -> Int in
                try state.consume(UnsafeBufferPointer(rebasing: buf[0..<filled]), atEOF: eof, sink: sink)
            }
            if consumed > 0 {
                data.withUnsafeMutableBufferPointer { b in
                    let rest = filled - consumed
                    if rest > 0 { b.baseAddress!.update(from: b.baseAddress! + consumed, count: rest) }
                }
                filled -= consumed
            }
            if filled > Converter.maxLineLength {
                throw StaveError.csv(file: displayName, line: state.line, column: 1,
                                     message: "line longer than \(Converter.maxLineLength) bytes", field: "")
            }
            progress?(ConvertProgress(bytes: input.rawBytesRead, totalBytes: total, rows: state.rows + state.rejected, done: eof))
        }
        try state.finish(sink: sink, progress: mergeProgress)
        try rejects?.commit()
        try commit()
        var summary = ConvertSummary(rows: state.rows, rejected: state.rejected, parts: state.partsWritten,
                                     inputBytes: bytesRead, outputBytes: 0, seconds: 0)
        if input.kind != .plain { summary.compressed = (input.kind.rawValue, input.rawBytesRead) }
        summary.layoutSeconds = state.layoutSeconds
        summary.blankLines = state.blankLines
        return summary
    }
}

extension Converter {
    /// A Parquet file instead of CSV (detected by its magic bytes): row
    /// group by row group into the same buffer, flushes and rejects. A row
    /// number (1-based) stands for the line in errors and rejects.
    func ingestParquet(into sink: PartSink, existing: Store?, commit: () throws -> Void) throws -> ConvertSummary {
        let events: ParquetEvents
        do { events = try ParquetEvents(path: inputPath) } catch let e as ParquetError { throw StaveError.unreadableInput(file: e.file, detail: e.message) }
        var rejects: RejectsFile?
        if options.skipBadRows, let r = options.rejectsPath { rejects = try RejectsFile(path: r, mode: .replace) }
        defer { rejects?.abandon() }
        var state = ParseState(options: options, file: displayName, rejects: rejects)
        if !options.allowDuplicateIDs { state.duplicates = DuplicateCheck(file: displayName, store: existing.map(StoreEventIds.init)) }
        defer { state.drainFlushes() }
        state.headerDecided = true
        var first = 1
        for g in 0..<events.file.rowGroupCount {
            do {
                try events.forEachRow(group: g, firstRow: first) { row, result in
                    switch result {
                    case .success(let r):
                        state.buffer.append(r)
                        state.lines.append(row)
                        state.rows += 1
                        if state.buffer.count >= options.bufferRows { try state.flush(sink: sink) }
                    case .failure(let e):
                        try state.reject(line: row, error: e, raw: Array("(row \(row) of a Parquet file)".utf8))
                    }
                }
            } catch let e as ParquetError {
                throw StaveError.unreadableInput(file: e.file, detail: e.message)
            }
            first += events.file.rows(inGroup: g)
            let size = (try? MappedFile(path: inputPath).size) ?? 0
            progress?(ConvertProgress(bytes: size * (g + 1) / max(1, events.file.rowGroupCount), totalBytes: size,
                                      rows: state.rows + state.rejected, done: g + 1 == events.file.rowGroupCount))
        }
        try state.finish(sink: sink, progress: mergeProgress)
        try rejects?.commit()
        try commit()
        var summary = ConvertSummary(rows: state.rows, rejected: state.rejected, parts: state.partsWritten,
                                     inputBytes: (try? MappedFile(path: inputPath).size) ?? 0, outputBytes: 0, seconds: 0)
        summary.inputKind = "Parquet"
        summary.layoutSeconds = state.layoutSeconds
        summary.blankLines = state.blankLines
        return summary
    }
}
