import StaveFormat

/// Creates a new store directory atomically: parts and MANIFEST are written
/// into `<path>.tmp-<pid>`, fsynced, and the directory is renamed into place
/// by `commit`. Until then nothing exists at `path`; `abort` (or deinit)
/// removes the temporary directory.
public final class StoreBuilder {
    public let path: String
    public let tempPath: String
    public let policy: CompressionPolicy
    public let threads: Int
    private let force: Bool
    private var parts: [ManifestPart] = []
    private var customers: ManifestPart?
    private var finished = false

    public init(path: String, force: Bool, policy: CompressionPolicy = CompressionPolicy(), threads: Int = 2) throws {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p
        self.force = force
        self.policy = policy
        self.threads = threads
        tempPath = p + ".tmp-\(Sys.pid)"
        // What writers killed before left here (their PID gone): temporary
        // stores removed, a store --force was replacing brought back.
        Temporaries.cleanStale(p)
        if Sys.kind(p) != .missing {
            guard force else { throw StaveError.outputExists(path: p) }
            // Refused before any work, and checked again at commit.
            try StoreFiles.checkReplaceable(p)
        }
        if Sys.kind(tempPath) != .missing { Sys.removeFlatDirectory(tempPath) }
        // Registered before it exists (see OutputFile).
        let token = Temporaries.register(tempPath, directory: true)
        do { try Sys.mkdir(tempPath) } catch { Temporaries.unregister(token); throw error }
        cleanupToken = token
    }

    /// The temporary folder's registration for removal on a signal.
    private var cleanupToken: Int?

    public var rowCount: Int { parts.reduce(0) { $0 + $1.rows } }
    public var scratchDirectory: String { tempPath }
    public var bytesWritten: UInt64 { parts.reduce(0) { $0 + $1.bytes } }

    /// Writes one part of `groupCount` row groups built by `makeGroup`,
    /// which must return them in their final order.
    public func addPart(groupCount: Int, makeGroup: @escaping @Sendable (Int) -> RowGroupColumns) throws {
        let name = ManifestPart.name(number: parts.count + 1)
        let part = try PartWriter.write(groupCount: groupCount, to: tempPath + "/" + name, policy: policy,
                                        threads: threads, makeGroup: makeGroup)
        parts.append(part)
    }

    /// Writes the customer table (sorted by id, ids unique).
    public func setCustomers(_ table: CustomerColumns) throws {
        precondition(customers == nil)
        let name = ManifestPart.customersName(number: 1)
        customers = try CustomerTableWriter.write(table, to: tempPath + "/" + name, policy: policy)
    }

    public var customerBytes: UInt64 { customers?.bytes ?? 0 }

    public func commit() throws {
        let manifest = Manifest(generation: 1, parts: parts, customers: customers)
        let out = try OutputFile(path: tempPath + "/" + FormatConstants.manifestName)
        try out.write(manifest.serialize())
        try out.commit()
        try Sys.touch(tempPath + "/" + StoreFiles.readerLock)
        try Sys.fsyncDirectory(tempPath)
        if Sys.kind(path) != .missing {
            guard force else { throw StaveError.outputExists(path: path) }
            // Only a store is replaced, and not while another process
            // writes to it (its commits would be lost with it): its writer
            // lock is held from the check to the swap.
            try StoreFiles.checkReplaceable(path)
            guard let lock = try Sys.tryLock(path + "/" + StoreFiles.writerLock) else { throw StaveError.busy(path: path) }
            defer { Sys.close(lock) }
            let old = path + ".old-\(Sys.pid)"
            try Sys.rename(path, old)
            try Sys.rename(tempPath, path)
            if let cleanupToken { Temporaries.unregister(cleanupToken) }
            Sys.removeFlatDirectory(old)
        } else {
            try Sys.rename(tempPath, path)
            if let cleanupToken { Temporaries.unregister(cleanupToken) }
        }
        try Sys.fsyncDirectory(holding: path)
        finished = true
    }

    public func abort() {
        guard !finished else { return }
        finished = true
        Sys.removeFlatDirectory(tempPath)
        if let cleanupToken { Temporaries.unregister(cleanupToken) }
    }

    deinit { abort() }
}
