#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import StaveIO

public struct FollowOptions: Sendable {
    /// Commit when this many rows are waiting...
    public var batchRows = 100_000
    /// ...or when the oldest uncommitted line is this old.
    public var intervalMS = 1000
    /// How often to look for new bytes when there are none.
    public var pollMS = 20
    public var header: HeaderMode = .auto
    public var skipBadRows = false
    /// With skipBadRows: bad lines are appended here (line, column, reason, row).
    public var rejectsPath: String?
    public var compression = CompressionPolicy()
    public var threads = 2
    /// Stop (after committing) once the file has had no new bytes for this
    /// long; nil: follow until stopped.
    public var idleExitMS: Int?
    /// After each commit, merge runs as tiering says (Compactor.autoPlan),
    /// so that the store keeps a bounded number of runs and parts.
    public var autoCompact = true
    /// Keep rows whose event id is already in the store or earlier in the file.
    public var allowDuplicateIDs = false
    /// Like `tail -F`: when the file is replaced (rotated) or truncated,
    /// commit what was read and carry on with the new content from its
    /// start, instead of stopping. A file that differs from the one
    /// followed before at start-up is also followed from its start.
    public var reopen = false
    public init() {}
}

public struct FollowSummary: Sendable {
    public var commits = 0
    public var rows = 0
    public var rejected = 0
    /// The committed offset at the end.
    public var offset: UInt64 = 0
    /// Compactions done after commits, and the rows they rewrote.
    public var compactions = 0
    public var rowsCompacted = 0
}

/// `stave follow`: tails a CSV file that another process appends to and
/// commits micro-batches to a store. The byte offset reached is committed in
/// the same manifest as the rows, so a stop or a crash resumes exactly there:
/// no row lost, none twice. Holds the store's writer lock while it runs.
public final class Follower {
    public let storePath: String
    public let filePath: String
    public let options: FollowOptions
    /// Called after each commit (rows committed, new offset).
    public var onCommit: ((Int, UInt64) -> Void)?
    /// Called after a compaction that followed a commit.
    public var onCompact: ((Compactor.Summary) -> Void)?
    /// Called when --reopen moves on to a new or truncated file (what
    /// happened, in a sentence).
    public var onReopen: ((String) -> Void)?

    public init(store: String, file: String, options: FollowOptions) {
        storePath = store
        filePath = file
        self.options = options
    }

    /// Follows the file until `stop` is set or --idle-exit says so, then
    /// commits what was parsed. A replaced or truncated file (without
    /// --reopen) is committed up to what was parsed and then an error.
    public func run(stop: StopFlag) throws -> FollowSummary {
        let session = try FollowSession(self)
        defer { Sys.close(session.fd) }
        while true {
            if stop.isSet { try session.commit(); return session.summary }
            let chunk = try Sys.pread(session.fd, count: FollowSession.block, offset: Int(session.readOffset), path: filePath)
            if !chunk.isEmpty {
                try session.take(chunk, stop: stop)
            } else {
                // Nothing new: has the file been replaced or truncated?
                if try session.followReplacedOrTruncated() { continue }
                if let idle = options.idleExitMS, (Sys.monotonicSeconds() - session.lastData) * 1000 >= Double(idle) {
                    try session.commit()
                    return session.summary
                }
                Sys.sleep(milliseconds: options.pollMS)
            }
            if session.due { try session.commit() }
        }
    }
}

/// One run of `Follower.run`: the file, the offsets reached, the parser
/// and the rows and rejects waiting for their commit. Offsets: the bytes up
/// to `state.offset` are committed, up to `consumedOffset` parsed (their
/// rows wait in `parse.buffer`), up to `readOffset` read (`pending` holds
/// the unparsed rest: a partial last line).
private final class FollowSession {
    static let block = 1 << 20

