// SOCKS5 messages, RFC 1928 (greeting §3, request §4, replies §6, UDP header §7) and the
// username/password sub-negotiation of RFC 1929 §2. Each parser reads a prefix of a buffer and says
// whether it needs more bytes, took a message, or found bytes that can never be one.
import Wire

public enum SOCKS5 {
    public static let version: UInt8 = 5

    /// RFC 1928 §3 method numbers.
    public enum Method {
        public static let noAuthentication: UInt8 = 0x00
        public static let usernamePassword: UInt8 = 0x02
        public static let noAcceptable: UInt8 = 0xFF
    }

    /// RFC 1928 §4 CMD.
    public enum Command: UInt8, Sendable {
        case connect = 1, bind = 2, udpAssociate = 3
    }

    /// RFC 1928 §6 REP.
    public enum ReplyCode: UInt8, Sendable, CaseIterable {
        case succeeded = 0
        case generalFailure = 1
        case notAllowedByRuleset = 2
        case networkUnreachable = 3
        case hostUnreachable = 4
        case connectionRefused = 5
        case ttlExpired = 6
        case commandNotSupported = 7
        case addressTypeNotSupported = 8
    }

    /// RFC 1928 §4 ATYP.
    public enum AddressType {
        public static let ipv4: UInt8 = 1
        public static let domainName: UInt8 = 3
        public static let ipv6: UInt8 = 4
    }

    // MARK: Greeting

    /// VER, NMETHODS (1–255), METHODS.
    public struct Greeting: Equatable, Sendable {
        public var methods: [UInt8]
        public init(methods: [UInt8]) { self.methods = methods }

        public static func parse(_ b: UnsafeRawBufferPointer) -> StreamParse<Greeting> {
            guard b.count >= 1 else { return .needMoreBytes }
            guard b[0] == SOCKS5.version else { return .invalid("greeting version \(b[0]), not 5") }
            guard b.count >= 2 else { return .needMoreBytes }
            let n = Int(b[1])
            guard n >= 1 else { return .invalid("greeting offers no methods") }
            guard b.count >= 2 + n else { return .needMoreBytes }
            return .complete(Greeting(methods: Array(b[2..<(2 + n)])), consumed: 2 + n)
        }

        /// At most 255 methods are sent (the count is one octet).
        public func emit() -> [UInt8] { [SOCKS5.version, UInt8(min(methods.count, 255))] + methods.prefix(255) }
    }

    /// The server's choice: VER, METHOD.
    public static func methodSelection(_ method: UInt8) -> [UInt8] { [version, method] }

    // MARK: RFC 1929

    /// VER (1), ULEN (1–255), UNAME, PLEN (1–255), PASSWD.
    public struct UsernamePassword: Equatable, Sendable {
        public var username: [UInt8]
        public var password: [UInt8]
        public init(username: [UInt8], password: [UInt8]) { self.username = username; self.password = password }

        public static func parse(_ b: UnsafeRawBufferPointer) -> StreamParse<UsernamePassword> {
            guard b.count >= 1 else { return .needMoreBytes }
            guard b[0] == 1 else { return .invalid("username/password version \(b[0]), not 1") }
            guard b.count >= 2 else { return .needMoreBytes }
            let ulen = Int(b[1])
            guard ulen >= 1 else { return .invalid("empty username") }
            guard b.count >= 3 + ulen else { return .needMoreBytes }
            let plen = Int(b[2 + ulen])
            guard plen >= 1 else { return .invalid("empty password") }
            let end = 3 + ulen + plen
            guard b.count >= end else { return .needMoreBytes }
            return .complete(UsernamePassword(username: Array(b[2..<(2 + ulen)]), password: Array(b[(3 + ulen)..<end])), consumed: end)
        }

        /// Nil when a field is empty or longer than 255 octets.
        public func emit() -> [UInt8]? {
            guard (1...255).contains(username.count), (1...255).contains(password.count) else { return nil }
            return [1, UInt8(username.count)] + username + [UInt8(password.count)] + password
        }
    }

    /// RFC 1929 reply: VER 1, STATUS (0 success, anything else failure).
    public static func authenticationReply(success: Bool) -> [UInt8] { [1, success ? 0 : 1] }

    // MARK: Addresses

    /// ATYP, address, port at `offset`; `.complete` consumes up to the end of the port.
    static func parseAddress(_ b: UnsafeRawBufferPointer, at offset: Int) -> StreamParse<StreamDestination> {
        guard b.count > offset else { return .needMoreBytes }
        let host: StreamHost
        var at = offset + 1
        switch b[offset] {
        case AddressType.ipv4:
            guard b.count >= at + 4 else { return .needMoreBytes }
            host = .ipv4(IPv4Address(b, at: at)); at += 4
        case AddressType.ipv6:
            guard b.count >= at + 16 else { return .needMoreBytes }
            host = .ipv6(IPv6Address(b, at: at)); at += 16
        case AddressType.domainName:
            guard b.count > at else { return .needMoreBytes }
            let n = Int(b[at]); at += 1
            guard n >= 1 else { return .invalid("empty domain name") }
            guard b.count >= at + n else { return .needMoreBytes }
            guard let name = StreamHost.validName(b[at..<(at + n)]) else { return .invalid("domain name is not a host name") }
            host = .name(name); at += n
        case let t:
            return .invalid("address type \(t)")
        }
        guard b.count >= at + 2 else { return .needMoreBytes }
        let port = UInt16(b[at]) << 8 | UInt16(b[at + 1])
        return .complete(StreamDestination(host: host, port: port), consumed: at + 2 - offset)
    }

