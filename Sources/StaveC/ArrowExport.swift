import CStave
import StaveInterop
#if canImport(Glibc)
import Glibc
#endif

// Results and events handed to a consumer through the Arrow C Data and C
// Stream Interfaces (arrow/format/CDataInterface.rst, CStreamInterface.rst):
// a record batch is a struct array (format "+s") whose children are the
// columns. Buffers are allocated here, 64-byte aligned, and filled once;
// the consumer reads them in place.
//
// Ownership: everything one exported schema or batch points to (its child
// structs, buffer pointer arrays, buffers and strings) belongs to one
// ExportOwner. Each exported struct, parent and every child, holds one
// retained reference to it in private_data, and its release drops that
// reference (a parent's release first releases the children not moved out,
// as the specification asks). The owner frees everything when the last
// struct is released, so a consumer may move children out and release them
// in any order.

/// The memory behind exported structs; freed when the last struct that
/// refers to it is released.
final class ExportOwner {
    private var blocks: [UnsafeMutableRawPointer] = []

    /// Uninitialised bytes, 64-byte aligned (Arrow asks for 8 at least).
    func bytes(_ count: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        blocks.append(p)
        return p
    }

    /// Room for `count` values of a trivial type T (C structs, pointers,
    /// numbers), uninitialised.
    func typed<T>(_ type: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
        bytes(count * MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: count)
    }

    /// A NUL-terminated copy of `s`.
    func cString(_ s: String) -> UnsafePointer<CChar> {
        let utf8 = Array(s.utf8)
        let p = typed(CChar.self, utf8.count + 1)
        for (i, u) in utf8.enumerated() { p[i] = CChar(bitPattern: u) }
        p[utf8.count] = 0
        return UnsafePointer(p)
    }

    /// One more reference, for an exported struct's private_data.
    func retainedPointer() -> UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }

    deinit { for b in blocks { b.deallocate() } }
}

/// A column's Arrow type and name, as a schema field.
struct ExportField {
    var name: String
    /// The C Data Interface format string: "l" int64, "i" int32,
    /// "g" float64, "u" utf8, "tsu:" timestamp in microseconds, no zone.
    var format: String
    var nullable: Bool
}

/// One column of a batch: its buffers, in the layout its format asks for
/// (validity or nil, then values; for utf8 validity, offsets, bytes).
struct ExportColumn {
    var field: ExportField
    var length: Int
    var nullCount: Int
    var buffers: [UnsafeRawPointer?]
}

/// A record batch being built: columns whose buffers its owner holds.
struct ExportBatch {
    let owner = ExportOwner()
    var rows: Int
    var columns: [ExportColumn] = []

    init(rows: Int) { self.rows = rows }

    var fields: [ExportField] { columns.map(\.field) }

    /// An int64 (or timestamp) column of `rows` values that `fill` writes.
    mutating func int64(_ name: String, format: String = "l", fill: (UnsafeMutablePointer<Int64>) -> Void) {
        let values = owner.typed(Int64.self, rows)
        fill(values)
        columns.append(ExportColumn(field: ExportField(name: name, format: format, nullable: false), length: rows, nullCount: 0,
                                    buffers: [nil, UnsafeRawPointer(values)]))
    }

    mutating func int32(_ name: String, fill: (UnsafeMutablePointer<Int32>) -> Void) {
        let values = owner.typed(Int32.self, rows)
        fill(values)
        columns.append(ExportColumn(field: ExportField(name: name, format: "i", nullable: false), length: rows, nullCount: 0,
                                    buffers: [nil, UnsafeRawPointer(values)]))
    }

    /// A utf8 column of `rows` strings of exactly `width` bytes each, which
    /// `fill` writes one after another.
    mutating func fixedWidthUTF8(_ name: String, width: Int, fill: (UnsafeMutablePointer<UInt8>) -> Void) {
        let offsets = owner.typed(Int32.self, rows + 1)
        for i in 0...rows { offsets[i] = Int32(i * width) }
        let data = owner.typed(UInt8.self, rows * width)
        fill(data)
        columns.append(ExportColumn(field: ExportField(name: name, format: "u", nullable: false), length: rows, nullCount: 0,
                                    buffers: [nil, UnsafeRawPointer(offsets), UnsafeRawPointer(data)]))
    }

