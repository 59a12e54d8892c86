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
    /// How many workers `map(_:threads:order:_:)` runs for `count` jobs.
    public static func workers(_ threads: Int, _ count: Int) -> Int { max(1, min(threads, count)) }

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

    /// `body(w)` for each slot w in 0..<count, all at once (one thread
    /// each, up to the machine's cores): for work split into `count` equal
    /// slices up front. The results in slot order. `body` may write
    /// shared memory only at what slot w owns.
    public static func slots<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let out = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        out.initialize(repeating: nil)
        defer { out.deinitialize(); out.deallocate() }
        withoutActuallyEscaping(body) { body in
            // Each iteration writes only out[w].
            let shared = SendableBox((out, body))
            DispatchQueue.concurrentPerform(iterations: count) { w in
                let (out, body) = shared.value
                out[w] = body(w)
            }
        }
        return out.map { $0! }
    }

    /// `body(w, i)` for i in 0..<count on up to `threads` workers, the
    /// jobs taken in `order` (a permutation of 0..<count; e.g. largest
    /// first, so that the threads finish together) by whichever worker is
    /// free; w (in 0..<min(threads, count)) names the worker, so that each
    /// can own scratch state kept by the caller at index w. The results in
    /// index order; every job runs; the first error by index is rethrown.
    public static func map<T>(_ count: Int, threads: Int, order: [Int], _ body: (Int, Int) throws -> T) throws -> [T] {
        precondition(order.count == count, "order is a permutation of the jobs")
        guard count > 0 else { return [] }
        let slots = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        let next = JobCounter()
        // The box holds only the closure and raw pointers: with an Array
        // beside the closure in the box, the debug build (Swift 6.3.1)
        // over-released on the box's destruction and crashed.
        order.withUnsafeBufferPointer { order in
            withoutActuallyEscaping(body) { body in
                // Each job writes only slots[order[k]] for the k it took.
                let shared = SendableBox((slots, body, order))
                DispatchQueue.concurrentPerform(iterations: workers(threads, count)) { w in
                    let (slots, body, order) = shared.value
                    while true {
                        let k = next.take()
                        guard k < count else { break }
                        let i = order[k]
                        slots[i] = Result { try body(w, i) }
                    }
                }
            }
        }
        return try slots.map { try $0!.get() }
    }
}
