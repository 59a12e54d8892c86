import ArgumentParser
import StaveFormat
import StaveIO
import StaveQuery
import StaveReports

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every event back out, losslessly.",
        discussion: """
        CSV is written in the original export's shape (datetime and zip quoted,
        LF); with --no-header and --order event it reproduces a tracks.csv
        byte for byte. Store order groups events by month, customer, time;
        --order event sorts by event id (holds the whole table in memory).
        """
    )

    enum Order: String, ExpressibleByArgument { case store, event }

    @Argument(help: "The store directory.")
    var store: String

    @OptionGroup var output: OutputOptions

    @Option(help: "Row order: store or event.")
    var order: Order = .store

    @Flag(inversion: .prefixedNo, help: "Write a CSV header line.")
    var header = true

    func run() throws {
        try guarded {
            let s = try Store.open(store)
            let format = output.resolvedFormat()
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
