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
    /// The MANIFEST's modification time when this snapshot was read, in
    /// ISO 8601 UTC ("2014-11-05T10:00:00Z"): when the commit happened.
    let committedAt: String
    let stamp: Sys.FileStamp?

    init(context: QueryContext, stamp: Sys.FileStamp?) {
        self.context = context
        generation = context.store.manifest.generation
        self.stamp = stamp
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
    static func open(_ path: String, threads: Int) throws -> Snapshot {
        let stamp = Sys.stamp(path: path + "/" + FormatConstants.manifestName)
        return Snapshot(context: QueryContext(store: try Store.open(path), threads: threads), stamp: stamp)
    }

    /// The JSON of a `commit` event: what changed, for the page to show.
    var eventJSON: String {
        let store = context.store
        return "{\"generation\":\(generation),\"committed_at\":\(CellText.jsonString(committedAt)),"
            + "\"parts\":\(store.parts.count),\"store_events\":\(store.rowCount)}"
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
        guard now != seen.current else { return }
        do {
            let (path, threads) = (self.path, self.threads)
            let next = try await executor.run { try Snapshot.open(path, threads: threads) }
            seen.withLock { $0 = next.stamp }
            // The same generation is the same manifest: keep the snapshot
            // (and its decoded customer table).
            let changed = state.withLock { snapshot -> Bool in
                guard next.generation != snapshot.generation else { return false }
                snapshot = next
                return true
            }
            if changed { await cache.keepOnly(generation: next.generation) }
            lastError.withLock { $0 = nil }
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
