import ArgumentParser

// What `stave serve` and the stave-serve program it runs share: the
// options, their help and checks, so `stave help serve` prints the whole
// help and a bad option is refused before the server program starts.
// Kept apart from StaveServer so that `stave` links no HTTP code.

public enum ServeHelp {
    public static let abstract = "Serve the live dashboard and its JSON API over a store (read-only)."
    public static let discussion = """
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

        Examples:
          stave serve music.stave                    # http://127.0.0.1:8080/
          stave serve music.stave --port 0 --verbose # any free port, printed
          stave serve music.stave --host 0.0.0.0 --allow-host stats.example.org
        """
}

/// An access token's rule: 16 to 256 printable ASCII characters, none of
/// them a space or one of `;,"\&=%+#` (which cookies, headers and URLs
/// would need to escape).
public enum ServeToken {
    public static func isValid(_ t: String) -> Bool {
        let bytes = Array(t.utf8)
        guard (16...256).contains(bytes.count) else { return false }
        return bytes.allSatisfy { $0 > 32 && $0 < 127 && ![59, 44, 34, 92, 38, 61, 37, 43, 35].contains($0) }
    }
}

public struct ServeOptions: ParsableArguments {
    public init() {}

    @Argument(help: "The store directory.")
    public var store: String

    @Option(help: "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).")
    public var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; the URL printed says which).")
    public var port = 8080

    @Option(help: ArgumentHelp("Access token every request must carry (16 to 256 characters, no spaces or ;,\"\\&=%+#). Required off loopback: generated and printed when not given.", valueName: "token"))
    public var token: String?

    @Option(name: .customLong("allow-host"), help: ArgumentHelp("Also accept requests whose Host header is this name (repeatable; e.g. the machine's DNS name).", valueName: "name"))
    public var allowHosts: [String] = []

    @Option(help: "Cache of answers per commit, in MB (0: no cache, every request runs its query).")
    public var cacheMb = 64

    @Option(help: "Worker threads of each query (default: the number of cores).")
    public var threads: Int?

    @Flag(help: "Log the server's start and stop on stderr.")
    public var verbose = false

    public func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (0...65536).contains(cacheMb) else { throw ValidationError("--cache-mb must be 0...65536") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be 1...256") }
        if let token, !ServeToken.isValid(token) {
            throw ValidationError("--token must be 16 to 256 printable characters without spaces or any of ;,\"\\&=%+#")
        }
        for h in allowHosts where h.isEmpty || h.contains(where: { $0 == ":" || $0 == "/" || $0 == " " }) {
            throw ValidationError("--allow-host takes a host name without port or path, not '\(h)'")
        }
    }
}
