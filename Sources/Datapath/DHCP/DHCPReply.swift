// A DHCP server's answer and where it must go (RFC 2131 §4.1). The server decides; the router
// wraps the message in UDP/IPv4/Ethernet and sends it.

import Wire

/// Where a reply is sent, decided by RFC 2131 §4.1.
public enum DHCPReplyDestination: Equatable, Sendable, CustomStringConvertible {
    /// IP 255.255.255.255 and the Ethernet broadcast address, UDP port 68.
    case broadcast
    /// An IP unicast to a client on the subnet, delivered to this Ethernet address, UDP port 68.
    case unicast(IPv4Address, MACAddress)
    /// The BOOTP relay agent at 'giaddr', UDP port 67 (its MAC is the router's to resolve).
    case relay(IPv4Address)

    /// UDP destination port: "the server sends any return messages to the 'DHCP server' port on
    /// the BOOTP relay agent", and to the 'DHCP client' port otherwise.
    public var udpPort: UInt16 {
        if case .relay = self { return DHCP.serverPort }
        return DHCP.clientPort
    }

    /// IP destination address.
    public var ipAddress: IPv4Address {
        switch self {
        case .broadcast: .broadcast
        case .unicast(let ip, _): ip
        case .relay(let ip): ip
        }
    }

    /// The destination for `reply`, sent in answer to `request`, by RFC 2131 §4.1 in this order:
    /// relay agent, broadcast DHCPNAK, 'ciaddr', BROADCAST bit, then 'yiaddr' and 'chaddr'.
    /// A client whose 'chaddr' is not an Ethernet address cannot be unicast to and gets a broadcast,
    /// as does a reply without 'yiaddr' to a client without 'ciaddr'.
    public init(reply: DHCPMessage, answering request: DHCPMessage) {
        // "If the 'giaddr' field in a DHCP message from a client is non-zero, the server sends any
        // return messages to the 'DHCP server' port on the BOOTP relay agent whose address
        // appears in 'giaddr'."
        if request.giaddr != .any { self = .relay(request.giaddr); return }
        // "In all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK messages to
        // 0xffffffff."
        guard reply.messageType != .nak, let mac = request.clientMAC else { self = .broadcast; return }
        // "If the 'giaddr' field is zero and the 'ciaddr' field is nonzero, then the server
        // unicasts DHCPOFFER and DHCPACK messages to the address in 'ciaddr'."
        if request.ciaddr != .any { self = .unicast(request.ciaddr, mac); return }
        // "If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is set, then the
        // server broadcasts DHCPOFFER and DHCPACK messages to 0xffffffff."
        // "If the broadcast bit is not set and 'giaddr' is zero and 'ciaddr' is zero, then the
        // server unicasts DHCPOFFER and DHCPACK messages to the client's hardware address and
        // 'yiaddr' address."
        self = request.isBroadcast || reply.yiaddr == .any ? .broadcast : .unicast(reply.yiaddr, mac)
    }

    public var description: String {
        switch self {
        case .broadcast: "broadcast"
        case .unicast(let ip, let mac): "unicast \(ip) via \(mac)"
        case .relay(let ip): "relay \(ip)"
        }
    }
}

/// A message for the router to send, and where to.
public struct DHCPReply: Equatable, Sendable, CustomStringConvertible {
    public var message: DHCPMessage
    public var destination: DHCPReplyDestination

    public init(message: DHCPMessage, destination: DHCPReplyDestination) {
        self.message = message; self.destination = destination
    }

    public var description: String { "\(message) → \(destination)" }
}
