// The daemon's request sockets, served on the reactor without ever blocking it: the control
// socket (`sluice bridge --stats`, `--stats --json`, `--metrics`, `--reload`) and, when bridge.yml
// has `metrics: { listen: … }`, a tiny HTTP listener answering `GET /metrics` only.
//
// Each connection reads one request of at most `maxRequest` bytes, is answered, and is closed;
// an answer that does not fit the socket buffer is finished when the socket is writable again.
// At most `maxConnections` are open at once, each for at most `connectionLifetime`.
import Basics
import Engine
import Foundation
import HostIO

/// One connection to a request socket: its request so far, and its answer still to send.
final class RequestConnection {
    enum Kind { case control, http }
    let kind: Kind
    let stream: UnixStream
    var registration: Reactor.Registration?
    var timer: Reactor.Timer?
    var request: [UInt8] = []
    var answer: [UInt8] = []
    var sent = 0
    var answering: Bool { !answer.isEmpty }

    init(kind: Kind, stream: UnixStream) { self.kind = kind; self.stream = stream }
}

/// What a control-socket client asks for (its first line).
public enum ControlRequest: String, CaseIterable, Sendable {
    case stats
    case statsJSON = "stats-json"
    case metrics
    case reload
}

extension BridgeDaemon {
    /// The longest request read; longer ones are refused (HTTP 431) or cut off (control).
    static let maxRequest = 4096
    /// Request connections open at once; more are closed at accept.
    static let maxConnections = 32
    /// A connection still open after this long is closed.
    static let connectionLifetime = Duration.seconds(5)

    func openControl(_ path: String) throws {
        let listener = try makeSocket(path, config.controlAccess) { try UnixListener(path: path) }
        control = listener
        controlRegistration = try reactor.register(listener.descriptor, interest: .read) { [unowned self] _ in
            while let stream = try? self.control?.accept() {
                guard self.admits(stream, self.config.controlAccess, socket: path) else { stream.shutdown(); continue }
                self.admit(stream, kind: .control)
            }
        }
    }

    func openMetricsListener(_ config: MetricsConfig) throws {
        let listener = try TCPListener(bindingTo: .ipv4(config.listen))
        metricsListener = listener
        metricsRegistration = try reactor.register(listener.descriptor, interest: .read) { [unowned self] _ in
            while let stream = try? self.metricsListener?.accept() { self.admit(stream, kind: .http) }
        }
        let bound = (try? listener.localAddress()).map { "\($0)" } ?? "\(config.listen)"
        note(.info, "metrics listening", ["address": "\(bound)"])
    }

    func admit(_ stream: UnixStream, kind: RequestConnection.Kind) {
        guard requestConnections.count < Self.maxConnections else {
            stream.shutdown()
            requestsRefused &+= 1
            return
        }
        let connection = RequestConnection(kind: kind, stream: stream)
        let id = ObjectIdentifier(connection)
        requestConnections[id] = connection
        connection.registration = try? reactor.register(stream.descriptor, interest: .read) { [unowned self] events in
            self.serviceRequest(id, events: events)
        }
        connection.timer = reactor.schedule(after: Self.connectionLifetime) { [unowned self] in
            self.requestConnections[id]?.timer = nil
            self.closeRequest(id)
        }
        serviceRequest(id, events: .readable)
    }

    func serviceRequest(_ id: ObjectIdentifier, events: Reactor.Events) {
        guard let c = requestConnections[id] else { return }
        if c.answering { return flushAnswer(id) }
        var ended = false
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        defer { chunk.deallocate() }
        while c.request.count <= Self.maxRequest {
            guard let got = try? c.stream.receive(into: chunk) else {
                if events.contains(.hangup) || events.contains(.error) { ended = true }
                break
            }
            if got.count == 0 { ended = true; break }
            c.request += chunk[0..<got.count]
        }
        let answer: [UInt8]?
        switch c.kind {
        case .control: answer = controlAnswer(c.request, ended: ended)
        case .http: answer = httpAnswer(c.request)
        }
        guard let answer else {
            if ended { closeRequest(id) }
            return
        }
        c.answer = answer
        flushAnswer(id)
    }

    func flushAnswer(_ id: ObjectIdentifier) {
        guard let c = requestConnections[id] else { return }
        while c.sent < c.answer.count {
            let result: Int?
            do {
                result = try c.answer.withUnsafeBytes { bytes in try c.stream.send(UnsafeRawBufferPointer(rebasing: bytes[c.sent...])) }
            } catch {
                return closeRequest(id)  // the peer is gone
            }
            guard let sent = result else {
                if let r = c.registration { try? reactor.modify(r, interest: .write) }
                return  // the buffer is full: finished when writable
            }
            c.sent += sent
        }
        closeRequest(id)
    }

