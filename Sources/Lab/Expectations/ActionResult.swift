// What a timeline action produced, as the backend hands it to the expectation evaluator and the
// report: HostStack's own result types, wrapped with the times the lab knows about.
import Basics
import HostStack
import Wire

/// The result of one named timeline action.
public enum ActionResult: Sendable {
    case dhcp(DHCPActionResult)
    case ping(PingActionResult)
    case udp(UDPFlowResult)
    case tcp(TCPFlowResult)
    case replay(ReplayResult)
    /// An action without a result of its own (link-down/up, impair, release), done at `at`.
    case done(at: Instant)
    /// Read back from a report's run.json (`sluice lab merge`): the start and summary only.
    case recorded(RecordedActionResult)

    /// When the action started.
    public var startedAt: Instant {
        switch self {
        case .dhcp(let r): r.startedAt
        case .ping(let r): r.startedAt
        case .udp(let r): r.sender.startedAt
        case .tcp(let r): r.startedAt
        case .replay(let r): r.startedAt
        case .done(let at): at
        case .recorded(let r): r.startedAt
        }
    }

    /// One line for reports ("4/4 received, rtt avg 10.2ms").
    public var summary: String {
        switch self {
        case .dhcp(let r):
            guard let lease = r.lease else { return "never bound (client \(r.finalState) at the end)" }
            let took = r.boundAt.map { " after \(Format.duration($0 - r.startedAt))" } ?? ""
            var s = "bound \(lease.address)\(took), lease \(lease.leaseTime.map(Format.duration) ?? "infinite")"
            if r.finalLease?.address != lease.address || !r.finalState.holdsAddress {
                s += "; at the end: \(r.finalState)" + (r.finalLease.map { " with \($0.address)" } ?? ", no lease")
            }
            return s
        case .ping(let r):
            let p = r.result
            var s = "\(p.received)/\(p.sent) received, \(Format.percent(p.loss)) loss"
            if let min = p.minimum, let avg = p.average, let max = p.maximum {
                s += ", rtt min/avg/max \(Format.duration(min))/\(Format.duration(avg))/\(Format.duration(max))"
            }
            if p.duplicates > 0 { s += ", \(p.duplicates) duplicates" }
            if !p.errors.isEmpty { s += ", \(p.errors.count) ICMP errors" }
            return s
        case .udp(let r):
            var s = "\(r.received)/\(r.sender.sent) received (\(Format.percent(r.loss)) loss)"
            if let t = r.receiver?.throughputBitsPerSecond { s += ", \(Format.bitRate(t))" }
            if let l = r.receiver?.averageLatency { s += ", latency avg \(Format.duration(l))" }
            return s
        case .tcp(let r):
            var s = "\(r.bytesReceived) bytes in \(r.streams.count) stream(s)"
            if let t = r.throughputBitsPerSecond { s += ", \(Format.bitRate(t))" }
            s += ", \(r.retransmissions) retransmissions"
            if let min = r.rttMinimum, let avg = r.rttAverage, let max = r.rttMaximum {
                s += ", rtt min/avg/max \(Format.duration(min))/\(Format.duration(avg))/\(Format.duration(max))"
            }
            if !r.completed { s += ", not completed" }
            return s
        case .replay(let r):
            return "\(r.frames) frames (\(r.bytes) bytes) replayed"
        case .done:
            return "done"
        case .recorded(let r):
            return r.summary
        }
    }
}

/// `do: dhcp`: the lease the client bound with (nil: it never bound), when, and how it ended.
public struct DHCPActionResult: Sendable {
    public var startedAt: Instant
    /// The lease the client held when it first reached BOUND after the action; nil if it never did.
    public var lease: DHCPClientLease?
    /// When the client first reached BOUND after the action; nil if it never did.
    public var boundAt: Instant?
    /// The lease held at the end of the run (renewed, or gone when it expired or was released).
    public var finalLease: DHCPClientLease?
    /// The client's state at the end of the run.
    public var finalState: DHCPClientState
    /// The host's DHCP events after the action started.
    public var events: [HostEvent]

    public init(startedAt: Instant, lease: DHCPClientLease?, boundAt: Instant?, finalLease: DHCPClientLease? = nil,
                finalState: DHCPClientState, events: [HostEvent] = []) {
        self.startedAt = startedAt; self.lease = lease; self.boundAt = boundAt; self.finalLease = finalLease
        self.finalState = finalState; self.events = events
    }
}

/// `do: ping`: ping(8)'s result, and when the session started.
public struct PingActionResult: Sendable {
    public var startedAt: Instant
    public var result: PingResult
    /// The interval between probes, to tell when each was due even if never sent.
    public var interval: Duration

    public init(startedAt: Instant, result: PingResult, interval: Duration) {
        self.startedAt = startedAt; self.result = result; self.interval = interval
    }
}

