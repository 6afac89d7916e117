// One TCP connection (RFC 9293): the Transmission Control Block of §3.3.1 and the application
// calls of §3.9 (OPEN, SEND, RECEIVE, CLOSE, ABORT). Sans-IO: every call takes `now` and hands the
// segments it wants sent to a `TCPTransmit` closure; `nextDeadline` says when `poll` is next due.
// It never reads a clock; its only randomness (the ISN and the timestamp offset) comes from the
// generator the host passes in.
//
// Files: TCPConnection (block, open, application calls), TCPConnectionInput (SEGMENT ARRIVES),
// TCPConnectionOutput (what to send and building segments), TCPConnectionTimers (retransmission,
// delayed ACK, persist, TIME-WAIT); helpers TCPSendBuffer, TCPReassemblyQueue, TCPSACKScoreboard,
// TCPRetransmissionTimer (RFC 6298), TCPCongestionControl (NewReno, CUBIC), TCPPathMTUProbing
// (RFC 4821).

import Basics
import Wire

final class TCPConnection {
    let id: TCPConnectionID
    let localAddress: IPv4Address
    let localPort: UInt16
    let remoteAddress: IPv4Address
    let remotePort: UInt16
    let configuration: TCPConfiguration
    let receiveMode: TCPReceiveMode
    /// Created by a listener on `listenerPort` (passive open).
    let listenerPort: UInt16?
    /// Whether the application holds the connection (connected, or taken with `tcpAccept`, or a sink).
    var owned: Bool
    /// Largest IP datagram on the interface: the MSS we announce is this minus 40 (RFC 9293 §3.7.1).
    let interfaceMTU: Int

    private(set) var state: TCPState
    var closeReason: TCPCloseReason?
    var establishedAt: Instant?
    var closedAt: Instant?

    // MARK: Send sequence space (RFC 9293 §3.3.1)
    let iss: TCPSequenceNumber
    var sndUna: TCPSequenceNumber
    var sndNxt: TCPSequenceNumber
    /// The highest sequence number sent so far (+1): below it, a send is a retransmission.
    var sndMax: TCPSequenceNumber
    /// SND.WND in bytes (scaled), and the largest seen.
    var sndWnd = 0
    var maximumSendWindow = 0
    var sndWl1 = TCPSequenceNumber(0)
    var sndWl2 = TCPSequenceNumber(0)
    /// Sequence number of the first byte in `sendBuffer`.
    var sendDataStart: TCPSequenceNumber
    var sendBuffer: TCPSendBuffer
    /// CLOSE called: a FIN follows the queued data. `finSequence` is its sequence number once sent.
    var finQueued = false
    var finSequence: TCPSequenceNumber?
    /// Bulk sender: bytes of `TCPBulkPattern` still to queue, the stream offset of the next, and
    /// whether to close after the last.
    var bulkRemaining: UInt64 = 0
    var bulkCloseWhenDone = false
    var streamBytesQueued: UInt64 = 0

    // MARK: Receive sequence space
    var irs = TCPSequenceNumber(0)
    var rcvNxt = TCPSequenceNumber(0)
    /// RCV.NXT + the window last advertised: the right edge never moves left (RFC 9293 §3.8.6.2.2).
    var rcvAdvertisedEdge = TCPSequenceNumber(0)
    var receiveBuffer: TCPSendBuffer
    var reassembly = TCPReassemblyQueue()
    /// Sequence number of the peer's FIN, once seen (it may arrive before the data ahead of it).
    var peerFinSequence: TCPSequenceNumber?
    var peerFinReceived = false
    /// Sink mode: stream offset of the next byte.
    var sinkOffset: UInt64 = 0

    // MARK: Options (RFC 9293 §3.7.1, RFC 7323, RFC 2018)
    /// Payload + options per segment we may send: min(peer's MSS, our MTU − 40).
    var segmentLimit: Int
    /// The MSS we announced (largest payload we expect).
    let announcedMSS: Int
    var sendScale: UInt8 = 0
    var receiveScale: UInt8
    /// Both SYNs carried a window scale option.
    var windowScalingAgreed = false
    var timestampsEnabled = false
    var tsRecent: UInt32 = 0
    let tsOffset: UInt32
    var lastACKSent = TCPSequenceNumber(0)
    var sackEnabled = false
    var scoreboard = TCPSACKScoreboard()

    // MARK: ACK generation (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2)
    var ackNow = false
    var delayedACKDeadline: Instant?
    var bytesSinceACK = 0
    /// The largest payload received: "full-sized" for the every-second-segment ACK rule.
    var largestSegmentReceived = 0

    // MARK: Timers
    var rtt: TCPRTTEstimator
    var retransmitDeadline: Instant?
    /// Consecutive timeouts of the same data (RFC 1122 §4.2.3.5 R2).
    var consecutiveTimeouts = 0
    var synTransmissions = 0
    var persistDeadline: Instant?
    var persistBackoff = 0
    /// The persist timer fired with a small non-zero window: send a segment smaller than SWS avoidance allows.
    var overrideSWS = false
    var timeWaitDeadline: Instant?
    /// Without timestamps: the one segment being timed (its end and send time) — Karn's rule
    /// clears it when anything is retransmitted.
    var timedSegment: (end: TCPSequenceNumber, sentAt: Instant)?

