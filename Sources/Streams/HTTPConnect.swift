// HTTP CONNECT (RFC 9110 §9.3.6): the request head a proxy client sends — request line, header
// fields up to a bound, Proxy-Authorization Basic (RFC 7617) — and the server state machine with
// the same shape as SOCKS5's: bytes in, actions out, bounded memory.
import Wire

public enum HTTPConnect {
    /// A parsed CONNECT request head.
    public struct Request: Equatable, Sendable {
        public var destination: StreamDestination
        /// HTTP minor version (1.0 or 1.1).
        public var minorVersion: Int
        /// Header fields in order, names lowercased.
        public var headers: [(name: String, value: String)]
        /// Username and password from Proxy-Authorization: Basic, when present and well formed.
        public var basicCredentials: (username: String, password: String)?

        public static func == (a: Request, b: Request) -> Bool {
            a.destination == b.destination && a.minorVersion == b.minorVersion
                && a.headers.elementsEqual(b.headers, by: { $0.name == $1.name && $0.value == $1.value })
                && a.basicCredentials?.username == b.basicCredentials?.username
                && a.basicCredentials?.password == b.basicCredentials?.password
        }
    }

    /// Why a request head is refused, with the status it is answered with.
    public enum Refusal: String, Error, Sendable, CaseIterable {
        case malformed = "http_connect_malformed"
        case notConnect = "http_connect_method_not_allowed"
        case badTarget = "http_connect_bad_target"
        case headTooLarge = "http_connect_head_too_large"
        case authenticationRequired = "http_connect_auth_required"
        case wrongCredentials = "http_connect_wrong_credentials"
        case ruleRejected = "http_connect_rule_rejected"
        case dialFailed = "http_connect_dial_failed"
        case dialTimedOut = "http_connect_dial_timeout"

        public var status: Int {
            switch self {
            case .malformed, .badTarget: 400
            case .notConnect: 405
            case .headTooLarge: 431
            case .authenticationRequired, .wrongCredentials: 407
            case .ruleRejected: 403
            case .dialFailed: 502
            case .dialTimedOut: 504
            }
        }
    }

    /// The complete reply text for a status (a head with no body beyond a short reason line).
    public static func reply(status: Int) -> [UInt8] {
        let reason: String
        var extra = ""
        switch status {
        case 200: return Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)
        case 400: reason = "Bad Request"
        case 403: reason = "Forbidden"
        case 405: reason = "Method Not Allowed"; extra = "Allow: CONNECT\r\n"
        case 407: reason = "Proxy Authentication Required"; extra = "Proxy-Authenticate: Basic realm=\"sluice\"\r\n"
        case 431: reason = "Request Header Fields Too Large"
        case 502: reason = "Bad Gateway"
        case 504: reason = "Gateway Timeout"
        default: reason = "Error"
        }
        let body = "\(status) \(reason)\n"
        return Array("HTTP/1.1 \(status) \(reason)\r\n\(extra)Content-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
    }

