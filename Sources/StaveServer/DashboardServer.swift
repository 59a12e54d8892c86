#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import StaveFormat
import StaveIO
import StaveQuery
import StaveReports

/// `stave serve`: the JSON API and the dashboard page over one store,
/// read-only. Every API answer is written by the same QueryRunner and
/// writers as the CLI's `--format json`.
public struct DashboardServer: Sendable {
    public struct Configuration: Sendable {
        public var store: String
        public var host = "127.0.0.1"
        /// 0: any free port (the URL printed says which).
        public var port = 8080
        public var threads = 2
        /// Answers kept per generation, in bytes (0: none).
        public var cacheBytes = 64 << 20
        /// How often MANIFEST is looked at for new commits.
        public var pollInterval: Duration = .milliseconds(100)
        /// Open event streams at most (more get 503).
        public var maxEventStreams = 256
        /// Called once listening, with the URL.
        public var onListening: @Sendable (String) -> Void = { _ in }
        public var verbose = false
        /// The access token every request must carry; nil: none (allowed
        /// only on a loopback address, see `AccessControl`).
        public var token: String?
        /// Host header names accepted besides localhost, IP addresses and
        /// `host`.
        public var allowHosts: [String] = []

        public init(store: String) {
            self.store = store
        }
    }

    let configuration: Configuration

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Opens the store (errors here are the CLI's: exit 66 for a bad store)
    /// and serves until SIGINT or SIGTERM.
    public func run() async throws {
        let c = configuration
        precondition(c.token != nil || AccessControl.isLoopback(c.host), "a server other machines can reach needs a token")
        let cache = ResultCache(maxBytes: c.cacheBytes)
        let watcher = try StoreWatcher(path: c.store, threads: c.threads, executor: QueryExecutor(), cache: cache)
        let responder = DashboardResponder(watcher: watcher, cache: cache, streams: EventStreams(limit: c.maxEventStreams),
                                           access: AccessControl(boundHost: c.host, token: c.token, allowHosts: c.allowHosts))
        var logger = Logger(label: "stave.serve")
        logger.logLevel = c.verbose ? .info : .warning
        let host = c.host
        let app = Application(
            responder: responder,
            // Heads of up to 256 KB are read (NIO's default is 80 KB) so that
            // an over-long URL gets this server's 414 rather than a bare 400.
            server: .http1(configuration: .init(idleTimeout: .seconds(60), httpDecoderConfiguration:
                .init(maxHeaderFieldSize: 256 << 10, maxHeaderListSize: 256 << 10, maxHeaderFieldCount: 200))),
            configuration: .init(address: .hostname(host, port: c.port), serverName: "stave"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? c.port
                let shown = host.contains(":") ? "[\(host)]" : host
                c.onListening("http://\(shown):\(port)/" + (c.token.map { "?token=" + $0 } ?? ""))
            },
            logger: logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await watcher.watch(every: c.pollInterval) }
            group.addTask {
                do { try await app.runService() } catch let e as IOError where e.errnoCode == EADDRINUSE {
                    throw StaveError.unavailable("serve: port \(c.port) on \(host) is in use by another program: choose another with --port (--port 0 picks a free one)")
                } catch let e as IOError where e.errnoCode == EADDRNOTAVAIL {
                    throw StaveError.unavailable("serve: \(host) is not an address of this machine: choose another with --host")
                } catch let e as IOError where e.errnoCode == EACCES {
                    throw StaveError.unavailable("serve: port \(c.port) needs privileges this process lacks: choose a port above 1023")
                }
            }
            // The server returns on SIGINT/SIGTERM (after its graceful
            // shutdown); then the watcher stops too.
            try await group.next()
            group.cancelAll()
        }
    }
}

/// Counts open event streams against a limit. A stream counts from the
/// moment its body starts until it ends (a response whose body never runs,
/// because its client left first, leaks nothing); a request is refused
/// while the count is at the limit, so a burst can pass it by a few.
final class EventStreams: Sendable {
    let limit: Int
    private let open = Locked(0)

    init(limit: Int) { self.limit = limit }