    // MARK: Congestion control and loss recovery (RFC 5681, RFC 6582, RFC 6675)
    var congestion: TCPCongestionControl
    var duplicateACKs = 0
    var inRecovery = false
    /// RFC 6582 "recover": the highest sequence number sent when recovery began.
    var recover: TCPSequenceNumber
    /// During recovery, retransmit the next hole at or above this (RFC 6675 HighRxt).
    var highRetransmitted: TCPSequenceNumber
    var retransmitPending = false
    /// RFC 4821 search for the largest segment the path carries (TCPPathMTUProbing).
    var pathMTUSearch = TCPPathMTUSearch(ceiling: TCPConstants.defaultMaximumSegmentSize)

    // MARK: Measurements
    var stats = TCPConnectionStats()
    var samples: [TCPSample] = []
    var nextSampleAt = Instant.zero
    /// Host-level counters this connection adds to (segments sent, retransmitted, ...).
    var counterDeltas = TCPCounters()

    /// A connection in SYN-SENT (active open) or SYN-RECEIVED (passive, from `syn`).
    init(id: TCPConnectionID, local: (IPv4Address, UInt16), remote: (IPv4Address, UInt16),
         configuration: TCPConfiguration, congestionControl: TCPCongestionControlAlgorithm,
         receiveMode: TCPReceiveMode, listenerPort: UInt16?, interfaceMTU: Int, random: inout SeededRandom,
         initialSequenceNumber: UInt32? = nil) {
        self.id = id
        (localAddress, localPort) = local
        (remoteAddress, remotePort) = remote
        self.configuration = configuration
        self.receiveMode = receiveMode
        self.listenerPort = listenerPort
        owned = listenerPort == nil
        self.interfaceMTU = interfaceMTU
        state = listenerPort == nil ? .synSent : .synReceived
        // RFC 9293 §3.4.1 wants ISNs unpredictable; a draw from the seeded generator is (to anyone
        // without the seed) and keeps runs reproducible.
        let drawn = UInt32(truncatingIfNeeded: random.next())
        iss = TCPSequenceNumber(initialSequenceNumber ?? drawn)
        tsOffset = UInt32(truncatingIfNeeded: random.next())
        sndUna = iss; sndNxt = iss; sndMax = iss
        sendDataStart = iss + 1
        recover = iss; highRetransmitted = iss
        sendBuffer = TCPSendBuffer(capacity: configuration.sendBufferSize)
        receiveBuffer = TCPSendBuffer(capacity: configuration.receiveBufferSize)
        announcedMSS = max(min(interfaceMTU - 40, Int(UInt16.max)), 64)
        segmentLimit = TCPConstants.defaultMaximumSegmentSize
        // RFC 7323 §2.3: the smallest shift that lets the buffer be advertised, at most 14.
        var shift: UInt8 = 0
        while shift < 14, (max(configuration.receiveBufferSize, 1) >> Int(shift)) > Int(UInt16.max) { shift += 1 }
        receiveScale = configuration.windowScaling ? shift : 0
        rtt = TCPRTTEstimator(configuration: configuration)
        congestion = TCPCongestionControl(algorithm: congestionControl, initialWindow: TCPConstants.defaultMaximumSegmentSize)
    }

    // MARK: Derived values

    /// The largest payload of a segment carrying only timestamps (the sender MSS of RFC 5681).
    var mss: Int { max(segmentLimit - (timestampsEnabled ? 12 : 0), 1) }
    var sendBufferEnd: TCPSequenceNumber { sendDataStart + sendBuffer.count }
    /// Bytes sent and not acknowledged (RFC 5681 FlightSize).
    var flightSize: Int { max(sndMax - sndUna, 0) }
    var isClosed: Bool { state == .closed }
    /// Bytes readable now (buffer mode).
    var readableCount: Int { receiveBuffer.count }

    /// Free receive space: the window we may offer.
    var receiveSpace: Int { max(configuration.receiveBufferSize - receiveBuffer.count, 0) }

    // MARK: Application calls (RFC 9293 §3.9.1)

    /// OPEN, active: sends the SYN.
    func open(now: Instant, transmit: TCPTransmit) {
        counterDeltas.connectionsOpened += 1
        sendSYN(now: now, transmit: transmit)
    }

    /// SEND: queues what fits; returns how many bytes were taken.
    func write(_ bytes: UnsafeRawBufferPointer, now: Instant, transmit: TCPTransmit) -> Int {
        guard state.acceptsWrites, !finQueued else { return 0 }
        let n = sendBuffer.append(bytes)
        streamBytesQueued += UInt64(n)
        output(now: now, transmit: transmit)
        return n
    }

    /// Queues `count` bytes of `TCPBulkPattern` as fast as the buffer drains; CLOSE after the last if asked.
    func sendBulk(_ count: UInt64, closeWhenDone: Bool, now: Instant, transmit: TCPTransmit) {
        guard state.acceptsWrites, !finQueued else { return }
        bulkRemaining &+= count
        bulkCloseWhenDone = closeWhenDone
        refillBulk(now: now)
        output(now: now, transmit: transmit)
    }

