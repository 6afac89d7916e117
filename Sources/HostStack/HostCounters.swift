// What a host counted: frames in and out, drops by reason, and per-protocol totals.

/// Counters of one host. Every dropped frame is counted under exactly one reason.
public struct HostCounters: Equatable, Sendable {
    // Frames.
    public var framesReceived = 0
    public var bytesReceived = 0
    public var framesSent = 0
    public var bytesSent = 0

    // Receive drops.
    /// Frames or packets that failed to parse (truncated, bad length, bad checksum, ...).
    public var malformed = 0
    /// Frames for another MAC address, or datagrams for another IP address.
    public var notForUs = 0
    /// Frames carrying our own source MAC (a loop or a hub echo).
    public var ownFrames = 0
    /// EtherTypes, VLAN tags and protocols this host does not handle.
    public var unsupported = 0

    // Reassembly (IPv4Reassembly.swift).
    /// IP fragments addressed to this host.
    public var fragmentsReceived = 0
    /// Datagrams put back together and taken in.
    public var datagramsReassembled = 0
    /// Exact repeats of fragments already held (ignored).
    public var duplicateFragments = 0
    /// Datagrams dropped because a fragment overlapped data already received.
    public var reassemblyOverlaps = 0
    /// Datagrams dropped for a bad fragment (not a multiple of 8 with MF, past 65535, two ends).
    public var reassemblyMalformed = 0
    /// Datagrams dropped unfinished after the reassembly timeout.
    public var reassemblyTimeouts = 0
    /// Unfinished datagrams dropped to make room for a new one.
    public var reassemblyEvicted = 0

    // ARP.
    public var arpRequestsReceived = 0
    public var arpRepliesReceived = 0
    public var arpRequestsSent = 0
    public var arpRepliesSent = 0
    public var arpProbesSent = 0
    public var arpAnnouncementsSent = 0
    /// Resolutions that got no answer.
    public var arpResolutionFailures = 0
    /// Datagrams dropped while waiting for ARP (queue full, or resolution failed).
    public var arpQueueDrops = 0

    // IP output.
    /// Datagrams with no address configured, no on-link route and no gateway.
    public var noRoute = 0
    /// Datagrams larger than 65535 bytes, or than the MTU with DF set (TCP).
    public var tooBig = 0
    /// Fragments sent for datagrams larger than the MTU (DF clear: UDP, ICMP).
    public var fragmentsSent = 0

    // ICMP.
    public var echoRequestsReceived = 0
    public var echoRepliesSent = 0
    public var echoRequestsSent = 0
    public var echoRepliesReceived = 0
    /// Echo replies no ping session was waiting for.
    public var unmatchedEchoReplies = 0
    public var icmpErrorsReceived = 0
    public var icmpErrorsSent = 0

    // UDP.
    public var udpReceived = 0
    public var udpSent = 0
    /// Datagrams dropped because an open port's inbox was full.
    public var udpInboxDrops = 0

    // DHCP.
    public var dhcpSent = 0
    public var dhcpReceived = 0
    /// DHCP messages for another transaction or client, or unusable in the current state.
    public var dhcpIgnored = 0

    /// Events not logged because `HostConfiguration.eventLimit` was reached.
    public var eventsDropped = 0

    public init() {}

    /// Every counter by name, in declaration order (for reports).
    public var fields: [(name: String, value: Int)] {
        [("framesReceived", framesReceived), ("bytesReceived", bytesReceived),
         ("framesSent", framesSent), ("bytesSent", bytesSent),
         ("malformed", malformed), ("notForUs", notForUs), ("ownFrames", ownFrames), ("unsupported", unsupported),
         ("fragmentsReceived", fragmentsReceived), ("datagramsReassembled", datagramsReassembled),
         ("duplicateFragments", duplicateFragments), ("reassemblyOverlaps", reassemblyOverlaps),
         ("reassemblyMalformed", reassemblyMalformed), ("reassemblyTimeouts", reassemblyTimeouts),
         ("reassemblyEvicted", reassemblyEvicted),
         ("arpRequestsReceived", arpRequestsReceived), ("arpRepliesReceived", arpRepliesReceived),
         ("arpRequestsSent", arpRequestsSent), ("arpRepliesSent", arpRepliesSent),
         ("arpProbesSent", arpProbesSent), ("arpAnnouncementsSent", arpAnnouncementsSent),
         ("arpResolutionFailures", arpResolutionFailures), ("arpQueueDrops", arpQueueDrops),
         ("noRoute", noRoute), ("tooBig", tooBig), ("fragmentsSent", fragmentsSent),
         ("echoRequestsReceived", echoRequestsReceived), ("echoRepliesSent", echoRepliesSent),
         ("echoRequestsSent", echoRequestsSent), ("echoRepliesReceived", echoRepliesReceived),
         ("unmatchedEchoReplies", unmatchedEchoReplies),
         ("icmpErrorsReceived", icmpErrorsReceived), ("icmpErrorsSent", icmpErrorsSent),
         ("udpReceived", udpReceived), ("udpSent", udpSent), ("udpInboxDrops", udpInboxDrops),
         ("dhcpSent", dhcpSent), ("dhcpReceived", dhcpReceived), ("dhcpIgnored", dhcpIgnored),
         ("eventsDropped", eventsDropped)]
    }
}
