// Results measured outside this stack — by ping(8) in a network namespace, iperf3, or a QEMU
// guest's busybox — expressed in HostStack's own result types, so that the lab's expectations
// and reports treat a real run and a simulated one alike. Only factories live here (named
// `measured`, as the memberwise initializers they call are internal): what the values mean is
// documented on the types.

import Basics
import Wire

extension PingProbe {
    /// A probe as a real ping reported it.
    public static func measured(sequence: UInt16, sentAt: Instant?, outcome: Outcome, duplicates: Int = 0) -> PingProbe {
        PingProbe(sequence: sequence, sentAt: sentAt, outcome: outcome, duplicates: duplicates)
    }
}

extension PingResult {
    /// A session as a real ping reported it.
    public static func measured(target: IPv4Address, identifier: UInt16, count: Int, size: Int, timeToLive: UInt8,
                                probes: [PingProbe], lateReplies: Int, errors: [ICMPErrorReport], isFinished: Bool) -> PingResult {
        PingResult(target: target, identifier: identifier, count: count, size: size, timeToLive: timeToLive,
                   probes: probes, lateReplies: lateReplies, errors: errors, isFinished: isFinished)
    }
}

extension UDPFloodSenderStats {
    /// A flow's sender as a real traffic generator (iperf3 -u) reported it.
    public static func measured(target: IPv4Address, port: UInt16, sourcePort: UInt16, stream: UInt32, size: Int,
                                startedAt: Instant, endsAt: Instant, scheduled: Int, sent: Int, bytes: Int,
                                notSent: Int = 0, icmpErrors: Int = 0) -> UDPFloodSenderStats {
        UDPFloodSenderStats(target: target, port: port, sourcePort: sourcePort, stream: stream, size: size,
                            startedAt: startedAt, endsAt: endsAt, scheduled: scheduled, sent: sent, bytes: bytes,
                            notSent: notSent, icmpErrors: icmpErrors)
    }
}

extension UDPFloodStreamStats {
    /// A flow's receiver as a real traffic generator reported it. `highestSequence` counts from 0
    /// (`expected` is one more); latencies are nil when the receiver did not measure them (iperf3
    /// measures jitter, not one-way delay).
    public static func measured(source: IPv4Address, sourcePort: UInt16, stream: UInt32, packets: Int, bytes: Int,
                                duplicates: Int, outOfOrder: Int, highestSequence: UInt64?,
                                firstArrival: Instant?, lastArrival: Instant?, minimumLatency: Duration? = nil,
                                averageLatency: Duration? = nil, maximumLatency: Duration? = nil) -> UDPFloodStreamStats {
        var s = UDPFloodStreamStats(source: source, sourcePort: sourcePort, stream: stream)
        s.packets = packets
        s.bytes = bytes
        s.duplicates = duplicates
        s.outOfOrder = outOfOrder
        s.highestSequence = highestSequence
        s.firstArrival = firstArrival
        s.lastArrival = lastArrival
        s.minimumLatency = minimumLatency
        s.maximumLatency = maximumLatency
        if let averageLatency { s.latencySum = averageLatency * packets }
        return s
    }
}
