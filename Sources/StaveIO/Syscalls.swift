// The one place stave calls the C library for files. Every call retries on
// EINTR here and turns failures into StaveError.io naming the path.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CStaveSupport
import StaveFormat
import Synchronization

public enum Sys {
    @inline(__always) static var errnoValue: Int32 { errno }

    /// glibc's allocator, tuned once per process: blocks up to 32 MB come
    /// from the heap rather than fresh mmaps, and up to 128 MB of freed
    /// memory stays mapped. By default every buffer of 128 KB or more (a
    /// decoded row group's columns) is a new mapping, faulted in and zeroed
    /// page by page and unmapped when freed, group after group: in a fresh
    /// process page faults then cost as much as the query. Peak memory is
    /// unchanged; a process may keep up to 128 MB of freed memory.
    /// Queries call it (QueryRunner); writers call `tuneWriterAllocator`
    /// instead: a conversion reuses its large buffers itself and ran slower
    /// with this (more system time). STAVE_MALLOC=default skips both.
    public static let tuneAllocator: Void = {
        if let v = getenv("STAVE_MALLOC"), String(cString: v) == "default" { return }
        // (The parameter numbers come from <malloc.h> through the C shim.)
        _ = stave_mallopt(stave_m_mmap_threshold(), 32 << 20)
        _ = stave_mallopt(stave_m_trim_threshold(), 128 << 20)
    }()

    /// glibc's allocator for writers (convert, append, compact): one arena.
    /// By default each thread that allocates gets its own arena, and the
    /// threads that parse, sort and encode in turn leave freed blocks in
    /// each of them: on large conversions one arena lowered both peak
    /// memory and system time (the figures are in BENCHMARKS.md).
    /// Writers allocate per buffer and per row group, never per row, so
    /// the one arena's lock is not contended.
    public static let tuneWriterAllocator: Void = {
        if let v = getenv("STAVE_MALLOC"), String(cString: v) == "default" { return }
        _ = stave_mallopt(stave_m_arena_max(), 1)
    }()

    static func retrying<T: BinaryInteger>(_ body: () -> T) -> T {
        while true {
            let r = body()
            if r == -1 && errno == EINTR { continue }
            return r
        }
    }

