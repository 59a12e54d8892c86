import StaveFormat
import StaveIO
import StaveQuery

extension ProfileReport {
    /// The customer attributes `--with-customers` appends to each profile row.
    public static let customerColumns = ["name", "gender", "zip", "sign_date", "status", "level", "campaign", "linked_with_apps"]

    /// The profile joined with the customer table: one lookup per profile
    /// row (not per event). Customers absent from the table get empty
    /// (null) attributes.
    public static func table(_ p: Profile, customers t: CustomerTable) throws -> ResultTable {
        try table(p, page: ProfilePage(), customers: t)
    }

    /// The attribute cells of customer `id` (nulls when the table does not list it).
    static func attributes(of id: UInt32, in t: CustomerTable) throws -> [Cell] {
        guard let r = t.row(of: id) else { return [Cell](repeating: .null, count: customerColumns.count) }
        return [.string(try t.name(r)), .int(Int64(t.gender[r])), .string(DecimalText.zip5(Int64(t.zip[r]))),
                .string(CivilTime.formatDate(t.signDate[r])), .int(Int64(t.status[r])),
                .string(CustomersSchema.levelNames[Int(t.level[r])]),
                .string(CustomersSchema.campaignNames[Int(t.campaign[r])]), .int(Int64(t.linked[r]))]
    }
}

/// One customer: the profile over the range (zeros without events) and the
/// attributes (null when the customer table does not list the id, or the
/// store has none).
public enum CustomerLookupReport {
    public static var columns: [String] { ProfileReport.columns + ProfileReport.customerColumns }

    public static func table(id: UInt32, profile p: Profile, customers: CustomerTable?) throws -> ResultTable {
        var row: [Cell]
        if let i = p.customer.firstIndex(of: id) {
            row = ProfileReport.cells(p, i)
        } else {
            row = [.int(Int64(id))] + [Cell](repeating: .int(0), count: Profile.columnNames.count)
        }
        row += try customers.map { try ProfileReport.attributes(of: id, in: $0) } ?? [Cell](repeating: .null, count: ProfileReport.customerColumns.count)
        return ResultTable(columns: columns, rows: [row])
    }
}

/// The headline numbers (one row).
public enum SummaryReport {
    public static let columns = ["customers", "active_customers", "plays", "mobile_plays", "mobile_share",
                                 "first_play", "last_play", "store_plays", "parts", "generation"]

    public static func table(_ s: Summary) -> ResultTable {
        ResultTable(columns: columns, rows: [[
            s.customers.map { .int(Int64($0)) } ?? .null, .int(Int64(s.activeCustomers)), .int(s.events), .int(s.mobileEvents),
            s.mobileShare.map(Cell.double) ?? .null,
            s.firstEvent.map { .string(CivilTime.format($0)) } ?? .null, s.lastEvent.map { .string(CivilTime.format($0)) } ?? .null,
            .int(Int64(s.storeEvents)), .int(Int64(s.parts)), .int(Int64(s.generation)),
        ]])
    }
}

public enum BreakdownReport {
    public static func columns(_ key: BreakdownKey) -> [String] {
        [key.rawValue, "customers", "active_customers", "plays"] + Profile.columnNames.map { "avg_" + $0 }
    }

    public static func table(_ rows: [BreakdownRow], by key: BreakdownKey) -> ResultTable {
        ResultTable(columns: columns(key), rows: rows.map { r in
            [.string(r.group), .int(Int64(r.customers)), .int(Int64(r.activeCustomers)), .int(r.events)]
                + (0..<Profile.columnNames.count).map { r.average($0).map(Cell.double) ?? .null }
        })
    }
}

public enum ZipReport {
    public static let columns = ["zip", "plays", "customers", "mobile_plays", "mobile_share"]

    public static func table(_ rows: [ZipRow]) -> ResultTable {
        ResultTable(columns: columns, rows: rows.map { r in
            [.string(DecimalText.zip5(Int64(r.zip))), .int(r.events), .int(Int64(r.customers)), .int(r.mobileEvents), .double(r.mobileShare)]
        })
    }
}

public enum HoursReport {
    /// Part of the day of each hour, by the profile's rule.
    public static let partNames = ["night", "morning", "afternoon", "evening"]

