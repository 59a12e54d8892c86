#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird

/// Who may use the server, checked on every request before anything else.
///
/// - The Host header must name this server: `localhost`, an IP address
///   (v4, or v6 in brackets), the address it is bound to, or a name given
///   with --allow-host (any of them with a port). A web page on another
///   site whose DNS name was re-pointed at this machine (DNS rebinding)
///   sends its own name as Host and is refused, so it cannot read the API
///   from the user's browser.
/// - Bound to an address other machines can reach, every request must
///   carry the access token: `?token=T` (which also sets a cookie, so that
///   the page's own requests carry it), the cookie, or
///   `Authorization: Bearer T`. On loopback no token is needed unless one
///   was given.
public struct AccessControl: Sendable {
    /// The token every request must carry; nil: none is required.
    let token: String?
    /// Host names accepted besides localhost and IP addresses (lowercase).
    let names: Set<String>

    static let cookieName = "stave_token"

    init(boundHost: String, token: String?, allowHosts: [String]) {
        self.token = token
        var names = Set(allowHosts.map { Self.normalized($0) })
        names.insert(Self.normalized(boundHost))
        self.names = names
    }

    /// Loopback addresses: 127.0.0.0/8, ::1 and localhost. Everything else
    /// (0.0.0.0 and :: included: every interface) is reachable from other
    /// machines.
    public static func isLoopback(_ host: String) -> Bool {
        let h = normalized(host)
        if h == "localhost" || h == "::1" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, h, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        return false
    }

    /// 128 random bits from the kernel, as 32 hex digits.
    public static func generateToken() -> String {
        var g = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for _ in 0..<2 {
            var v = g.next() as UInt64
            for _ in 0..<16 { out.append(hex[Int(v & 15)]); v >>= 4 }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase, without a trailing dot or IPv6 brackets.
    static func normalized(_ host: String) -> String {
        var h = Substring(host.lowercased())
        if h.hasSuffix(".") { h = h.dropLast() }
        if h.hasPrefix("["), h.hasSuffix("]") { h = h.dropFirst().dropLast() }
        return String(h)
    }

    /// The host part of a Host header value (`name`, `name:port`,
    /// `[v6]` or `[v6]:port`), or nil when it is not of that shape.
    static func hostPart(_ value: String) -> String? {
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { return nil }
            let rest = value[value.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isASCII) && UInt16(rest.dropFirst()) != nil) else { return nil }
            return String(value[value.index(after: value.startIndex)..<close])
        }
        let pieces = value.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count <= 2, !pieces[0].isEmpty else { return nil }
        if pieces.count == 2 { guard UInt16(pieces[1]) != nil else { return nil } }
        return String(pieces[0])
    }

    /// nil when the Host header names this server; otherwise why not.
    func hostProblem(_ request: Request) -> String? {
        guard let authority = request.head.authority else { return "a request must have a Host header" }
        if request.headers[HTTPField.Name("Host")!] != nil { return "a request must have one Host header" }
        guard let host = Self.hostPart(authority) else { return "the Host header '\(authority.prefix(100))' is not a host name with an optional port" }
        let h = Self.normalized(host)
        if h == "localhost" || names.contains(h) { return nil }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, h, &v4) == 1 || inet_pton(AF_INET6, h, &v6) == 1 { return nil }
        return "the Host header '\(host.prefix(100))' is not this server's address (stave serve answers requests addressed to localhost, an IP address or its --host; name others with --allow-host)"
    }

    enum Verdict: Equatable {
        case allowed
        /// Allowed by the token in the query: the response sets the cookie.
        case allowedByQuery
        case refused(String)
    }

    func check(_ request: Request) -> Verdict {
        guard let token else { return .allowed }
        let expected = Array(token.utf8)
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") {
            return Self.same(Array(auth.dropFirst(7).utf8), expected) ? .allowed : .refused("the access token is wrong")
        }
        if let query = request.uri.query {
            for piece in query.split(separator: "&") where piece.hasPrefix("token=") {
                return Self.same(Array(piece.dropFirst(6).utf8), expected) ? .allowedByQuery : .refused("the access token is wrong")
            }
        }
        for value in request.headers[values: .cookie] {
            for c in value.split(separator: ";") {
                let c = c.drop { $0 == " " }
                if c.hasPrefix(Self.cookieName + "=") {
                    if Self.same(Array(c.dropFirst(Self.cookieName.count + 1).utf8), expected) { return .allowed }
                }
            }
        }
        return .refused("this server needs its access token: open the URL it printed (ending in ?token=...) or send 'Authorization: Bearer TOKEN'")
    }

    var setCookie: String { "\(Self.cookieName)=\(token ?? ""); Path=/; HttpOnly; SameSite=Strict" }

    /// Equality in time independent of where the bytes differ.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