    /// Parses a request head from the start of `b`: `.needMoreBytes` until CRLF CRLF arrives (and
    /// `.invalid` past `maximumHeadBytes` without one); `consumed` ends after the blank line.
    public static func parse(_ b: UnsafeRawBufferPointer, maximumHeadBytes: Int = 8192) -> Result<StreamParse<Request>, Refusal> {
        guard let end = headEnd(b, limit: maximumHeadBytes) else {
            return b.count >= maximumHeadBytes ? .failure(.headTooLarge) : .success(.needMoreBytes)
        }
        // Lines without their CRLF; the last two (empty) are dropped.
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        let head = Array(b[0..<end])
        while i + 1 < head.count {
            if head[i] == 13, head[i + 1] == 10 { lines.append(head[start..<i]); i += 2; start = i } else { i += 1 }
        }
        guard let requestLine = lines.first else { return .failure(.malformed) }
        let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(.malformed) }
        let version = Array(parts[2])
        let minor: Int
        if version == Array("HTTP/1.1".utf8) { minor = 1 } else if version == Array("HTTP/1.0".utf8) { minor = 0 } else { return .failure(.malformed) }
        guard parts[0].allSatisfy(isTokenByte), !parts[0].isEmpty else { return .failure(.malformed) }
        guard Array(parts[0]) == Array("CONNECT".utf8) else { return .failure(.notConnect) }
        guard let destination = authority(parts[1]) else { return .failure(.badTarget) }
        var headers: [(name: String, value: String)] = []
        var credentials: (String, String)?
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return .failure(.malformed) }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else { return .failure(.malformed) }  // also refuses obs-fold
            var value = line[(colon + 1)...]
            while let f = value.first, f == 32 || f == 9 { value = value.dropFirst() }
            while let l = value.last, l == 32 || l == 9 { value = value.dropLast() }
            guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else { return .failure(.malformed) }
            let lower = String(decoding: name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
            let text = String(decoding: value, as: UTF8.self)
            headers.append((lower, text))
            if lower == "proxy-authorization" { credentials = basic(value) }
        }
        return .success(.complete(Request(destination: destination, minorVersion: minor, headers: headers, basicCredentials: credentials), consumed: end))
    }

    /// The offset just past CRLF CRLF, looking at most `limit` bytes.
    static func headEnd(_ b: UnsafeRawBufferPointer, limit: Int) -> Int? {
        let n = min(b.count, max(0, limit))
        guard n >= 4 else { return nil }
        for i in 3..<n where b[i] == 10 && b[i - 1] == 13 && b[i - 2] == 10 && b[i - 3] == 13 { return i + 1 }
        return nil
    }

    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }

    /// authority-form: host ":" port, host a name, an IPv4 address or "[" IPv6 "]"; port 1–65535.
    static func authority(_ t: ArraySlice<UInt8>) -> StreamDestination? {
        guard let colon = t.lastIndex(of: UInt8(ascii: ":")) else { return nil }
        let hostBytes = t[t.startIndex..<colon], portBytes = t[(colon + 1)...]
        guard (1...5).contains(portBytes.count), portBytes.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let portValue = portBytes.reduce(0) { $0 * 10 + Int($1 - 48) }
        guard (1...65535).contains(portValue) else { return nil }
        let host: StreamHost
        if hostBytes.first == UInt8(ascii: "["), hostBytes.last == UInt8(ascii: "]"), hostBytes.count > 2 {
            guard let a = IPv6Address(String(decoding: hostBytes.dropFirst().dropLast(), as: UTF8.self)) else { return nil }
            host = .ipv6(a)
        } else if let a = IPv4Address(String(decoding: hostBytes, as: UTF8.self)), hostBytes.allSatisfy({ $0 == 46 || ($0 >= 48 && $0 <= 57) }) {
            host = .ipv4(a)
        } else if let name = StreamHost.validName(hostBytes) {
            host = .name(name)
        } else {
            return nil
        }
        return StreamDestination(host: host, port: UInt16(portValue))
    }

    /// "Basic" SP base64(user ":" password) (RFC 7617 §2); nil when malformed.
    static func basic(_ value: ArraySlice<UInt8>) -> (String, String)? {
        let parts = value.split(separator: 32, maxSplits: 1)
        guard parts.count == 2, String(decoding: parts[0], as: UTF8.self).lowercased() == "basic",
              let decoded = Base64.decode(parts[1].drop(while: { $0 == 32 })),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return (String(decoding: decoded[..<colon], as: UTF8.self), String(decoding: decoded[(colon + 1)...], as: UTF8.self))
    }
}

