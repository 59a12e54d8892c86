import CZlib
import CZstd
import StaveFormat

/// The bytes of an input file or standard input, decompressed on the fly
/// when they begin with a gzip (1f 8b) or zstd (28 b5 2f fd) magic number,
/// so `stave convert events.csv.gz` and `zstdcat x | stave convert -` read
/// as plain CSV. Detection is by content, never by name, and works on pipes:
/// the first bytes are read, looked at, and handed on. Concatenated gzip
/// members and zstd frames (pigz, `cat a.gz b.gz`) are read one after the
/// other. Memory: two blocks of `blockSize` plus the decoder's window.
public final class InputReader {
    public enum Kind: String, Sendable { case plain, gzip, zstd }

    public private(set) var kind: Kind = .plain
    /// Bytes read from the file descriptor so far (compressed bytes for a
    /// compressed input): what progress is measured in.
    public private(set) var rawBytesRead = 0

    private let fd: Int32
    private let path: String
    /// Raw bytes read but not yet handed on or decoded: [start, end).
    private var raw: [UInt8]
    private var start = 0, end = 0
    private var rawEOF = false
    private var gzip: UnsafeMutablePointer<z_stream>?
    private var zstd: OpaquePointer?
    /// Inside a gzip member or zstd frame (so EOF now means a truncated input).
    private var inFrame = false
    /// The decoder filled the whole output last time: it may hold more
    /// output without needing more input, so it is called again before
    /// more input is read or the end is declared.
    private var outputWasFull = false

    static let blockSize = 1 << 20

