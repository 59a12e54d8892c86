import ArgumentParser
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import StaveFormat
import StaveIngest
import StaveIO

extension Stave {
    struct Append: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "append",
            abstract: "Append new events to an existing store, atomically.",
            discussion: """
            The rows become one or more new parts; a new MANIFEST naming them
            replaces the old one in one rename, so every query sees all of them
            or none. Same CSV rules as `convert`: the first bad row stops the
            append (exit 65) and nothing is added; --skip-bad-rows sets bad rows
            aside. A second writer on the same store gets an error (exit 75).

            Examples:
              stave append music.stave today.csv
              zcat today.csv.gz | stave append music.stave -
              stave append music.stave late.csv --skip-bad-rows --rejects bad.tsv
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @Argument(help: "The CSV file, or - for standard input.")
        var input: String

        @OptionGroup var csv: CSVInputOptions

        @OptionGroup var threads: ThreadOptions

        @Flag(inversion: .prefixedNo, help: "After the append, merge the store's runs as tiering says (a separate commit; keeps a live store at a few runs).")
        var compact = true

        @Flag(help: "No progress and no summary.")
        var quiet = false

        func run() throws {
            try guarded {
                var options = ConvertOptions()
                csv.apply(to: &options)
                options.threads = threads.count
                let converter = Converter(input: input, output: store, options: options)
                // Progress only for inputs that take a while: it appears after
                // the first 0.1 s on a terminal (--quiet: none).
                let progress = Progress(label: "appending", quiet: quiet)
                converter.progress = { progress.update(done: $0.bytes, total: $0.totalBytes, rows: $0.rows, force: $0.done) }
                let layout = Progress(label: "laying out", quiet: quiet)
                converter.mergeProgress = { progress.finish(); layout.update(done: $0, total: $1, unit: "M rows") }
                let s: ConvertSummary
                do {
                    defer { progress.finish(); layout.finish() }
                    s = try converter.append()
                }
                if !quiet {
                    var line = "appended \(groupedThousands(s.rows)) rows to \(store) (\(s.parts) new part\(s.parts == 1 ? "" : "s"), "
                    line += "\(humanBytes(Double(s.outputBytes)))) in \((s.seconds * 1000).rounded() / 1000) s"
                    printError(line + csv.skippedNote(s.rejected) + (s.blankLines > 0 ? "; \(groupedThousands(s.blankLines)) blank line\(s.blankLines == 1 ? "" : "s") skipped" : ""))
                }
                // The rows are committed: a compaction that fails says so, and
                // the append still succeeded (exit 0); the next one retries.
                guard compact else { return }
                do {
                    let c = try Compactor.compact(store: store, mode: .auto, threads: threads.count)
                    if !quiet && c.merged > 0 {
                        printError("compacted \(c.runsBefore - c.runsAfter + 1) runs (\(groupedThousands(c.rowsMoved)) rows) into one: \(c.runsAfter) run\(c.runsAfter == 1 ? "" : "s"), \(c.partsAfter) part\(c.partsAfter == 1 ? "" : "s") in \((c.seconds * 1000).rounded() / 1000) s")
                    }
                } catch let e as StaveError {
                    printError("stave: warning: the append is committed, but compacting afterwards failed: \(e)")
                }
            }
        }
    }
}

extension Stave {
    struct Follow: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "follow",
            abstract: "Tail a CSV file another process appends to, committing micro-batches to the store.",
            discussion: """
            Commits every --batch-rows rows or --interval milliseconds, whichever
            comes first; a partial last line waits for its newline. The byte
            offset reached is committed in the same MANIFEST as the rows, so
            after a stop or a crash `follow` resumes exactly there: no row lost,
            none twice. Ctrl-C (or SIGTERM) commits what it has and exits 0. If
            the file is replaced or truncated, follow says so and stops (exit 66)
            rather than guess. With --reopen (-F, as tail -F) it carries on
            instead: a rotated file is read to its end and committed, then the
            new file at the path is followed from its start (its header, if any,
            detected again); a truncated file is followed from its new start.
            Either way each committed line is in the store once. Holds the
            store's writer lock while it runs.

            Examples:
              stave follow music.stave /var/log/plays.csv
              stave follow music.stave plays.csv -F --skip-bad-rows --rejects bad.tsv
              stave follow music.stave plays.csv --idle-exit 5000 --quiet
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @Argument(help: "The CSV file to follow.")
        var file: String

        @Option(help: "Commit after this many rows.")
        var batchRows = 100_000

        @Option(help: "Commit after this many milliseconds with uncommitted lines.")
        var interval = 1000

        @Option(help: "Exit (after committing) once the file has not grown for this many milliseconds.")
        var idleExit: Int?