    /// Tops the send buffer up from the bulk sender.
    func refillBulk(now: Instant) {
        guard bulkRemaining > 0, state.acceptsWrites, !finQueued else { return }
        let n = sendBuffer.appendPattern(count: Int(min(bulkRemaining, UInt64(Int.max))), streamOffset: streamBytesQueued)
        bulkRemaining -= UInt64(n)
        streamBytesQueued += UInt64(n)
        if bulkRemaining == 0, bulkCloseWhenDone { close(now: now, transmit: nil) }
    }

    /// RECEIVE (buffer mode): takes up to `maximum` bytes; may send a window update.
    func read(maximum: Int, now: Instant, transmit: TCPTransmit) -> [UInt8] {
        let n = min(max(maximum, 0), receiveBuffer.count)
        guard n > 0 else { return [] }
        let bytes = receiveBuffer.withBytes(offset: 0, length: n) { Array($0) }
        let before = advertisableWindow()
        receiveBuffer.removeFirst(n)
        // RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): announce only a worthwhile increase,
        // "min(Fr * RCV.BUFF, Eff.snd.MSS)" with Fr = 1/2.
        if state.receivesData, advertisableWindow() - before >= min(configuration.receiveBufferSize / 2, announcedMSS) {
            ackNow = true
            output(now: now, transmit: transmit)
        }
        return bytes
    }

    /// CLOSE (RFC 9293 §3.10.4): a FIN after the queued data. `transmit` nil: the caller outputs.
    func close(now: Instant, transmit: TCPTransmit?) {
        bulkRemaining = 0
        switch state {
        case .synSent, .synReceived:
            // RFC 9293 §3.10.4: "queue for processing after entering ESTABLISHED state".
            finQueued = true
        case .established:
            finQueued = true
            state = .finWait1
        case .closeWait:
            finQueued = true
            state = .lastAck
        default:
            return
        }
        if let transmit { output(now: now, transmit: transmit) }
    }

    /// ABORT (RFC 9293 §3.10.5): a RST, then CLOSED.
    func abort(now: Instant, transmit: TCPTransmit) {
        if state.isSynchronized || state == .synReceived, state != .timeWait {
            sendControl(sequence: sndNxt, flags: .rst, now: now, transmit: transmit)
        }
        enterClosed(.aborted, now: now)
    }

    // MARK: State changes

    func setState(_ new: TCPState, now: Instant) {
        if new == .established, establishedAt == nil {
            establishedAt = now
            counterDeltas.connectionsEstablished += 1
        }
        // A CLOSE queued before the handshake completed takes effect now.
        state = new == .established && finQueued ? .finWait1 : new
    }

    func enterClosed(_ reason: TCPCloseReason, now: Instant) {
        guard state != .closed else { return }
        state = .closed
        closeReason = reason
        closedAt = now
        counterDeltas.connectionsClosed += 1
        retransmitDeadline = nil; persistDeadline = nil; delayedACKDeadline = nil; timeWaitDeadline = nil
        bulkRemaining = 0
        reassembly.removeAll()
        scoreboard.removeAll()
    }

    func enterTimeWait(now: Instant) {
        state = .timeWait
        retransmitDeadline = nil; persistDeadline = nil; delayedACKDeadline = nil
        // RFC 9293 §3.10.7.4: "Start the time-wait timer" of 2 MSL.
        timeWaitDeadline = now + configuration.maximumSegmentLifetime * 2
    }

    // MARK: Reports

    func info() -> TCPConnectionInfo {
        TCPConnectionInfo(
            id: id, state: state, closeReason: closeReason, localAddress: localAddress, localPort: localPort,
            remoteAddress: remoteAddress, remotePort: remotePort, congestionControl: congestion.algorithm,
            sendMSS: mss, sendWindowScale: sendScale, receiveWindowScale: receiveScale,
            sackEnabled: sackEnabled, timestampsEnabled: timestampsEnabled,
            cwnd: congestion.cwnd, ssthresh: congestion.ssthresh, sendWindow: sndWnd,
            smoothedRTT: rtt.smoothedRTT, rto: rtt.rto,
            bytesUnacknowledged: sendBuffer.count, bytesReadable: receiveBuffer.count,
            stats: stats, samples: samples, establishedAt: establishedAt, closedAt: closedAt)
    }

    func recordSample(now: Instant, force: Bool = false) {
        guard force || now >= nextSampleAt else { return }
        guard samples.count < configuration.sampleLimit else { stats.samplesDropped += 1; return }
        nextSampleAt = now + configuration.sampleInterval
        samples.append(TCPSample(
            time: now, cwnd: congestion.cwnd, ssthresh: congestion.ssthresh, flight: flightSize,
            smoothedRTT: rtt.smoothedRTT, latestRTT: rtt.latestRTT, bytesAcknowledged: stats.bytesAcknowledged,
            bytesReceived: stats.bytesReceived, retransmissions: stats.segmentsRetransmitted))
    }
}