    let follower: Follower
    var options: FollowOptions { follower.options }
    var filePath: String { follower.filePath }
    let lock: WriterLock
    var fd: Int32
    /// The followed path as the manifest names it (real path).
    let key: String
    /// What the manifest will say of the file at the next commit.
    var state: FollowState
    /// Checksum of the bytes parsed so far (the committed prefix, once committed).
    var prefix = XXH64.Stream()
    var parse: ParseState
    let rejects: RejectsFile?
    var summary: FollowSummary
    var pending: [UInt8] = []
    var readOffset: UInt64
    var consumedOffset: UInt64
    var firstUncommitted: Double?
    var lastData = Sys.monotonicSeconds()
    var pendingRejects: [BadRow] = []

    /// Opens the file and resumes where the manifest says, if the file is
    /// provably the one followed before (same device and inode, at least as
    /// long, the same bytes up to the offset); otherwise stops, or with
    /// --reopen follows it from its start.
    init(_ follower: Follower) throws {
        self.follower = follower
        let options = follower.options, filePath = follower.filePath
        let lock = try WriterLock(follower.storePath)
        self.lock = lock
        fd = try Sys.openInput(filePath)
        do {
            let fd = fd
            try Follower.refuseCompressed(fd, path: filePath)
            let key = try Sys.realPath(filePath)
            self.key = key
            guard !key.utf8.contains(10), key.utf8.count <= Manifest.maxFollowPath else {
                throw StaveError.usage("\(filePath): a followed path must be at most \(Manifest.maxFollowPath) bytes without line breaks")
            }
            let id = try Sys.identity(fd: fd, path: filePath)
            let manifest = try Manifest.parse(try Sys.readFile(lock.path + "/" + FormatConstants.manifestName, limit: Manifest.maxSize), path: lock.path)
            let fresh = FollowState(path: key, offset: 0, device: id.device, inode: id.inode, prefix: XXH64.Stream().digest())
            var state = fresh
            var saved = manifest.follows.first(where: { $0.path == key })
            func notTheSame(_ detail: String) throws {
                guard options.reopen else { throw StaveError.badStore(path: filePath, detail: detail + "; stopping rather than guessing (--reopen follows it from its start)") }
                follower.onReopen?("\(filePath) \(detail): following it from its start (--reopen)")
                saved = nil
                state = fresh
            }
            if let s = saved {
                if s.device != id.device || s.inode != id.inode {
                    try notTheSame("is not the file followed before (it was replaced: device/inode differ)")
                } else if UInt64(id.size) < s.offset {
                    try notTheSame("is shorter (\(id.size) bytes) than the \(s.offset) bytes already committed: truncated")
                } else {
                    state = s
                }
            }
            // The committed prefix, read once: its checksum proves the file
            // was only appended to, and its line count numbers later lines.
            var (prefix, line) = try FollowSession.readPrefix(fd, upTo: state.offset, path: filePath)
            if let s = saved, prefix.count != s.offset || prefix.digest() != s.prefix {
                try notTheSame("was rewritten before offset \(s.offset) (its bytes differ from those committed)")
                prefix = XXH64.Stream()
                line = 1
            }
            self.state = state
            self.prefix = prefix
            var convert = ConvertOptions()
            convert.header = state.offset > 0 ? .absent : options.header
            convert.skipBadRows = options.skipBadRows
            convert.bufferRows = Int.max / 2   // commits decide when parts are written
            convert.threads = options.threads
            rejects = try options.rejectsPath.map { try RejectsFile(path: $0, mode: .append) }
            parse = ParseState(options: convert, file: filePath, rejects: nil)
            parse.line = line
            parse.headerDecided = state.offset > 0
            // Event ids already in the store (the rows of earlier runs among
            // them) or earlier in this run are refused; the snapshot stays
            // open for the whole run (our own commits are remembered by the check).
            if !options.allowDuplicateIDs {
                parse.duplicates = DuplicateCheck(file: filePath, store: StoreEventIds(store: try Store.open(lock.path)))
            }
            summary = FollowSummary(offset: state.offset)
            readOffset = state.offset
            consumedOffset = state.offset
        } catch {
            Sys.close(fd)
            throw error
        }
    }

