import ArgumentParser
import StaveServeOptions
import StaveFormat

@main
struct Stave: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stave",
        abstract: "A columnar store for music-listening events: convert once, query fast.",
        discussion: """
        Typical use:
          stave generate --rows 1000000 --customers 5000 --seed 42 -o data/gen
          stave convert data/gen/tracks.csv -o music.stave
          stave profile music.stave --format csv -o live_table.csv
          stave stats music.stave --format json

        Exit codes: 0 success, 64 usage error, 65 malformed input data,
        66 missing input or a missing or damaged store, 67 no such customer,
        70 internal error, 73 output exists or may not be replaced, 74 I/O
        error, 75 another stave process is writing to the store.
        """,
        version: staveVersion,
        subcommands: [Generate.self, Convert.self, Append.self, Follow.self, Compact.self, Summary.self, Profile.self, Stats.self, Breakdown.self, TopZips.self, Hours.self, Customer.self, Serve.self, Inspect.self, Verify.self, Export.self]
    )
}