/// Standard base64 (RFC 4648 §4), padded.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let b0 = UInt32(bytes[i]), b1 = n > 1 ? UInt32(bytes[i + 1]) : 0, b2 = n > 2 ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(n > 1 ? alphabet[Int(v >> 6 & 63)] : 61); out.append(n > 2 ? alphabet[Int(v & 63)] : 61)
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode<C: Collection<UInt8>>(_ text: C) -> [UInt8]? {
        let t = Array(text)
        guard t.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < t.count {
            var v: UInt32 = 0
            var pad = 0
            for j in 0..<4 {
                let c = t[i + j]
                let d: UInt32
                switch c {
                case 65...90: d = UInt32(c - 65)
                case 97...122: d = UInt32(c - 71)
                case 48...57: d = UInt32(c) + 4
                case 43: d = 62
                case 47: d = 63
                case 61 where i + 4 == t.count && j >= 2: d = 0; pad += 1
                default: return nil
                }
                if pad > 0 && c != 61 { return nil }
                v = v << 6 | d
            }
            out.append(UInt8(v >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(v >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(v & 0xFF)) }
            i += 4
        }
        return out
    }
}

public enum HTTPConnectAction: Equatable, Sendable {
    case send([UInt8])
    /// Dial, then `connected()` or `failed(_:)`.
    case connect(StreamDestination, username: String?)
    case close(HTTPConnect.Refusal)
    case needMoreBytes
}

public struct HTTPConnectPolicy: Sendable {
    /// Username → password; when not empty, a request without matching Basic credentials gets 407.
    public var users: [String: String]
    public var maximumHeadBytes: Int
    public init(users: [String: String] = [:], maximumHeadBytes: Int = 8192) {
        self.users = users; self.maximumHeadBytes = maximumHeadBytes
    }
}

public struct HTTPConnectServerMachine: Sendable {
    public enum State: Equatable, Sendable { case head, dialing, established, closed }
    public private(set) var state: State = .head
    public let policy: HTTPConnectPolicy
    private var buffer: [UInt8] = []

    public init(policy: HTTPConnectPolicy) { self.policy = policy }

    /// Bytes after the request head (the client's first stream data), to forward once connected.
    public var pendingPayload: [UInt8] { state == .dialing || state == .established ? buffer : [] }

    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> [HTTPConnectAction] {
        switch state {
        case .closed, .established: return []
        case .dialing:
            guard buffer.count + bytes.count <= policy.maximumHeadBytes else { return refuse(.headTooLarge) }
            buffer.append(contentsOf: bytes)
            return [.needMoreBytes]
        case .head:
            // The head is searched for within the bound; what follows it in the same read is
            // stream data. The buffer holds at most the bound plus one read.
            buffer.append(contentsOf: bytes)
            let parsed = buffer.withUnsafeBytes { HTTPConnect.parse($0, maximumHeadBytes: policy.maximumHeadBytes) }
            switch parsed {
            case .failure(let why): return refuse(why)
            case .success(.invalid): return refuse(.malformed)
            case .success(.needMoreBytes): return [.needMoreBytes]
            case .success(.complete(let request, let n)):
                buffer.removeFirst(n)
                var user: String?
                if !policy.users.isEmpty {
                    guard let c = request.basicCredentials else { return refuse(.authenticationRequired) }
                    guard let expected = policy.users[c.username], constantTimeEqual(Array(expected.utf8), Array(c.password.utf8)) else {
                        return refuse(.wrongCredentials)
                    }
                    user = c.username
                }
                state = .dialing
                return [.connect(request.destination, username: user)]
            }
        }
    }

    private mutating func refuse(_ why: HTTPConnect.Refusal) -> [HTTPConnectAction] {
        state = .closed; buffer = []
        return [.send(HTTPConnect.reply(status: why.status)), .close(why)]
    }

    public mutating func connected() -> [HTTPConnectAction] {
        guard state == .dialing else { return [] }
        state = .established
        return [.send(HTTPConnect.reply(status: 200))]
    }

    /// `.ruleRejected` (403), `.dialFailed` (502) or `.dialTimedOut` (504).
    public mutating func failed(_ why: HTTPConnect.Refusal) -> [HTTPConnectAction] {
        guard state == .dialing else { return [] }
        return refuse(why)
    }
}
