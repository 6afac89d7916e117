// Who a DHCP client is, as the server's bindings are keyed.
//
// RFC 2131 §4.2: "If the client supplies a 'client identifier', the client MUST use the same
// 'client identifier' in all subsequent messages, and the server MUST use that identifier to
// identify the client. If the client does not provide a 'client identifier' option, the server
// MUST use the contents of the 'chaddr' field to identify the client."

import Wire

/// The key of a client's binding: its client identifier (option 61) if it sent one, else its
/// hardware type and the 'hlen' octets of 'chaddr'. The two never compare equal.
public enum DHCPClientIdentity: Hashable, Sendable, CustomStringConvertible {
    /// Option 61's octets, opaque (RFC 2132 §9.14: "Identifiers SHOULD be treated as opaque
    /// objects by DHCP servers").
    case clientIdentifier([UInt8])
    /// 'htype' and the first 'hlen' octets of 'chaddr'.
    case hardwareAddress(type: UInt8, address: [UInt8])

    /// The identity `message` claims, or nil if it has neither a well-formed option 61 nor a
    /// hardware address ('hlen' 0).
    public init?(of message: DHCPMessage) {
        if let id = message.options.clientIdentifier {
            self = .clientIdentifier(id)
        } else if message.hlen > 0 {
            self = .hardwareAddress(type: message.htype, address: message.chaddr.prefix(Int(message.hlen)))
        } else {
            return nil
        }
    }

    /// `client-id 01:52:54:…` or `chaddr 1/52:54:…`.
    public var description: String {
        switch self {
        case .clientIdentifier(let id): "client-id \(Self.hex(id))"
        case .hardwareAddress(let type, let address): "chaddr \(type)/\(Self.hex(address))"
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        for (i, b) in bytes.enumerated() {
            if i > 0 { s.append(":") }
            s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 0xF)])
        }
        return s
    }
}
