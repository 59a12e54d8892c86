#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every failure stave reports. The CLI maps each case to one line on stderr
/// and an exit code (see `exitCode`); tests assert the case, not the text.
public enum StaveError: Error, Equatable, Sendable {
    // MARK: Store (exit 66)
    /// The file is shorter than its structures say.
    case truncated(file: String, detail: String)
    /// The first or last 8 bytes are not the expected magic.
    case badMagic(file: String)
    /// A version this reader does not know.
    case unsupportedVersion(file: String, version: UInt32)
    /// Stored bytes do not match their XXH64 checksum. `what` names the
    /// structure: "footer", "manifest", "column track_id row group 3".
    case checksumMismatch(file: String, what: String)
    /// An offset or length from disk points outside the region it must lie in.
    case outOfBounds(file: String, what: String)
    /// An encoding or compression ID this reader does not know.
    case unknownEncoding(file: String, what: String, id: UInt8)
    /// Any other broken structural rule of the format.
    case corrupt(file: String, what: String)
    /// A store directory, or its manifest, is missing or malformed.
    case badStore(path: String, detail: String)

    // MARK: Input data (exit 65)
    /// A malformed CSV row. `line` and `column` are 1-based; `field` is the
    /// offending field text (possibly shortened).
    case csv(file: String, line: Int, column: Int, message: String, field: String)
    /// `--max-errors` was reached.
    /// `--max-errors` was reached; `first` holds the first few errors as
    /// FILE:LINE:COLUMN: reason lines.
    case tooManyBadRows(file: String, count: Int, first: [String])
    /// An input file stave cannot read as a whole (a damaged Parquet file,
    /// or one using a feature stave does not support, named in `detail`).
    case unreadableInput(file: String, detail: String)

    // MARK: Lookups (exit 67)
    /// A customer (or other named thing) the store does not know.
    case notFound(String)

    // MARK: Environment (exit 64, 66, 73, 74, 75)
    case usage(String)
    /// An input file (events, cust.csv) that does not exist (exit 66, EX_NOINPUT).
    case missingInput(path: String)
    case outputExists(path: String)
    /// An output path that must not be replaced (exit 73): `--force` pointed
    /// at something that is not a stave store, or a file output at a
    /// directory. Nothing was changed.
    case refusedReplace(path: String, detail: String)
    case io(path: String, operation: String, errno: Int32)
    /// Another process holds the store's writer lock (exit 75, EX_TEMPFAIL:
    /// trying again later can succeed).
    case busy(path: String)
    /// A service stave needs is not available, e.g. `stave serve`'s port is
    /// taken (exit 69, EX_UNAVAILABLE).
    case unavailable(String)

    /// sysexits(3) codes that scripts can rely on.
    public var exitCode: Int32 {
        switch self {
        case .truncated, .badMagic, .unsupportedVersion, .checksumMismatch, .outOfBounds,
             .unknownEncoding, .corrupt, .badStore:
            return 66
        case .csv, .tooManyBadRows, .unreadableInput:
            return 65
        case .missingInput:
            return 66
        case .notFound:
            return 67
        case .usage:
            return 64
        case .outputExists, .refusedReplace:
            return 73
        case .io:
            return 74
        case .busy:
            return 75
        case .unavailable:
            return 69
        }
    }
}

extension StaveError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .truncated(file, detail): return "\(file): truncated store file: \(detail)"
        case let .badMagic(file): return "\(file): not a stave part file (bad magic)"
        case let .unsupportedVersion(file, v): return "\(file): unsupported format version \(v) (this stave reads version \(FormatConstants.partVersion))"
        case let .checksumMismatch(file, what): return "\(file): checksum mismatch in \(what)"
        case let .outOfBounds(file, what): return "\(file): offset out of bounds: \(what)"
        case let .unknownEncoding(file, what, id): return "\(file): unknown encoding id \(id) in \(what)"
        case let .corrupt(file, what): return "\(file): corrupt store: \(what)"
        case let .badStore(path, detail): return "\(path): \(detail)"
        case let .csv(file, line, column, message, field): return "\(file):\(line):\(column): \(message) (\(field))"
        case let .tooManyBadRows(file, count, first):
            var text = "\(file): stopped after \(count) bad rows (--max-errors)"
            if !first.isEmpty { text += "; the first \(first.count):\n  " + first.joined(separator: "\n  ") }
            return text
        case let .unreadableInput(file, detail): return "\(file): \(detail)"
        case let .notFound(message): return message
        case let .usage(message): return message
        case let .missingInput(path): return "\(path): no such file"
        case let .outputExists(path): return "\(path): already exists (use --force to replace it)"
        case let .refusedReplace(path, detail): return "\(path): \(detail); nothing was changed"
        case let .unavailable(message): return message
        case let .busy(path): return "\(path): another stave process is writing to this store (it holds LOCK); try again when it is done"
        case let .io(path, op, errno): return "\(path): \(op) failed: \(ErrnoText.describe(errno))"
        }
    }
}

/// The C library's text for an errno value.
public enum ErrnoText {
    public static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
