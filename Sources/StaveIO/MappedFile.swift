#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StaveFormat

/// A read-only memory mapping of a whole file, unmapped in deinit.
///
/// - Warning: the bytes are valid only while the MappedFile is alive; reach
///   them through `withBytes` or keep a reference to the file next to any
///   pointer derived from it (DecodedChunk does).
public final class MappedFile: @unchecked Sendable {
    // @unchecked Sendable: the mapping is PROT_READ and never changes after init.
    public let path: String
    public let size: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = try Sys.open(path, flags: O_RDONLY | O_CLOEXEC)
        defer { Sys.close(fd) }
        let size = try Sys.fileSize(fd, path: path)
        self.size = size
        if size == 0 {
            base = nil
            return
        }
        // No MAP_POPULATE: it saves nothing on full scans and slows down a
        // one-customer query by faulting in every page of columns and row
        // groups it never reads (figures in the commit that removed it).
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw StaveError.io(path: path, operation: "mmap", errno: errno) }
        base = p
    }

    deinit {
        if let base { munmap(base, size) }
    }

    /// The whole file. Empty buffer for an empty file.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : size)
    }

    /// Tells the kernel the pages inside `range` (bytes of the file) will
    /// not be read again soon: they leave this process's resident set (the
    /// page cache keeps them). For the inputs of a merge, read with pread
    /// once opened, so that the pages their opening mapped do not add up.
    public func release(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (max(range.lowerBound, 0) + page - 1) / page * page
        let hi = min(range.upperBound, size) / page * page
        guard hi > lo else { return }
        _ = madvise(base + lo, hi - lo, Int32(MADV_DONTNEED))
    }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(bytes) }
    }
}
