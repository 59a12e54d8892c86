import Dispatch
import StaveFormat
import StaveIO
import StaveReports

/// One committed state of the store, opened for queries. Immutable: a
/// request takes the current snapshot once and answers from it, whatever
/// commits land meanwhile (the mapped files outlive their names).
final class Snapshot: Sendable {
    let context: QueryContext
    let generation: UInt64
    /// Which opened state this is, counted by the watcher (1, 2, ...): it
    /// changes with every commit and also when the store is replaced by
    /// another one (`convert --force`), whose generation may equal the old
    /// one's. Cached answers and live events follow it, not the generation.
    let serial: UInt64
    /// The store directory's device and inode: a replaced store has others.
    let directory: (device: UInt64, inode: UInt64)?
    /// The MANIFEST's modification time when this snapshot was read, in
    /// ISO 8601 UTC ("2014-11-05T10:00:00Z"): when the commit happened.
    let committedAt: String
    let stamp: Sys.FileStamp?

    init(context: QueryContext, stamp: Sys.FileStamp?, serial: UInt64 = 1, directory: (device: UInt64, inode: UInt64)? = nil) {
        self.context = context
        generation = context.store.manifest.generation
        self.stamp = stamp
        self.serial = serial
        self.directory = directory
        if let stamp {
            let seconds = stamp.modifiedNanoseconds / 1_000_000_000
            var text = Array(CivilTime.format(seconds).utf8)
            text[10] = UInt8(ascii: "T")
            committedAt = String(decoding: text, as: UTF8.self) + "Z"
        } else {
            committedAt = ""
        }
    }

    /// Opens the store as it is now. The stamp is read first: if a commit
    /// lands in between, the snapshot is newer than its stamp and the next
    /// look at MANIFEST opens it again (harmless).
    static func open(_ path: String, threads: Int, serial: UInt64 = 1) throws -> Snapshot {
        let directory = Sys.identity(path: path).map { (device: $0.device, inode: $0.inode) }
        let stamp = Sys.stamp(path: path + "/" + FormatConstants.manifestName)
        return Snapshot(context: QueryContext(store: try Store.open(path), threads: threads), stamp: stamp, serial: serial, directory: directory)
    }

    /// The same store at the same commit: same directory, same generation.
    func isSameState(as other: Snapshot) -> Bool {
        generation == other.generation && directory?.device == other.directory?.device && directory?.inode == other.directory?.inode
    }

    /// The JSON of a `commit` event: what changed, for the page to show.
    var eventJSON: String {
        let store = context.store
        return "{\"generation\":\(generation),\"serial\":\(serial),\"committed_at\":\(CellText.jsonString(committedAt)),"
            + "\"parts\":\(store.parts.count),\"store_plays\":\(store.rowCount)}"
    }
}

/// Runs blocking query work off the server's event loops and Swift's
/// cooperative pool: one query at a time on a serial queue (each query
/// already uses every core), so memory and CPU stay bounded however many
/// requests arrive.
final class QueryExecutor: Sendable {
    private let queue = DispatchQueue(label: "stave.serve.queries")

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// Watches the store's MANIFEST and keeps the current snapshot: a commit
/// (append, follow, compact, a new customer table) replaces MANIFEST by
/// rename, which changes its inode and modification time.
final class StoreWatcher: Sendable {
    let path: String
    let threads: Int
    private let state: Locked<Snapshot>
    /// The MANIFEST stamp last acted upon.
    private let seen: Locked<Sys.FileStamp?>
    private let lastError = Locked<String?>(nil)
    private let goneState = Locked<String?>(nil)
    let executor: QueryExecutor
    let cache: ResultCache

    init(path: String, threads: Int, executor: QueryExecutor, cache: ResultCache) throws {
        self.path = path
        self.threads = threads
        self.executor = executor
        self.cache = cache
        let first = try Snapshot.open(path, threads: threads)
        state = Locked(first)
        seen = Locked(first.stamp)
    }

    var current: Snapshot { state.current }

    /// Why the store cannot be served now (its directory or MANIFEST is
    /// gone: deleted, or in the middle of being replaced), or nil. While it
    /// is set the API answers 503 and the live stream says `gone`: the last
    /// snapshot is never shown as live.
    var gone: String? { goneState.current }

    /// Looks at MANIFEST every `interval` until the task is cancelled.
    func watch(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await refresh()
        }
    }

    /// Opens the store again if MANIFEST changed since the current snapshot.
    func refresh() async {
        let now = Sys.stamp(path: path + "/" + FormatConstants.manifestName)
        guard let now else {
            let text = Sys.kind(path) == .missing ? "the store \(path) is gone (deleted, or being replaced)"
                                                   : "the store \(path) has no MANIFEST (being replaced, or not a store any more)"
            if goneState.withLock({ old -> Bool in defer { old = text }; return old != text }) { printToStderr("stave serve: " + text) }
            seen.withLock { $0 = nil }
            return
        }
        guard now != seen.current || gone != nil else { return }
        do {
            let (path, threads) = (self.path, self.threads)
            let serial = current.serial + 1
            let next = try await executor.run { try Snapshot.open(path, threads: threads, serial: serial) }
            seen.withLock { $0 = next.stamp }
            // The same directory at the same generation is the same
            // manifest: keep the snapshot (and its decoded customer table).
            let changed = state.withLock { snapshot -> Bool in
                guard !next.isSameState(as: snapshot) else { return false }
                snapshot = next
                return true
            }
            if changed { await cache.keepOnly(serial: next.serial) }
            lastError.withLock { $0 = nil }
            if goneState.withLock({ old -> Bool in defer { old = nil }; return old != nil }) {
                printToStderr("stave serve: the store \(path) is back (generation \(current.generation))")
            }
        } catch {
            // Keep serving the last good snapshot; say so once per distinct error.
            let text = "stave serve: cannot open the new state of \(path): \(error) (still serving generation \(current.generation))"
            let fresh = lastError.withLock { last -> Bool in
                defer { last = text }
                return last != text
            }
            if fresh { printToStderr(text) }
        }
    }
}

public func printToStderr(_ text: String) {
    var line = Array(text.utf8)
    line.append(10)
    line.withUnsafeBytes { _ = try? Sys.writeAll(2, $0, path: "<stderr>") }
}
