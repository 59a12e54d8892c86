import StaveFormat
import StaveIO

/// A profile's CSV rows (customer_id, the six profile columns, then the
/// plays): one formatter for a `Profile` (ProfileReport.writeCSVRows) and
/// for the walk, which formats each customer's row as it profiles it
/// (`Queries.forEachProfileCSV`), so that both write the same bytes.
public enum ProfileCSV {
    /// The most bytes one row takes: eight fields of at most 21 bytes (sign
    /// and 20 digits) with their commas and newline.
    public static let maxRowBytes = 8 * 22

    /// Writes one row at `p` and returns its length.
    /// - Precondition: `p` has room for `maxRowBytes` bytes.
    @inlinable @inline(__always)
    public static func writeRow(customer: UInt32, unique: Int64, morning: Int64, afternoon: Int64, evening: Int64, night: Int64,
                                mobile: Int64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var q = p + DecimalText.write(UInt64(customer), to: p)
        @inline(__always) func field(_ v: Int64) {
            q[0] = 44
            q += 1 &+ DecimalText.write(signed: v, to: q + 1)
        }
        field(unique); field(morning); field(afternoon); field(evening); field(night); field(mobile)
        field(morning &+ afternoon &+ evening &+ night)
        q[0] = 10
        return q + 1 - p
    }
}

/// The bytes of one worker's CSV text. The sink that fills it keeps its own
/// copy of `base` and `capacity` (struct fields: no run-time exclusivity
/// check per customer, as a class's stored properties would need); this
/// object only owns the memory.
final class TextBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, ProfileCSV.maxRowBytes)
        base = .allocate(capacity: self.capacity)
    }

    /// Moves the first `used` bytes into a block of `capacity` bytes.
    func grow(used: Int, to capacity: Int) {
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.update(from: base, count: used)
        base.deallocate()
        base = grown
        self.capacity = capacity
    }

    deinit { base.deallocate() }
}

/// The walk's sink for a profile written as CSV: each customer's row is
/// formatted as the walk profiles it, so no profile columns (52 bytes a
/// customer, fresh pages in a new process) are held or read back.
struct CSVTextSink: ProfileSink {
    let buffer: TextBuffer
    /// buffer.base and buffer.capacity, kept here (see TextBuffer).
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var used = 0
    private(set) var rowCount = 0

    /// `customers`: about how many rows are coming (the buffer grows by
    /// doubling past that; at most 16 MB is taken up front).
    init(customers: Int) {
        buffer = TextBuffer(capacity: min(max(0, customers), 1 << 19) * 32)
        base = buffer.base
        capacity = buffer.capacity
    }

    @inline(__always)
    mutating func append(_ customer: UInt32, _ r: ProfileKernel.CustomerCounts) {
        guard r.total > 0 else { return }
        if capacity - used < ProfileCSV.maxRowBytes {
            buffer.grow(used: used, to: 2 * capacity)
            base = buffer.base
            capacity = buffer.capacity
        }
        // capacity - used >= maxRowBytes: room for the row.
        rowCount &+= 1
        used += ProfileCSV.writeRow(customer: customer, unique: r.unique, morning: r.morning, afternoon: r.afternoon,
                                    evening: r.evening, night: r.total - r.morning - r.afternoon - r.evening, mobile: r.mobile,
                                    to: base + used)
    }

    /// The rows written, valid inside `body`.
    func withText<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(buffer) { try body(UnsafeRawBufferPointer(start: base, count: used)) }
    }
}

extension Queries {
    /// The profile as CSV rows (no header), a customer range at a time and
    /// in customer order, as `forEachProfileSlice` gives it: on the walk,
    /// `rows` gets each worker's text, formatted as the walk went; where
    /// the walk does not apply (or gives up), `profile` gets the general
    /// path's profile of the customers not yet given, to be written with
    /// the same `ProfileCSV.writeRow`. Memory: the text of one slice's
    /// customers (about 30 bytes a customer) instead of their profiles.
    public static func forEachProfileCSV(_ store: Store, filter: QueryFilter, threads: Int, fusedFrom: Int = FusedProfile.minRows,
                                         sliceRows: Int = FusedProfile.sliceRows, phase: ((String) -> Void)? = nil,
                                         rows: (UnsafeRawBufferPointer) throws -> Void,
                                         profile fallback: (Profile) throws -> Void) throws {
        var customers = 0
        let slices = try forEachWalkSlice(store, filter: filter, threads: threads, fusedFrom: fusedFrom, sliceRows: sliceRows, phase: phase,
                                          make: { CSVTextSink(customers: $0) },
                                          each: { (w: CSVTextSink) in
                                              guard w.used > 0 else { return }
                                              customers += w.rowCount
                                              try w.withText(rows)
                                          }, fallback: fallback)
        if let slices {
            phase?("decode, profile kernel and CSV, fused, \(slices) slice\(slices == 1 ? "" : "s") (\(customers) customers)")
        }
    }
}
