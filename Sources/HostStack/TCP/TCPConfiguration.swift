// What a TCP connection is told at creation: buffers, timers, options and congestion control.
// Defaults follow the RFCs where they give a number and a stock Linux otherwise (said per field).

import Basics

/// The congestion control of a connection (RFC 5681/6582 NewReno, or RFC 9438 CUBIC).
public enum TCPCongestionControlAlgorithm: String, Sendable, Equatable, CaseIterable {
    case newReno
    case cubic
}

/// Tunables of the host's TCP; `TCPConnectOptions`/`TCPListenOptions` pick per-flow ones.
public struct TCPConfiguration: Sendable {
    /// Bytes the application may queue for sending (the send buffer).
    public var sendBufferSize = 1 << 20
    /// Bytes of received data held (in order, unread, plus out of order); bounds the advertised window.
    public var receiveBufferSize = 1 << 20
    /// Offer window scaling (RFC 7323 §2).
    public var windowScaling = true
    /// Offer timestamps (RFC 7323 §3).
    public var timestamps = true
    /// Offer SACK (RFC 2018).
    public var sack = true
    /// The congestion control of connections that do not choose one (Linux's default is CUBIC).
    public var congestionControl: TCPCongestionControlAlgorithm = .cubic
    /// Initial window in segments (RFC 6928: "min (10*MSS, max (2*MSS, 14600))").
    public var initialWindowSegments = 10
    /// RFC 6298 (2.1): "Until a round-trip time (RTT) measurement has been made ... RTO <- 1 second".
    public var initialRTO: Duration = .seconds(1)
    /// RFC 6298 (2.4) says the RTO "SHOULD be rounded up to 1 second"; Linux uses 200 ms, which is
    /// what the lab compares against, so that is the default here.
    public var minimumRTO: Duration = .milliseconds(200)
    /// RFC 6298 (2.5): "A maximum value MAY be placed on RTO provided it is at least 60 seconds."
    public var maximumRTO: Duration = .seconds(60)
    /// Retransmissions of one segment before the connection is dropped (RFC 1122 §4.2.3.5 R2;
    /// Linux tcp_retries2 = 15).
    public var maximumRetransmissions = 15
    /// Retransmissions of a SYN or SYN-ACK (Linux tcp_syn_retries 6, tcp_synack_retries 5).
    public var maximumSYNRetransmissions = 5
    /// Delayed-ACK timeout. RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: "the delay MUST be less than
    /// 0.5 seconds"; Linux's floor is 40 ms.
    public var delayedACKTimeout: Duration = .milliseconds(40)
    /// Maximum Segment Lifetime; TIME-WAIT lasts 2·MSL (RFC 9293 §3.4.2: "arbitrarily defined to
    /// be 2 minutes"; Linux's TIME-WAIT is 60 s). Simulations shorten it.
    public var maximumSegmentLifetime: Duration = .seconds(30)
    /// Smallest and largest persist (zero-window probe) interval (RFC 9293 §3.8.6.1; BSD 5–60 s,
    /// here starting from the RTO like Linux).
    public var maximumPersistInterval: Duration = .seconds(60)
    /// Record a `TCPSample` at most this often (throughput, cwnd and RTT over time).
    public var sampleInterval: Duration = .milliseconds(10)
    /// Samples kept per connection; later ones are not recorded (counted in `samplesDropped`).
    public var sampleLimit = 100_000
    /// Half-open (SYN-RECEIVED) connections per listener (Linux: tcp_max_syn_backlog, 128 here);
    /// more SYNs are dropped and counted, so a SYN flood is bounded in memory.
    public var synBacklog = 128
    /// Established connections waiting for `tcpAccept` per listener (listen(2)'s backlog).
    public var acceptQueueLimit = 128
    /// RFC 4821 packetization-layer path MTU discovery (TCPPathMTUProbing): detect a black hole
    /// (two timeouts in a row of a full-size segment), fall back to 1024-byte datagrams, and probe
    /// upward. Linux's equivalent is net.ipv4.tcp_mtu_probing = 1.
    public var pathMTUProbing = true

    public init() {}
}

/// How a connection treats the data it receives.
public enum TCPReceiveMode: Sendable, Equatable {
    /// Keep it until `tcpRead` (the window closes when the buffer is full).
    case buffer
    /// Count it and compare it with `TCPBulkPattern`, then discard it (a sink that never fills).
    case sink
}

/// The bytes a bulk sender sends: a fixed function of the stream offset, so a sink can check every
/// byte without either side storing the stream.
public enum TCPBulkPattern {
    /// The byte at stream offset `i`. Not periodic at any power of two up to 2²⁴, so a segment put
    /// at the wrong offset shows.
    @inline(__always) public static func byte(at i: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: (i ^ (i >> 8) ^ (i >> 16) ^ (i >> 24)) &* 131 &+ (i >> 11))
    }

    /// Writes the pattern for stream offsets `offset...` into `buffer`.
    ///
    /// Only the low byte of `byte(at:)`'s sum matters, so within a 256-aligned block of offsets it
    /// is `(b ^ c) &* 131 &+ d` with b the offset's low byte and c, d fixed for the block (the
    /// shifted terms change only at block boundaries): one cheap byte operation per byte, which
    /// the compiler vectorizes, instead of four 64-bit shifts.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, streamOffset offset: UInt64) {
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var k = 0
        while k < buffer.count {
            let i = offset &+ UInt64(k)
            let run = min(buffer.count - k, 256 - Int(i & 255))
            let (c, d) = blockConstants(i)
            var b = UInt8(truncatingIfNeeded: i)
            let out = base + k
            for j in 0..<run {
                out[j] = (b ^ c) &* 131 &+ d
                b &+= 1
            }
            k += run
        }
    }

    /// How many bytes of `buffer` differ from the pattern at stream offsets `offset...`. Each
    /// block is filled into 256 bytes on the stack and compared eight bytes at a time; only a
    /// word that differs is counted byte by byte.
    public static func mismatches(in buffer: UnsafeRawBufferPointer, streamOffset offset: UInt64) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        return withUnsafeTemporaryAllocation(byteCount: 256, alignment: 8) { scratch -> Int in
            var k = 0, bad = 0
            while k < buffer.count {
                let i = offset &+ UInt64(k)
                let run = min(buffer.count - k, 256 - Int(i & 255))
                fill(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<run]), streamOffset: i)
                let expected = UnsafeRawPointer(scratch.baseAddress!), seen = base + k
                var j = 0
                while j + 8 <= run {
                    if seen.loadUnaligned(fromByteOffset: j, as: UInt64.self) != expected.loadUnaligned(fromByteOffset: j, as: UInt64.self) {
                        for b in j..<j + 8 where seen.load(fromByteOffset: b, as: UInt8.self) != expected.load(fromByteOffset: b, as: UInt8.self) {
                            bad += 1
                        }
                    }
                    j += 8
                }
                while j < run {
                    if seen.load(fromByteOffset: j, as: UInt8.self) != expected.load(fromByteOffset: j, as: UInt8.self) { bad += 1 }
                    j += 1
                }
                k += run
            }
            return bad
        }
    }

    /// The fixed parts of `byte(at:)` for the 256-aligned block holding offset `i`.
    @inline(__always) static func blockConstants(_ i: UInt64) -> (c: UInt8, d: UInt8) {
        (UInt8(truncatingIfNeeded: (i >> 8) ^ (i >> 16) ^ (i >> 24)), UInt8(truncatingIfNeeded: i >> 11))
    }
}
