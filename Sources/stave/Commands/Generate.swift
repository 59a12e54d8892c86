import ArgumentParser
import StaveFormat
import StaveGen
import StaveIO

extension Stave {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
            abstract: "Write synthetic tracks.csv and cust.csv shaped like the original exports.",
            discussion: """
            Deterministic for a given --seed. Streams with memory proportional to
            --customers and --tracks, not --rows. Files appear atomically in the
            -o directory (created if missing). With -o -, tracks.csv goes to
            standard output (cust.csv only with --cust FILE), so that any number
            of events can be piped into `stave convert -` without a CSV on disk.

            The track catalogue has Zipf-like popularity: each play is with
            probability 0.22 drawn from a Zipf(1) law over the shuffled
            catalogue, else uniformly; the default of 1,701 tracks is calibrated
            to the original data (README, "The generated data").

            Examples:
              stave generate --rows 1000000 --customers 5000 -o data/gen
              stave generate --rows 100000000 --customers 1000000 --tracks 2000000 -o big
              stave generate --rows 100000000 -o - | stave convert - -o big.stave
            """
        )

        @Option(help: "Listening events (lines of tracks.csv).")
        var rows: Int = 1_000_000

        @Option(help: "Customers (lines of cust.csv, after its header).")
        var customers: Int = 5_000

        @Option(help: "Seed of the random generator.")
        var seed: UInt64 = 42

        @Option(help: "Size of the track catalogue (ids 0..<tracks), at most 16,777,216.")
        var tracks: Int = 1701

        @Option(name: [.short, .customLong("output"), .customLong("out")],
                help: "Directory to write tracks.csv and cust.csv into (created with its parents if missing), or - for tracks.csv on standard output.")
        var output: String

        @Option(help: "With -o -: also write cust.csv to this file.")
        var cust: String?

        @OptionGroup var threads: ThreadOptions

        @Flag(help: "No progress display.")
        var quiet = false

        func validate() throws {
            guard rows >= 0 else { throw ValidationError("--rows must be >= 0") }
            guard (1...100_000_000).contains(customers) else { throw ValidationError("--customers must be 1...100000000") }
            guard (1...(1 << 24)).contains(tracks) else { throw ValidationError("--tracks must be 1...16777216") }
            if cust != nil && output != "-" { throw ValidationError("--cust is for -o - (a directory gets cust.csv)") }
        }

        func run() throws {
            try guarded {
                var config = GeneratorConfig(rows: rows, customers: customers, seed: seed)
                config.tracks = tracks
                let gen = Generator(config: config)
                let toStdout = output == "-"
                if !toStdout { try Sys.makeDirectories(output) }
                if let path = toStdout ? cust : output + "/cust.csv" {
                    let file = try OutputFile(path: path)
                    try gen.writeCustomers { try file.write($0) }
                    try file.commit()
                }
                let tracksFile = try OutputFile(path: toStdout ? "-" : output + "/tracks.csv")
                let progress = Progress(label: "generating", quiet: quiet)
                try gen.writeTracks(threads: threads.count, progress: { progress.update(done: $0, total: rows, unit: "M rows") }) { try tracksFile.write($0) }
                try tracksFile.commit()
                progress.finish()
                if !quiet {
                    let target = toStdout ? "standard output" : "\(output)/tracks.csv"
                    let custNote = toStdout ? (cust.map { " and \(groupedThousands(customers)) customers in \($0)" } ?? "") : " and \(groupedThousands(customers)) customers in \(output)/cust.csv"
                    printError("generated \(groupedThousands(rows)) events (\(humanBytes(Double(tracksFile.bytesWritten)))) to \(target)" + custNote)
                }
            }
        }
    }
}