    /// ATYP, address, port. Nil for a name that `StreamHost.validName` refuses.
    public static func emitAddress(_ d: StreamDestination) -> [UInt8]? {
        var out: [UInt8]
        switch d.host {
        case .ipv4(let a): out = [AddressType.ipv4] + a.octets
        case .ipv6(let a): out = [AddressType.ipv6] + a.octets
        case .name(let n):
            let bytes = Array(n.utf8)
            guard StreamHost.validName(bytes) != nil, bytes.count <= 255 else { return nil }
            out = [AddressType.domainName, UInt8(bytes.count)] + bytes
        }
        return out + [UInt8(d.port >> 8), UInt8(truncatingIfNeeded: d.port)]
    }

    // MARK: Request and reply

    /// VER, CMD, RSV (0), ATYP, DST.ADDR, DST.PORT. The command is kept raw so an unknown one can be
    /// answered with `commandNotSupported`; the address type likewise (`addressTypeNotSupported`).
    public struct Request: Equatable, Sendable {
        public var command: UInt8
        public var destination: StreamDestination
        public init(command: UInt8, destination: StreamDestination) { self.command = command; self.destination = destination }

        public static func parse(_ b: UnsafeRawBufferPointer) -> StreamParse<Request> {
            guard b.count >= 1 else { return .needMoreBytes }
            guard b[0] == SOCKS5.version else { return .invalid("request version \(b[0]), not 5") }
            guard b.count >= 3 else { return .needMoreBytes }
            guard b[2] == 0 else { return .invalid("request reserved octet \(b[2]), not 0") }
            guard b.count >= 4 else { return .needMoreBytes }
            let atyp = b[3]
            guard atyp == AddressType.ipv4 || atyp == AddressType.ipv6 || atyp == AddressType.domainName else {
                return .invalid("address type \(atyp)")
            }
            switch parseAddress(b, at: 3) {
            case .needMoreBytes: return .needMoreBytes
            case .invalid(let why): return .invalid(why)
            case .complete(let d, let n): return .complete(Request(command: b[1], destination: d), consumed: 3 + n)
            }
        }

        public func emit() -> [UInt8]? {
            guard let address = SOCKS5.emitAddress(destination) else { return nil }
            return [SOCKS5.version, command, 0] + address
        }
    }

    /// VER, REP, RSV, ATYP, BND.ADDR, BND.PORT. A failure reply carries 0.0.0.0:0.
    public static func reply(_ code: ReplyCode, bound: StreamDestination = StreamDestination(host: .ipv4(.any), port: 0)) -> [UInt8] {
        let address = emitAddress(bound) ?? [AddressType.ipv4, 0, 0, 0, 0, 0, 0]
        return [version, code.rawValue, 0] + address
    }

    /// A reply as a client reads it.
    public struct Reply: Equatable, Sendable {
        public var code: UInt8
        public var bound: StreamDestination
        public static func parse(_ b: UnsafeRawBufferPointer) -> StreamParse<Reply> {
            guard b.count >= 1 else { return .needMoreBytes }
            guard b[0] == SOCKS5.version else { return .invalid("reply version \(b[0]), not 5") }
            guard b.count >= 3 else { return .needMoreBytes }
            guard b[2] == 0 else { return .invalid("reply reserved octet \(b[2]), not 0") }
            switch parseAddress(b, at: 3) {
            case .needMoreBytes: return .needMoreBytes
            case .invalid(let why): return .invalid(why)
            case .complete(let d, let n): return .complete(Reply(code: b[1], bound: d), consumed: 3 + n)
            }
        }
    }

    // MARK: UDP (RFC 1928 §7)

    /// RSV (2, zero), FRAG, ATYP, DST.ADDR, DST.PORT, DATA. `payload` is the range of DATA in the datagram.
    public struct UDPHeader: Equatable, Sendable {
        public var fragment: UInt8
        public var destination: StreamDestination
        public var payload: Range<Int>

        /// A whole datagram: there is no "more bytes", a short one is invalid.
        public static func parse(_ b: UnsafeRawBufferPointer) -> Result<UDPHeader, UDPRefusal> {
            guard b.count >= 4 else { return .failure(.truncated) }
            guard b[0] == 0, b[1] == 0 else { return .failure(.reservedNotZero) }
            switch parseAddress(b, at: 3) {
            case .needMoreBytes: return .failure(.truncated)
            case .invalid: return .failure(.badAddress)
            case .complete(let d, let n):
                // A gate does not reassemble (§7 allows it to drop fragments): FRAG must be 0.
                guard b[2] == 0 else { return .failure(.fragment) }
                return .success(UDPHeader(fragment: 0, destination: d, payload: (3 + n)..<b.count))
            }
        }

        /// The header for `destination` (FRAG 0); append the data.
        public static func emit(_ destination: StreamDestination) -> [UInt8]? {
            emitAddress(destination).map { [0, 0, 0] + $0 }
        }
    }

    /// Why a UDP datagram from a client is dropped (each one a counted reason).
    public enum UDPRefusal: String, Error, Sendable, CaseIterable {
        case truncated = "socks5_udp_truncated"
        case reservedNotZero = "socks5_udp_reserved"
        case badAddress = "socks5_udp_address"
        case fragment = "socks5_udp_fragment"
    }
}