    /// The checksum and the line count (plus one: the next line's number)
    /// of the file's first `end` bytes.
    static func readPrefix(_ fd: Int32, upTo end: UInt64, path: String) throws -> (XXH64.Stream, Int) {
        var prefix = XXH64.Stream()
        var line = 1
        var at = 0
        while at < Int(end) {
            let chunk = try Sys.pread(fd, count: min(1 << 22, Int(end) - at), offset: at, path: path)
            if chunk.isEmpty { break }
            prefix.update(chunk)
            line += chunk.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            at += chunk.count
        }
        return (prefix, line)
    }

    /// A commit is due: a full batch, or lines waiting for --interval.
    var due: Bool {
        let old = firstUncommitted.map { (Sys.monotonicSeconds() - $0) * 1000 >= Double(options.intervalMS) } ?? false
        return parse.buffer.count >= options.batchRows || old
    }

    /// New bytes read at `readOffset`: parsed (complete lines only).
    func take(_ chunk: [UInt8], stop: StopFlag) throws {
        lastData = Sys.monotonicSeconds()
        readOffset += UInt64(chunk.count)
        pending += chunk
        try parseAll(stop: stop)
        if pending.count > Converter.maxLineLength {
            throw StaveError.csv(file: filePath, line: parse.line, column: 1,
                                 message: "line longer than \(Converter.maxLineLength) bytes", field: "")
        }
    }

    /// Commits the parsed rows, their rejects and the offset reached in one
    /// transaction (nothing when nothing was parsed since the last), then
    /// compacts as tiering says.
    func commit() throws {
        guard consumedOffset > state.offset else { return }
        let t = try StoreTransaction(path: lock.path, policy: options.compression, threads: options.threads, lock: lock)
        // Duplicate event ids: an error, or (skipBadRows) rejects
        // committed with the batch like any bad line.
        parse.collected = []
        do { try parse.checkDuplicates() } catch { parse.collected = nil; t.abort(); throw error }
        pendingRejects += parse.collected ?? []
        parse.collected = nil
        pendingRejects.sort { $0.line < $1.line }
        if parse.buffer.count > 0 { try PartLayout.writePart(parse.buffer, to: t) }
        state.offset = consumedOffset
        state.prefix = prefix.digest()
        if let k = t.manifest.follows.firstIndex(where: { $0.path == key }) {
            t.manifest.follows[k] = state
        } else {
            t.manifest.follows.append(state)
        }
        // Rejected lines first (durable before the offset passes them).
        if let rejects, !pendingRejects.isEmpty {
            for b in pendingRejects { try rejects.add(b) }
            try rejects.commit()
        }
        try t.commit()
        summary.commits += 1
        summary.rows += parse.buffer.count
        summary.rejected += pendingRejects.count
        summary.offset = state.offset
        follower.onCommit?(parse.buffer.count, state.offset)
        parse.buffer.removeAll()
        pendingRejects.removeAll()
        firstUncommitted = nil
        // A separate transaction under the same lock: the rows and the
        // offset are durable already, whatever happens to it.
        if options.autoCompact {
            let c = try Compactor.compact(store: lock.path, mode: .auto, policy: options.compression, threads: options.threads, lock: lock)
            if c.merged > 0 {
                summary.compactions += 1
                summary.rowsCompacted += c.rowsMoved
                follower.onCompact?(c)
            }
        }
    }

    /// Parses the complete lines of `pending`, at most what the batch
    /// still wants at a time, so that a commit holds at most
    /// --batch-rows rows. With no `stop`, parses every line.
    func parseAll(stop: StopFlag?) throws {
        while true {
            let want = max(1, options.batchRows - parse.buffer.count)
            var end = 0, lines = 0
            while lines < want, let nl = pending[end...].firstIndex(of: 10) {
                end = nl + 1
                lines += 1
            }
            guard end > 0 else { break }
            let consumed = try pending.withUnsafeBufferPointer { buf -> Int in
                try parse.consumeCollecting(UnsafeBufferPointer(rebasing: buf[0..<end]), into: &pendingRejects)
            }
            guard consumed > 0 else { break }
            pending.withUnsafeBytes { prefix.update(UnsafeRawBufferPointer(rebasing: $0[0..<consumed])) }
            pending.removeFirst(consumed)
            consumedOffset += UInt64(consumed)
            if firstUncommitted == nil { firstUncommitted = Sys.monotonicSeconds() }
            if parse.buffer.count >= options.batchRows { try commit() } else { break }
            if let stop, stop.isSet { break }
        }
    }

