#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import StaveIO

public enum HeaderMode: String, Sendable {
    case auto, present, absent
}

public struct ConvertOptions: Sendable {
    public var header: HeaderMode = .auto
    public var skipBadRows = false
    public var rejectsPath: String?
    public var maxErrors: Int?
    /// Rows buffered before a part is written: bounds memory (about 30 bytes
    /// a row plus sort space) independently of the input size.
    public var bufferRows = 4_000_000
    public var force = false
    public var threads = 2
    public var compression = CompressionPolicy()
    public init() {}
}

public struct ConvertSummary: Sendable {
    public var rows: Int
    public var rejected: Int
    public var parts: Int
    public var inputBytes: Int
    public var outputBytes: UInt64
    public var seconds: Double
}

/// Streams tracks.csv (a file, or "-" for standard input) into a new store.
public final class Converter {
    public let inputPath: String
    public let outputPath: String
    public let options: ConvertOptions
    /// Called after each block with bytes read so far and the input size (nil for a pipe).
    public var progress: ((Int, Int?) -> Void)?

    static let blockSize = 4 << 20
    static let maxLineLength = 1 << 16

    public init(input: String, output: String, options: ConvertOptions) {
        inputPath = input
        outputPath = output
        self.options = options
    }

    var displayName: String { inputPath == "-" ? "<stdin>" : inputPath }

    public func run() throws -> ConvertSummary {
        let t0 = Sys.monotonicSeconds()
        let fd: Int32 = inputPath == "-" ? 0 : try Sys.open(inputPath, flags: O_RDONLY | O_CLOEXEC)
        defer { if fd != 0 { Sys.close(fd) } }
        let total: Int? = inputPath == "-" ? nil : try? Sys.fileSize(fd, path: inputPath)
        let builder = try StoreBuilder(path: outputPath, force: options.force, policy: options.compression, threads: options.threads)
        var rejects: OutputFile?
        if options.skipBadRows, let r = options.rejectsPath { rejects = try OutputFile(path: r) }
        defer { rejects?.abandon() }

        var state = ParseState(options: options, file: displayName, rejects: rejects)
        state.buffer.reserve(min(options.bufferRows, 1 << 20))
        // One buffer: leftover partial line at the front, new data after it.
        var data = [UInt8](repeating: 0, count: Converter.blockSize * 2)
        var filled = 0
        var bytesRead = 0
        var eof = false
        while !eof {
            if data.count - filled < Converter.blockSize { data += [UInt8](repeating: 0, count: Converter.blockSize) }
            let n = try data.withUnsafeMutableBytes { try Sys.read(fd, into: $0.baseAddress! + filled, count: $0.count - filled, path: displayName) }
            if n == 0 { eof = true }
            filled += n
            bytesRead += n
            let consumed = try data.withUnsafeBufferPointer { buf -> Int in
                try state.consume(UnsafeBufferPointer(rebasing: buf[0..<filled]), atEOF: eof, builder: builder)
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
            progress?(bytesRead, total)
        }
        try state.flush(builder: builder)
        try rejects?.commit()
        try builder.commit()
        return ConvertSummary(rows: state.rows, rejected: state.rejected, parts: state.partsWritten,
                              inputBytes: bytesRead, outputBytes: builder.bytesWritten, seconds: Sys.monotonicSeconds() - t0)
    }
}

/// The line-by-line state of a conversion.
struct ParseState {
    let options: ConvertOptions
    let file: String
    let rejects: OutputFile?
    var buffer = EventBuffer()
    var line = 1
    var rows = 0
    var rejected = 0
    var partsWritten = 0
    var headerDecided = false
    var sawAnyLine = false

    init(options: ConvertOptions, file: String, rejects: OutputFile?) {
        self.options = options
        self.file = file
        self.rejects = rejects
    }

    /// Parses every complete line in `data` (and at EOF the unterminated last
    /// one); returns the number of bytes consumed.
    mutating func consume(_ data: UnsafeBufferPointer<UInt8>, atEOF: Bool, builder: StoreBuilder) throws -> Int {
        guard let base = data.baseAddress else { return 0 }
        var start = 0
        let n = data.count
        while start < n {
            var end = start
            // memchr is the fastest newline search available here.
            if let hit = memchr(base + start, 0x0A, n - start) {
                end = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            } else {
                if !atEOF { break }
                end = n
            }
            var lineEnd = end
            if lineEnd > start && base[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            try handle(UnsafeBufferPointer(start: base + start, count: lineEnd - start), builder: builder)
            line += 1
            start = end + 1
        }
        return min(start, n)
    }

    mutating func handle(_ text: UnsafeBufferPointer<UInt8>, builder: StoreBuilder) throws {
        sawAnyLine = true
        var text = text
        if !headerDecided {
            headerDecided = true
            // A UTF-8 byte order mark before the first line is not data.
            if text.count >= 3, text[0] == 0xEF, text[1] == 0xBB, text[2] == 0xBF {
                text = UnsafeBufferPointer(rebasing: text[3...])
            }
            let isHeader: Bool
            switch options.header {
            case .present: isHeader = true
            case .absent: isHeader = false
            case .auto: isHeader = EventLineParser.looksLikeHeader(text)
            }
            if isHeader {
                let names = EventLineParser.headerNames(text)
                if names != EventsSchema.columnNames {
                    // A header is checked, never guessed past: always an error.
                    throw StaveError.csv(file: file, line: line, column: 1,
                                         message: "header does not match the expected columns \(EventsSchema.columnNames.joined(separator: ","))",
                                         field: EventLineParser.text(text.baseAddress ?? UnsafePointer(bitPattern: 1)!, text.count))
                }
                return
            }
        }
        switch EventLineParser.parse(text) {
        case .success(let row):
            buffer.append(row)
            rows += 1
            if buffer.count >= options.bufferRows { try flush(builder: builder) }
        case .failure(let e):
            guard options.skipBadRows else {
                throw StaveError.csv(file: file, line: line, column: e.column, message: e.message, field: e.field)
            }
            rejected += 1
            if let rejects {
                try rejects.write("\(line)\t\(e.column)\t\(e.message)\t")
                try rejects.write(Array(text))
                try rejects.write("\n")
            }
            if let max = options.maxErrors, rejected >= max {
                throw StaveError.tooManyBadRows(file: file, count: rejected)
            }
        }
    }

    mutating func flush(builder: StoreBuilder) throws {
        guard buffer.count > 0 else { return }
        try PartLayout.writePart(buffer, to: builder)
        partsWritten += 1
        buffer.removeAll()
    }
}