    /// `retrying` for a call that fault injection may fail (see
    /// FaultInjection): an injected errno stands for the call's result.
    static func retrying<T: BinaryInteger>(_ op: FaultInjection.Op, _ path: String, _ body: () -> T) -> T {
        while true {
            if let e = FaultInjection.fault(op, path) { errno = e; if e == EINTR { continue }; return -1 }
            let r = body()
            if r == -1 && errno == EINTR { continue }
            return r
        }
    }

    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = retrying { Glibc.open(path, flags, mode) }
        guard fd >= 0 else { throw StaveError.io(path: path, operation: "open", errno: errno) }
        return fd
    }

    /// Opens an input file for reading: a missing file is `missingInput`
    /// (exit 66, EX_NOINPUT), any other failure an I/O error.
    public static func openInput(_ path: String) throws -> Int32 {
        let fd = retrying { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw StaveError.missingInput(path: path) }
            throw StaveError.io(path: path, operation: "open", errno: e)
        }
        return fd
    }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// Writes all of `bytes`, retrying short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = retrying(.write, path) { Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }
            guard n > 0 else { throw StaveError.io(path: path, operation: "write", errno: n < 0 ? errno : EIO) }
            done += n
        }
    }

    /// Reads up to `count` bytes; returns 0 at end of file.
    public static func read(_ fd: Int32, into buf: UnsafeMutableRawPointer, count: Int, path: String) throws -> Int {
        let n = retrying { Glibc.read(fd, buf, count) }
        guard n >= 0 else { throw StaveError.io(path: path, operation: "read", errno: errno) }
        return n
    }

    public static func fsync(_ fd: Int32, path: String) throws {
        guard retrying(.fsync, path, { Glibc.fsync(fd) }) == 0 else { throw StaveError.io(path: path, operation: "fsync", errno: errno) }
    }

    public static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    /// fsync of the folder holding `placed`, which a rename just put in
    /// place: a failure says that `placed` is complete (readers see it;
    /// a retry would find it) but may not survive a power loss.
    public static func fsyncDirectory(holding placed: String) throws {
        do {
            try fsyncDirectory(parentDirectory(of: placed))
        } catch StaveError.io(_, "fsync", let code) {
            throw StaveError.io(path: placed, operation: "fsync of its folder after it was put in place (it is complete, but may not survive a power loss)", errno: code)
        }
    }

    public static func rename(_ from: String, _ to: String) throws {
        guard retrying(.rename, to, { Glibc.rename(from, to) }) == 0 else { throw StaveError.io(path: to, operation: "rename", errno: errno) }
    }

    public static func mkdir(_ path: String) throws {
        guard Glibc.mkdir(path, 0o755) == 0 else { throw StaveError.io(path: path, operation: "mkdir", errno: errno) }
    }

    /// Creates `path` and every missing directory above it (mkdir -p);
    /// an existing directory is fine, anything else in the way an error.
    public static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for piece in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + piece
            switch kind(prefix) {
            case .directory: continue
            case .missing:
                if Glibc.mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                    throw StaveError.io(path: prefix, operation: "mkdir", errno: errno)
                }
            default:
                throw StaveError.io(path: prefix, operation: "mkdir", errno: ENOTDIR)
            }
        }
    }

    /// Removes a file; a failure is ignored (every caller removes what is
    /// no longer referenced, and a later writer collects what is left).
    public static func unlink(_ path: String) { _ = retrying(.unlink, path) { Glibc.unlink(path) } }

    public enum Kind { case missing, file, directory, other }

    public static func kind(_ path: String) -> Kind {
        var st = stat()
        // stat, not lstat: a symbolic link is what it points to.
        guard stat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    public static func fileSize(_ fd: Int32, path: String) throws -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StaveError.io(path: path, operation: "stat", errno: errno) }
        return Int(st.st_size)
    }

    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The buffer stave asks for on a pipe it streams through (standard
    /// input of `convert -` and `append -`, standard output of every
    /// command): `generate -o - | convert -` moves tens of GB, and with the
    /// kernel's default of 64 KiB each 1 MiB write became 16 handovers
    /// between the two processes.
    public static let pipeBytes = 1 << 20

    /// Widens the pipe on `fd` to `pipeBytes` when it is a pipe (nothing
    /// otherwise); returns its size, or nil when `fd` is not a pipe or the
    /// kernel refused (it then stays as it was: only a matter of speed).
    @discardableResult
    public static func widenPipe(_ fd: Int32) -> Int? {
        let n = stave_widen_pipe(fd, Int32(pipeBytes))
        return n > 0 ? Int(n) : nil
    }

    /// Frees the blocks and page-cache pages of `ranges` (byte ranges) of
    /// the file at `path`, whose size stays the same; those bytes then read
    /// as zeros. For scratch files whose bytes will not be read again: the
    /// pages come back to the system at once, not when the file is
    /// removed. Returns false (and leaves the rest as it was) where the
    /// file cannot be opened for writing or its file system cannot punch
    /// holes: only a matter of memory and disk space, never of data.
    @discardableResult
    public static func punchHoles(_ path: String, _ ranges: [Range<Int>]) -> Bool {
        let fd = retrying { Glibc.open(path, O_WRONLY | O_CLOEXEC) }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        for r in ranges where !r.isEmpty && r.lowerBound >= 0 {
            guard retrying({ stave_punch_hole(fd, Int64(r.lowerBound), Int64(r.count)) }) == 0 else { return false }
        }
        return true
    }

    /// The bytes of the file at `path` that take blocks on disk (st_blocks:
    /// less than its size where holes were punched), or nil.
    public static func allocatedBytes(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_blocks) * 512
    }

    /// The columns of the terminal on `fd`: $COLUMNS when it is a number
    /// (as shells export it, and so tests can set it), else the terminal's
    /// own size; nil when `fd` is not a terminal and COLUMNS is unset.
    public static func terminalColumns(_ fd: Int32) -> Int? {
        if let text = getenv("COLUMNS").map({ String(cString: $0) }), let n = Int(text), n > 0 { return n }
        guard isTerminal(fd) else { return nil }
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    public static var pid: Int32 { getpid() }

    /// Removes a directory and the regular files directly inside it.
    public static func removeFlatDirectory(_ path: String) {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }   // through the fault point
            }
            closedir(dir)
        }
        _ = Glibc.rmdir(path)
    }

    /// Reads a whole file of at most `limit` bytes.
    public static func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = try open(path, flags: O_RDONLY)
        defer { close(fd) }
        let size = try fileSize(fd, path: path)
        guard size <= limit else { throw StaveError.badStore(path: path, detail: "file is \(size) bytes, more than the \(limit) allowed") }
        var out = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = try out.withUnsafeMutableBytes { try read(fd, into: $0.baseAddress! + done, count: size - done, path: path) }
            if n == 0 { break }
            done += n
        }
        return Array(out[0..<done])
    }

    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

