import ArgumentParser
import StaveFormat
import StaveIO
import StaveQuery
import StaveReports

extension Stave {
    struct Profile: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "profile",
            abstract: "Per-customer listening profiles (the live_table).",
            discussion: """
            Columns: customer_id, unique_tracks (distinct tracks played), morning,
            afternoon, evening, night (plays in each part of the day),
            mobile_plays, plays (all plays); sorted by customer id. Parts of the
            day by the hour in the datetime: night < 05 or >= 22, morning 05-11,
            afternoon 12-16, evening 17-21. Customers without plays in range are
            absent. --column-names v1 (or STAVE_COLUMN_NAMES=v1) names the last
            two mobile_tracks and total_tracks, as stave's first releases did.

            --with-customers appends the customer's name, gender, zip, sign_date
            (YYYY-MM-DD), status, level (Free/Silver/Gold), campaign and
            linked_with_apps from the store's customer table (empty for a
            customer id it does not list). --level/--campaign/--gender/--status
            keep only matching customers.

            Examples:
              stave profile music.stave -o live_table.csv
              stave profile music.stave --with-customers --level Gold --limit 10
              stave profile music.stave --customer 48,1081 --from 2014-11-01
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @OptionGroup var filter: FilterOptions
        @OptionGroup var customerFilter: CustomerFilterOptions
        @Flag(help: "Append the customer table's attributes to each profile.")
        var withCustomers = false
        @Option(help: "Sort by this column: customer_id, unique_tracks, morning, afternoon, evening, night, mobile_plays or plays (ties by customer id; the v1 names total_tracks and mobile_tracks work too).")
        var sort: String?
        @Option(help: "Sort order: asc or desc.")
        var order: SortOrder = .asc
        @Option(help: "At most this many rows (after --offset).")
        var limit: Int?
        @Option(help: "Skip this many rows first.")
        var offset = 0
        @OptionGroup var output: OutputOptions
        @OptionGroup var threads: ThreadOptions
        @Flag(help: "Print row groups read and the time of each phase on stderr.")
        var verbose = false

        func validate() throws {
            _ = try cli(sort.map { QueryParameters.sortColumn("--sort", $0) })
            if let limit, limit < 0 { throw ValidationError("--limit must be >= 0") }
            if offset < 0 { throw ValidationError("--offset must be >= 0") }
        }

        func run() throws { try execute(invocation()) }

        func invocation() throws -> QueryInvocation {
            // (The parser maps the v1 names, total_tracks and mobile_tracks.)
            let column = try cli(sort.map { QueryParameters.sortColumn("--sort", $0) })
            let page = ProfilePage(withCustomers: withCustomers, sort: column, order: order, limit: limit, offset: offset)
            return try QueryInvocation(store: store, .profile(page), scope: try makeScope(filter, customerFilter), output: output,
                                       threads: threads, verbose: verbose)
        }
    }
}

extension SortOrder: ExpressibleByArgument {}

extension Stave {
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stats",
            abstract: "Column statistics of the profiles (Spark MLlib colStats: the agg_table).",
            discussion: """
            For each profile column: count, mean, variance (sample, n-1), stddev,
            min, max, num_nonzeros, norm_l1, norm_l2. Doubles in shortest
            round-trip form. JSON: one object keyed by column name.

            Examples:
              stave stats music.stave -o agg_table.json
              stave stats music.stave --from 2014-12-01 --level Gold --format table
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @OptionGroup var filter: FilterOptions
        @OptionGroup var customerFilter: CustomerFilterOptions
        @OptionGroup var limit: LimitOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var threads: ThreadOptions
        @Flag(help: "Print row groups read and the time of each phase on stderr.")
        var verbose = false

        func run() throws { try execute(invocation()) }

        func invocation() throws -> QueryInvocation {
            try QueryInvocation(store: store, .stats, scope: try makeScope(filter, customerFilter), output: output, threads: threads,
                                limit: limit.limit, verbose: verbose)
        }
    }
}

extension Stave {
    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "summary",
            abstract: "The headline numbers: customers, plays, mobile share, first and last play, parts.",
            discussion: """
            One row: customers (in the customer table, after the filters; empty
            without a customer table), active_customers (with a play in
            range), plays, mobile_plays, mobile_share, first_play and
            last_play (in range), store_plays (every play in the store),
            parts and generation (the manifest's commit number). JSON: one
            object. `stave serve` answers /api/summary with the same bytes.

            Examples:
              stave summary music.stave
              stave summary music.stave --from '2014-12-01 06:00' --format json
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @OptionGroup var filter: FilterOptions
        @OptionGroup var customerFilter: CustomerFilterOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var threads: ThreadOptions

        func run() throws {
            try runQuery(store: store, .summary, scope: try makeScope(filter, customerFilter), output: output, threads: threads)
        }
    }
}

extension Stave {
    struct Customer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "customer",
            abstract: "One customer: the profile over the range and the customer table's attributes.",
            discussion: """
            One row: customer_id, the profile columns (zeros without plays in
            range) and name, gender, zip, sign_date, status, level, campaign,
            linked_with_apps (empty when the customer table does not list the
            id). Exit 67 when the id is neither in the customer table nor has
            plays in range. JSON: one object.

            Examples:
              stave customer music.stave 48
              stave customer music.stave 48 --from 2014-12-01 --format json
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @Argument(help: "The customer id.")
        var id: UInt32

        @Option(name: .long, help: "Only plays at or after this time: YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]' (or with a T).")
        var from: String?

        @Option(name: .long, help: "Only plays before this time (the range is half-open: --to 2014-12-01 ends at November's last second).")
        var to: String?

        @OptionGroup var output: OutputOptions
        @OptionGroup var threads: ThreadOptions

        func run() throws {
            let from = try cli(self.from.map { QueryParameters.bound("--from", $0) })
            let to = try cli(self.to.map { QueryParameters.bound("--to", $0) })
            if let e = QueryParameters.range(from: from, to: to, fromName: "--from", toName: "--to") { throw ValidationError("\(e.parameter) \(e.message)") }
            try runQuery(store: store, .customer(id), scope: QueryScope(from: from, to: to), output: output, threads: threads)
        }
    }
}

/// Wall-clock time per phase, printed on stderr (never on stdout).
final class PhaseTimer {
    let enabled: Bool
    var last = Sys.monotonicSeconds()
    let start = Sys.monotonicSeconds()
    var lines: [String] = []

    init(enabled: Bool) { self.enabled = enabled }

    func mark(_ phase: String) {
        guard enabled else { return }
        let now = Sys.monotonicSeconds()
        lines.append(String(format3((now - last) * 1000)) + " ms  " + phase)
        last = now
    }

    func report() {
        guard enabled else { return }
        for l in lines { printError(l) }
        printError(format3((Sys.monotonicSeconds() - start) * 1000) + " ms  total")
    }

    func format3(_ v: Double) -> String { ((v * 1000).rounded() / 1000).description }
}