    /// A column of a query result (StaveInterop's ArrowColumn, which the
    /// IPC stream writer takes too), copied into the owner's buffers.
    mutating func add(_ column: ArrowColumn) {
        var nulls = 0
        var validity: UnsafeRawPointer? = nil
        if let valid = column.valid {
            nulls = valid.reduce(0) { $0 + ($1 ? 0 : 1) }
            if nulls > 0 {
                let bits = owner.typed(UInt8.self, (rows + 7) / 8)
                bits.initialize(repeating: 0, count: (rows + 7) / 8)
                for (i, v) in valid.enumerated() where v { bits[i >> 3] |= 1 << UInt8(i & 7) }
                validity = UnsafeRawPointer(bits)
            }
        }
        func copy<T>(_ values: [T]) -> UnsafeRawPointer {
            let p = owner.typed(T.self, values.count)
            values.withUnsafeBufferPointer { b in if let base = b.baseAddress { p.initialize(from: base, count: b.count) } }
            return UnsafeRawPointer(p)
        }
        let field: ExportField, buffers: [UnsafeRawPointer?]
        switch column.values {
        case .int64(let v):
            field = ExportField(name: column.name, format: "l", nullable: column.valid != nil)
            buffers = [validity, copy(v)]
        case .float64(let v):
            field = ExportField(name: column.name, format: "g", nullable: column.valid != nil)
            buffers = [validity, copy(v)]
        case .utf8(let offsets, let bytes):
            field = ExportField(name: column.name, format: "u", nullable: column.valid != nil)
            buffers = [validity, copy(offsets), copy(bytes)]
        }
        columns.append(ExportColumn(field: field, length: rows, nullCount: nulls, buffers: buffers))
    }
}

// MARK: Release callbacks (C function pointers: no captures)

private func releaseSchema(_ s: UnsafeMutablePointer<ArrowSchema>?) {
    guard let s, s.pointee.release != nil else { return }
    for i in 0..<Int(s.pointee.n_children) {
        if let child = s.pointee.children[i], let release = child.pointee.release { release(child) }
    }
    Unmanaged<ExportOwner>.fromOpaque(s.pointee.private_data).release()
    s.pointee.release = nil
}

private func releaseArray(_ a: UnsafeMutablePointer<ArrowArray>?) {
    guard let a, a.pointee.release != nil else { return }
    for i in 0..<Int(a.pointee.n_children) {
        if let child = a.pointee.children[i], let release = child.pointee.release { release(child) }
    }
    Unmanaged<ExportOwner>.fromOpaque(a.pointee.private_data).release()
    a.pointee.release = nil
}

// MARK: Exporting

enum ArrowExport {
    /// Writes the schema of a batch with `fields` (a struct of them) into `out`.
    static func exportSchema(_ fields: [ExportField], into out: UnsafeMutablePointer<ArrowSchema>) {
        let owner = ExportOwner()
        let childStructs = owner.typed(ArrowSchema.self, fields.count)
        let children = owner.typed(UnsafeMutablePointer<ArrowSchema>?.self, fields.count)
        for (k, f) in fields.enumerated() {
            (childStructs + k).initialize(to: ArrowSchema(
                format: owner.cString(f.format), name: owner.cString(f.name), metadata: nil,
                flags: f.nullable ? Int64(ARROW_FLAG_NULLABLE) : 0, n_children: 0, children: nil, dictionary: nil,
                release: releaseSchema, private_data: owner.retainedPointer()))
            (children + k).initialize(to: childStructs + k)
        }
        out.pointee = ArrowSchema(
            format: owner.cString("+s"), name: owner.cString(""), metadata: nil, flags: 0,
            n_children: Int64(fields.count), children: children, dictionary: nil,
            release: releaseSchema, private_data: owner.retainedPointer())
    }