extension Sys {
    /// Takes an exclusive, non-blocking lock (flock) on `path`, creating the
    /// file if needed. Returns the descriptor that holds the lock (closing it
    /// releases the lock; so does the process's death), or nil when another
    /// process holds it.
    public static func tryLock(_ path: String) throws -> Int32? {
        let fd = try open(path, flags: O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o644)
        if retrying({ flock(fd, LOCK_EX | LOCK_NB) }) == 0 { return fd }
        let e = errno
        close(fd)
        if e == EWOULDBLOCK { return nil }
        throw StaveError.io(path: path, operation: "lock", errno: e)
    }
}

extension Sys {
    /// Names of the entries of a directory (without "." and "..").
    public static func listDirectory(_ path: String) -> [String] {
        var names: [String] = []
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
        }
        return names
    }

    /// A shared (readers) or exclusive lock on an existing file, without
    /// waiting. Returns the descriptor holding it, or nil when the file is
    /// missing or the lock is held incompatibly.
    public static func tryLockExisting(_ path: String, shared: Bool) -> Int32? {
        let fd = retrying { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        if retrying({ flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) }) == 0 { return fd }
        close(fd)
        return nil
    }

    /// A shared lock on an existing file, waiting for it (readers wait only
    /// while a writer deletes unreferenced files: microseconds).
    public static func lockShared(_ path: String) -> Int32? {
        let fd = retrying { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        if retrying({ flock(fd, LOCK_SH) }) == 0 { return fd }
        close(fd)
        return nil
    }

    /// Creates an empty file if it does not exist (mode 0644).
    public static func touch(_ path: String) throws {
        let fd = try open(path, flags: O_WRONLY | O_CREAT | O_CLOEXEC, mode: 0o644)
        close(fd)
    }
}

extension Sys {
    public struct FileIdentity: Equatable, Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int
    }

    public static func identity(fd: Int32, path: String) throws -> FileIdentity {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StaveError.io(path: path, operation: "stat", errno: errno) }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int(st.st_size))
    }

    /// The identity of the file at `path` now (nil if it does not exist).
    public static func identity(path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int(st.st_size))
    }

    /// A file's identity and modification time: changes whenever the file
    /// is replaced (a new inode, or the same number reused at a later time)
    /// or written.
    public struct FileStamp: Equatable, Sendable {
        public var identity: FileIdentity
        /// Modification time, nanoseconds since 1970.
        public var modifiedNanoseconds: Int64
    }

    /// The stamp of the file at `path` now (nil if it does not exist).
    public static func stamp(path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(identity: FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int(st.st_size)),
                         modifiedNanoseconds: Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec))
    }

    /// Reads exactly `count` bytes at `offset` (fewer only at end of file).
    public static func pread(_ fd: Int32, count: Int, offset: Int, path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { b in retrying { Glibc.pread(fd, b.baseAddress! + done, count - done, off_t(offset + done)) } }
            guard n >= 0 else { throw StaveError.io(path: path, operation: "read", errno: errno) }
            if n == 0 { break }
            done += n
        }
        return Array(out[0..<done])
    }

    /// Reads exactly `buffer.count` bytes at `offset` into `buffer`; a file
    /// that ends before them is `truncated`.
    public static func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int, path: String) throws {
        var done = 0
        while done < buffer.count {
            // buffer.baseAddress is non-nil here: count > done >= 0.
            let n = retrying { Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done)) }
            guard n >= 0 else { throw StaveError.io(path: path, operation: "read", errno: errno) }
            guard n > 0 else {
                throw StaveError.truncated(file: path, detail: "ends before byte \(offset + buffer.count)")
            }
            done += n
        }
    }

    /// The absolute, symlink-free path of an existing file.
    public static func realPath(_ path: String) throws -> String {
        guard let p = realpath(path, nil) else { throw StaveError.io(path: path, operation: "open", errno: errno) }
        defer { free(p) }
        return String(cString: p)
    }

    public static func sleep(milliseconds: Int) {
        var ts = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var rest = timespec()
        while nanosleep(&ts, &rest) == -1 && errno == EINTR { ts = rest }
    }
}

/// A flag set from a signal handler's queue and read by the main loop.
public final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)

    public init() {}

    public var isSet: Bool { value.load(ordering: .acquiring) }

    public func set() { value.store(true, ordering: .releasing) }
}
