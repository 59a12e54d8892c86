import ArgumentParser
import StaveFormat
import StaveGen
import StaveIO

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write synthetic tracks.csv and cust.csv shaped like the original exports.",
        discussion: """
        Deterministic for a given --seed. Streams with memory proportional to
        --customers, not --rows. Files appear atomically in --out.
        """
    )

    @Option(help: "Listening events (lines of tracks.csv).")
    var rows: Int = 1_000_000

    @Option(help: "Customers (lines of cust.csv, after its header).")
    var customers: Int = 5_000

    @Option(help: "Seed of the random generator.")
    var seed: UInt64 = 42

    @Option(help: "Size of the track catalogue (ids 0..<tracks).")
    var tracks: Int = 1701

    @Option(help: "Directory to write tracks.csv and cust.csv into (created if missing).")
    var out: String

    @Flag(help: "No progress display.")
    var quiet = false

    func validate() throws {
        guard rows >= 0 else { throw ValidationError("--rows must be >= 0") }
        guard (1...100_000_000).contains(customers) else { throw ValidationError("--customers must be 1...100000000") }
        guard (1...100_000_000).contains(tracks) else { throw ValidationError("--tracks must be 1...100000000") }
    }

    func run() throws {
        try guarded {
            if Sys.kind(out) == .missing { try Sys.mkdir(out) }
            var config = GeneratorConfig(rows: rows, customers: customers, seed: seed)
            config.tracks = tracks
            let gen = Generator(config: config)
            let cust = try OutputFile(path: out + "/cust.csv")
            try gen.writeCustomers { try cust.write($0) }
            try cust.commit()
            let tracksFile = try OutputFile(path: out + "/tracks.csv")
            let progress = Progress(label: "generating", quiet: quiet)
            try gen.writeTracks(progress: { progress.update(done: $0, total: rows, unit: "M rows") }) { try tracksFile.write($0) }
            try tracksFile.commit()
            progress.finish()
            if !quiet {
                printError("generated \(groupedThousands(rows)) events (\(humanBytes(Double(tracksFile.bytesWritten)))) in \(out)/tracks.csv and \(groupedThousands(customers)) customers in \(out)/cust.csv")
            }
        }
    }
}
