#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StaveFormat

/// A buffered output: standard output, a file that appears atomically
/// (written under a temporary name, fsynced, renamed on `commit`), a device,
/// pipe, socket or descriptor path (/dev/stdout) written in place, or memory (`OutputFile.memory()`, for
/// the server: the same writers, the same bytes).
/// If the owner never calls `commit`, `abandon` (or deinit) removes the
/// temporary file, so a failed command leaves nothing half-written.
/// A path that is a symbolic link keeps the link: the file it points to is
/// replaced.
public final class OutputFile {
    public let displayPath: String
    private let finalPath: String?
    private let tempPath: String?
    private var fd: Int32
    /// A device, pipe, socket or descriptor path (/dev/stdout) opened here
    /// and written in place (closed on commit).
    private let inPlace: Bool
    /// The descriptor belongs to the process (/dev/stdout is fd 1): never closed here.
    private var borrowed = false
    /// The temporary file's registration for removal on a signal.
    private var cleanupToken: Int?
    private var buffer: [UInt8] = []
    private var done = false
    /// Memory mode: everything written so far (fd is -1).
    private var collected: [UInt8]? = nil
    public private(set) var bytesWritten: Int = 0
    /// The width of the terminal this output is shown on (standard output
    /// on a terminal, or $COLUMNS when set), for tables that fit it; nil
    /// for files and pipes, whose tables are never cut.
    public private(set) var displayColumns: Int? = nil
    private static let flushThreshold = 1 << 20

    /// `path` nil or "-" means standard output.
    public init(path: String?) throws {
        if let path, path != "-" {
            displayPath = path
            // (realpath fails on /proc/self/fd links to pipes: kept as given.)
            let target = Sys.kind(path) == .missing ? path : (try? Sys.realPath(path)) ?? path
            if let descriptor = OutputFile.descriptor(named: path) {
                // /dev/stdout and the like: written through the descriptor
                // this process already has (its offset is the one the shell
                // shares), never reopened at offset 0.
                finalPath = nil
                tempPath = nil
                inPlace = true
                fd = descriptor
                borrowed = true
            } else if OutputFile.writesInPlace(path) || OutputFile.writesInPlace(target) {
                // /dev/null, /dev/stdout, a named pipe: nothing to replace
                // atomically, and renaming over it would destroy it.
                finalPath = nil
                tempPath = nil
                inPlace = true
                fd = try Sys.open(path, flags: O_WRONLY | O_APPEND | O_CLOEXEC)
            } else {
                // A file output never replaces a directory (a store among them).
                if Sys.kind(target) == .directory {
                    throw StaveError.refusedReplace(path: path, detail: "is a directory, not a file to write")
                }
                finalPath = target
                // Missing folders on the way are created (as `stave generate -o a/b` does).
                let parent = parentDirectory(of: target)
                if Sys.kind(parent) == .missing { try Sys.makeDirectories(parent) }
                let temp = target + ".tmp-\(Sys.pid)"
                Temporaries.cleanStale(target)
                tempPath = temp
                inPlace = false
                // Registered before it exists, so that no signal finds it
                // unregistered (registering may install the handlers).
                let token = Temporaries.register(temp, directory: false)
                do {
                    fd = try Sys.open(temp, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644)
                } catch {
                    Temporaries.unregister(token)
                    // Named as the user wrote it, not as the temporary file.
                    if case StaveError.io(_, let operation, let code) = error { throw StaveError.io(path: path, operation: operation, errno: code) }
                    throw error
                }
                cleanupToken = token
            }
        } else {
            finalPath = nil
            tempPath = nil
            inPlace = false
            displayPath = "<stdout>"
            fd = 1
            displayColumns = Sys.terminalColumns(1)
            Sys.widenPipe(1)
        }
        buffer.reserveCapacity(OutputFile.flushThreshold + 4096)
    }

