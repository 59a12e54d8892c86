import ArgumentParser
import StaveFormat
import StaveIO
import StaveServeOptions
#if canImport(Glibc)
import Glibc
#endif

extension Stave {
    /// `stave serve ...` runs `stave-serve ...`: the program next to this one
    /// (the HTTP server is kept out of this binary so that queries start fast;
    /// see Sources/stave-serve). The options are parsed and checked here too
    /// (the same ServeOptions), so `stave help serve` shows the whole help and
    /// `stave serve --version` answers; the arguments then go to stave-serve
    /// as given.
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: ServeHelp.abstract,
            discussion: ServeHelp.discussion
        )

        @OptionGroup var options: ServeOptions

        func run() throws {
            try guarded(cleanupOnSignal: false) {
                let program = try Self.serverProgram()
                // The words after "serve", as typed (they parsed above).
                let all = CommandLine.arguments
                let rest = all.firstIndex(of: "serve").map { Array(all[($0 + 1)...]) } ?? []
                let argv = ([program] + rest).map { strdup($0) } + [nil]
                execv(program, argv)
                // Only reached when exec failed.
                throw StaveError.io(path: program, operation: "exec", errno: errno)
            }
        }

        /// stave-serve in this executable's directory.
        static func serverProgram() throws -> String {
            let me = try Sys.realPath("/proc/self/exe")
            let program = parentDirectory(of: me) + "/stave-serve"
            guard Sys.kind(program) == .file else {
                throw StaveError.io(path: program, operation: "find stave-serve (build it: swift build -c release --product stave-serve)", errno: ENOENT)
            }
            return program
        }
    }
}