        @OptionGroup var csv: CSVRowOptions

        @OptionGroup var threads: ThreadOptions

        @Flag(inversion: .prefixedNo, help: "After each commit, merge the store's runs as tiering says (keeps the store at a few runs while it grows).")
        var compact = true

        @Flag(name: [.customLong("reopen"), .customShort("F")], help: "Like tail -F: when the file is rotated (replaced) or truncated, commit what was read and carry on with the new content from its start, instead of stopping with exit 66.")
        var reopen = false

        @Flag(help: "No line per commit on stderr.")
        var quiet = false

        func validate() throws {
            guard batchRows >= 1 && batchRows <= 100_000_000 else { throw ValidationError("--batch-rows must be 1...100000000") }
            guard interval >= 1 && interval <= 3_600_000 else { throw ValidationError("--interval must be 1...3600000") }
            if let idleExit, idleExit < 0 { throw ValidationError("--idle-exit must be >= 0") }
        }

        func run() throws {
            try guarded(cleanupOnSignal: false) {
                var options = FollowOptions()
                options.batchRows = batchRows
                options.intervalMS = interval
                options.idleExitMS = idleExit
                options.header = csv.headerMode
                options.skipBadRows = csv.skipBadRows
                options.rejectsPath = csv.rejects
                options.threads = threads.count
                options.autoCompact = compact
                options.allowDuplicateIDs = csv.allowDuplicateIds
                options.reopen = reopen
                let stop = StopFlag()
                // Ctrl-C and SIGTERM set the flag; the loop commits and returns.
                var sources: [DispatchSourceSignal] = []
                for sig in [SIGINT, SIGTERM] {
                    signal(sig, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                    source.setEventHandler { stop.set() }
                    source.resume()
                    sources.append(source)
                }
                let follower = Follower(store: store, file: file, options: options)
                // Always said, even with --quiet: the file being followed changed.
                follower.onReopen = { printError("follow: " + $0) }
                if !quiet {
                    follower.onCommit = { rows, offset in printError("committed \(groupedThousands(rows)) rows, offset \(offset)") }
                    follower.onCompact = { c in
                        printError("compacted \(c.runsBefore - c.runsAfter + 1) runs (\(groupedThousands(c.rowsMoved)) rows): \(c.runsAfter) runs, \(c.partsAfter) parts")
                    }
                }
                let s = try follower.run(stop: stop)
                withExtendedLifetime(sources) {}
                if !quiet {
                    printError("stopped: \(groupedThousands(s.rows)) rows in \(s.commits) commit\(s.commits == 1 ? "" : "s"), offset \(s.offset)"
                               + (csv.skipBadRows ? "; \(groupedThousands(s.rejected)) bad row\(s.rejected == 1 ? "" : "s") skipped" : ""))
                }
            }
        }
    }
}

extension Stave {
    struct Compact: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compact",
            abstract: "Lay a store out again as one run: parts of disjoint customer ranges.",
            discussion: """
            A conversion writes one run: parts whose customer ranges do not
            overlap, which a profile walks a customer range at a time. Each
            append adds a run of its own; `append` and `follow` merge runs by
            tiers as they go (so a live store keeps at most a few), and this
            command merges all of them into one, in memory bounded by
            --target-rows. The new MANIFEST is committed atomically; the old
            parts are deleted once it is durable and no reader is opening the
            store (a reader that already opened them keeps reading its
            snapshot). Query results are identical before and after.

            Examples:
              stave compact music.stave
              stave compact music.stave --target-rows 4000000
            """
        )

        @Argument(help: "The store directory.")
        var store: String

        @Option(help: "Rows per part of the new run (bounds memory: about 100 bytes a row).")
        var targetRows = RunMerge.defaultPartRows

        @OptionGroup var threads: ThreadOptions

        @Flag(help: "No summary.")
        var quiet = false

        func validate() throws {
            guard targetRows >= 2 && targetRows <= 100_000_000 else { throw ValidationError("--target-rows must be 2...100000000") }
        }

        func run() throws {
            try guarded {
                let s = try Compactor.compact(store: store, mode: .full, partRows: targetRows, threads: threads.count)
                if !quiet {
                    if s.merged == 0 {
                        printError("nothing to compact: \(s.partsBefore) part\(s.partsBefore == 1 ? "" : "s") in one run")
                    } else {
                        printError("merged \(s.runsBefore) runs (\(s.merged) parts, \(groupedThousands(s.rowsMoved)) rows) into one run of \(s.partsAfter) part\(s.partsAfter == 1 ? "" : "s") in \((s.seconds * 100).rounded() / 100) s")
                    }
                }
            }
        }
    }
}
