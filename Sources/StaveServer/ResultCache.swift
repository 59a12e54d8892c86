import StaveReports

/// A rendered answer: the JSON bytes and how many rows stood before paging.
struct RenderedAnswer: Sendable {
    var body: [UInt8]
    var total: Int
}

/// Answers of the current generation, by request. A snapshot never changes,
/// so an answer stays right until the next commit, when `keepOnly` drops the
/// older generations. Bounded in bytes (least recently used goes first).
/// Concurrent requests for the same missing answer share one computation.
/// With `maxBytes` 0 there is no cache at all: every request computes its
/// own answer (what `--cache-mb 0` is for: measuring the queries).
actor ResultCache {
    struct Key: Hashable, Sendable {
        /// The snapshot's serial (see Snapshot.serial), not its generation.
        var serial: UInt64
        var request: QueryRequest
    }

    private struct Entry {
        var answer: RenderedAnswer
        var lastUse: UInt64
    }

    let maxBytes: Int
    private var entries: [Key: Entry] = [:]
    private var running: [Key: Task<RenderedAnswer, any Error>] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0
    private(set) var hits = 0
    private(set) var misses = 0

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// The cached answer for `key`, or `compute`'s (shared with any request
    /// for the same key already computing it). Errors are not cached.
    func answer(_ key: Key, compute: @escaping @Sendable () async throws -> RenderedAnswer) async throws -> RenderedAnswer {
        guard maxBytes > 0 else { return try await compute() }
        clock += 1
        if let e = entries[key] {
            entries[key]!.lastUse = clock
            hits += 1
            return e.answer
        }
        misses += 1
        if let task = running[key] { return try await task.value }
        let task = Task { try await compute() }
        running[key] = task
        defer { running[key] = nil }
        let answer = try await task.value
        store(key, answer)
        return answer
    }

    private func store(_ key: Key, _ answer: RenderedAnswer) {
        guard answer.body.count <= maxBytes, entries[key] == nil else { return }
        entries[key] = Entry(answer: answer, lastUse: clock)
        bytes += answer.body.count
        while bytes > maxBytes, let victim = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            bytes -= victim.value.answer.body.count
            entries[victim.key] = nil
        }
    }

    /// Drops every answer of another snapshot.
    func keepOnly(serial: UInt64) {
        for (key, entry) in entries where key.serial != serial {
            bytes -= entry.answer.body.count
            entries[key] = nil
        }
    }

    var count: Int { entries.count }
}
