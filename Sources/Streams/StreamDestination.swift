// Room: Streams — layer 2. The protocol layer of the streams gateway (issue 17, docs/streams.md):
// sans-IO parsers and server state machines for SOCKS5 (RFC 1928, RFC 1929), HTTP CONNECT
// (RFC 9110 §9.3.6) and a TLS ClientHello peek (RFC 8446 §4.1.2, SNI RFC 6066 §3, ALPN RFC 7301),
// and the gate's routing rules. Bytes in, actions out; no sockets, no clock, no Foundation.
import Wire

/// Where a client asked to go: an address, or a name to resolve at the chosen egress.
public enum StreamHost: Hashable, Sendable, CustomStringConvertible {
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    /// A DNS name, lowercased, without a trailing dot (checked by `StreamHost.validName`).
    case name(String)

    public var description: String {
        switch self {
        case .ipv4(let a): "\(a)"
        case .ipv6(let a): "[\(a)]"
        case .name(let n): n
        }
    }

    /// A name as a gate accepts it: 1–253 octets of letters, digits, '-', '_' and '.', no empty
    /// label, no label over 63 octets; lowercased, one trailing dot dropped. Nil when not such a name.
    public static func validName<C: Collection<UInt8>>(_ bytes: C) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var label = 0
        for b in bytes {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.append(b); label += 1
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                out.append(b | 0x20); label += 1
            case UInt8(ascii: "."):
                if label == 0 { return nil }
                out.append(b); label = 0
            default:
                return nil
            }
            if label > 63 { return nil }
        }
        if out.last == UInt8(ascii: ".") { out.removeLast() }
        guard !out.isEmpty, out.count <= 253 else { return nil }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A host and a port.
public struct StreamDestination: Hashable, Sendable, CustomStringConvertible {
    public var host: StreamHost
    public var port: UInt16
    public init(host: StreamHost, port: UInt16) { self.host = host; self.port = port }
    public var description: String { "\(host):\(port)" }
}

/// The answer of an incremental parser to the bytes it has so far.
public enum StreamParse<Value: Sendable>: Sendable {
    /// Not enough bytes yet; nothing consumed.
    case needMoreBytes
    /// A complete value from the first `consumed` bytes.
    case complete(Value, consumed: Int)
    /// The bytes can never become a valid message.
    case invalid(String)
}

extension StreamParse: Equatable where Value: Equatable {}
