import StaveFormat
import StaveIO
#if canImport(Glibc)
import Glibc
#endif

/// Spark MLlib `colStats` of one profile column.
public struct ColumnStats: Sendable, Equatable {
    public var column: String
    public var count: Int
    /// nil when count is 0.
    public var mean: Double?
    /// Sample variance (n - 1); 0 for one value (as Spark); nil when count is 0.
    public var variance: Double?
    public var stddev: Double?
    public var min: Int64?
    public var max: Int64?
    public var numNonzeros: Int
    public var normL1: Double
    public var normL2: Double
}

public enum StatsKernel {
    /// Statistics of each of the seven profile columns.
    public static func compute(_ p: Profile) -> [ColumnStats] {
        var acc = StatsAccumulator()
        acc.add(p)
        return acc.stats()
    }

    /// The statistics of one column of values.
    public static func stats(name: String, _ xs: [Int64]) -> ColumnStats {
        var c = StatsAccumulator.Column()
        c.add(xs)
        return c.stats(name: name)
    }
}

/// colStats accumulated over a profile given a slice at a time (the same
/// answer as over the whole profile at once: every sum is exact).
///
/// Profile values are non-negative integers, so every sum is exact in
/// 128-bit integers: variance = (n Σx² - (Σx)²) / (n (n - 1)) then takes
/// one rounding, and equals the exact value correctly rounded whenever
/// numerator and denominator are below 2^53 (always, at realistic sizes).
public struct StatsAccumulator: Sendable {
    public struct Column: Sendable {
        var n = 0
        var sum: Int128 = 0, squares: Int128 = 0, absSum: Int128 = 0
        var lo = Int64.max, hi = Int64.min
        var nnz = 0

        mutating func add(_ xs: [Int64]) {
            for x in xs { add(x) }
        }

        @inline(__always)
        mutating func add(_ x: Int64) {
            n += 1
            let v = Int128(x)
            sum += v
            squares += v * v
            absSum += Int128(x.magnitude)
            lo = Swift.min(lo, x); hi = Swift.max(hi, x)
            nnz += x != 0 ? 1 : 0
        }

        /// Adds the values `other` accumulated (every sum is exact, so the
        /// order does not matter).
        mutating func merge(_ other: Column) {
            n += other.n
            sum += other.sum; squares += other.squares; absSum += other.absSum
            lo = Swift.min(lo, other.lo); hi = Swift.max(hi, other.hi)
            nnz += other.nnz
        }

        func stats(name: String) -> ColumnStats {
            guard n > 0 else {
                return ColumnStats(column: name, count: 0, mean: nil, variance: nil, stddev: nil, min: nil, max: nil,
                                   numNonzeros: 0, normL1: 0, normL2: 0)
            }
            let mean = Double(sum) / Double(n)
            var variance = 0.0
            if n > 1 {
                let numerator = Int128(n) * squares - sum * sum
                variance = Double(numerator) / (Double(n) * Double(n - 1))
            }
            return ColumnStats(column: name, count: n, mean: mean, variance: variance, stddev: variance.squareRoot(),
                               min: lo, max: hi, numNonzeros: nnz, normL1: Double(absSum), normL2: Double(squares).squareRoot())
        }
    }

    var columns = [Column](repeating: Column(), count: Profile.columnNames.count)

    public init() {}

    /// From one accumulated column per profile column, in Profile.columnNames order.
    init(columns: [Column]) {
        precondition(columns.count == Profile.columnNames.count)
        self.columns = columns
    }

    public mutating func add(_ p: Profile) {
        for k in columns.indices { columns[k].add(p.column(k)) }
    }

    /// Adds what `other` accumulated (another worker's customers).
    public mutating func merge(_ other: StatsAccumulator) {
        for k in columns.indices { columns[k].merge(other.columns[k]) }
    }

    public func stats() -> [ColumnStats] {
        columns.indices.map { columns[$0].stats(name: Profile.columnNames[$0]) }
    }
}

