import ArgumentParser
import StaveFormat
import StaveIO
import StaveQuery
import StaveReports

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every event (or every customer) back out, losslessly.",
        discussion: """
        CSV is written in the original export's shape (datetime and zip quoted,
        LF); with --no-header and --order event it reproduces a tracks.csv
        byte for byte. Store order groups events by month, customer, time;
        --order event sorts by event id (holds the whole table in memory).

        --table customers writes the customer table instead: as CSV in the
        original cust.csv shape (header, CRLF, quoted strings, MM/DD/YYYY), so
        a generated cust.csv comes back byte for byte; JSON, NDJSON and table
        with stave's column names (sign_date in ISO form, level and campaign
        by name).
        """
    )

    enum Order: String, ExpressibleByArgument { case store, event }
    enum Table: String, ExpressibleByArgument { case events, customers }

    @Argument(help: "The store directory.")
    var store: String

    @OptionGroup var output: OutputOptions

    @Option(help: "Row order: store or event.")
    var order: Order = .store

    @Flag(inversion: .prefixedNo, help: "Write a CSV header line.")
    var header = true

    @Option(help: "Which table: events or customers.")
    var table: Table = .events

    func run() throws {
        try guarded {
            let s = try Store.open(store)
            let format = output.resolvedFormat()
            if table == .customers {
                let t = try Queries.customerTable(s)
                let out = try output.open()
                if format == .csv {
                    try CustomerExport.writeCSV(t, header: header, to: out)
                } else {
                    try CustomerExport.table(t).write(format, to: out, header: header)
                }
                try out.commit()
                return
            }
            let out = try output.open()
            try EventExport.writeHeader(format: format, header: header, to: out)
            var first = true
            switch order {
            case .store:
                try RowReader.forEachRowGroup(s) { try EventExport.writeRows($0, format: format, first: &first, to: out) }
            case .event:
                try EventExport.writeRows(try RowReader.allRowsByEventID(s), format: format, first: &first, to: out)
            }
            try EventExport.writeFooter(format: format, wroteAny: !first, to: out)
            try out.commit()
        }
    }
}
