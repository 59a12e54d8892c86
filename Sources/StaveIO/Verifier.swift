import StaveFormat

/// Full check of a store: everything `Store.open` validates, and then every
/// chunk of every part and of the customer table: checksum, decompression,
/// payload structure, every value inside its column's domain, statistics
/// equal to the real minimum and maximum, strings valid UTF-8, customer ids
/// strictly ascending.
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
        for part in store.parts + (store.customers.map { [$0] } ?? []) {
            let isCustomers = part.footer.tableKind == FormatConstants.tableKindCustomers
            var previousID: Int64 = -1
            for (g, group) in part.footer.rowGroups.enumerated() {
                for c in 0..<part.footer.columns.count {
                    guard report.problems.count < maxProblems else { return report }
                    report.chunksChecked += 1
                    do {
                        let chunk = try part.chunk(rowGroup: g, column: c)
                        let values = try chunk.decodeAllChecked(exactStatistics: true)
                        if part.footer.columns[c].type == .string { _ = try chunk.decodeStrings() }
                        if isCustomers && c == CustomersSchema.customerID {
                            // Readers look customers up by binary search: ids strictly ascending.
                            for v in values {
                                guard v > previousID else {
                                    throw StaveError.corrupt(file: part.path, what: "column customer_id row group \(g): ids not strictly ascending (\(v) after \(previousID))")
                                }
                                previousID = v
                            }
                        }
                    } catch let e as StaveError {
                        report.problems.append(e)
                    } catch {
                        report.problems.append(.corrupt(file: part.path, what: "\(error)"))
                    }
                }
                if !isCustomers { report.rowsChecked += group.rowCount }
            }
        }
        return report
    }
}
