import StaveFormat

/// Full check of a store: everything `Store.open` validates, and then every
/// chunk of every part: checksum, decompression, payload structure, every
/// value inside its column's domain, and statistics equal to the real
/// minimum and maximum.
public enum Verifier {
    public struct Report: Sendable {
        public var problems: [StaveError]
        public var chunksChecked: Int
        public var rowsChecked: Int
        public var isSound: Bool { problems.isEmpty }
    }

    /// Returns problems found; an unopenable store is one problem.
    public static func verify(_ path: String, maxProblems: Int = 100) -> Report {
        var report = Report(problems: [], chunksChecked: 0, rowsChecked: 0)
        let store: Store
        do {
            store = try Store.open(path)
        } catch let e as StaveError {
            report.problems.append(e)
            return report
        } catch {
            report.problems.append(.badStore(path: path, detail: "\(error)"))
            return report
        }
        for part in store.parts {
            for (g, group) in part.footer.rowGroups.enumerated() {
                for c in 0..<EventsSchema.columns.count {
                    guard report.problems.count < maxProblems else { return report }
                    report.chunksChecked += 1
                    do {
                        let chunk = try part.chunk(rowGroup: g, column: c)
                        let values = try chunk.decodeAll()
                        let d = chunk.descriptor
                        var lo = Int64.max, hi = Int64.min
                        for v in values { lo = min(lo, v); hi = max(hi, v) }
                        let domain = EventsSchema.columns[c].type.domain
                        if !domain.contains(lo) || !domain.contains(hi) {
                            throw StaveError.corrupt(file: part.path, what: "\(chunk.what): values outside the \(EventsSchema.columns[c].type.name) domain")
                        }
                        if lo != d.min || hi != d.max {
                            throw StaveError.corrupt(file: part.path, what: "\(chunk.what): statistics say \(d.min)...\(d.max), values are \(lo)...\(hi)")
                        }
                    } catch let e as StaveError {
                        report.problems.append(e)
                    } catch {
                        report.problems.append(.corrupt(file: part.path, what: "\(error)"))
                    }
                }
                report.rowsChecked += group.rowCount
            }
        }
        return report
    }
}
