// What the NAT did, counted. Every dropped packet is counted under exactly one reason.

import Basics

/// Why the NAT dropped a packet. Raw values index `NATCounters.drops`; append only.
public enum NATDropReason: Int, CaseIterable, Sendable, Error {
    /// Not a valid IPv4 packet, a transport header cut short, or an ICMP error that failed its
    /// checksum or quotes a broken header (RFC 5508 REQ-3).
    case malformed
    /// Neither TCP, UDP nor ICMP; or an ICMP type the NAT does not translate (redirects, router
    /// advertisements, source quench, ...).
    case unsupportedProtocol
    /// An inbound fragment other than the first whose first fragment was not translated (not
    /// seen yet, or too long ago); or an ICMP error quoting such a fragment.
    case fragment
    /// Outbound from a source that is not internal: the external address itself, a martian, or an
    /// address outside `internalNetworks`.
    case notInternal
    /// Inbound to an address other than the external address.
    case notExternal
    /// Inbound to an external port (or ICMP identifier) no mapping holds; an inbound ICMP query
    /// request; an ICMP error whose quoted packet matches no session (RFC 5508 REQ-4/5).
    case noMapping
    /// Inbound to a mapping whose last session timed out, before the port was handed out again.
    case expired
    /// Inbound to a live mapping from an endpoint its filtering does not admit (RFC 4787 REQ-8).
    case filtered
    /// TCP that would open a session without being a SYN (RFC 5382: sessions start with a SYN).
    case notSYN
    /// No room for another session.
    case tableFull
    /// No external port (or ICMP identifier) left in `portRange` for a new mapping.
    case portExhausted
    /// A first fragment too short to hold its transport header's ports (and, for TCP, its
    /// flags), or a TCP fragment at offset 1 (8 bytes): the tiny- and overlapping-fragment attacks
    /// of RFC 1858 §3, which could slip other ports or flags past the translation.
    case tinyFragment
    // No CustomStringConvertible: interpolation prints the case name.
}

/// What the NAT translated, created and expired, and its drops by reason.
public struct NATCounters: Equatable, Sendable {
    /// Outbound packets rewritten (hairpinned ones included).
    public var outboundTranslated: UInt64 = 0
    /// Inbound packets rewritten (hairpinned ones included).
    public var inboundTranslated: UInt64 = 0
    /// Outbound packets sent back inside (RFC 4787 REQ-9).
    public var hairpinned: UInt64 = 0
    /// ICMP errors whose quoted packet was translated too (RFC 5508 REQ-4/5), either way.
    public var icmpErrorsTranslated: UInt64 = 0
    public var mappingsCreated: UInt64 = 0
    public var mappingsExpired: UInt64 = 0
    public var sessionsCreated: UInt64 = 0
    public var sessionsExpired: UInt64 = 0
    public var drops = ReasonCounts<NATDropReason>()
    public init() {}
}
