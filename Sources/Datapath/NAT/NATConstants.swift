// The numbers the NAT behaviour RFCs fix: RFC 4787 (UDP), RFC 5382 (TCP), RFC 5508 (ICMP).

/// Timer floors, defaults and limits of the NAT, with the requirement that sets each.
public enum NATConstants {
    /// RFC 4787 REQ-5: "A NAT UDP mapping timer MUST NOT expire in less than two minutes".
    /// (REQ-5c adds: "A default value of five minutes or more for the NAT UDP mapping timer is
    /// RECOMMENDED." Sluice's default is the two-minute floor; see `NATTimeouts.udp`.)
    public static let minimumUDPTimeout: Duration = .seconds(120)
    /// RFC 4787 REQ-5c: the recommended UDP default (not Sluice's default).
    public static let recommendedUDPTimeout: Duration = .seconds(300)
    /// RFC 5382 REQ-5: "the value of the 'established connection idle-timeout' MUST NOT be less
    /// than 2 hours 4 minutes."
    public static let minimumTCPEstablishedTimeout: Duration = .seconds(2 * 3600 + 4 * 60)
    /// RFC 5382 REQ-5: "The value of the 'transitory connection idle-timeout' MUST NOT be less
    /// than 4 minutes."
    public static let minimumTCPTransitoryTimeout: Duration = .seconds(4 * 60)
    /// RFC 5508 REQ-2: "An ICMP Query session timer MUST NOT expire in less than 60 seconds."
    public static let minimumICMPQueryTimeout: Duration = .seconds(60)

    /// The default external port range: Linux's `ip_local_port_range`, so the NAT's ports look like
    /// any host's ephemeral ports. Ports outside the range stay free for the host that owns the
    /// external address.
    public static let defaultPortRange: ClosedRange<UInt16> = 32768...60999
    /// How long the first fragment of an inbound datagram vouches for the rest: RFC 791 §3.2's
    /// "recommendation for the initial timer setting is 15 seconds" for reassembly.
    public static let fragmentLifetime: Duration = .seconds(15)
    /// Inbound datagrams whose later fragments the NAT can route at once.
    public static let fragmentTableCapacity = 64
    /// Default number of sessions (and so at most of mappings) the tables hold.
    public static let defaultCapacity = 16384
}
