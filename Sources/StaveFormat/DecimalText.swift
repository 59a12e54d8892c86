// Decimal text of integers, appended to byte buffers without building
// Strings: the one formatter behind CSV/JSON output, the generator, and the
// five-digit ZIP5 rendering.

public enum DecimalText {
    /// Appends `v` in decimal, left-padded with zeros to `width` digits.
    @inline(__always)
    public static func append(_ v: UInt64, to out: inout [UInt8], width: Int = 1) {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &tmp) { raw in
            var x = v
            var k = 24
            repeat {
                k -= 1
                raw[k] = UInt8(48 + x % 10)
                x /= 10
            } while x > 0
            while 24 - k < min(width, 24) { k -= 1; raw[k] = 48 }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[k..<24]))
        }
    }

    /// The number of decimal digits of `v` (1...20).
    @inline(__always)
    public static func digits(_ v: UInt64) -> Int {
        var n = 1
        var t = v
        while t >= 10_000 { t /= 10_000; n &+= 4 }
        if t >= 100 { n &+= t >= 1000 ? 3 : 2 } else if t >= 10 { n &+= 1 }
        return n
    }

    /// Writes `v` in decimal at `p` and returns the number of bytes written.
    /// Inlinable, so that the output loops of other modules (CSV, JSON) take
    /// the one- and two-digit values of a profile's counts without a call;
    /// longer values go to `writeLong`.
    /// - Precondition: `p` has room for 20 bytes (UInt64.max has 20 digits).
    @inlinable @inline(__always)
    public static func write(_ v: UInt64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if v < 10 {
            p[0] = UInt8(truncatingIfNeeded: 48 &+ v)
            return 1
        }
        if v < 100 {
            let t = v / 10
            p[0] = UInt8(truncatingIfNeeded: 48 &+ t)
            p[1] = UInt8(truncatingIfNeeded: 48 &+ (v &- t &* 10))
            return 2
        }
        return writeLong(v, to: p)
    }

    /// `write` for any value: two digits at a time from the end (divisions
    /// by constants, which compile to multiplications; no table, whose lazy
    /// global costs a check on every call).
    /// - Precondition: `p` has room for 20 bytes.
    public static func writeLong(_ v: UInt64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        let n = digits(v)
        var x = v
        var k = n
        while k >= 2 {
            let q = x / 100
            let r = x &- q &* 100
            x = q
            k &-= 2
            p[k] = UInt8(truncatingIfNeeded: 48 &+ r / 10)
            p[k &+ 1] = UInt8(truncatingIfNeeded: 48 &+ r % 10)
        }
        if k == 1 { p[0] = UInt8(truncatingIfNeeded: 48 &+ x) }
        return n
    }

    /// Writes a signed value in decimal at `p`; returns the bytes written.
    /// - Precondition: `p` has room for 21 bytes.
    @inlinable @inline(__always)
    public static func write(signed v: Int64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if v < 0 {
            p[0] = 45
            return 1 &+ write(v.magnitude, to: p + 1)
        }
        return write(UInt64(v), to: p)
    }

    /// Appends a signed value in decimal.
    @inline(__always)
    public static func append(signed v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(45) }
        append(v.magnitude, to: &out)
    }

    /// A ZIP5 value as its five-digit text ("04042").
    public static func zip5(_ v: Int64) -> String {
        var b: [UInt8] = []
        append(UInt64(clamping: v), to: &b, width: 5)
        return String(decoding: b, as: UTF8.self)
    }
}