    /// Writes `batch` as a struct array into `out`; `out` then holds the
    /// batch's memory until released.
    static func exportBatch(_ batch: ExportBatch, into out: UnsafeMutablePointer<ArrowArray>) {
        let owner = batch.owner
        let n = batch.columns.count
        let childStructs = owner.typed(ArrowArray.self, n)
        let children = owner.typed(UnsafeMutablePointer<ArrowArray>?.self, n)
        for (k, c) in batch.columns.enumerated() {
            let buffers = owner.typed(UnsafeRawPointer?.self, c.buffers.count)
            for (j, b) in c.buffers.enumerated() { (buffers + j).initialize(to: b) }
            (childStructs + k).initialize(to: ArrowArray(
                length: Int64(c.length), null_count: Int64(c.nullCount), offset: 0, n_buffers: Int64(c.buffers.count),
                n_children: 0, buffers: buffers, children: nil, dictionary: nil,
                release: releaseArray, private_data: owner.retainedPointer()))
            (children + k).initialize(to: childStructs + k)
        }
        let validity = owner.typed(UnsafeRawPointer?.self, 1)
        validity.initialize(to: nil)
        out.pointee = ArrowArray(
            length: Int64(batch.rows), null_count: 0, offset: 0, n_buffers: 1, n_children: Int64(n),
            buffers: validity, children: children, dictionary: nil,
            release: releaseArray, private_data: owner.retainedPointer())
    }
}

// MARK: Streams

/// What an exported ArrowArrayStream reads: a schema, and batches until nil.
final class StreamSource {
    let fields: [ExportField]
    /// The next batch, or nil at the end. Called from one thread at a time
    /// (the stream's consumer), as the interface requires.
    let next: () throws -> ExportBatch?
    /// The message of the last failed get_next, for get_last_error.
    var lastError: UnsafeMutablePointer<CChar>? = nil

    init(fields: [ExportField], next: @escaping () throws -> ExportBatch?) {
        self.fields = fields
        self.next = next
    }

    deinit { free(lastError) }

    /// Hands this source to `out` (which then owns a reference to it).
    func export(into out: UnsafeMutablePointer<ArrowArrayStream>) {
        out.pointee = ArrowArrayStream(get_schema: streamGetSchema, get_next: streamGetNext, get_last_error: streamLastError,
                                       release: streamRelease, private_data: Unmanaged.passRetained(self).toOpaque())
    }
}

private func source(_ s: UnsafeMutablePointer<ArrowArrayStream>) -> StreamSource {
    Unmanaged<StreamSource>.fromOpaque(s.pointee.private_data).takeUnretainedValue()
}

private func streamGetSchema(_ s: UnsafeMutablePointer<ArrowArrayStream>?, _ out: UnsafeMutablePointer<ArrowSchema>?) -> Int32 {
    guard let s, let out, s.pointee.release != nil else { return EINVAL }
    ArrowExport.exportSchema(source(s).fields, into: out)
    return 0
}

private func streamGetNext(_ s: UnsafeMutablePointer<ArrowArrayStream>?, _ out: UnsafeMutablePointer<ArrowArray>?) -> Int32 {
    guard let s, let out, s.pointee.release != nil else { return EINVAL }
    let src = source(s)
    do {
        if let batch = try src.next() {
            ArrowExport.exportBatch(batch, into: out)
        } else {
            // The end of the stream: a released (NULL release) array.
            out.pointee = ArrowArray(length: 0, null_count: 0, offset: 0, n_buffers: 0, n_children: 0, buffers: nil,
                                     children: nil, dictionary: nil, release: nil, private_data: nil)
        }
        return 0
    } catch {
        free(src.lastError)
        src.lastError = strdup(CInterface.failure(error).message)
        return EIO
    }
}

private func streamLastError(_ s: UnsafeMutablePointer<ArrowArrayStream>?) -> UnsafePointer<CChar>? {
    guard let s, s.pointee.release != nil else { return nil }
    return UnsafePointer(source(s).lastError)
}

private func streamRelease(_ s: UnsafeMutablePointer<ArrowArrayStream>?) {
    guard let s, s.pointee.release != nil else { return }
    Unmanaged<StreamSource>.fromOpaque(s.pointee.private_data).release()
    s.pointee.release = nil
}
