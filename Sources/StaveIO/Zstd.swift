import CZstd
import StaveFormat

/// The one shim over libzstd.
public enum Zstd {
    public static var versionString: String { String(cString: ZSTD_versionString()) }

    /// One zstd frame (with content size) of `source` at `level`.
    public static func compress(_ source: [UInt8], level: Int32) -> [UInt8] {
        let bound = ZSTD_compressBound(source.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = out.withUnsafeMutableBytes { dst in
            source.withUnsafeBytes { src in
                ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, level)
            }
        }
        precondition(ZSTD_isError(n) == 0, "zstd compression failed: \(String(cString: ZSTD_getErrorName(n)))")
        out.removeSubrange(n...)
        return out
    }

    /// Decompresses one frame into exactly `destination.count` bytes.
    /// Throws when the frame is malformed, declares another size, or
    /// decodes to another size: the declared size caps every allocation.
    public static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, file: String, what: String) throws {
        let declared = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        guard declared == UInt64(destination.count) else {
            throw StaveError.corrupt(file: file, what: "\(what): zstd frame declares \(declared == ZSTD_CONTENTSIZE_ERROR ? "no valid size" : String(declared)) bytes, expected \(destination.count)")
        }
        let n = withContext { ZSTD_decompressDCtx($0, destination.baseAddress, destination.count, source.baseAddress, source.count) }
        guard ZSTD_isError(n) == 0 else {
            throw StaveError.corrupt(file: file, what: "\(what): zstd: \(String(cString: ZSTD_getErrorName(n)))")
        }
        guard n == destination.count else {
            throw StaveError.corrupt(file: file, what: "\(what): zstd frame decoded to \(n) bytes, expected \(destination.count)")
        }
    }

    /// Decompresses `source` (one or more frames, content size declared or
    /// not, as other writers make them) into exactly `destination.count`
    /// bytes: more or fewer is an error. A declared size that differs is an
    /// error before anything is decoded.
    public static func decompressExact(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, file: String, what: String) throws {
        let declared = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        if declared == ZSTD_CONTENTSIZE_ERROR {
            throw StaveError.corrupt(file: file, what: "\(what): not a zstd frame")
        }
        if declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > UInt64(destination.count) {
            throw StaveError.corrupt(file: file, what: "\(what): zstd frame declares \(declared) bytes, expected \(destination.count)")
        }
        let n = withContext { ZSTD_decompressDCtx($0, destination.baseAddress, destination.count, source.baseAddress, source.count) }
        guard ZSTD_isError(n) == 0 else {
            throw StaveError.corrupt(file: file, what: "\(what): zstd: \(String(cString: ZSTD_getErrorName(n)))")
        }
        guard n == destination.count else {
            throw StaveError.corrupt(file: file, what: "\(what): zstd data decoded to \(n) bytes, expected \(destination.count)")
        }
    }

    /// Decompression contexts kept for reuse. `ZSTD_decompress` allocates a
    /// fresh context (about 160 KB, above malloc's mmap threshold) on every
    /// call, which a scan over many small chunks pays in page faults.
    /// A context is used by one thread at a time: taken from the pool,
    /// returned after the call; at most `poolLimit` are kept.
    private static let pool = Locked(ContextPool())
    private static let poolLimit = 8

    private struct ContextPool: @unchecked Sendable {
        // @unchecked Sendable: the contexts are only reached under the lock
        // of `pool`, and each is handed to one thread at a time.
        var free: [OpaquePointer] = []
    }

    private static func withContext(_ body: (OpaquePointer) -> Int) -> Int {
        guard let ctx = pool.withLock({ $0.free.popLast() }) ?? ZSTD_createDCtx() else {
            return 0 &- 64  // ZSTD_error_memory_allocation: an error code ZSTD_isError accepts
        }
        let n = body(ctx)
        let kept = pool.withLock { p -> Bool in
            guard p.free.count < poolLimit else { return false }
            p.free.append(ctx)
            return true
        }
        if !kept { ZSTD_freeDCtx(ctx) }
        return n
    }
}
