#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a mutex, reached only through `withLock`: for the little
/// state that threads share (a query context's customer table, the
/// server's current snapshot).
///
/// A pthread mutex, not the standard library's `Mutex`: on Linux that one
/// is a raw futex, which ThreadSanitizer cannot see, so `scripts/sanitize`
/// reported every contended use as a data race (tried; the zstd context
/// pool was the first). Flags and counters use `Atomic`, which it sees.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is read and written only while `mutex`
    // is held, inside withLock.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, under the lock. `body` must not call back
    /// into the same Locked (the mutex is not recursive).
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// A copy of the value.
    public var current: Value { withLock { $0 } }
}
