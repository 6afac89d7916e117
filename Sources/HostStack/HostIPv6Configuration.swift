// What a host's IPv6 is told: RFC 4861 / RFC 4862 host constants under their RFC names. A host
// speaks IPv6 only once `Host.startIPv6` (or `addIPv6Address`) is called, so hosts that never ask
// for it emit nothing new (no RS, no DAD).

import Basics
import Wire

/// IPv6 timers and policies of a `Host`. The defaults are the RFCs' (and a stock Linux guest's).
public struct HostIPv6Configuration: Sendable {
    /// DupAddrDetectTransmits (RFC 4862 §5.1: default 1); 0 turns DAD off.
    public var dupAddrDetectTransmits = 1
    /// RetransTimer (RFC 4861 §10: RETRANS_TIMER 1 s): between DAD probes and neighbour
    /// solicitations, and after the last DAD probe before the address is used.
    public var retransTimer: Duration = .seconds(1)
    /// Send router solicitations and form SLAAC addresses from router advertisements.
    public var autoconfigures = true
    /// MAX_RTR_SOLICITATION_DELAY (RFC 4861 §10: 1 s): the first RS (and the first DAD probe of the
    /// link-local address) waits a random time in [0, this), drawn from the host's seeded generator.
    public var maxRtrSolicitationDelay: Duration = .seconds(1)
    /// RTR_SOLICITATION_INTERVAL (RFC 4861 §10: 4 s).
    public var rtrSolicitationInterval: Duration = .seconds(4)
    /// MAX_RTR_SOLICITATIONS (RFC 4861 §10: 3).
    public var maxRtrSolicitations = 3
    /// Hop limit of packets the host originates (Linux: 64), until an RA sets another.
    public var hopLimit: UInt8 = IPv6Constants.defaultHopLimit
    /// Multicast solicitations for one neighbour before giving up (MAX_MULTICAST_SOLICIT 3).
    public var maxMulticastSolicit = 3
    /// How long a resolved neighbour is used before it is resolved afresh (REACHABLE_TIME 30 s;
    /// this host has no STALE/DELAY/PROBE states: an entry past it is simply solicited again).
    public var reachableTime: Duration = .seconds(30)
    /// Packets held per unresolved neighbour; the oldest gives way (RFC 4861 §7.2.2).
    public var queueLimit = 3

    /// The defaults.
    public init() {}
}
