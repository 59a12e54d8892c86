import ArgumentParser
import StaveFormat
import StaveIO
#if canImport(Glibc)
import Glibc
#endif

/// `stave serve ...` runs `stave-serve ...`: the program next to this one
/// (the HTTP server is kept out of this binary so that queries start fast;
/// see Sources/stave-serve). Every argument, `--help` included, goes to it.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the live dashboard and its JSON API over a store (read-only). See stave serve --help.",
        discussion: "Runs the stave-serve program installed next to stave, with these arguments."
    )

    @Argument(parsing: .captureForPassthrough, help: "STORE [--host 127.0.0.1] [--port 8080] [--cache-mb 64] [--threads N] [--verbose]")
    var arguments: [String] = []

    func run() throws {
        try guarded(cleanupOnSignal: false) {
            let program = try Self.serverProgram()
            let argv = ([program] + arguments).map { strdup($0) } + [nil]
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
