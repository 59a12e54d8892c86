#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Failures injected at the calls through which every writer changes the
/// disk (write, fsync, rename, unlink), as SQLite's test suite does, to
/// show that a failure at any of them leaves the store as it was or fully
/// committed, and that the next writer recovers. Debug builds only: in a
/// release build `fault` is a constant nil and the checks compile away.
///
///   STAVE_FAULT=OP:N:ERR   the Nth call of OP (1-based, counted over all
///                          threads) fails with ERR: EIO, ENOSPC or EINTR.
///                          EINTR interrupts the call once; Sys retries it
///                          as it would after a signal.
///   STAVE_FAULT_TRACE=1    every call of every OP is listed on stderr:
///                          "stave: fault point: OP #N PATH".
///
/// An injected failure is announced on stderr ("stave: injected fault:
/// OP #N PATH (ERR)") so that a test knows the Nth call happened.
public enum FaultInjection {
    public enum Op: String, CaseIterable, Sendable { case write, fsync, rename, unlink }

    #if DEBUG
    struct Plan { var op: Op; var n: Int; var errno: Int32; var name: String }

    static let plan: Plan? = {
        guard let v = getenv("STAVE_FAULT") else { return nil }
        let parts = String(cString: v).split(separator: ":").map(String.init)
        let errnos: [String: Int32] = ["EIO": EIO, "ENOSPC": ENOSPC, "EINTR": EINTR]
        guard parts.count == 3, let op = Op(rawValue: parts[0]), let n = Int(parts[1]), n > 0, let e = errnos[parts[2]] else {
            fatalError("STAVE_FAULT must be OP:N:ERR (OP write, fsync, rename or unlink; ERR EIO, ENOSPC or EINTR)")
        }
        return Plan(op: op, n: n, errno: e, name: parts[2])
    }()
    static let trace: Bool = getenv("STAVE_FAULT_TRACE") != nil
    static let counts = Locked([Op: Int]())

    /// The errno to fail this call with, or nil to make it.
    static func fault(_ op: Op, _ path: String) -> Int32? {
        guard plan != nil || trace else { return nil }
        let n = counts.withLock { c -> Int in c[op, default: 0] += 1; return c[op]! }
        if trace { report("stave: fault point: \(op.rawValue) #\(n) \(path)\n") }
        guard let p = plan, p.op == op, p.n == n else { return nil }
        report("stave: injected fault: \(op.rawValue) #\(n) \(path) (\(p.name))\n")
        return p.errno
    }

    static func report(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
    #else
    @inline(__always) static func fault(_ op: Op, _ path: String) -> Int32? { nil }
    #endif
}
