// What a host is told at creation: timers and policies of its ARP, RFC 5227, DHCP and IP layers.
// Every field has a default a Linux guest would show; tests shorten timers where they need to.

import Basics
import Wire

/// How a `Host` behaves. The defaults follow the RFCs and a stock Linux guest.
public struct HostConfiguration: Sendable {
    /// ARP resolution and cache.
    public var arp = ARPConfiguration()
    /// RFC 5227 probing and announcing before an address is used; nil (the default) configures
    /// addresses at once. Conflicts are noted as events either way.
    public var addressConflictDetection: AddressConflictDetectionConfiguration? = nil
    /// The DHCP client.
    public var dhcp = DHCPClientConfiguration()
    /// TTL of datagrams the host originates (RFC 1122 §3.2.1.7; Linux uses 64).
    public var timeToLive: UInt8 = IPv4Constants.defaultTimeToLive
    /// Largest IP datagram the host sends; larger ones are dropped (the host never fragments).
    public var mtu: Int = 1500
    /// Whether echo requests to the host's address are answered (RFC 1122 §3.2.2.6: "Every host
    /// MUST implement an ICMP Echo server function").
    public var answersEchoRequests = true
    /// Whether a datagram to a closed UDP port draws a port unreachable (RFC 1122 §4.1.3.1: "If a
    /// datagram arrives addressed to a UDP port for which there is no pending LISTEN call, UDP
    /// SHOULD send an ICMP Port Unreachable message").
    public var sendsPortUnreachable = true
    /// Datagrams kept per open UDP port until taken; older ones are dropped first.
    public var udpInboxLimit = 1024
    /// TCP buffers, timers, options and congestion control.
    public var tcp = TCPConfiguration()
    /// IPv6 timers and policies (used once `Host.startIPv6` is called).
    public var ipv6 = HostIPv6Configuration()
    /// Events kept in `Host.events`; later ones are counted in `counters.eventsDropped`.
    public var eventLimit = 10_000

    /// The defaults.
    public init() {}
}

/// ARP timers and limits (RFC 826, RFC 1122 §2.3.2).
public struct ARPConfiguration: Sendable {
    /// Requests sent for one address before giving up (Linux: mcast_solicit 3).
    public var requestCount = 3
    /// Time between requests, and after the last one before giving up (Linux: retrans_time 1 s).
    public var requestInterval: Duration = .seconds(1)
    /// How long a learned entry is used before it is resolved afresh.
    public var cacheLifetime: Duration = .seconds(60)
    /// Datagrams held per unresolved address; the oldest is dropped when more arrive.
    /// RFC 1122 §2.3.2.2: "The link layer SHOULD save (rather than discard) at least one (the
    /// latest) packet of each set of packets destined to the same unresolved IP address".
    public var queueLimit = 3

    /// The defaults.
    public init() {}
}

/// The DHCP client's knobs (RFC 2131).
public struct DHCPClientConfiguration: Sendable {
    /// Set the BROADCAST flag, asking the server to broadcast its replies (RFC 2131 §4.1).
    public var requestsBroadcast = false
    /// Option 55 (RFC 2132 §9.8), in this order.
    public var parameterRequestList: [DHCPOptionCode] = DHCPClientConstants.defaultParameterRequestList
    /// Option 12 (RFC 2132 §3.14), sent when set.
    public var hostName: String? = nil
    /// Transmissions of a REQUEST in REQUESTING or REBOOTING before going back to INIT
    /// (RFC 2131 §3.1 step 5 "after employing the retransmission algorithm").
    public var requestTransmissions = 4
    /// Smallest wait between REQUEST retransmissions in RENEWING and REBINDING (RFC 2131 §4.4.5:
    /// "down to a minimum of 60 seconds").
    public var renewRetransmissionMinimum: Duration = DHCPClientConstants.renewRetransmissionMinimum
    /// Ask again for the previous address (INIT-REBOOT, RFC 2131 §3.2) when started while holding
    /// an unexpired lease.
    public var usesInitReboot = true
    /// Wait before restarting after a DHCPDECLINE (RFC 2131 §3.1: "a minimum of ten seconds").
    public var declineBackoff: Duration = DHCPClientConstants.declineBackoff

    /// The defaults.
    public init() {}
}

/// RFC 5227 timers, under the RFC's names (§1.1). `rfc5227` holds the RFC's values; tests and
/// fast labs may shorten them.
public struct AddressConflictDetectionConfiguration: Sendable {
    /// Send ARP probes before using an address (RFC 5227 §2.1); false only announces.
    public var probes = true
    /// PROBE_WAIT: "1 second (initial random delay)".
    public var probeWait: Duration = .seconds(1)
    /// PROBE_NUM: "3 (number of probe packets)".
    public var probeCount = 3
    /// PROBE_MIN: "1 second (minimum delay until repeated probe)".
    public var probeMinimum: Duration = .seconds(1)
    /// PROBE_MAX: "2 seconds (maximum delay until repeated probe)".
    public var probeMaximum: Duration = .seconds(2)
    /// ANNOUNCE_WAIT: "2 seconds (delay before announcing)".
    public var announceWait: Duration = .seconds(2)
    /// ANNOUNCE_NUM: "2 (number of Announcement packets)".
    public var announceCount = 2
    /// ANNOUNCE_INTERVAL: "2 seconds (time between Announcement packets)".
    public var announceInterval: Duration = .seconds(2)
    /// DEFEND_INTERVAL: "10 seconds (minimum interval between defensive ARPs)".
    public var defendInterval: Duration = .seconds(10)

    /// RFC 5227 §1.1's values.
    public static let rfc5227 = AddressConflictDetectionConfiguration()

    /// The RFC's values.
    public init() {}

    /// Every timer divided by `factor` (at least 1), for labs that cannot wait seconds.
    public func scaled(down factor: Int64) -> AddressConflictDetectionConfiguration {
        let f = max(1, factor)
        var c = self
        c.probeWait = probeWait / f; c.probeMinimum = probeMinimum / f; c.probeMaximum = probeMaximum / f
        c.announceWait = announceWait / f; c.announceInterval = announceInterval / f
        c.defendInterval = defendInterval / f
        return c
    }
}