/// `do: udp`: what the sender sent and what the receiving host counted of this flow.
public struct UDPFlowResult: Sendable {
    public var sender: UDPFloodSenderStats
    /// The receiver's counts for this flow's stream; nil when the target is not a host of the
    /// scenario or nothing arrived.
    public var receiver: UDPFloodStreamStats?
    /// Received payload bits per second in consecutive intervals, for the throughput chart.
    public var throughput: [ThroughputSample]

    public init(sender: UDPFloodSenderStats, receiver: UDPFloodStreamStats?, throughput: [ThroughputSample] = []) {
        self.sender = sender; self.receiver = receiver; self.throughput = throughput
    }

    /// Distinct datagrams received.
    public var received: Int { receiver?.packets ?? 0 }
    /// Datagrams sent and not received.
    public var lost: Int { max(0, sender.sent - received) }
    /// Lost fraction of the datagrams sent.
    public var loss: Double { sender.sent == 0 ? 0 : Double(lost) / Double(sender.sent) }
}

/// `do: tcp`: what the flow's connections measured (the sending side's view of retransmissions
/// and RTT, the receiving side's of bytes delivered), like iperf3's TCP report.
public struct TCPFlowResult: Sendable {
    /// One connection of the flow.
    public struct Stream: Sendable {
        /// In-order payload bytes the receiving application got.
        public var bytesReceived: UInt64
        public var retransmissions: Int
        /// When the sender had everything acknowledged (byte-count flows) or stopped (timed ones).
        public var finishedAt: Instant?
        public var minimumRTT: Duration?
        public var maximumRTT: Duration?
        public init(bytesReceived: UInt64, retransmissions: Int, finishedAt: Instant?, minimumRTT: Duration?, maximumRTT: Duration?) {
            self.bytesReceived = bytesReceived; self.retransmissions = retransmissions; self.finishedAt = finishedAt
            self.minimumRTT = minimumRTT; self.maximumRTT = maximumRTT
        }
    }

    public var startedAt: Instant
    /// When the last stream finished; nil if one did not by the end of the run.
    public var finishedAt: Instant?
    /// The end of the measuring interval: `finishedAt`, or the end of the run.
    public var endedAt: Instant
    public var streams: [Stream]
    /// The senders' latest RTT every sample interval, all streams together (rtt.avg).
    public var rttSamples: [Duration]
    /// All streams' received payload bits per second in consecutive intervals (the chart).
    public var throughput: [ThroughputSample]
    /// The first stream's sending congestion window over time (the chart).
    public var congestionWindow: [(time: Instant, bytes: Int)]

    public init(startedAt: Instant, finishedAt: Instant?, endedAt: Instant, streams: [Stream], rttSamples: [Duration],
                throughput: [ThroughputSample], congestionWindow: [(time: Instant, bytes: Int)]) {
        self.startedAt = startedAt; self.finishedAt = finishedAt; self.endedAt = endedAt; self.streams = streams
        self.rttSamples = rttSamples; self.throughput = throughput; self.congestionWindow = congestionWindow
    }

    /// Whether every stream delivered everything (byte flows) or ran its time (timed flows).
    public var completed: Bool { finishedAt != nil }
    public var bytesReceived: UInt64 { streams.reduce(0) { $0 &+ $1.bytesReceived } }
    public var retransmissions: Int { streams.reduce(0) { $0 &+ $1.retransmissions } }
    /// Goodput: bytes delivered over the time from the start to the end of the flow.
    public var throughputBitsPerSecond: Double? {
        let seconds = Double((endedAt - startedAt).nanosecondsClamped) / 1e9
        return seconds > 0 ? Double(bytesReceived) * 8 / seconds : nil
    }
    public var rttMinimum: Duration? { streams.compactMap(\.minimumRTT).min() }
    public var rttMaximum: Duration? { streams.compactMap(\.maximumRTT).max() }
    public var rttAverage: Duration? {
        guard !rttSamples.isEmpty else { return nil }
        let total = rttSamples.reduce(0.0) { $0 + Double($1.nanosecondsClamped) }
        return .nanoseconds(Int64(total / Double(rttSamples.count)))
    }
}

/// Throughput over one interval ending at `time`.
public struct ThroughputSample: Equatable, Sendable {
    public var time: Instant
    public var bitsPerSecond: Double
    public init(time: Instant, bitsPerSecond: Double) { self.time = time; self.bitsPerSecond = bitsPerSecond }
}

/// `do: replay`: how much was played.
public struct ReplayResult: Sendable {
    public var startedAt: Instant
    public var finishedAt: Instant?
    public var frames: Int
    public var bytes: Int

    public init(startedAt: Instant, finishedAt: Instant?, frames: Int, bytes: Int) {
        self.startedAt = startedAt; self.finishedAt = finishedAt; self.frames = frames; self.bytes = bytes
    }
}
