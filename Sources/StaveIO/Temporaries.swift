import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import Synchronization

/// Temporary files and folders (`NAME.tmp-PID`) never outlive their writer:
///
/// - after an error, their owner removes them (OutputFile.abandon,
///   StoreBuilder.abort, the spills of a conversion);
/// - on SIGINT or SIGTERM, once `enableSignalCleanup` was called, every
///   one still registered is removed, then the process exits 130 or 143;
/// - after SIGKILL (or a power cut), the next writer of the same path
///   removes those whose PID is no longer running (`cleanStale`); inside a
///   store, the next writer under its lock does (StoreFiles.collectGarbage).
public enum Temporaries {
    /// Paths to remove on a signal: a directory's files and itself, or a file.
    private static let registered = Locked<[Int: (path: String, directory: Bool)]>([:])
    private static let nextToken = Atomic<Int>(1)

    /// Registers `path` for removal on SIGINT/SIGTERM; returns the token
    /// that `unregister` takes once the path is committed or removed.
    public static func register(_ path: String, directory: Bool) -> Int {
        if cleanupWanted.load(ordering: .sequentiallyConsistent) { installHandlers() }
        let token = nextToken.wrappingAdd(1, ordering: .relaxed).oldValue
        registered.withLock { $0[token] = (path, directory) }
        return token
    }

    public static func unregister(_ token: Int) {
        registered.withLock { _ = $0.removeValue(forKey: token) }
    }

    private static let sources = Locked<[DispatchSourceSignal]>([])
    private static let cleanupWanted = Atomic<Bool>(false)
    private static let handlersInstalled = Atomic<Bool>(false)

    /// On SIGINT or SIGTERM: remove every registered temporary, then exit
    /// 130 (SIGINT) or 143 (SIGTERM). The handlers are installed when the
    /// first temporary is registered (at once if one already is): a
    /// process that writes none, such as a query to standard output, does
    /// not start libdispatch's signal machinery, about 0.2 ms of its run,
    /// and a signal ends it as the default action does. The handler runs
    /// on a queue, not in signal context, so it may take locks and remove
    /// directories. Idempotent; `follow` has its own handlers (it commits
    /// and exits 0) and does not call this.
    /// (Commands call it before their work starts, so no temporary is
    /// registered concurrently; the check of `registered` covers one
    /// registered before.)
    public static func enableSignalCleanup() {
        cleanupWanted.store(true, ordering: .sequentiallyConsistent)
        if !registered.withLock({ $0.isEmpty }) { installHandlers() }
    }

    private static func installHandlers() {
        guard !handlersInstalled.load(ordering: .acquiring) else { return }
        sources.withLock { sources in
            guard sources.isEmpty else { return }
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    removeRegistered()
                    _exit(128 + sig)
                }
                source.resume()
                sources.append(source)
            }
            handlersInstalled.store(true, ordering: .releasing)
        }
    }

    static func removeRegistered() {
        let all = registered.withLock { Array($0.values) }
        for entry in all {
            if entry.directory { Sys.removeFlatDirectory(entry.path) } else { Sys.unlink(entry.path) }
        }
    }

    /// True when a process with this id is running (or exists but is not
    /// ours to signal).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes the temporaries `path.tmp-PID` (files or folders) that
    /// writers which are no longer running left next to `path`, and brings
    /// back `path.old-PID` (a store that --force was replacing when its
    /// writer died between its two renames) if `path` itself is missing.
    public static func cleanStale(_ path: String) {
        let parent = parentDirectory(of: path)
        let base = String(path.split(separator: "/").last ?? "")
        guard !base.isEmpty else { return }
        for name in Sys.listDirectory(parent) {
            for (marker, restore) in [(".tmp-", false), (".old-", true)] {
                guard name.hasPrefix(base + marker), let pid = Int32(name.dropFirst(base.count + marker.count)),
                      pid != Sys.pid, !isAlive(pid) else { continue }
                let full = parent == "." && !path.hasPrefix("./") ? name : parent + "/" + name
                if restore {
                    if Sys.kind(path) == .missing { try? Sys.rename(full, path) }
                    continue
                }
                if Sys.kind(full) == .directory { Sys.removeFlatDirectory(full) } else { Sys.unlink(full) }
            }
        }
    }
}
