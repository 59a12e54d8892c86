import StaveFormat

/// Anything parts can be written into: a store being built or a transaction
/// on an existing store.
public protocol PartSink: AnyObject {
    /// Writes one part of `groupCount` row groups built by `makeGroup`.
    func addPart(groupCount: Int, makeGroup: @escaping @Sendable (Int) -> RowGroupColumns) throws
    /// Where a writer may put scratch files (spills of a large input)
    /// named `spill-N.tmp-PID`: removed when the writer ends, and by the next
    /// writer if this one died (StoreFiles.collectGarbage).
    var scratchDirectory: String { get }
}

extension StoreBuilder: PartSink {}

/// The files of a store directory and the rules for changing it.
public enum StoreFiles {
    /// Writers of an existing store hold an exclusive flock on it.
    public static let writerLock = "LOCK"
    /// Readers hold a shared flock on it from reading MANIFEST until every
    /// file it names is open; a writer deletes files no longer named only
    /// while it holds it exclusively (see formats/STAVE.md).
    public static let readerLock = "READERS"

    /// Throws unless `path` is a stave store: a directory whose MANIFEST
    /// parses. `--force` replaces nothing else (a folder of other files, a
    /// regular file, a damaged store): `refusedReplace`, exit 73.
    public static func checkReplaceable(_ path: String) throws {
        switch Sys.kind(path) {
        case .directory: break
        case .file: throw StaveError.refusedReplace(path: path, detail: "is a file, not a stave store (--force replaces only a store)")
        default: throw StaveError.refusedReplace(path: path, detail: "is not a stave store (--force replaces only a store)")
        }
        let manifest = path + "/" + FormatConstants.manifestName
        guard Sys.kind(manifest) == .file else {
            throw StaveError.refusedReplace(path: path, detail: "is a directory without a stave MANIFEST (--force replaces only a store)")
        }
        do {
            _ = try Manifest.parse(try Sys.readFile(manifest, limit: Manifest.maxSize), path: path)
        } catch {
            throw StaveError.refusedReplace(path: path, detail: "has a MANIFEST that is not a valid stave manifest (--force replaces only a store)")
        }
    }

    /// True for names a store's manifest can list (parts, customer tables).
    static func isDataFile(_ name: String) -> Bool {
        ManifestPart.isValidName(name) || ManifestPart.isValidCustomersName(name)
    }

    /// Deletes data files (and stale temporaries of dead writers) that
    /// `manifest` does not name, if no reader is opening the store right
    /// now; otherwise leaves them for a later writer. Returns the number of
    /// files deleted. The caller holds the writer lock.
    @discardableResult
    public static func collectGarbage(_ path: String, manifest: Manifest) -> Int {
        let listed = Set(manifest.parts.map(\.name) + (manifest.customers.map { [$0.name] } ?? []))
        let candidates = Sys.listDirectory(path).filter { name in
            if listed.contains(name) { return false }
            if isDataFile(name) { return true }
            // name.tmp-PID left by a writer that died (we hold the writer lock,
            // so no live writer owns one).
            if let r = name.firstRange(of: ".tmp-"),
               isDataFile(String(name[..<r.lowerBound])) || name.hasPrefix("MANIFEST") || name.hasPrefix("spill-") { return true }
            return false
        }
        guard !candidates.isEmpty else { return 0 }
        guard let fd = Sys.tryLockExisting(path + "/" + readerLock, shared: false) else { return 0 }
        defer { Sys.close(fd) }
        for name in candidates { Sys.unlink(path + "/" + name) }
        return candidates.count
    }
}

/// A change to an existing store: holds the writer lock from `init` to
/// `commit`/`abort`; new files are written under fresh numbers, fsynced,
/// and become visible all at once when `commit` replaces MANIFEST.
public final class StoreTransaction: PartSink {
    public let path: String
    public let policy: CompressionPolicy
    public let threads: Int
    /// The manifest when the transaction began.
    public let base: Manifest
    /// The manifest `commit` will write (generation + 1).
    public var manifest: Manifest
    /// The writer lock, when this transaction took it (released at the end);
    /// nil when the caller holds a WriterLock across transactions.
    private var lockFD: Int32?
    private var written: [String] = []
    /// Registrations of the files written, removed on a signal until committed.
    private var cleanupTokens: [Int] = []
    private var finished = false