    /// The descriptor a path names when it is one of this process's own:
    /// /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N (N open).
    static func descriptor(named path: String) -> Int32? {
        var n: Int32?
        if path == "/dev/stdout" { n = 1 } else if path == "/dev/stderr" { n = 2 }
        for prefix in ["/dev/fd/", "/proc/self/fd/", "/proc/\(Sys.pid)/fd/"] where path.hasPrefix(prefix) {
            n = Int32(path.dropFirst(prefix.count))
        }
        guard let n, n >= 0, fcntl(n, F_GETFD) != -1 else { return nil }
        return n
    }

    /// True for a path that names a file descriptor (/dev/stdout,
    /// /dev/stderr, /dev/fd/N, /proc/.../fd/N: renaming over its target
    /// would leave the descriptor's file behind), or an existing path
    /// (symbolic links followed) that is neither a regular file nor a
    /// directory. Other paths under /dev (/dev/shm) are files like any other.
    static func writesInPlace(_ path: String) -> Bool {
        if path == "/dev/stdout" || path == "/dev/stderr" || path.hasPrefix("/dev/fd/")
            || (path.hasPrefix("/proc/") && path.contains("/fd/")) {
            return true
        }
        return Sys.kind(path) == .other
    }

    private init(memory: Void) {
        finalPath = nil
        tempPath = nil
        inPlace = false
        displayPath = "<memory>"
        fd = -1
        collected = []
    }

    /// An output that keeps its bytes in memory; `bytes()` returns them.
    public static func memory() -> OutputFile { OutputFile(memory: ()) }

    /// Memory mode: everything written (flushed first).
    public func bytes() -> [UInt8] {
        if collected != nil { collected! += buffer; bytesWritten += buffer.count; buffer.removeAll() }
        return collected ?? []
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends `bytes`; a block of at least the flush threshold goes to
    /// the file as it is, after what is buffered, without being copied into
    /// the buffer (a profile's text comes in blocks of megabytes).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= OutputFile.flushThreshold && collected == nil {
            try flush()
            try Sys.writeAll(fd, bytes, path: displayPath)
            bytesWritten += bytes.count
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= OutputFile.flushThreshold { try flush() }
    }

    public func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= OutputFile.flushThreshold { try flush() }
    }

    /// Appends with direct access to the buffer (for formatters).
    public func withBuffer(_ body: (inout [UInt8]) throws -> Void) throws {
        try body(&buffer)
        if buffer.count >= OutputFile.flushThreshold { try flush() }
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        if collected != nil {
            collected! += buffer
            bytesWritten += buffer.count
            buffer.removeAll(keepingCapacity: true)
            return
        }
        try buffer.withUnsafeBytes { try Sys.writeAll(fd, $0, path: displayPath) }
        bytesWritten += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, and for a file: fsync, close, rename into place, fsync the
    /// directory. `isCommitPoint`: the rename is what the user waits for
    /// (a store's MANIFEST, a command's output), so a failed fsync of the
    /// folder after it says that the file is in place and complete;
    /// otherwise (a file inside a store still being built) plain.
    public func commit(isCommitPoint: Bool = false) throws {
        try flush()
        if inPlace {
            done = true
            if !borrowed { Sys.close(fd) }
            fd = -1
            return
        }
        guard let tempPath, let finalPath else { done = true; return }
        try Sys.fsync(fd, path: displayPath)
        Sys.close(fd)
        fd = -1
        try Sys.rename(tempPath, finalPath)
        if let cleanupToken { Temporaries.unregister(cleanupToken) }
        if isCommitPoint {
            try Sys.fsyncDirectory(holding: finalPath)
        } else {
            try Sys.fsyncDirectory(parentDirectory(of: finalPath))
        }
        done = true
    }

    public func abandon() {
        guard !done else { return }
        done = true
        if inPlace {
            if !borrowed { Sys.close(fd) }
            fd = -1
            return
        }
        if let tempPath {
            if fd >= 0 { Sys.close(fd) }
            fd = -1
            Sys.unlink(tempPath)
            if let cleanupToken { Temporaries.unregister(cleanupToken) }
        }
    }

    deinit { abandon() }
}

public func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let parent = String(path[..<slash])
    return parent.isEmpty ? "/" : parent
}
