import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small HTTP/1.1 client on raw sockets, for tests that need
/// what a library would hide: exact bytes, requests with bodies or left
/// half-sent, responses left unread, a stream read as it comes.
struct HTTPTestClient {
    let port: UInt16

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Failure: Error, CustomStringConvertible {
        case socket(String)
        case malformed(String)
        var description: String {
            switch self {
            case .socket(let s): return "socket: \(s)"
            case .malformed(let s): return "malformed response: \(s)"
            }
        }
    }

    /// A connected socket to 127.0.0.1:port (receive timeout 10 s).
    func connect() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.socket("socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw Failure.socket("connect: errno \(errno)") }
        return fd
    }

    func send(_ fd: Int32, _ text: String) throws {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure.socket("send: errno \(errno)") }
            done += n
        }
    }

    /// Everything until the server closes (or `until` says enough).
    func receive(_ fd: Int32, until: ([UInt8]) -> Bool = { _ in false }) throws -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return out }
            guard n > 0 else { throw Failure.socket("recv: errno \(errno) after \(out.count) bytes") }
            out += buf[0..<n]
            if until(out) { return out }
        }
    }

    /// One request on its own connection (`Connection: close`).
    func request(_ method: String = "GET", _ target: String, headers: [String] = [], body: String = "") throws -> Response {
        let fd = try connect()
        defer { close(fd) }
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for h in headers { text += h + "\r\n" }
        if !body.isEmpty { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + body
        try send(fd, text)
        return try Self.parse(try receive(fd))
    }

    func get(_ target: String) throws -> Response { try request("GET", target) }

    /// `bodyless`: the answer to a HEAD request, whose Content-Length is
    /// the GET's while no body follows.
    static func parse(_ raw: [UInt8], bodyless: Bool = false) throws -> Response {
        guard let end = find([13, 10, 13, 10], in: raw) else { throw Failure.malformed("no end of headers in \(raw.count) bytes") }
        let head = String(decoding: raw[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = head[0].split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure.malformed(head[0]) }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body) }
        if !bodyless, let length = headers["content-length"].flatMap(Int.init), length != body.count {
            throw Failure.malformed("content-length \(length), body \(body.count) bytes")
        }
        return Response(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = [], i = 0
        while true {
            guard let lineEnd = find([13, 10], in: data, from: i),
                  let size = Int(String(decoding: data[i..<lineEnd], as: UTF8.self), radix: 16) else { throw Failure.malformed("chunk size") }
            i = lineEnd + 2
            if size == 0 { return out }
            guard i + size <= data.count else { throw Failure.malformed("short chunk") }
            out += data[i..<(i + size)]
            i += size + 2
        }
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from start: Int = 0) -> Int? {
        guard hay.count >= needle.count, start <= hay.count - needle.count else { return nil }
        for i in start...(hay.count - needle.count) where hay[i] == needle[0] {
            if Array(hay[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}
