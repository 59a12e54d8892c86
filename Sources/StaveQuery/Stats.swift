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
        (0..<Profile.columnNames.count).map { k in stats(name: Profile.columnNames[k], p.column(k)) }
    }

    /// Profile values are non-negative integers, so every sum is exact in
    /// 128-bit integers: variance = (n Σx² - (Σx)²) / (n (n - 1)) then takes
    /// one rounding, and equals the exact value correctly rounded whenever
    /// numerator and denominator are below 2^53 (always, at realistic sizes).
    public static func stats(name: String, _ xs: [Int64]) -> ColumnStats {
        let n = xs.count
        var sum: Int128 = 0, squares: Int128 = 0
        var lo = Int64.max, hi = Int64.min, nnz = 0
        for x in xs {
            let v = Int128(x)
            sum += v
            squares += v * v
            lo = Swift.min(lo, x); hi = Swift.max(hi, x)
            nnz += x != 0 ? 1 : 0
        }
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
        var absSum: Int128 = 0
        for x in xs { absSum += Int128(x.magnitude) }
        return ColumnStats(column: name, count: n, mean: mean, variance: variance, stddev: variance.squareRoot(),
                           min: lo, max: hi, numNonzeros: nnz, normL1: Double(absSum), normL2: Double(squares).squareRoot())
    }
}

/// The query entry points the CLI (and later the server) call.
public enum Queries {
    /// The profile. `phase`, if given, is called after the decode and after
    /// the kernel with a description of what was done (for --verbose).
    /// Stores of at least `fusedFrom` rows (and no customer filter) take
    /// the fused path (FusedProfile) when it applies; tests and the fuzzer
    /// pass 0 to run it on small stores, Int.max to keep it out.
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

    public static func stats(_ store: Store, filter: QueryFilter, threads: Int) throws -> [ColumnStats] {
        StatsKernel.compute(try profile(store, filter: filter, threads: threads))
    }
}
