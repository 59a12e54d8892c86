/// xoshiro256** seeded through splitmix64: a fixed algorithm, so the same
/// seed gives the same data on every machine and Swift version (the standard
/// library's random APIs promise no such thing).
public struct Xoshiro256: Sendable {
    var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in 0..<n (Lemire's multiply-and-reject, unbiased).
    @inline(__always)
    public mutating func below(_ n: UInt64) -> UInt64 {
        precondition(n > 0)
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let t = (0 &- n) % n
            while m.low < t { m = next().multipliedFullWidth(by: n) }
        }
        return m.high
    }

    /// Standard normal (Box-Muller; one of the pair is discarded).
    public mutating func normal() -> Double {
        var u = uniform()
        while u == 0 { u = uniform() }
        let v = uniform()
        return (-2 * _log(u)).squareRoot() * _cos(2 * Double.pi * v)
    }
}

/// Walker/Vose alias table: O(1) draws from a discrete distribution.
///
/// A draw is two random numbers (a slot and a coin) and one look-up, kept
/// apart (`draw`, `resolve`) so that a caller can make many rows' draws
/// first and their look-ups after: with millions of slots each look-up is a
/// cache miss, and a loop that only looks up overlaps many of them.
public struct AliasTable: Sendable {
    /// Slot i gives i when the coin is below `keep`, else `alias`. One
    /// 16-byte entry: a look-up touches one cache line.
    struct Slot {
        var keep: Double
        var alias: Int32
    }
    let slots: [Slot]

    public init(weights: [Double]) {
        let n = weights.count
        precondition(n > 0)
        let total = weights.reduce(0, +)
        var scaled = weights.map { $0 * Double(n) / total }
        var slots = [Slot](repeating: Slot(keep: 1, alias: 0), count: n)
        var small: [Int] = [], large: [Int] = []
        for (i, p) in scaled.enumerated() { if p < 1 { small.append(i) } else { large.append(i) } }
        while let s = small.popLast() {
            guard let l = large.popLast() else { slots[s].keep = 1; continue }
            slots[s] = Slot(keep: scaled[s], alias: Int32(l))
            scaled[l] = scaled[l] + scaled[s] - 1
            if scaled[l] < 1 { small.append(l) } else { large.append(l) }
        }
        for l in large { slots[l].keep = 1 }
        self.slots = slots
    }

    /// The random part of a draw: a slot, then a coin.
    @inline(__always)
    public func draw(_ rng: inout Xoshiro256) -> (slot: Int, coin: Double) {
        let i = Int(rng.below(UInt64(slots.count)))
        return (i, rng.uniform())
    }

    /// The value a draw gives. - Precondition: `slot` came from `draw`.
    @inline(__always)
    public func resolve(slot: Int, coin: Double) -> Int {
        let s = slots[slot]
        return coin < s.keep ? slot : Int(s.alias)
    }

    @inline(__always)
    public func sample(_ rng: inout Xoshiro256) -> Int {
        let d = draw(&rng)
        return resolve(slot: d.slot, coin: d.coin)
    }
}

/// An alias table whose slots also carry a 32-bit tag for each of their
/// two outcomes (the slot's own value and its alias): what a caller looks
/// up by the drawn value comes from the same entry, one cache line or two
/// adjacent ones, instead of a second miss that waits on the first. The
/// draws and their outcomes are exactly `AliasTable`'s.
struct TaggedAliasTable: Sendable {
    /// 24 bytes: `keep` and `alias` as in `AliasTable.Slot`, then the tags
    /// of the two outcomes.
    struct Slot {
        var keep: Double
        var alias: Int32
        var tag: UInt32
        var aliasTag: UInt32
    }
    let slots: [Slot]

    /// `table`'s slots, value v tagged `tag(v)`.
    init(_ table: AliasTable, tag: (Int) -> UInt32) {
        slots = table.slots.enumerated().map { i, s in
            Slot(keep: s.keep, alias: s.alias, tag: tag(i), aliasTag: tag(Int(s.alias)))
        }
    }

    /// The random part of a draw, as `AliasTable.draw`.
    @inline(__always)
    func draw(_ rng: inout Xoshiro256) -> (slot: Int, coin: Double) {
        let i = Int(rng.below(UInt64(slots.count)))
        return (i, rng.uniform())
    }

    /// The value a draw gives and its tag. - Precondition: `slot` came from `draw`.
    @inline(__always)
    func resolve(slot: Int, coin: Double) -> (value: Int, tag: UInt32) {
        let s = slots[slot]
        return coin < s.keep ? (slot, s.tag) : (Int(s.alias), s.aliasTag)
    }
}

/// The standard normal quantile function (inverse CDF), by Peter Acklam's
/// rational approximation (relative error below 1.15e-9).
public enum NormalQuantile {
    static let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    static let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
    static let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    static let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]

    /// - Precondition: 0 < p < 1.
    public static func value(_ p: Double) -> Double {
        precondition(p > 0 && p < 1)
        let low = 0.02425
        if p < low {
            let q = (-2 * _log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - low {
            let q = (-2 * _log(1 - p)).squareRoot()
            return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let q = p - 0.5
        let r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }
}

// Foundation-free log and cos for the normal draws.
#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
@inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
@inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
