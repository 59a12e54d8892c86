import StaveFormat
import StaveIO

/// `stave compact`: merges small parts into large, well-clustered ones.
public enum Compactor {
    public struct Summary: Sendable {
        public var partsBefore: Int
        public var partsAfter: Int
        /// Parts merged (0: nothing to do).
        public var merged: Int
        public var rowsMoved: Int
        public var seconds: Double
    }

    /// Merges every part with fewer than `targetRows / 2` rows (when there
    /// are at least two) into new parts of at most `targetRows` rows, sorted
    /// like a fresh conversion. The new parts take the place of the first
    /// merged one in the manifest; the old ones are deleted once the new
    /// manifest is durable and no reader is opening the store (see
    /// StoreFiles.collectGarbage). Query results are unchanged: the same
    /// rows, in parts.
    public static func compact(store path: String, targetRows: Int, policy: CompressionPolicy = CompressionPolicy(),
                               threads: Int = 2) throws -> Summary {
        let t0 = Sys.monotonicSeconds()
        let t = try StoreTransaction(path: path, policy: policy, threads: threads)
        let store = try Store.open(path)
        // We hold the writer lock, so the store cannot have changed since
        // the transaction read its manifest.
        guard store.manifest == t.base else {
            throw StaveError.badStore(path: path, detail: "MANIFEST changed under the writer lock")
        }
        let small = store.parts.indices.filter { store.parts[$0].footer.rowCount < targetRows / 2 }
        var summary = Summary(partsBefore: store.parts.count, partsAfter: store.parts.count, merged: 0, rowsMoved: 0, seconds: 0)
        guard small.count >= 2 else {
            t.abort()
            summary.seconds = Sys.monotonicSeconds() - t0
            return summary
        }
        var buffer = EventBuffer()
        for p in small {
            let part = store.parts[p]
            for g in part.footer.rowGroups.indices {
                buffer.append(columns: try part.decodeRowGroup(g))
                if buffer.count >= targetRows {
                    try PartLayout.writePart(buffer, to: t)
                    buffer.removeAll()
                }
            }
            summary.rowsMoved += part.footer.rowCount
        }
        try PartLayout.writePart(buffer, to: t)
        // t.manifest.parts = the old parts, then the new ones: put the new
        // ones where the first merged part was, and drop the merged ones.
        let old = t.base.parts
        let added = Array(t.manifest.parts[old.count...])
        let mergedNames = Set(small.map { old[$0].name })
        var parts: [ManifestPart] = []
        for (k, entry) in old.enumerated() {
            if k == small[0] { parts += added }
            if !mergedNames.contains(entry.name) { parts.append(entry) }
        }
        t.manifest.parts = parts
        guard t.manifest.rowCount == t.base.rowCount else {
            throw StaveError.corrupt(file: path, what: "compaction would change the row count (\(t.base.rowCount) -> \(t.manifest.rowCount))")
        }
        try t.commit()
        summary.partsAfter = parts.count
        summary.merged = small.count
        summary.seconds = Sys.monotonicSeconds() - t0
        return summary
    }
}