    /// Looks at the path when no new bytes came: a rotated (replaced) or
    /// truncated file stops the run (after a commit), or with --reopen is
    /// committed and followed anew. True when it moved on to new content.
    func followReplacedOrTruncated() throws -> Bool {
        guard let now = Sys.identity(path: filePath) else { return false }
        if now.device != state.device || now.inode != state.inode {
            guard options.reopen else {
                try commit()
                throw StaveError.badStore(path: filePath, detail: "was replaced by another file; committed up to offset \(state.offset) of the old one and stopped (--reopen carries on with the new file)")
            }
            // Rotated: the old file may still have received lines since the
            // last read; read it to its end (its last line counts even
            // without a line break), commit, then follow the new file from
            // its start.
            while true {
                let rest = try Sys.pread(fd, count: Self.block, offset: Int(readOffset), path: filePath)
                if rest.isEmpty { break }
                readOffset += UInt64(rest.count)
                pending += rest
            }
            if !pending.isEmpty && pending.last != 10 { pending.append(10) }
            // Every line, even on a stop: the old file is gone from the path.
            try parseAll(stop: nil)
            try commit()
            let old = state.offset
            let newFD = try Sys.openInput(filePath)
            Sys.close(fd)
            fd = newFD
            try Follower.refuseCompressed(fd, path: filePath)
            let id = try Sys.identity(fd: fd, path: filePath)
            restart(FollowState(path: key, offset: 0, device: id.device, inode: id.inode, prefix: XXH64.Stream().digest()))
            follower.onReopen?("\(filePath) was replaced (rotated): committed the old file to its end (offset \(old)); following the new file from its start")
            return true
        }
        guard UInt64(now.size) < readOffset else { return false }
        guard options.reopen else {
            try commit()
            throw StaveError.badStore(path: filePath, detail: "was truncated to \(now.size) bytes; committed up to offset \(state.offset) and stopped (--reopen carries on from its new start)")
        }
        // Truncated in place (copytruncate): what was read is committed; an
        // unfinished last line is lost with the bytes the truncation
        // removed. (Noticed when the file is shorter than what was read:
        // one refilled past that point first is caught by the prefix check
        // at the next start.)
        let dropped = pending.count
        try commit()
        restart(FollowState(path: key, offset: 0, device: state.device, inode: state.inode, prefix: XXH64.Stream().digest()))
        follower.onReopen?("\(filePath) was truncated to \(now.size) bytes: committed up to offset \(summary.offset)"
                           + (dropped > 0 ? ", dropped an unfinished last line of \(dropped) bytes" : "") + "; following it from its start")
        return true
    }

    /// Follows new content from its first byte (after --reopen saw a
    /// rotation or a truncation and committed what came before): line
    /// numbers restart, and a header is looked for again.
    func restart(_ next: FollowState) {
        state = next
        prefix = XXH64.Stream()
        pending.removeAll()
        readOffset = 0
        consumedOffset = 0
        parse.line = 1
        parse.headerDecided = false
        parse.options.header = options.header
        lastData = Sys.monotonicSeconds()
    }
}

extension Follower {
    /// A gzip or zstd file cannot be followed (its bytes are not lines
    /// until decompressed, and it is not appended to line by line).
    static func refuseCompressed(_ fd: Int32, path: String) throws {
        let head = try Sys.pread(fd, count: 4, offset: 0, path: path)
        if let kind = InputReader.compression(ofPrefix: head) {
            throw StaveError.unreadableInput(file: path, detail: "is \(kind.rawValue)-compressed: follow reads a plain CSV file as it grows (for a compressed file: stave append STORE \(path))")
        }
    }
}
