// What the router did, counted. Every dropped frame or packet is counted under exactly one reason.

import Basics

/// Why the router dropped a frame or packet.
public enum RouterDropReason: Int, CaseIterable, Sendable {
    /// The interface index is not one of the router's.
    case unknownInterface
    /// Shorter than an Ethernet header.
    case ethernetTruncated
    /// Larger than the router can take.
    case frameTooLong
    /// Destination MAC is neither the interface's nor broadcast.
    case notForUs
    /// Carries an 802.1Q tag; router interfaces are untagged.
    case vlanTagged
    /// Neither IPv4 nor ARP.
    case unsupportedEtherType
    /// ARP packet malformed, or from a group MAC address.
    case arpMalformed
    /// ARP for another hardware or protocol type, or another operation.
    case arpUnsupported
    /// Someone else claims the interface's own address.
    case arpAddressConflict
    case ipv4Truncated
    case ipv4BadLength
    case ipv4BadChecksum
    /// Not version 4.
    case ipv4Unsupported
    /// Source is broadcast, multicast, loopback, reserved, or unspecified where not allowed (RFC 1812 §5.3.7).
    case martianSource
    /// Destination is unspecified, loopback or reserved (RFC 1812 §5.3.7).
    case martianDestination
    /// Sent as link-layer broadcast to a unicast IP address not ours (RFC 1812 §5.3.4).
    case linkBroadcastToUnicast
    /// Multicast destination: no multicast routing.
    case multicast
    /// Directed broadcast to another connected network; not forwarded (RFC 1812 §5.3.5.2 default).
    case directedBroadcast
    /// TTL would reach zero (time exceeded sent).
    case ttlExpired
    /// No route (net unreachable sent).
    case noRoute
    /// Larger than the outgoing MTU with DF set (fragmentation needed sent).
    case fragmentationNeeded
    /// Larger than the outgoing MTU without DF, and cannot be fragmented (RouterFragmentation.swift):
    /// its IP options are malformed (an option length below 2 or past the header, so which to
    /// copy into later fragments is unknown, RFC 791 §3.1), or its pieces would need a fragment
    /// offset past the 13-bit field (a hostile input fragment near the end of the offset space).
    case fragmentationUnsupported
    /// The ARP wait queue for the neighbor, or all of it, was full.
    case arpQueueOverflow
    /// The neighbor never answered ARP (host unreachable sent).
    case arpResolutionFailed
    /// A fragment addressed to the router: no reassembly.
    case fragmentToLocal
    case icmpMalformed
    case udpMalformed
    /// UDP to a port of the router nobody serves (port unreachable sent).
    case portUnreachable
    /// Another transport protocol to the router (protocol unreachable sent).
    case protocolUnreachable
    /// Echo request to a broadcast address; not answered (RFC 1122 §3.2.2.6 "MAY be silently discarded").
    case broadcastEcho
    /// A reply could not be built (larger than the router's buffers).
    case replyTooLarge
    /// A frame handed in on a point-to-point interface, or a bare packet on an Ethernet one.
    case wrongMedium
    // No CustomStringConvertible: string interpolation prints the case name. (A `description`
    // written as "\(self)" recursed forever and crashed the hostile-frames test.)
}

/// ARP activity.
public struct ARPCounters: Equatable, Sendable {
    public var requestsReceived: UInt64 = 0
    public var repliesReceived: UInt64 = 0
    public var requestsSent: UInt64 = 0
    public var repliesSent: UInt64 = 0
    /// Neighbors learned or refreshed.
    public var cacheUpdates: UInt64 = 0
    /// Neighbors that never answered.
    public var resolutionFailures: UInt64 = 0
    public init() {}
}

/// The router's counters.
public struct RouterCounters: Equatable, Sendable {
    /// Frames (Ethernet) and packets (point-to-point) handed to the router.
    public var framesReceived: UInt64 = 0
    /// IP datagrams sent on towards their destination (including after ARP resolution).
    public var forwarded: UInt64 = 0
    /// Datagrams larger than the outgoing MTU without DF, sent as fragments (RFC 791 §3.2).
    public var datagramsFragmented: UInt64 = 0
    /// Fragments built for them.
    public var fragmentsCreated: UInt64 = 0
    /// Datagrams waiting for ARP at the moment they arrived.
    public var queuedForARP: UInt64 = 0
    /// UDP datagrams handed to `RouterOutput.deliver`.
    public var delivered: UInt64 = 0
    /// ICMP messages for the router that needed no answer (echo replies, errors).
    public var icmpReceived: UInt64 = 0
    public var echoRepliesSent: UInt64 = 0
    public var icmpErrorsSent: UInt64 = 0
    /// Errors not sent because the rate limit was reached.
    public var icmpErrorsRateLimited: UInt64 = 0
    /// Errors not sent because RFC 1812 §4.3.2.7 forbids them (about ICMP errors, broadcasts, ...).
    public var icmpErrorsSuppressed: UInt64 = 0
    public var arp = ARPCounters()
    public var drops = ReasonCounts<RouterDropReason>()
    public init() {}
}
