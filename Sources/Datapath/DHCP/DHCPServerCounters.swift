// What a DHCP server has seen, sent and dropped. Fixed size: counting never allocates.

import Basics
import Wire

/// Why the server answered nothing. Raw values index the counters; append only.
public enum DHCPDropReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// The datagram did not parse as a DHCP message.
    case malformed = 0
    /// 'op' was BOOTREPLY: a server's message, not a client's.
    case notRequest = 1
    /// No DHCP message type option: plain BOOTP, which this server does not serve.
    case noMessageType = 2
    /// A type a client does not send (DHCPOFFER, DHCPACK, DHCPNAK, unknown numbers).
    case unexpectedMessageType = 3
    /// Neither a client identifier nor a hardware address to know the client by.
    case noClientIdentity = 4
    /// Relayed ('giaddr') from a network this server does not serve.
    case foreignNetwork = 5
    /// No address left to offer.
    case poolExhausted = 6
    /// A DHCPREQUEST, DHCPDECLINE or DHCPRELEASE naming another server.
    case otherServerSelected = 7
    /// INIT-REBOOT, RENEWING or REBINDING from a client the server has no record of: RFC 2131
    /// §4.3.2 "If the DHCP server has no record of this client, then it MUST remain silent".
    case unknownClient = 8
    /// A DHCPREQUEST with neither a requested address nor 'ciaddr', or a DHCPDECLINE without a
    /// requested address, or a DHCPINFORM or DHCPRELEASE without 'ciaddr'.
    case missingAddress = 9
    /// A DHCPDECLINE or DHCPRELEASE for an address the client does not hold.
    case notClientsAddress = 10

    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .notRequest: "not-request"
        case .noMessageType: "no-message-type"
        case .unexpectedMessageType: "unexpected-message-type"
        case .noClientIdentity: "no-client-identity"
        case .foreignNetwork: "foreign-network"
        case .poolExhausted: "pool-exhausted"
        case .otherServerSelected: "other-server-selected"
        case .unknownClient: "unknown-client"
        case .missingAddress: "missing-address"
        case .notClientsAddress: "not-clients-address"
        }
    }
}

/// Messages in and out by type, drops by reason, and lease-table events.
public struct DHCPServerCounters: Equatable, Sendable {
    /// Indexed by message type (1...8); slot 0 counts every other type.
    var receivedByType = SIMD16<UInt64>()
    var sentByType = SIMD16<UInt64>()
    /// Drops by reason.
    public internal(set) var drops = ReasonCounts<DHCPDropReason>()

    /// Offers that ran out before the client requested them.
    public internal(set) var offersExpired: UInt64 = 0
    /// Bound leases that ran out.
    public internal(set) var leasesExpired: UInt64 = 0
    /// Declined addresses that came back into use.
    public internal(set) var declinesEnded: UInt64 = 0
    /// ARP probes sent for addresses about to be offered (RFC 2131 §2.2).
    public internal(set) var probesSent: UInt64 = 0
    /// Probed addresses that answered: in use by a host the server did not lease them to.
    public internal(set) var conflicts: UInt64 = 0

    public init() {}

    static func slot(_ type: DHCPMessageType?) -> Int {
        guard let type, (1...8).contains(type.rawValue) else { return 0 }
        return Int(type.rawValue)
    }

    mutating func countReceived(_ type: DHCPMessageType?) { receivedByType[Self.slot(type)] &+= 1 }
    mutating func countSent(_ type: DHCPMessageType?) { sentByType[Self.slot(type)] &+= 1 }

    /// Messages received of `type` (parsed, from clients or not).
    public func received(_ type: DHCPMessageType) -> UInt64 { receivedByType[Self.slot(type)] }
    /// Replies sent of `type`.
    public func sent(_ type: DHCPMessageType) -> UInt64 { sentByType[Self.slot(type)] }

    /// DHCPNAKs sent.
    public var naks: UInt64 { sent(.nak) }
    /// Messages received of a type outside 1...8, or without a type.
    public var receivedOther: UInt64 { receivedByType[0] }

    /// Every non-zero counter as (name, value), in a fixed order, for reports.
    public var report: [(name: String, value: UInt64)] {
        var rows: [(name: String, value: UInt64)] = []
        for type in DHCPMessageType.rfc2131Types where received(type) > 0 { rows.append(("in \(type)", received(type))) }
        if receivedOther > 0 { rows.append(("in other", receivedOther)) }
        for type in DHCPMessageType.rfc2131Types where sent(type) > 0 { rows.append(("out \(type)", sent(type))) }
        for (reason, count) in drops.nonzero { rows.append(("drop \(reason)", count)) }
        if offersExpired > 0 { rows.append(("offers expired", offersExpired)) }
        if leasesExpired > 0 { rows.append(("leases expired", leasesExpired)) }
        if declinesEnded > 0 { rows.append(("declines ended", declinesEnded)) }
        if probesSent > 0 { rows.append(("probes sent", probesSent)) }
        if conflicts > 0 { rows.append(("address conflicts", conflicts)) }
        return rows
    }
}
