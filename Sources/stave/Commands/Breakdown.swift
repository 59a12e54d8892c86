import ArgumentParser
import StaveFormat
import StaveIO
import StaveQuery
import StaveReports

extension Stave {
    struct Breakdown: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "breakdown",
            abstract: "Customers and average profiles per group of customers (by level, gender, campaign, ...).",
            discussion: """
            Per group: customers (in the customer table), active_customers (with
            at least one play in range), plays, and the average per active
            customer of every profile column (avg_plays, ...). Plays of customer
            ids absent from the customer table form the group `unknown` (never
            dropped); customers without plays count in `customers` only. Groups
            with neither customers nor plays are left out. Needs a customer
            table (stave convert --customers). --column-names v1 gives the
            first releases' names (events, avg_total_tracks, ...).

            Examples:
              stave breakdown music.stave --by level
              stave breakdown music.stave --by campaign --from 2014-12-01 --format json
              stave breakdown music.stave --by sign_month -o by_month.csv
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @Option(help: "Group by: level, gender, campaign, status, linked_with_apps or sign_month.")
        var by: BreakdownKey

        @OptionGroup var filter: FilterOptions
        @OptionGroup var customerFilter: CustomerFilterOptions
        @OptionGroup var limit: LimitOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var threads: ThreadOptions

        func run() throws {
            try runQuery(store: store, .breakdown(by), scope: try makeScope(filter, customerFilter), output: output, threads: threads, limit: limit.limit)
        }
    }
}

extension Stave {
    struct TopZips: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "top-zips",
            abstract: "Listening zips with the most plays, with distinct customers and mobile share.",
            discussion: """
            Columns zip, plays, customers, mobile_plays, mobile_share (= mobile_plays / plays); sorted by plays (descending), then zip.

            Examples:
              stave top-zips music.stave --limit 10
              stave top-zips music.stave --level Gold --from 2014-12-01 --format json
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @Option(help: "How many zips.")
        var limit = 10

        @OptionGroup var filter: FilterOptions
        @OptionGroup var customerFilter: CustomerFilterOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var threads: ThreadOptions

        func validate() throws {
            guard limit >= 1 && limit <= 100_000 else { throw ValidationError("--limit must be 1...100000") }
        }

        func run() throws {
            try runQuery(store: store, .topZips(limit: limit), scope: try makeScope(filter, customerFilter), output: output, threads: threads)
        }
    }
}

extension Stave {
    struct Hours: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hours",
            abstract: "Plays per hour of the day (or per part of the day), overall or per group of customers.",
            discussion: """
            Per hour 0-23: the part of the day it belongs to, plays and
            mobile_plays. --per part sums them per part of the day (morning,
            afternoon, evening, night). --by groups customers as `breakdown`
            does (needs a customer table); ids absent from it form `unknown`.

            Examples:
              stave hours music.stave
              stave hours music.stave --by level --per part
              stave hours music.stave --customer 48 -o hours.parquet
            """
        )

        enum Per: String, ExpressibleByArgument, CaseIterable { case hour, part }

        @Argument(help: "The store directory.")
        var store: String

        @Option(help: "Group by: level, gender, campaign, status, linked_with_apps or sign_month.")
        var by: BreakdownKey?

        @Option(help: "Rows per hour or per part of the day.")
        var per: Per = .hour

        @OptionGroup var filter: FilterOptions
        @OptionGroup var customerFilter: CustomerFilterOptions
        @OptionGroup var limit: LimitOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var threads: ThreadOptions

        func run() throws {
            try runQuery(store: store, .hours(by: by, perPart: per == .part), scope: try makeScope(filter, customerFilter), output: output, threads: threads,
                         limit: limit.limit)
        }
    }
}
