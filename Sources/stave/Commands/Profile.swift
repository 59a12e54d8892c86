import ArgumentParser
import StaveFormat
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

        --with-customers appends the customer's name, gender, zip, sign_date
        (YYYY-MM-DD), status, level (Free/Silver/Gold), campaign and
        linked_with_apps from the store's customer table (empty for a
        customer id it does not list). --level/--campaign/--gender/--status
        keep only matching customers.
        """
    )

    @Argument(help: "The store directory.")
    var store: String

    @OptionGroup var filter: FilterOptions
    @OptionGroup var customerFilter: CustomerFilterOptions
    @Flag(help: "Append the customer table's attributes to each profile.")
    var withCustomers = false
    @OptionGroup var output: OutputOptions
    @OptionGroup var threads: ThreadOptions
    @Flag(help: "Print row groups read and the time of each phase on stderr.")
    var verbose = false

    func run() throws {
        try guarded {
            let phases = PhaseTimer(enabled: verbose)
            let s = try Store.open(store)
            let cf = try customerFilter.makeFilter()
            let table = (withCustomers || !cf.isEmpty) ? try Queries.customerTable(s) : nil
            phases.mark("open")
            var f = try filter.makeFilter()
            if let table { f = cf.apply(to: f, table: table) }
            let p = try Queries.profile(s, filter: f, threads: threads.count, phase: phases.enabled ? phases.mark : nil)
            let out = try output.open()
            if withCustomers, let table {
                try ProfileReport.table(p, customers: table).write(output.resolvedFormat(), to: out)
            } else {
                try ProfileReport.write(p, format: output.resolvedFormat(), to: out)
            }
            try out.commit()
            phases.mark("output")
            phases.report()
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
    @OptionGroup var customerFilter: CustomerFilterOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threads: ThreadOptions
    @Flag(help: "Print row groups read and the time of each phase on stderr.")
    var verbose = false

    func run() throws {
        try guarded {
            let phases = PhaseTimer(enabled: verbose)
            let s = try Store.open(store)
            let cf = try customerFilter.makeFilter()
            var f = try filter.makeFilter()
            if !cf.isEmpty { f = cf.apply(to: f, table: try Queries.customerTable(s)) }
            phases.mark("open")
            let p = try Queries.profile(s, filter: f, threads: threads.count, phase: phases.enabled ? phases.mark : nil)
            let stats = StatsKernel.compute(p)
            phases.mark("stats")
            let out = try output.open()
            try StatsReport.write(stats, format: output.resolvedFormat(), to: out)
            try out.commit()
            phases.mark("output")
            phases.report()
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