    var isFull: Bool { open.current >= limit }
    func enter() { open.withLock { $0 += 1 } }
    func leave() { open.withLock { $0 -= 1 } }
}

struct DashboardResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let watcher: StoreWatcher
    let cache: ResultCache
    let streams: EventStreams
    let access: AccessControl

    /// The longest URL (path and query) accepted.
    static let maxURI = 8192

    static let endpoints = ["summary", "profile", "stats", "breakdown", "hours", "top-zips"]

    func respond(to request: Request, context: Context) async throws -> Response {
        if let problem = access.hostProblem(request) { return Self.error(.forbidden, problem) }
        let verdict = access.check(request)
        if case .refused(let why) = verdict {
            return Self.error(.unauthorized, why, extra: [.wwwAuthenticate: "Bearer realm=\"stave\""])
        }
        guard request.method == .get || request.method == .head else {
            return Self.error(.methodNotAllowed, "only GET and HEAD are served (stave serve never changes the store)", extra: [.allow: "GET, HEAD"])
        }
        var response = await route(request)
        if verdict == .allowedByQuery { response.headers[.setCookie] = access.setCookie }
        // HEAD: the GET answer's status and headers (its Content-Length
        // included), no body; an event stream's body never starts.
        return request.method == .head ? response.createHeadResponse() : response
    }

    func route(_ request: Request) async -> Response {
        // Requests carry no body: one that announces one is refused before it is read.
        if let length = request.headers[.contentLength], length != "0" {
            return Self.error(.contentTooLarge, "requests take no body")
        }
        if request.headers[.transferEncoding] != nil { return Self.error(.contentTooLarge, "requests take no body") }
        let path = request.uri.path
        guard path.utf8.count + (request.uri.query?.utf8.count ?? 0) <= Self.maxURI else {
            return Self.error(.uriTooLong, "the URL is longer than \(Self.maxURI) bytes")
        }
        switch path {
        // The page's files (Sources/StaveServer/Dashboard/), embedded at build time.
        case "/", "/index.html": return Self.asset(PackageResources.index_html, type: "text/html; charset=utf-8")
        case "/app.js": return Self.asset(PackageResources.app_js, type: "text/javascript; charset=utf-8")
        case "/app.css": return Self.asset(PackageResources.app_css, type: "text/css; charset=utf-8")
        case "/api/events": return events(request)
        case "/api", "/api/": return Self.json(.ok, Array(Self.apiIndex.utf8))
        default: break
        }
        if path.hasPrefix("/api/") {
            let rest = path.dropFirst(5)
            if Self.endpoints.contains(String(rest)) { return await api(String(rest), id: nil, request) }
            if rest.hasPrefix("customers/") {
                let id = rest.dropFirst("customers/".count)
                if !id.isEmpty && !id.contains("/") { return await api("customers", id: String(id), request) }
            }
        }
        return Self.error(.notFound, "no such path: \(path) (the API is under /api/: \(Self.endpoints.joined(separator: ", ")), customers/ID, events)")
    }

    // MARK: The API

    func api(_ endpoint: String, id: String?, _ request: Request) async -> Response {
        // (The access token, when one came in the query, is not a query parameter.)
        let parsed = QueryString.parse(request.uri.query).flatMap {
            QueryRequest.parse(endpoint: endpoint, id: id, query: access.token == nil ? $0 : $0.filter { $0.0 != "token" })
        }
        let query: QueryRequest
        switch parsed {
        case .success(let q): query = q
        case .failure(let e): return Self.error(.badRequest, "\(e.parameter): \(e.message)", parameter: e.parameter)
        }
        if let gone = watcher.gone { return Self.error(.serviceUnavailable, gone) }
        let snapshot = watcher.current
        let executor = watcher.executor
        do {
            if query.needsCustomerTable, try await executor.run({ try snapshot.context.customerTableIfAny() }) == nil {
                return Self.error(.notFound, "the store has no customer table (add one: stave convert --customers cust.csv -o STORE)")
            }
            let answer = try await cache.answer(ResultCache.Key(serial: snapshot.serial, request: query)) {
                try await executor.run {
                    let result = try QueryRunner.run(query, in: snapshot.context)
                    let out = OutputFile.memory()
                    try result.write(.json, to: out)
                    return RenderedAnswer(body: out.bytes(), total: result.total)
                }
            }
            var headers: HTTPFields = [Self.generationHeader: String(snapshot.generation)]
            if case .profile = query.kind { headers[Self.totalHeader] = String(answer.total) }
            return Self.json(.ok, answer.body, extra: headers)
        } catch let e as StaveError {
            switch e {
            case .notFound(let message): return Self.error(.notFound, message)
            case .usage(let message): return Self.error(.badRequest, message)
            default: return Self.error(.internalServerError, e.description)
            }
        } catch {
            return Self.error(.internalServerError, "\(error)")
        }
    }

    static let apiIndex = """
    {"endpoints":["/api/summary","/api/profile","/api/stats","/api/breakdown","/api/hours","/api/top-zips","/api/customers/{id}","/api/events"],\
    "parameters":{"every query":["from","to","customer","level","campaign","gender","status"],\
    "profile":["with_customers","sort","order","limit","offset"],"breakdown":["by"],"hours":["by","per"],"top-zips":["limit"],\
    "customers/{id}":["from","to"]}}

    """

    // MARK: Live updates

    /// Server-Sent Events: a `snapshot` event at once, then a `commit` event
    /// whenever the store's generation changes (looked at every 50 ms), a
    /// comment every 15 s so that a vanished client is noticed. The stream
    /// ends when the server shuts down.
    func events(_ request: Request) -> Response {
        guard !streams.isFull else { return Self.error(.serviceUnavailable, "too many open event streams (\(streams.limit))") }
        let watcher = self.watcher, streams = self.streams
        let headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                                   .xContentTypeOptions: "nosniff"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            streams.enter()
            defer { streams.leave() }
            var snapshot = watcher.current
            var wasGone = watcher.gone
            if let wasGone {
                try await writer.write(ByteBuffer(string: "retry: 1000\nevent: gone\ndata: {\"error\":\(CellText.jsonString(wasGone))}\n\n"))
            } else {
                try await writer.write(ByteBuffer(string: "retry: 1000\nevent: snapshot\ndata: \(snapshot.eventJSON)\n\n"))
            }
            var quiet = ContinuousClock.now
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try await Task.sleep(for: .milliseconds(50))
                let gone = watcher.gone
                if let gone, gone != wasGone {
                    wasGone = gone
                    try await writer.write(ByteBuffer(string: "event: gone\ndata: {\"error\":\(CellText.jsonString(gone))}\n\n"))
                    quiet = .now
                    continue
                }
                let now = watcher.current
                if gone == nil && (now.serial != snapshot.serial || wasGone != nil) {
                    snapshot = now
                    wasGone = nil
                    try await writer.write(ByteBuffer(string: "event: commit\ndata: \(snapshot.eventJSON)\n\n"))
                    quiet = .now
                } else if ContinuousClock.now - quiet > .seconds(15) {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    quiet = .now
                }
            }
            try await writer.finish(nil)
        })
    }

    // MARK: Responses

    static let generationHeader = HTTPField.Name("X-Stave-Generation")!
    static let totalHeader = HTTPField.Name("X-Total-Count")!

    static func json(_ status: HTTPResponse.Status, _ body: [UInt8], extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store",
                                   .xContentTypeOptions: "nosniff"]
        headers.append(contentsOf: extra)
        headers[.contentLength] = String(body.count)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `{"error":"...","parameter":"..."}` (parameter only for a bad one).
    static func error(_ status: HTTPResponse.Status, _ message: String, parameter: String? = nil, extra: HTTPFields = [:]) -> Response {
        var text = "{\"error\":" + CellText.jsonString(message)
        if let parameter { text += ",\"parameter\":" + CellText.jsonString(parameter) }
        text += "}\n"
        return json(status, Array(text.utf8), extra: extra)
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        let headers: HTTPFields = [
            .contentType: type, .cacheControl: "no-cache", .xContentTypeOptions: "nosniff",
            // Everything is served from here: no CDN, no inline script.
            .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ]
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
}
