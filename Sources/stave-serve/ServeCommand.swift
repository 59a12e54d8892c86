import ArgumentParser
import StaveFormat
import StaveServer
import StaveServeOptions
import StaveIO
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The program behind `stave serve` (which runs it, found next to itself,
/// with the same arguments): the HTTP server lives in its own executable so
/// that every other stave command starts without the cost of loading it
/// (Hummingbird's and SwiftNIO's protocol conformances, relocations and
/// pages, paid by each process).
@main
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stave serve",
        abstract: ServeHelp.abstract,
        discussion: ServeHelp.discussion,
        version: staveVersion
    )

    @OptionGroup var options: ServeOptions

    func run() async throws {
        try await serve()
    }

    func serve() async throws {
        let o = options
        var c = DashboardServer.Configuration(store: o.store)
        c.host = o.host
        c.port = o.port
        c.threads = o.threads ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        c.cacheBytes = o.cacheMb << 20
        c.verbose = o.verbose
        c.allowHosts = o.allowHosts
        c.token = o.token
        if o.token == nil && !AccessControl.isLoopback(o.host) { c.token = AccessControl.generateToken() }
        if c.token != nil && !AccessControl.isLoopback(o.host) {
            printToStderr("stave: serve: \(o.host) is reachable from other machines: every request needs the access token (in the URL printed; or send 'Authorization: Bearer TOKEN'). The connection is plain HTTP: use it on networks you trust.")
        }
        let store = o.store
        c.onListening = { url in
            // One line on stdout, flushed at once: scripts read the URL from it.
            let line = Array("stave: serving \(store) at \(url) (Ctrl-C to stop)\n".utf8)
            line.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
        }
        do {
            try await DashboardServer(c).run()
        } catch let e as StaveError {
            printToStderr("stave: \(e)")
            throw ExitCode(e.exitCode)
        } catch {
            printToStderr("stave: serve: \(error)")
            throw ExitCode(74)
        }
    }
}
