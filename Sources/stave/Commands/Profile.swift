import ArgumentParser
import StaveIO
import StaveQuery
import StaveReports

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-customer listening profiles (the live_table).",
        discussion: """
        Columns: customer_id, unique_tracks, morning, afternoon, evening, night,
        mobile_tracks, total_tracks; sorted by customer id. Parts of the day by
        the hour in the datetime: night < 05 or >= 22, morning 05-11,
        afternoon 12-16, evening 17-21. Customers without events in range are
        absent.
        """
    )

    @Argument(help: "The store directory.")
    var store: String

    @OptionGroup var filter: FilterOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            let s = try Store.open(store)
            let p = try Queries.profile(s, filter: try filter.makeFilter(), threads: threads.count)
            let out = try output.open()
            try ProfileReport.write(p, format: output.resolvedFormat(), to: out)
            try out.commit()
        }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Column statistics of the profiles (Spark MLlib colStats: the agg_table).",
        discussion: """
        For each profile column: count, mean, variance (sample, n-1), stddev,
        min, max, num_nonzeros, norm_l1, norm_l2. Doubles in shortest
        round-trip form. JSON: one object keyed by column name.
        """
    )

    @Argument(help: "The store directory.")
    var store: String

    @OptionGroup var filter: FilterOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            let s = try Store.open(store)
            let stats = try Queries.stats(s, filter: try filter.makeFilter(), threads: threads.count)
            let out = try output.open()
            try StatsReport.write(stats, format: output.resolvedFormat(), to: out)
            try out.commit()
        }
    }
}
