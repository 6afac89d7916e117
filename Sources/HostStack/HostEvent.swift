// The host's log of notable things, with the time each happened: what a lab report prints
// under a node ("12.004s vm1 DHCP SELECTING → REQUESTING").

import Basics
import Wire

/// Where an address came from.
public enum AddressSource: String, Sendable, CustomStringConvertible {
    case dhcp
    case `static`
    public var description: String { rawValue }
}

/// Another host claimed an address of ours, and what we did about it.
public struct AddressConflict: Equatable, Sendable, CustomStringConvertible {
    /// Where the conflict was seen.
    public enum Phase: String, Sendable {
        /// While probing the address before use (RFC 5227 §2.1.1).
        case probing
        /// While using it (RFC 5227 §2.4).
        case inUse = "in use"
    }

    /// What the host did.
    public enum Response: String, Sendable {
        /// Did not use the address (a DHCP address was declined with DHCPDECLINE).
        case abandoned
        /// Sent one ARP announcement to defend it (RFC 5227 §2.4 (b)).
        case defended
        /// Stopped using it: a second conflict within DEFEND_INTERVAL.
        case relinquished
        /// Noted only: conflict detection is not configured.
        case ignored
    }

    public var address: IPv4Address
    /// The hardware address that claimed it.
    public var claimant: MACAddress
    public var phase: Phase
    public var response: Response

    public var description: String {
        "address conflict on \(address) with \(claimant) (\(phase.rawValue)): \(response.rawValue)"
    }
}

/// Something notable that happened to a host, and when.
public struct HostEvent: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case dhcpStateChanged(from: DHCPClientState, to: DHCPClientState)
        case leaseAcquired(DHCPClientLease)
        case leaseRenewed(DHCPClientLease)
        case leaseLost(DHCPClientLease, DHCPLeaseLoss)
        case dhcpNAK(server: IPv4Address?, message: String?)
        case addressProbing(IPv4Address)
        case addressConfigured(IPv4Network, AddressSource)
        case addressRemoved(IPv4Network)
        case addressConflict(AddressConflict)
        case arpResolutionFailed(IPv4Address, droppedDatagrams: Int)
        case icmpError(ICMPErrorReport)
    }

    public var time: Instant
    public var kind: Kind

    public init(time: Instant, kind: Kind) { self.time = time; self.kind = kind }

    public var description: String {
        let what: String
        switch kind {
        case .dhcpStateChanged(let from, let to): what = "DHCP \(from) → \(to)"
        case .leaseAcquired(let l): what = "lease acquired: \(l)"
        case .leaseRenewed(let l): what = "lease renewed: \(l)"
        case .leaseLost(let l, let why): what = "lease lost (\(why)): \(l.address)"
        case .dhcpNAK(let server, let message):
            what = "DHCPNAK" + (server.map { " from \($0)" } ?? "") + (message.map { ": \($0)" } ?? "")
        case .addressProbing(let a): what = "probing \(a)"
        case .addressConfigured(let n, let source): what = "address \(n) configured (\(source))"
        case .addressRemoved(let n): what = "address \(n) removed"
        case .addressConflict(let c): what = c.description
        case .arpResolutionFailed(let a, let n): what = "ARP for \(a) failed, \(n) datagram(s) dropped"
        case .icmpError(let r): what = r.description
        }
        return "\(time) \(what)"
    }
}