    func closeRequest(_ id: ObjectIdentifier) {
        guard let c = requestConnections.removeValue(forKey: id) else { return }
        if let r = c.registration { reactor.deregister(r) }
        if let t = c.timer { reactor.cancel(t) }
        c.stream.shutdown()
    }

    /// The control socket's answer once its first line is in (or the client closed its side:
    /// an empty request is `stats`, what clients before these commands sent).
    func controlAnswer(_ request: [UInt8], ended: Bool) -> [UInt8]? {
        let newline = request.firstIndex(of: UInt8(ascii: "\n"))
        guard newline != nil || ended || request.count > Self.maxRequest else { return nil }
        let line = String(decoding: request[..<(newline ?? min(request.count, Self.maxRequest))], as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if line == "impair" || line.hasPrefix("impair ") {
            return Array(impairAnswer(line.split(separator: " ").dropFirst().map(String.init)).utf8)
        }
        let asked: ControlRequest? = line.isEmpty ? .stats : ControlRequest(rawValue: line)
        switch asked {
        case .stats?: return Array(statistics().utf8)
        case .statsJSON?: return Array(statisticsJSON().utf8)
        case .metrics?: return Array(metricsText().utf8)
        case .reload?:
            let outcome = reload()
            return Array(((outcome.applied ? "ok: " : "refused: ") + outcome.message + "\n").utf8)
        case nil:
            return Array("error: unknown request '\(line.prefix(64))' (ask one of: \(ControlRequest.allCases.map(\.rawValue).joined(separator: ", ")), impair PORT key=value…)\n".utf8)
        }
    }

    /// The HTTP answer once the request head is complete; 431 when it is longer than `maxRequest`.
    func httpAnswer(_ request: [UInt8]) -> [UInt8]? {
        let end = Self.headEnd(request)
        guard end != nil || request.count > Self.maxRequest else { return nil }
        guard let end else { return Self.http(431, "Request Header Fields Too Large", body: "request too large\n") }
        let head = String(decoding: request[..<end], as: UTF8.self)
        let words = head.prefix { !$0.isNewline }.split(separator: " ")  // "\r\n" is one Character
        guard words.count == 3, words[2].hasPrefix("HTTP/1.") else { return Self.http(400, "Bad Request", body: "bad request\n") }
        guard words[0] == "GET" || words[0] == "HEAD" else {
            return Self.http(405, "Method Not Allowed", body: "only GET /metrics\n", extra: "Allow: GET, HEAD\r\n")
        }
        let path = words[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard path == "/metrics" else { return Self.http(404, "Not Found", body: "only /metrics is served here\n") }
        metricsScrapes &+= 1
        return Self.http(200, "OK", body: metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8",
                         headOnly: words[0] == "HEAD")
    }

    /// Where the blank line ending an HTTP head is (CRLF CRLF, or bare LF LF).
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == 10, bytes[i + 1] == 10 { return i }
            if i + 3 < bytes.count, bytes[i] == 13, bytes[i + 1] == 10, bytes[i + 2] == 13, bytes[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    static func http(_ status: Int, _ reason: String, body: String, contentType: String = "text/plain; charset=utf-8",
                     extra: String = "", headOnly: Bool = false) -> [UInt8] {
        let payload = Array(body.utf8)
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(payload.count)\r\n"
            + extra + "Connection: close\r\n\r\n"
        return Array(head.utf8) + (headOnly ? [] : payload)
    }

    /// Asks the bridge running with control socket `path` for `request`; returns its answer.
    public static func ask(controlSocket path: String, _ request: ControlRequest) throws -> String {
        try ask(controlSocket: path, line: request.rawValue)
    }

    /// Sends one request line (`impair vhost0-1 delay=20ms`) to the control socket at `path`;
    /// returns the answer.
    public static func ask(controlSocket path: String, line text: String) throws -> String {
        let stream = try UnixStream(connectingTo: path, nonBlocking: false)
        let line = Array((text + "\n").utf8)
        try line.withUnsafeBytes { try stream.sendAll($0) }
        var out: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        while let got = try stream.receive(into: buffer), got.count > 0 { out += buffer[0..<got.count] }
        return String(decoding: out, as: UTF8.self)
    }
}