/// The query entry points the CLI (and later the server) call.
public enum Queries {
    /// The profile. `phase`, if given, is called after the decode and after
    /// the kernel with a description of what was done (for --verbose).
    /// Stores of at least `fusedFrom` rows (with a customer filter: rows
    /// of the groups it reads) take the fused path (FusedProfile) when it
    /// applies; tests and the fuzzer pass 0 to run it on small stores,
    /// Int.max to keep it out.
    public static func profile(_ store: Store, filter: QueryFilter, threads: Int, fusedFrom: Int = FusedProfile.minRows,
                               phase: ((String) -> Void)? = nil) throws -> Profile {
        if let p = try FusedProfile.compute(store: store, filter: filter, threads: threads, minRows: fusedFrom) {
            phase?("decode and profile kernel, fused (\(p.count) customers)")
            return p
        }
        let groups = try RowGroupData.loadAll(store: store, filter: filter, threads: threads, columns: LoadColumns(rowCustomers: true))
        if let phase {
            let total = store.parts.reduce(0) { $0 + $1.footer.rowGroups.count }
            phase("decode (\(groups.count) of \(total) row groups, \(groups.reduce(0) { $0 + $1.rowCount }) rows)")
        }
        let p = ProfileKernel.compute(groups: groups, threads: threads)
        phase?("profile kernel (\(p.count) customers)")
        return p
    }

    /// The profile a customer range at a time, in customer order: `body`
    /// gets each slice (FusedProfile.slices), so that memory holds the
    /// profiles of one slice, not of every customer. A store the walk does
    /// not apply to comes as one slice from the general path.
    public static func forEachProfileSlice(_ store: Store, filter: QueryFilter, threads: Int, fusedFrom: Int = FusedProfile.minRows,
                                           sliceRows: Int = FusedProfile.sliceRows, phase: ((String) -> Void)? = nil,
                                           _ body: (Profile) throws -> Void) throws {
        var customers = 0
        // Each worker's customers as a slice of their own (they follow one
        // another): nothing is copied to join them.
        let slices = try forEachWalkSlice(store, filter: filter, threads: threads, fusedFrom: fusedFrom, sliceRows: sliceRows, phase: phase,
                                          make: { ProfileAppender(reserve: $0) },
                                          each: { (w: ProfileAppender) in
                                              guard w.profile.count > 0 else { return }
                                              customers += w.profile.count
                                              try body(w.profile)
                                          }, fallback: body)
        if let slices {
            phase?("decode and profile kernel, fused, \(slices) slice\(slices == 1 ? "" : "s") (\(customers) customers)")
        }
    }

    /// The walk a customer slice at a time (FusedProfile.slices), each
    /// worker's sink made by `make` and handed to `each`, in customer order.
    /// Where the walk does not apply, `fallback` gets the general path's
    /// profile and nil is returned; where it gives up part way (a group not
    /// sorted by customer), `fallback` gets the general path's profile of
    /// the customers not yet given. Otherwise returns the number of slices.
    static func forEachWalkSlice<Sink: ProfileSink>(_ store: Store, filter: QueryFilter, threads: Int, fusedFrom: Int, sliceRows: Int,
                                                    phase: ((String) -> Void)?, make: (Int) -> Sink, each: (Sink) throws -> Void,
                                                    fallback: (Profile) throws -> Void) throws -> Int? {
        guard let slices = try FusedProfile.slices(store: store, filter: filter, minRows: fusedFrom, sliceRows: sliceRows) else {
            try fallback(try profile(store, filter: filter, threads: threads, fusedFrom: .max, phase: phase))
            return nil
        }
        for (k, range) in slices.enumerated() {
            guard let sinks = try FusedProfile.runByWorker(store: store, filter: filter, threads: threads, minRows: fusedFrom,
                                                           range: range, make: make) else {
                var rest = try profile(store, filter: filter, threads: threads, fusedFrom: .max, phase: phase)
                if k > 0 { rest = rest.customers(from: UInt32(truncatingIfNeeded: range.lowerBound)) }
                try fallback(rest)
                return nil
            }
            for s in sinks { try each(s) }
        }
        return slices.count
    }

    /// The statistics of the profile columns. On the fused path each
    /// customer's counts go straight into the sums as the walk profiles
    /// them (StatsSink): no profile is held, so no slices are needed either.
    /// `fusedFrom` and `phase` as for `profile`.
    public static func stats(_ store: Store, filter: QueryFilter, threads: Int, fusedFrom: Int = FusedProfile.minRows,
                             phase: ((String) -> Void)? = nil) throws -> [ColumnStats] {
        var acc = StatsAccumulator()
        if let sinks = try FusedProfile.runByWorker(store: store, filter: filter, threads: threads, minRows: fusedFrom,
                                                    make: { _ in StatsSink() }) {
            for s in sinks { acc.merge(s.accumulator) }
            phase?("decode, profile kernel and statistics, fused")
        } else {
            acc.add(try profile(store, filter: filter, threads: threads, fusedFrom: .max, phase: phase))
        }
        return acc.stats()
    }
}
