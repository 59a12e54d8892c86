#if canImport(Glibc)
import Glibc
#endif
import StaveIO

/// A row set aside by --skip-bad-rows: its line (for Parquet input, its
/// row), why, and its bytes as read.
struct BadRow {
    var line: Int
    var error: RowError
    var raw: [UInt8]
}

/// The rejects file of --skip-bad-rows, the one writer of its format: a
/// line per bad row, `LINE<TAB>COLUMN<TAB>REASON<TAB>ROW`, the row's bytes
/// as they were read.
final class RejectsFile {
    enum Mode {
        /// convert, append and the customer table: written under a temporary
        /// name and put in place by `commit` (nothing is left by a failure).
        case replace
        /// follow: appended to, and made durable by `commit` before the
        /// commit of the rows and offset that pass the lines.
        case append
    }

    private let replacing: OutputFile?
    private let appending: AppendFile?

    init(path: String, mode: Mode) throws {
        switch mode {
        case .replace: replacing = try OutputFile(path: path); appending = nil
        case .append: appending = try AppendFile(path: path); replacing = nil
        }
    }

    func add(_ b: BadRow) throws {
        let record = Array("\(b.line)\t\(b.error.column)\t\(b.error.message)\t".utf8) + b.raw + [10]
        if let replacing { try replacing.write(record) } else { try appending?.write(record) }
    }

    /// The file in place (replace) or durable (append).
    func commit() throws {
        if let replacing { try replacing.commit() } else { try appending?.sync() }
    }

    /// After a failure: a replacing file's temporary is removed; what was
    /// appended stays (it belongs to rows committed before).
    func abandon() { replacing?.abandon() }
}

/// A file opened for appending (rejects of a long-running follow).
final class AppendFile {
    let path: String
    let fd: Int32
    init(path: String) throws {
        self.path = path
        fd = try Sys.open(path, flags: O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode: 0o644)
    }
    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try Sys.writeAll(fd, $0, path: path) } }
    func sync() throws { try Sys.fsync(fd, path: path) }
    deinit { Sys.close(fd) }
}