    /// Begins a transaction; takes the writer lock unless `lock` (held by
    /// the caller for several transactions, as `follow` does) is given.
    public init(path: String, policy: CompressionPolicy = CompressionPolicy(), threads: Int = 2, lock: WriterLock? = nil) throws {
        let p = lock?.path ?? WriterLock.normalize(path)
        if lock == nil {
            guard let fd = try WriterLock.acquire(p) else { throw StaveError.busy(path: p) }
            lockFD = fd
        }
        self.path = p
        self.policy = policy
        self.threads = threads
        do {
            try Sys.touch(p + "/" + StoreFiles.readerLock)
            base = try Manifest.parse(try Sys.readFile(p + "/" + FormatConstants.manifestName, limit: Manifest.maxSize), path: p)
        } catch {
            if let lockFD { Sys.close(lockFD) }
            throw error
        }
        manifest = base
        manifest.generation += 1
    }

    public var bytesWritten: UInt64 = 0

    /// Writes a new file under its final name: first as name.tmp-PID,
    /// fsynced, then renamed (a crash leaves only a temporary, collected by
    /// the next writer). Not visible to readers before `commit`.
    private func write(_ name: String, _ body: (String) throws -> ManifestPart) throws -> ManifestPart {
        let temp = path + "/" + name + ".tmp-\(Sys.pid)"
        Sys.unlink(temp)
        // Removed on SIGINT/SIGTERM until the commit names them: first the
        // temporary, then the file under its final name (not yet listed).
        let tempToken = Temporaries.register(temp, directory: false)
        defer { Temporaries.unregister(tempToken) }
        var entry = try body(temp)
        do {
            try Sys.rename(temp, path + "/" + name)
        } catch {
            Sys.unlink(temp)
            throw error
        }
        cleanupTokens.append(Temporaries.register(path + "/" + name, directory: false))
        written.append(name)
        entry.name = name
        bytesWritten += entry.bytes
        return entry
    }

    public var scratchDirectory: String { path }

    public func addPart(groupCount: Int, makeGroup: @escaping @Sendable (Int) -> RowGroupColumns) throws {
        let name = ManifestPart.name(number: Int(manifest.takeNumber()))
        let entry = try write(name) { temp in
            try PartWriter.write(groupCount: groupCount, to: temp, policy: policy, threads: threads, makeGroup: makeGroup)
        }
        manifest.parts.append(entry)
    }

    public func setCustomers(_ table: CustomerColumns) throws -> ManifestPart {
        let name = ManifestPart.customersName(number: manifest.takeNumber())
        let entry = try write(name) { temp in try CustomerTableWriter.write(table, to: temp, policy: policy) }
        manifest.customers = entry
        return entry
    }

    /// Makes the new manifest durable (temporary file, fsync, rename, fsync
    /// of the directory), then deletes files it no longer names when no
    /// reader is opening the store, and releases the lock.
    public func commit() throws {
        precondition(!finished)
        let out = try OutputFile(path: path + "/" + FormatConstants.manifestName)
        do {
            try out.write(manifest.serialize())
            // From here a signal must not remove the new files: the rename
            // below may name them (if it does not, the next writer collects them).
            for t in cleanupTokens { Temporaries.unregister(t) }
            cleanupTokens = []
            try out.commit(isCommitPoint: true)
        } catch {
            // Keep our new files only if the new manifest landed after all.
            let current = try? Manifest.parse(Sys.readFile(path + "/" + FormatConstants.manifestName, limit: Manifest.maxSize), path: path)
            if current != manifest { abort() } else { finish() }
            throw error
        }
        StoreFiles.collectGarbage(path, manifest: manifest)
        finish()
    }

    private func finish() {
        finished = true
        for t in cleanupTokens { Temporaries.unregister(t) }
        cleanupTokens = []
        if let lockFD { Sys.close(lockFD) }
        lockFD = nil
    }

    /// Removes the files written so far and releases the lock; the store is
    /// as before.
    public func abort() {
        guard !finished else { return }
        for name in written { Sys.unlink(path + "/" + name) }
        finish()
    }

    deinit { abort() }
}

/// The writer lock of a store, held across several transactions.
public final class WriterLock {
    public let path: String
    private let fd: Int32

    static func normalize(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    /// The lock's descriptor, or nil if another process holds it.
    static func acquire(_ p: String) throws -> Int32? {
        guard Sys.kind(p) == .directory, Sys.kind(p + "/" + FormatConstants.manifestName) == .file else {
            throw StaveError.badStore(path: p, detail: "no such store")
        }
        return try Sys.tryLock(p + "/" + StoreFiles.writerLock)
    }

    public init(_ path: String) throws {
        let p = WriterLock.normalize(path)
        guard let fd = try WriterLock.acquire(p) else { throw StaveError.busy(path: p) }
        self.path = p
        self.fd = fd
    }

    deinit { Sys.close(fd) }
}
