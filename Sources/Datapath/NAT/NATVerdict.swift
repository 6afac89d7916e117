// What the NAT did with one packet. The driver carries it out.

/// The NAT's verdict on one IPv4 packet. Trivial; no allocation.
public enum NATVerdict: Equatable, Sendable {
    /// Rewritten in place: send it on the way it was going (outbound to the uplink, inbound to
    /// the internal network).
    case translated
    /// An outbound packet to the external address itself, rewritten for the internal endpoint
    /// behind that mapping (RFC 4787 REQ-9, "Hairpinning"): send it back to the internal network.
    case hairpinned
    /// Send it nowhere; the reason was counted in `NAT.counters.drops`. The packet is as it came,
    /// except a hairpinned one refused on its way back in (already translated outbound).
    case drop(NATDropReason)
}