    public static func partOf(hour: Int) -> Int { Int(RowGroupData.dayPart(UInt32(hour) * 3600)) }

    /// Per hour: [group,] hour, part_of_day, plays, mobile_plays.
    /// Per part (`perPart`): [group,] part_of_day, plays, mobile_plays, in
    /// the order morning, afternoon, evening, night.
    public static func table(_ h: HoursResult, by key: BreakdownKey?, perPart: Bool) -> ResultTable {
        let lead = key.map { [$0.rawValue] } ?? []
        var t = ResultTable(columns: lead + (perPart ? ["part_of_day", "plays", "mobile_plays"] : ["hour", "part_of_day", "plays", "mobile_plays"]))
        for (g, label) in h.groups.enumerated() {
            let prefix: [Cell] = key == nil ? [] : [.string(label)]
            if perPart {
                for part in [1, 2, 3, 0] {
                    let hours = (0..<24).filter { partOf(hour: $0) == part }
                    t.rows.append(prefix + [.string(partNames[part]), .int(hours.reduce(0) { $0 + h.events[g][$1] }),
                                            .int(hours.reduce(0) { $0 + h.mobile[g][$1] })])
                }
            } else {
                for hour in 0..<24 {
                    t.rows.append(prefix + [.int(Int64(hour)), .string(partNames[partOf(hour: hour)]), .int(h.events[g][hour]), .int(h.mobile[g][hour])])
                }
            }
        }
        return t
    }
}

/// The customer table written back out: CSV in the original cust.csv shape
/// (header, CRLF, strings quoted with "" for a quote, zip five digits,
/// SignDate MM/DD/YYYY, codes as numbers), so that a cust.csv round-trips
/// byte for byte; JSON / NDJSON / table with stave's column names, the date
/// in ISO form and level and campaign by name.
public enum CustomerExport {
    public static func writeCSV(_ t: CustomerTable, header: Bool, to out: OutputFile) throws {
        if header { try out.write(CustomersSchema.exportHeader.joined(separator: ",") + "\r\n") }
        func quoted(_ s: String, _ b: inout [UInt8]) {
            b.append(34)
            for c in s.utf8 {
                if c == 34 { b.append(34) }
                b.append(c)
            }
            b.append(34)
        }
        for r in 0..<t.count {
            let name = try t.name(r), address = try t.address(r)
            let (y, m, d) = CivilTime.civilFromDays(t.signDate[r])
            try out.withBuffer { b in
                DecimalText.append(UInt64(t.ids[r]), to: &b); b.append(44)
                quoted(name, &b); b.append(44)
                DecimalText.append(UInt64(t.gender[r]), to: &b); b.append(44)
                quoted(address, &b); b.append(44)
                b.append(34); DecimalText.append(UInt64(t.zip[r]), to: &b, width: 5); b.append(34); b.append(44)
                b.append(34)
                DecimalText.append(UInt64(m), to: &b, width: 2); b.append(47)
                DecimalText.append(UInt64(d), to: &b, width: 2); b.append(47)
                DecimalText.append(UInt64(y), to: &b, width: 4)
                b.append(34); b.append(44)
                for v in [t.status[r], t.level[r], t.campaign[r]] { DecimalText.append(UInt64(v), to: &b); b.append(44) }
                DecimalText.append(UInt64(t.linked[r]), to: &b)
                b.append(13); b.append(10)
            }
        }
    }

    public static func table(_ t: CustomerTable) throws -> ResultTable {
        var out = ResultTable(columns: CustomersSchema.columnNames)
        for r in 0..<t.count {
            out.rows.append([.int(Int64(t.ids[r])), .string(try t.name(r)), .int(Int64(t.gender[r])), .string(try t.address(r)),
                             .string(DecimalText.zip5(Int64(t.zip[r]))), .string(CivilTime.formatDate(t.signDate[r])),
                             .int(Int64(t.status[r])), .string(CustomersSchema.levelNames[Int(t.level[r])]),
                             .string(CustomersSchema.campaignNames[Int(t.campaign[r])]), .int(Int64(t.linked[r]))])
        }
        return out
    }
}
