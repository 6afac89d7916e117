// Mappings and sessions as the NAT reports them (for `sluice` status output and tests).
import Basics
import Wire

/// The transport protocols the NAT translates. Raw values are IP protocol numbers.
public enum NATProtocol: UInt8, CaseIterable, Comparable, Sendable {
    case icmp = 1
    case tcp = 6
    case udp = 17

    /// Dense index 0..<3 for per-protocol tables.
    @inlinable var index: Int {
        switch self { case .icmp: 0; case .tcp: 1; case .udp: 2 }
    }

    @inlinable public static func < (a: NATProtocol, b: NATProtocol) -> Bool { a.rawValue < b.rawValue }
}

/// Where a session stands; it decides which idle timeout applies.
public enum NATSessionState: UInt8, Sendable, Hashable {
    case udp
    /// ICMP echo or timestamp query.
    case icmpQuery
    /// TCP: a SYN has been seen from one side only (RFC 5382 "transitory").
    case tcpOpening
    /// TCP: SYNs seen from both sides, no FIN or RST yet.
    case tcpEstablished
    /// TCP: a FIN or RST has been seen (RFC 5382 "transitory").
    case tcpClosing
}

/// An endpoint-independent mapping: internal address and port ↔ external port (RFC 4787 REQ-1).
/// For ICMP the "port" is the query identifier.
public struct NATMapping: Equatable, Sendable {
    public var `protocol`: NATProtocol
    public var internalAddress: IPv4Address
    public var internalPort: UInt16
    public var externalAddress: IPv4Address
    public var externalPort: UInt16
    /// Remote endpoints this mapping currently has sessions with.
    public var sessionCount: Int
    /// When the last of its sessions times out, unless traffic refreshes one first.
    public var expires: Instant
}

/// One conversation through a mapping: internal endpoint ↔ remote endpoint, with its own timer.
public struct NATSession: Equatable, Sendable {
    public var `protocol`: NATProtocol
    public var internalAddress: IPv4Address
    public var internalPort: UInt16
    public var externalPort: UInt16
    public var remoteAddress: IPv4Address
    /// The remote port; 0 for ICMP queries.
    public var remotePort: UInt16
    public var state: NATSessionState
    /// When it times out unless traffic refreshes it.
    public var expires: Instant
}
