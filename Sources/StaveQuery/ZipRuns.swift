import StaveFormat
import StaveIO

/// Runs of listening zips of one row group: run k covers rows
/// ends[k - 1]..<ends[k] (from 0) and has zip values[k].
public struct ZipRuns: Sendable {
    public let values: [UInt32]
    public let ends: [Int32]

    /// The runs of an RLE or PATCHED_RLE zip chunk of `rows` rows, checked
    /// against its statistics `stats`; nil for any other encoding.
    init?(chunk: DecodedChunk, rows: Int, stats: ChunkDescriptor, file: String, what: String) throws {
        switch chunk.layout {
        case .rle(let r): try self.init(r, rows: rows, file: file, what: what)
        case .patchedRLE(let p): try self.init(p, rows: rows, file: file, what: what)
        default: return nil
        }
        try values.withUnsafeBufferPointer { try RowGroupData.checkWithin($0, base: 0, stats, file: file, what: what) }
    }

    /// From an RLE chunk of `rows` rows; every zip must be a ZIP5 value.
    init(_ r: RLEChunk, rows: Int, file: String, what: String) throws {
        // RLEChunk.parse checked that ends strictly increase to the row count.
        guard r.ends.last ?? 0 == rows, rows <= Int(Int32.max) else {
            throw StaveError.corrupt(file: file, what: "\(what): RLE runs do not cover the row group")
        }
        values = try r.values.map { v in
            guard v >= 0, v <= 99_999 else { throw StaveError.corrupt(file: file, what: "\(what): zip \(v) outside 0...99999") }
            return UInt32(v)
        }
        ends = r.ends.map { Int32($0) }
    }

    /// From a PATCHED_RLE chunk of `rows` rows: each exception is a run of
    /// its own, and splits the base run around it.
    init(_ p: PatchedRLEChunk, rows: Int, file: String, what: String) throws {
        // PatchedRLEChunk.parse checked that the run ends strictly increase
        // to the row count and that there is one exception per flagged row.
        guard p.runs.ends.last ?? 0 == rows, p.count == rows, rows <= Int(Int32.max) else {
            throw StaveError.corrupt(file: file, what: "\(what): PATCHED_RLE runs do not cover the row group")
        }
        func zip(_ v: Int64) throws -> UInt32 {
            guard v >= 0, v <= 99_999 else { throw StaveError.corrupt(file: file, what: "\(what): zip \(v) outside 0...99999") }
            return UInt32(v)
        }
        let exceptions = p.exceptions.decodeAll()
        let runValues = try p.runs.values.map(zip)
        let runEnds = p.runs.ends
        var values: [UInt32] = [], ends: [Int32] = []
        values.reserveCapacity(runValues.count + 2 * exceptions.count)
        ends.reserveCapacity(runValues.count + 2 * exceptions.count)
        // One pass over the flag words, in plain loops. k is the base run
        // of row `at`; rows 0..<at are written. The run ends strictly
        // increase to `rows` (parse), so k < runEnds.count while at < rows;
        // j counts flagged rows, at most exceptions.count (parse).
        var k = 0, at = 0, j = 0
        var word = 0
        while 64 * word < rows {
            var w = p.flagWord(word)
            while w != 0 {
                let row = 64 * word + w.trailingZeroBitCount
                w &= w &- 1
                while at < row {
                    let end = min(runEnds[k], row)
                    values.append(runValues[k]); ends.append(Int32(end))
                    at = end
                    if at == runEnds[k] { k += 1 }
                }
                values.append(try zip(exceptions[j])); ends.append(Int32(row + 1))
                j += 1
                at = row + 1
                if at == runEnds[k] { k += 1 }
            }
            word += 1
        }
        while at < rows {
            values.append(runValues[k]); ends.append(Int32(runEnds[k]))
            at = runEnds[k]
            k += 1
        }
        self.values = values
        self.ends = ends
    }
}
