import Dispatch
import Synchronization

/// Hands out 0, 1, 2, ... to concurrent workers.
public final class JobCounter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    public func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// The one helper for "n independent jobs on a few threads, results in
/// order": each job writes only its own slot, and a shared counter hands
/// the next job to whichever worker is free (so uneven jobs still finish
/// together).
public enum Parallel {
    /// `body(i)` for i in 0..<count on up to `threads` threads; the results
    /// in index order. Every job runs; the first error by index is rethrown.
    public static func map<T>(_ count: Int, threads: Int, _ body: (Int) throws -> T) throws -> [T] {
        guard count > 0 else { return [] }
        let slots = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        let next = JobCounter()
        withoutActuallyEscaping(body) { body in
            // Each job writes only slots[i] for the i it took.
            let shared = SendableBox((slots, body))
            DispatchQueue.concurrentPerform(iterations: max(1, min(threads, count))) { _ in
                let (slots, body) = shared.value
                while true {
                    let i = next.take()
                    guard i < count else { break }
                    slots[i] = Result { try body(i) }
                }
            }
        }
        return try slots.map { try $0!.get() }
    }
}
