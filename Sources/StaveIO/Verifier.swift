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
                        _ = try part.chunk(rowGroup: g, column: c).decodeAllChecked(exactStatistics: true)
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
