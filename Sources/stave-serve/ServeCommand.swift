import ArgumentParser
import StaveFormat
import StaveServer
import StaveIO
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The program behind `stave serve` (which runs it, found next to itself,
/// with the same arguments): the HTTP server lives in its own executable so
/// that every other stave command starts without it (measured: 0.8 ms of
/// each process, from Hummingbird's and SwiftNIO's protocol conformances,
/// relocations and pages).
@main
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stave serve",
        abstract: "Serve the live dashboard and its JSON API over a store (read-only).",
        discussion: """
        Prints the URL, then serves until Ctrl-C. The page (/) shows headline
        numbers, plays by hour and part of the day (also by level), average
        profiles by level, campaign, gender and status, top zips, the column
        statistics and a customer lookup, for a date range; it refreshes
        itself within a second of every commit (append, follow, compact).

        API (JSON, the same bytes as the CLI's --format json):
          /api/summary  /api/profile  /api/stats  /api/breakdown?by=KEY
          /api/hours  /api/top-zips?limit=N  /api/customers/ID
          /api/events (Server-Sent Events: one `commit` event per commit)
        Every query takes from, to, customer, level, campaign, gender and
        status as the CLI options do; /api/profile also with_customers,
        sort, order, limit (at most 10,000; default 100) and offset.
        A bad parameter gets HTTP 400 naming it; an unknown path 404.

        Binds to 127.0.0.1 unless --host says otherwise. Bound to any other
        address (0.0.0.0: every interface), every request must carry an
        access token, given with --token or generated and printed in the
        URL: `?token=T` (the page then keeps it in a cookie) or the header
        `Authorization: Bearer T`; without it the answer is 401. Requests
        whose Host header is not localhost, an IP address, --host or an
        --allow-host name get 403 (a defence against DNS rebinding).
        GET and HEAD are served. Never writes the store; answers are cached
        per commit (--cache-mb). A taken port exits 69.
        """
    )

    @Argument(help: "The store directory.")
    var store: String

    @Option(help: "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; the URL printed says which).")
    var port = 8080

    @Option(help: ArgumentHelp("Access token every request must carry (16 to 256 characters, no spaces or ;,\"\\&=%+#). Required off loopback: generated and printed when not given.", valueName: "token"))
    var token: String?

    @Option(name: .customLong("allow-host"), help: ArgumentHelp("Also accept requests whose Host header is this name (repeatable; e.g. the machine's DNS name).", valueName: "name"))
    var allowHosts: [String] = []

    @Option(help: "Cache of answers per commit, in MB (0: no cache, every request runs its query).")
    var cacheMb = 64

    @Option(help: "Worker threads of each query (default: the number of cores).")
    var threads: Int?

    @Flag(help: "Log the server's start and stop on stderr.")
    var verbose = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (0...65536).contains(cacheMb) else { throw ValidationError("--cache-mb must be 0...65536") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be 1...256") }
        if let token, !AccessControl.validToken(token) {
            throw ValidationError("--token must be 16 to 256 printable characters without spaces or any of ;,\"\\&=%+#")
        }
        for h in allowHosts where h.isEmpty || h.contains(where: { $0 == ":" || $0 == "/" || $0 == " " }) {
            throw ValidationError("--allow-host takes a host name without port or path, not '\(h)'")
        }
    }

    /// The server runs in a task while this thread waits for it.
    func run() throws {
        let outcome = Locked<Result<Void, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let this = self
        Task.detached {
            do { try await this.serve(); outcome.withLock { $0 = .success(()) } } catch { outcome.withLock { $0 = .failure(error) } }
            done.signal()
        }
        done.wait()
        try outcome.current!.get()
    }

    func serve() async throws {
        var c = DashboardServer.Configuration(store: store)
        c.host = host
        c.port = port
        c.threads = threads ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        c.cacheBytes = cacheMb << 20
        c.verbose = verbose
        c.allowHosts = allowHosts
        c.token = token
        if token == nil && !AccessControl.isLoopback(host) { c.token = AccessControl.generateToken() }
        if c.token != nil && !AccessControl.isLoopback(host) {
            printToStderr("stave: serve: \(host) is reachable from other machines: every request needs the access token (in the URL printed; or send 'Authorization: Bearer TOKEN'). The connection is plain HTTP: use it on networks you trust.")
        }
        let store = self.store
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
