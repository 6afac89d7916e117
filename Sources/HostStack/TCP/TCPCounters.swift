// What a host's TCP counted, and what one connection measured: segments in and out, drops by
// reason (every received segment that reaches TCP ends in `segmentsProcessed` or exactly one
// drop reason of `TCPDropReason`), retransmissions, and samples over time for reports and charts.

import Basics
import Wire

/// Host-wide TCP counters.
public struct TCPCounters: Equatable, Sendable {
    /// Segments handed to TCP (IP protocol 6, addressed to this host or broadcast).
    public var segmentsReceived = 0
    /// Segments a listener or connection acted on (data, ACK, SYN, FIN, RST, a duplicate re-ACKed).
    public var segmentsProcessed = 0
    public var segmentsSent = 0
    /// Segments sent again (sequence numbers below the highest sent).
    public var segmentsRetransmitted = 0
    public var resetsSent = 0
    public var connectionsOpened = 0
    public var connectionsAccepted = 0
    public var connectionsEstablished = 0
    /// Connections that reached CLOSED, by any reason.
    public var connectionsClosed = 0

    /// Received segments dropped, by reason (one reason per segment).
    public var drops = ReasonCounts<TCPDropReason>()
    /// RFC 5961 challenge ACKs sent for in-window RSTs and SYNs.
    public var challengeACKsSent = 0

    public init() {}

    /// Every drop reason summed.
    public var dropped: Int { Int(truncatingIfNeeded: drops.total) }

    /// Every counter by name, in declaration order (for reports).
    public var fields: [(name: String, value: Int)] {
        [("segmentsReceived", segmentsReceived), ("segmentsProcessed", segmentsProcessed),
         ("segmentsSent", segmentsSent), ("segmentsRetransmitted", segmentsRetransmitted), ("resetsSent", resetsSent),
         ("connectionsOpened", connectionsOpened), ("connectionsAccepted", connectionsAccepted),
         ("connectionsEstablished", connectionsEstablished), ("connectionsClosed", connectionsClosed),
         ("challengeACKsSent", challengeACKsSent)]
            + TCPDropReason.allCases.map { ("dropped-\($0)", Int(truncatingIfNeeded: drops[$0])) }
    }
}

/// What one connection measured.
public struct TCPConnectionStats: Equatable, Sendable {
    public var segmentsSent = 0
    public var segmentsReceived = 0
    /// Payload bytes sent for the first time.
    public var bytesSent: UInt64 = 0
    /// Payload bytes the peer acknowledged (the sender's goodput).
    public var bytesAcknowledged: UInt64 = 0
    public var segmentsRetransmitted = 0
    public var bytesRetransmitted: UInt64 = 0
    /// Losses repaired by fast retransmit (RFC 5681 §3.2), and retransmission timeouts (RFC 6298 §5).
    public var fastRetransmits = 0
    public var timeouts = 0
    /// Zero-window probes sent (RFC 9293 §3.8.6.1).
    public var windowProbes = 0
    /// Segment size lowered by ICMP fragmentation needed (RFC 1191 PMTUD).
    public var pathMTUReductions = 0
    /// RFC 4821: black holes detected (the segment size fell to the base), probes sent, probes lost.
    public var pathMTUBlackHoles = 0
    public var pathMTUProbes = 0
    public var pathMTUProbesLost = 0
    /// In-order payload bytes delivered to the application or sink (the receiver's goodput).
    public var bytesReceived: UInt64 = 0
    /// Payload bytes that arrived again (already received).
    public var duplicateBytesReceived: UInt64 = 0
    /// Segments that arrived above RCV.NXT and were held.
    public var outOfOrderSegments = 0
    /// Out-of-order segments not held because `TCPReassemblyQueue.pieceLimit` pieces were (the
    /// sender retransmits them).
    public var outOfOrderDiscarded = 0
    /// Sink mode: bytes that differed from `TCPBulkPattern`.
    public var patternMismatches: UInt64 = 0
    /// RTT samples taken (RFC 6298), and their extremes, nanoseconds.
    public var rttSamples = 0
    public var minimumRTT: Int64?
    public var maximumRTT: Int64?
    /// Samples not recorded because `TCPConfiguration.sampleLimit` was reached.
    public var samplesDropped = 0

    public init() {}
}

/// One point of a connection's time series (taken at most every `TCPConfiguration.sampleInterval`).
public struct TCPSample: Equatable, Sendable {
    public var time: Instant
    /// Congestion window and slow-start threshold, bytes (ssthresh Int.max until the first loss).
    public var cwnd: Int
    public var ssthresh: Int
    /// Bytes sent and not yet acknowledged.
    public var flight: Int
    /// Smoothed and latest RTT, nanoseconds (nil before the first sample).
    public var smoothedRTT: Int64?
    public var latestRTT: Int64?
    /// Cumulative: bytes acknowledged by the peer, bytes delivered to us, segments retransmitted.
    public var bytesAcknowledged: UInt64
    public var bytesReceived: UInt64
    public var retransmissions: Int
}

/// A snapshot of one connection for tests and reports.
public struct TCPConnectionInfo: Sendable {
    public var id: TCPConnectionID
    public var state: TCPState
    public var closeReason: TCPCloseReason?
    public var localAddress: IPv4Address
    public var localPort: UInt16
    public var remoteAddress: IPv4Address
    public var remotePort: UInt16
    public var congestionControl: TCPCongestionControlAlgorithm
    /// Negotiated: the largest payload we send, the shift counts, SACK and timestamps in use.
    public var sendMSS: Int
    public var sendWindowScale: UInt8
    public var receiveWindowScale: UInt8
    public var sackEnabled: Bool
    public var timestampsEnabled: Bool
    public var cwnd: Int
    public var ssthresh: Int
    public var sendWindow: Int
    public var smoothedRTT: Int64?
    public var rto: Duration
    /// Bytes queued and not yet acknowledged; bytes received and not yet read.
    public var bytesUnacknowledged: Int
    public var bytesReadable: Int
    public var stats: TCPConnectionStats
    public var samples: [TCPSample]
    /// When the handshake completed and when the connection closed.
    public var establishedAt: Instant?
    public var closedAt: Instant?
}