    /// Reads the first bytes of `fd` to decide the kind. `path` names the
    /// input in errors.
    public init(fd: Int32, path: String) throws {
        self.fd = fd
        self.path = path
        raw = [UInt8](repeating: 0, count: InputReader.blockSize)
        // Up to 4 bytes, however a pipe delivers them.
        while end < 4 && !rawEOF { try fill() }
        let detected = InputReader.compression(ofPrefix: raw[0..<end])
        if detected == .gzip {
            kind = .gzip
            let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            s.initialize(to: z_stream())
            // 15 + 16: a gzip wrapper, the largest window.
            guard stave_inflate_init(s, 15 + 16) == Z_OK else {
                s.deallocate()
                throw StaveError.unreadableInput(file: path, detail: "gzip: cannot start the decoder (out of memory)")
            }
            gzip = s
        } else if detected == .zstd {
            kind = .zstd
            guard let d = ZSTD_createDStream() else {
                throw StaveError.unreadableInput(file: path, detail: "zstd: cannot start the decoder (out of memory)")
            }
            // The window a frame may ask for is capped (2^27 bytes, zstd's
            // default limit), so a hostile frame cannot demand gigabytes.
            ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27)
            zstd = d
        } else {
            kind = .plain
        }
    }

    /// The compression whose magic number `head` (a file's first bytes,
    /// four suffice) begins with, or nil for anything else.
    public static func compression<C: Collection>(ofPrefix head: C) -> Kind? where C.Element == UInt8 {
        let b = Array(head.prefix(4))
        if b.count >= 2 && b[0] == 0x1f && b[1] == 0x8b { return .gzip }
        if b.count >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd { return .zstd }
        return nil
    }

    /// The whole of `path`, decompressed if it is gzip or zstd; more than
    /// `limit` bytes (after decompression) is an error.
    public static func readAll(path: String, limit: Int) throws -> [UInt8] {
        let fd = try Sys.openInput(path)
        defer { Sys.close(fd) }
        let reader = try InputReader(fd: fd, path: path)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: blockSize)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0.baseAddress!, count: $0.count) }
            if n == 0 { return out }
            guard out.count + n <= limit else {
                throw StaveError.unreadableInput(file: path, detail: "more than the \(limit) bytes allowed" + (reader.kind == .plain ? "" : " once decompressed"))
            }
            out += chunk[0..<n]
        }
    }

    deinit {
        if let gzip {
            inflateEnd(gzip)
            gzip.deallocate()
        }
        if let zstd { ZSTD_freeDStream(zstd) }
    }

    /// Appends raw bytes after `end` (compacting first when the buffer's
    /// tail is short). Sets `rawEOF` when the descriptor is at its end.
    private func fill() throws {
        if start > 0 && raw.count - end < InputReader.blockSize / 2 {
            raw.withUnsafeMutableBufferPointer { b in
                if end > start { b.baseAddress!.update(from: b.baseAddress! + start, count: end - start) }
            }
            end -= start
            start = 0
        }
        let n = try raw.withUnsafeMutableBytes { try Sys.read(fd, into: $0.baseAddress! + end, count: $0.count - end, path: path) }
        if n == 0 { rawEOF = true }
        end += n
        rawBytesRead += n
    }

    /// Reads up to `count` decompressed bytes into `buffer`; 0 only at the
    /// end of the input. A damaged or truncated stream is an
    /// `unreadableInput` error naming the file.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        precondition(count > 0)
        switch kind {
        case .plain:
            if start == end {
                if rawEOF { return 0 }
                // Past the sniffed bytes: straight from the descriptor.
                let n = try Sys.read(fd, into: buffer, count: count, path: path)
                rawBytesRead += n
                if n == 0 { rawEOF = true }
                return n
            }
            let n = min(count, end - start)
            raw.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + start, byteCount: n) }
            start += n
            return n
        case .gzip: return try readGzip(into: buffer, count: count)
        case .zstd: return try readZstd(into: buffer, count: count)
        }
    }

    private enum Next { case decode, filled, end }

    /// Before a decoder call: decode now (input left, or the decoder may
    /// hold output), or more raw bytes were read, or the input has ended
    /// (an error with `truncated` when it ends inside a member or frame).
    private func needInput(truncated: String) throws -> Next {
        guard start == end && !outputWasFull else { return .decode }
        if rawEOF {
            if inFrame { throw StaveError.unreadableInput(file: path, detail: truncated) }
            return .end
        }
        try fill()
        return .filled
    }

    private func readGzip(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        let s = gzip!
        while true {
            switch try needInput(truncated: "gzip: the input ends inside a compressed stream (truncated file?)") {
            case .end: return 0
            case .filled: continue
            case .decode: break
            }
            let (produced, status) = raw.withUnsafeMutableBufferPointer { b -> (Int, Int32) in
                s.pointee.next_in = b.baseAddress! + start
                s.pointee.avail_in = UInt32(min(end - start, Int(UInt32.max)))
                s.pointee.next_out = buffer.assumingMemoryBound(to: UInt8.self)
                s.pointee.avail_out = UInt32(min(count, Int(UInt32.max)))
                let status = inflate(s, Z_NO_FLUSH)
                start = end - Int(s.pointee.avail_in)
                return (min(count, Int(UInt32.max)) - Int(s.pointee.avail_out), status)
            }
            switch status {
            case Z_OK:
                inFrame = true
            case Z_BUF_ERROR:
                break   // no progress possible (no input, or no room): nothing changed
            case Z_STREAM_END:
                // A member ends; another may follow (concatenated gzip).
                inFrame = false
                guard inflateReset(s) == Z_OK else { throw StaveError.unreadableInput(file: path, detail: "gzip: cannot reset the decoder") }
            default:
                let message = s.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw StaveError.unreadableInput(file: path, detail: "gzip: \(message) (after \(rawBytesRead - (end - start)) compressed bytes)")
            }
            outputWasFull = produced == min(count, Int(UInt32.max))
            if produced > 0 { return produced }
        }
    }

    private func readZstd(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        let d = zstd!
        while true {
            switch try needInput(truncated: "zstd: the input ends inside a frame (truncated file?)") {
            case .end: return 0
            case .filled: continue
            case .decode: break
            }
            let (produced, consumed, hint) = raw.withUnsafeMutableBufferPointer { b -> (Int, Int, Int) in
                var input = ZSTD_inBuffer(src: b.baseAddress! + start, size: end - start, pos: 0)
                var output = ZSTD_outBuffer(dst: buffer, size: count, pos: 0)
                let hint = ZSTD_decompressStream(d, &output, &input)
                start += input.pos
                return (output.pos, input.pos, hint)
            }
            if ZSTD_isError(hint) != 0 {
                throw StaveError.unreadableInput(file: path, detail: "zstd: \(String(cString: ZSTD_getErrorName(hint))) (after \(rawBytesRead - (end - start)) compressed bytes)")
            }
            // 0: a frame ended (another may follow); otherwise mid-frame. A
            // call that moved nothing says nothing new.
            if produced > 0 || consumed > 0 { inFrame = hint != 0 }
            outputWasFull = produced == count
            if produced > 0 { return produced }
        }
    }
}
