// A lease as the client holds it (RFC 2131 §4.4.1, §4.4.5): the address and parameters of a
// DHCPACK, and the three instants that drive the client — T1, T2 and expiry.

import Basics
import Wire

/// The configuration a DHCPACK granted, and when it was granted.
public struct DHCPClientLease: Equatable, Sendable, CustomStringConvertible {
    /// The address ('yiaddr') with the prefix of option 1.
    public var address: IPv4Network
    /// Option 54: the server that granted the lease, to which renewals are unicast.
    public var serverIdentifier: IPv4Address
    /// Option 3, in the server's order; the first is the default gateway.
    public var routers: [IPv4Address]
    /// Option 6, in the server's order.
    public var dnsServers: [IPv4Address]
    /// Option 15.
    public var domainName: String?
    /// Option 51; nil for an infinite lease (RFC 2131 §3.3: "0xffffffff is reserved to represent
    /// 'infinity'").
    public var leaseTime: Duration?
    /// T1 after `obtainedAt` (option 58, else half the lease).
    public var renewalTime: Duration?
    /// T2 after `obtainedAt` (option 59, else seven eighths of the lease).
    public var rebindingTime: Duration?
    /// RFC 2131 §4.4.1: "the client records the lease expiration time as the sum of the time at
    /// which the original request was sent and the duration of the lease from the DHCPACK".
    public var obtainedAt: Instant

    /// When RENEWING starts (T1); `distantFuture` for an infinite lease.
    public var renewAt: Instant { renewalTime.map { obtainedAt + $0 } ?? .distantFuture }
    /// When REBINDING starts (T2); `distantFuture` for an infinite lease.
    public var rebindAt: Instant { rebindingTime.map { obtainedAt + $0 } ?? .distantFuture }
    /// When the address must be given up; `distantFuture` for an infinite lease.
    public var expiresAt: Instant { leaseTime.map { obtainedAt + $0 } ?? .distantFuture }

    /// The lease a DHCPACK grants, counted from `requestSentAt`; nil if the ACK lacks an address
    /// or a lease time (RFC 2131 Table 3: the lease time "MUST" be in a DHCPACK to a DHCPREQUEST).
    init?(ack: DHCPMessage, requestSentAt: Instant, fallbackServer: IPv4Address?) {
        let options = ack.options
        guard ack.yiaddr != .any, let seconds = options.leaseTime,
              let server = options.serverIdentifier ?? fallbackServer else { return nil }
        let prefix = options.subnetMask.flatMap(Self.prefixLength(ofMask:)) ?? Self.classfulPrefixLength(ack.yiaddr)
        guard let network = IPv4Network(address: ack.yiaddr, prefixLength: prefix) else { return nil }
        address = network
        serverIdentifier = server
        routers = options.routers ?? []
        dnsServers = options.domainNameServers ?? []
        domainName = options.domainName
        obtainedAt = requestSentAt
        if seconds == DHCP.infiniteLeaseTime {
            leaseTime = nil; renewalTime = nil; rebindingTime = nil
            return
        }
        let lease = Duration.seconds(seconds)
        leaseTime = lease
        let defaultT1 = lease * DHCPClientConstants.renewalFraction.numerator / DHCPClientConstants.renewalFraction.denominator
        let defaultT2 = lease * DHCPClientConstants.rebindingFraction.numerator / DHCPClientConstants.rebindingFraction.denominator
        var t1 = options.renewalTime.map { Duration.seconds($0) } ?? defaultT1
        var t2 = options.rebindingTime.map { Duration.seconds($0) } ?? defaultT2
        // Times out of order (T1 ≤ T2 ≤ lease) are the server's mistake; fall back to the defaults.
        if t2 > lease { t2 = defaultT2 }
        if t1 > t2 { t1 = min(defaultT1, t2) }
        renewalTime = t1
        rebindingTime = t2
    }

    /// A lease with every field given (for tests and restored state).
    public init(address: IPv4Network, serverIdentifier: IPv4Address, routers: [IPv4Address] = [],
                dnsServers: [IPv4Address] = [], domainName: String? = nil, leaseTime: Duration?,
                renewalTime: Duration?, rebindingTime: Duration?, obtainedAt: Instant) {
        self.address = address; self.serverIdentifier = serverIdentifier; self.routers = routers
        self.dnsServers = dnsServers; self.domainName = domainName; self.leaseTime = leaseTime
        self.renewalTime = renewalTime; self.rebindingTime = rebindingTime; self.obtainedAt = obtainedAt
    }

    /// The prefix length of a contiguous mask, or nil for a mask with holes.
    static func prefixLength(ofMask mask: IPv4Address) -> Int? {
        let bits = (~mask.rawValue).leadingZeroBitCount
        let expected: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
        return mask.rawValue == expected ? bits : nil
    }

    /// Without option 1 the client falls back to the address's class (RFC 791 §3.2; what Linux
    /// clients do): /8, /16 or /24.
    static func classfulPrefixLength(_ a: IPv4Address) -> Int {
        switch a.rawValue >> 29 {
        case 0b000...0b011: 8
        case 0b100, 0b101: 16
        default: 24
        }
    }

    public var description: String {
        let time = leaseTime.map { "\($0)" } ?? "infinite"
        return "\(address) from \(serverIdentifier), lease \(time), obtained at \(obtainedAt)"
    }
}
