// SEGMENT ARRIVES (RFC 9293 §3.10.7.3 for SYN-SENT, §3.10.7.4 for the other states), with
// PAWS and timestamp bookkeeping (RFC 7323 §4.3, §5.3), RFC 5961's challenge ACKs, ACK
// processing (RFC 6298 RTT samples, RFC 5681/6582 duplicate ACKs and recovery, RFC 2018 SACK),
// and the data and FIN (reassembly, delayed ACKs).

import Basics
import Wire

extension TCPConnection {
    /// Processes one segment; returns the reason if it was dropped. Sends what it must via `transmit`.
    func receive(_ segment: TCPIncomingSegment, now: Instant, transmit: TCPTransmit) -> TCPDropReason? {
        stats.segmentsReceived += 1
        let drop: TCPDropReason?
        switch state {
        case .closed: return .unexpected
        case .synSent: drop = receiveInSYNSent(segment, now: now, transmit: transmit)
        default: drop = receiveSynchronized(segment, now: now, transmit: transmit)
        }
        if state != .closed { output(now: now, transmit: transmit) }
        return drop
    }

    // MARK: SYN-SENT (RFC 9293 §3.10.7.3)

    private func receiveInSYNSent(_ seg: TCPIncomingSegment, now: Instant, transmit: TCPTransmit) -> TCPDropReason? {
        let flags = seg.flags
        var ackAcceptable = false
        if flags.contains(.ack) {
            // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set ...)
            // and discard the segment."
            guard iss < seg.acknowledgment, !(sndMax < seg.acknowledgment) else {
                if !flags.contains(.rst) { sendReset(sequence: seg.acknowledgment, now: now, transmit: transmit) }
                return .badACK
            }
            ackAcceptable = true
        }
        if flags.contains(.rst) {
            // "If the ACK was acceptable, then signal to the user 'error: connection reset', drop
            // the segment, enter CLOSED state ... Otherwise (no ACK), drop the segment and return."
            guard ackAcceptable else { return .unexpected }
            enterClosed(.refused, now: now)
            return nil
        }
        guard flags.contains(.syn) else { return .unexpected }
        irs = seg.sequence
        rcvNxt = irs + 1
        lastACKSent = rcvNxt
        // What our SYN offered (unscaled, RFC 7323 §2.2).
        rcvAdvertisedEdge = rcvNxt + min(receiveSpace, Int(UInt16.max))
        adoptSYNOptions(seg.options, synACK: true)
        if ackAcceptable {
            acknowledgeSYN(seg, now: now)
            sndWl1 = seg.sequence; sndWl2 = seg.acknowledgment
            setSendWindow(Int(seg.header.window))   // RFC 7323 §2.2: a SYN's window is never scaled
            setState(.established, now: now)
            ackNow = true
        } else {
            // Simultaneous open: "enter SYN-RECEIVED, form a SYN,ACK segment and send it".
            setState(.synReceived, now: now)
            sndNxt = iss
            sendSYN(now: now, transmit: transmit)
        }
        return nil
    }

    // MARK: Other states (RFC 9293 §3.10.7.4)

    private func receiveSynchronized(_ seg: TCPIncomingSegment, now: Instant, transmit: TCPTransmit) -> TCPDropReason? {
        let flags = seg.flags
        // RFC 7323 §5.3 PAWS: "If ... SEG.TSval < TS.Recent ..., then the segment is not acceptable:
        // send an acknowledgment in reply ... and drop the segment" (not for RSTs).
        if timestampsEnabled, let ts = seg.options.timestamp, !flags.contains(.rst), state != .synReceived,
           Int32(bitPattern: ts.value &- tsRecent) < 0 {
            ackNow = true
            return .staleTimestamp
        }

        // First, check sequence number.
        let window = max(rcvAdvertisedEdge - rcvNxt, 0)
        guard acceptable(seg, window: window) else {
            // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
            // (unless the RST bit is set ...)". In TIME-WAIT this re-ACKs a retransmitted FIN.
            if !flags.contains(.rst) {
                ackNow = true
                if state == .timeWait, flags.contains(.fin) { enterTimeWait(now: now) }
            }
            if !seg.payload.isEmpty { stats.duplicateBytesReceived += UInt64(seg.payload.count) }
            return .outOfWindow
        }

        // Second, check the RST bit (RFC 5961 §3.2): exact match resets, otherwise challenge ACK.
        if flags.contains(.rst) {
            if seg.sequence == rcvNxt {
                if state == .synReceived, listenerPort != nil {
                    // "If this connection was initiated with a passive OPEN ... return this
                    // connection to LISTEN state" — here: forget it.
                    enterClosed(.reset, now: now)
                } else {
                    enterClosed(state == .closing || state == .lastAck || state == .timeWait ? .normal : .reset, now: now)
                }
            } else {
                sendChallengeACK()
            }
            return nil
        }

        // Fourth, check the SYN bit (RFC 5961 §4): a challenge ACK — except a retransmitted SYN in
        // SYN-RECEIVED, which gets the SYN-ACK again.
        if flags.contains(.syn) {
            if state == .synReceived, seg.sequence == irs, !flags.contains(.ack) {
                sndNxt = iss
                sendSYN(now: now, transmit: transmit)
                return nil
            }
            sendChallengeACK()
            return nil
        }

        // Fifth, check the ACK field: "if the ACK bit is off, drop the segment and return".
        guard flags.contains(.ack) else { return .unexpected }
        let ack = seg.acknowledgment
        if state == .synReceived {
            // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state ... If the segment
            // acknowledgment is not acceptable, form a reset segment".
            guard sndUna < ack, !(sndMax < ack) else {
                sendReset(sequence: ack, now: now, transmit: transmit)
                return .badACK
            }
            acknowledgeSYN(seg, now: now)
            sndWl1 = seg.sequence; sndWl2 = ack
            setSendWindow(Int(seg.header.window) << Int(sendScale))
            setState(.established, now: now)
        }
        // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the
        // segment, and return."
        if sndMax < ack {
            ackNow = true
            return .badACK
        }
        updateTimestamp(seg)
        processACK(seg, now: now, transmit: transmit)
        if state == .closed { return nil }

        // Seventh, process the segment text.
        if !seg.payload.isEmpty {
            if state.receivesData {
                receiveData(seg, now: now)
            } else {
                stats.duplicateBytesReceived += UInt64(seg.payload.count)
                ackNow = true
            }
        }

        // Eighth, check the FIN bit.
        if flags.contains(.fin) {
            let finSeq = seg.sequence + seg.payload.count
            if peerFinSequence == nil, !(finSeq < rcvNxt) { peerFinSequence = finSeq }
            ackNow = true
        }
        processPeerFINIfReached(now: now)
        recordSample(now: now)
        return nil
    }

    /// RFC 9293 §3.10.7.4's four acceptability cases.
    private func acceptable(_ seg: TCPIncomingSegment, window: Int) -> Bool {
        let seq = seg.sequence, len = seg.length
        func inWindow(_ s: TCPSequenceNumber) -> Bool { !(s < rcvNxt) && s < rcvNxt + window }
        if len == 0 {
            return window == 0 ? seq == rcvNxt : inWindow(seq)
        }
        guard window > 0 else { return false }
        return inWindow(seq) || inWindow(seq + (len - 1))
    }

    /// RFC 7323 §4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then SEG.TSval is
    /// copied to TS.Recent".
    private func updateTimestamp(_ seg: TCPIncomingSegment) {
        guard timestampsEnabled, let ts = seg.options.timestamp else { return }
        if !(lastACKSent < seg.sequence), Int32(bitPattern: ts.value &- tsRecent) >= 0 { tsRecent = ts.value }
    }

    private func sendChallengeACK() {
        ackNow = true
        counterDeltas.challengeACKsSent += 1
    }

    // MARK: Options from the peer's SYN

    /// Takes MSS, window scale, SACK-permitted and timestamps from the peer's SYN (or SYN-ACK).
    func adoptSYNOptions(_ options: TCPOptions, synACK: Bool) {
        // RFC 9293 §3.7.1: the send MSS is the smaller of the peer's MSS and our interface's.
        let peerMSS = Int(options.maximumSegmentSize ?? UInt16(TCPConstants.defaultMaximumSegmentSize))
        segmentLimit = max(min(peerMSS, announcedMSS), 64)
        pathMTUSearch = TCPPathMTUSearch(ceiling: segmentLimit)
        // RFC 7323 §2.2: scaling only if both sent the option; §2.3: shifts above 14 are used as 14.
        if configuration.windowScaling, let shift = options.windowScale {
            sendScale = min(shift, 14)
            windowScalingAgreed = true
        } else {
            sendScale = 0
            receiveScale = 0
        }
        if let ts = options.timestamp, configuration.timestamps {
            timestampsEnabled = true
            tsRecent = ts.value
        }
        sackEnabled = configuration.sack && options.sackPermitted
        // RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)) with 10 configurable.
        let segments = max(configuration.initialWindowSegments, 1)
        congestion.cwnd = min(segments * mss, max(2 * mss, segments * 1460))
    }

    /// Our SYN is acknowledged: SND.UNA moves past it, and its RTT is a sample unless it was resent.
    private func acknowledgeSYN(_ seg: TCPIncomingSegment, now: Instant) {
        sndUna = seg.acknowledgment
        if sndNxt < sndUna { sndNxt = sndUna }
        if synTransmissions == 1, let timed = timedSegment {
            takeRTTSample((now - timed.sentAt).nanosecondsClamped)
        } else if let ts = seg.options.timestamp, timestampsEnabled, ts.echoReply != 0 {
            takeRTTSample(timestampRTT(echo: ts.echoReply, now: now))
        }
        timedSegment = nil
        retransmitDeadline = nil
        synTransmissions = 0
    }

    func setSendWindow(_ window: Int) {
        sndWnd = window
        maximumSendWindow = max(maximumSendWindow, window)
    }

    // MARK: ACK processing (RFC 9293 §3.10.7.4 "fifth")

    private func processACK(_ seg: TCPIncomingSegment, now: Instant, transmit: TCPTransmit) {
        let ack = seg.acknowledgment
        let window = Int(seg.header.window) << Int(sendScale)
        if sackEnabled {
            for k in 0..<seg.options.sackBlockCount {
                let b = seg.options.sackBlock(k)
                scoreboard.add(left: TCPSequenceNumber(b.left), right: TCPSequenceNumber(b.right), sndUna: sndUna, sndMax: sndMax)
            }
        }
        if sndUna < ack {
            acknowledgeNewData(upTo: ack, seg, now: now)
        } else if ack == sndUna, seg.payload.isEmpty, !seg.flags.contains(.fin), window == sndWnd, window > 0, sndUna < sndMax {
            // RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": no data, no window change, data outstanding.
            duplicateACK(now: now)
        }
        // "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK), set SND.WND <- SEG.WND".
        if sndWl1 < seg.sequence || (sndWl1 == seg.sequence && !(ack < sndWl2)) {
            let opened = sndWnd == 0 && window > 0
            setSendWindow(window)
            sndWl1 = seg.sequence; sndWl2 = ack
            if opened { persistDeadline = nil; persistBackoff = 0 }
        }
        // FIN acknowledged?
        if let fin = finSequence, !(ack < fin + 1) {
            switch state {
            case .finWait1: setState(.finWait2, now: now)
            case .closing: enterTimeWait(now: now)
            case .lastAck: enterClosed(.normal, now: now)
            default: break
            }
        }
    }

    private func acknowledgeNewData(upTo ack: TCPSequenceNumber, _ seg: TCPIncomingSegment, now: Instant) {
        let ackedSequence = ack - sndUna
        // Data bytes acknowledged: what the ACK covers of the send buffer (not the FIN).
        let dataEnd = TCPSequenceNumber.min(ack, sendBufferEnd)
        let dataAcked = max(dataEnd - sendDataStart, 0)
        sendBuffer.removeFirst(dataAcked)
        sendDataStart = sendDataStart + dataAcked
        stats.bytesAcknowledged += UInt64(dataAcked)
        sndUna = ack
        if sndNxt < sndUna { sndNxt = sndUna }
        if highRetransmitted < sndUna { highRetransmitted = sndUna }
        scoreboard.acknowledge(upTo: sndUna)
        consecutiveTimeouts = 0
        pathMTUOnAcknowledged(upTo: ack, now: now)

        // RTT (RFC 7323 §4.1 with timestamps; RFC 6298 §3 Karn's rule without).
        if timestampsEnabled, let ts = seg.options.timestamp, ts.echoReply != 0 {
            takeRTTSample(timestampRTT(echo: ts.echoReply, now: now))
        } else if let timed = timedSegment, !(ack < timed.end) {
            takeRTTSample((now - timed.sentAt).nanosecondsClamped)
            timedSegment = nil
        }

        if inRecovery {
            if !(ack < recover) {
                // RFC 6582 §3.2 (3) full acknowledgment: "Set cwnd to either (1) min (ssthresh,
                // max(FlightSize, SMSS) + SMSS) or (2) ssthresh".
                congestion.cwnd = min(congestion.ssthresh, max(flightSize, mss) + mss)
                // A lost path MTU probe is no congestion (RFC 4821 §7.5): the window it found stays.
                if let before = pathMTUSearch.cwndBeforeProbeLoss {
                    congestion.cwnd = before
                    pathMTUSearch.cwndBeforeProbeLoss = nil
                }
                inRecovery = false
                duplicateACKs = 0
            } else {
                // (4) partial acknowledgment: retransmit the first unacknowledged segment, deflate
                // cwnd by the amount acknowledged, add back one SMSS. Not again if it was already
                // resent as a SACK hole (HighRxt is past it): that would be spurious.
                retransmitPending = true
                congestion.cwnd = max(congestion.cwnd - ackedSequence + (ackedSequence >= mss ? mss : 0), mss)
                // "reset the retransmit timer" on the first partial ACK (RFC 6582 §3.2 (5)).
                retransmitDeadline = now + rtt.rto
            }
        } else {
            duplicateACKs = 0
            congestion.onAcknowledged(dataAcked, mss: mss, now: now, smoothedRTT: rtt.smoothedRTT)
        }

        // RFC 6298 (5.2)/(5.3): stop the timer when everything is acknowledged, else restart it.
        if sndUna == sndMax {
            retransmitDeadline = nil
        } else if !inRecovery || retransmitDeadline == nil {
            retransmitDeadline = now + rtt.rto
        }
        persistBackoff = 0
        refillBulk(now: now)
    }

    private func duplicateACK(now: Instant) {
        duplicateACKs += 1
        if inRecovery {
            // RFC 6582 §3.2 (4)/RFC 5681 (5): "cwnd = cwnd + SMSS" for each further duplicate;
            // with SACK, the next hole is retransmitted too (RFC 6675 §5 (C)).
            congestion.cwnd += mss
            if sackEnabled, !scoreboard.isEmpty { retransmitPending = true }
            return
        }
        // RFC 6582 §3.2 (2): three duplicates, and the ACK covers more than "recover".
        guard duplicateACKs == 3, recover < sndUna || recover == iss else { return }
        enterRecovery(now: now)
    }

    /// RFC 5681 §3.2 steps 2–4 with RFC 6582's "recover".
    func enterRecovery(now: Instant) {
        recover = sndMax
        if pathMTUProbeLostAtRecovery(now: now) {
            // RFC 4821 §7.5: the loss was the probe's size, not congestion: repair it, keep the window.
            pathMTUSearch.cwndBeforeProbeLoss = congestion.cwnd
        } else {
            let ssthresh = congestion.onCongestionEvent(flightSize: flightSize, mss: mss, now: now)
            congestion.cwnd = ssthresh + 3 * mss
        }
        inRecovery = true
        retransmitPending = true
        highRetransmitted = sndUna
        timedSegment = nil
        stats.fastRetransmits += 1
    }

    func takeRTTSample(_ nanoseconds: Int64) {
        guard nanoseconds >= 0, nanoseconds < 600_000_000_000 else { return }
        rtt.sample(nanoseconds)
        stats.rttSamples += 1
        stats.minimumRTT = min(stats.minimumRTT ?? nanoseconds, nanoseconds)
        stats.maximumRTT = max(stats.maximumRTT ?? nanoseconds, nanoseconds)
    }

    /// RTT from an echoed timestamp (RFC 7323 §4.1), nanoseconds; −1 if it makes no sense.
    func timestampRTT(echo: UInt32, now: Instant) -> Int64 {
        let elapsed = timestampClock(now) &- echo
        guard elapsed < 1 << 31 else { return -1 }
        // Millisecond ticks: a sample of 0 means "under a millisecond"; count it as half of one.
        return elapsed == 0 ? 500_000 : Int64(elapsed) * 1_000_000
    }

    /// TSval: milliseconds since the driver's epoch plus a per-connection offset (RFC 7323 §5.4,
    /// "the timestamp clock ... 1 ms to 1 sec per tick").
    func timestampClock(_ now: Instant) -> UInt32 {
        UInt32(truncatingIfNeeded: now.nanoseconds / 1_000_000) &+ tsOffset
    }

    // MARK: Data (RFC 9293 §3.10.7.4 "seventh")

    private func receiveData(_ seg: TCPIncomingSegment, now: Instant) {
        var seq = seg.sequence
        var data = seg.payload
        // Trim what we already have ...
        if seq < rcvNxt {
            let dup = min(rcvNxt - seq, data.count)
            stats.duplicateBytesReceived += UInt64(dup)
            data = UnsafeRawBufferPointer(rebasing: data[dup...])
            seq = seq + dup
        }
        // ... and what lies beyond the window.
        let room = max(rcvAdvertisedEdge - seq, 0)
        if data.count > room { data = UnsafeRawBufferPointer(rebasing: data[..<room]) }
        guard !data.isEmpty else { ackNow = true; return }
        if seq == rcvNxt {
            let hadHoles = !reassembly.isEmpty
            deliver(data)
            rcvNxt = rcvNxt + data.count
            if hadHoles {
                rcvNxt = reassembly.deliver(after: rcvNxt) { deliver($0) }
                // RFC 5681 §4.2: "an immediate ACK ... when an incoming segment fills in all or part of a gap".
                ackNow = true
            }
            // RFC 1122 §4.2.3.2 / RFC 9293 §3.8.6.3: "an ACK SHOULD be generated for at least every
            // second full-sized segment", otherwise within the delayed-ACK timeout.
            bytesSinceACK += data.count
            largestSegmentReceived = max(largestSegmentReceived, seg.payload.count)
            if bytesSinceACK >= 2 * largestSegmentReceived {
                ackNow = true
            } else if delayedACKDeadline == nil {
                delayedACKDeadline = now + configuration.delayedACKTimeout
            }
        } else {
            // Out of order: hold it and ACK at once (RFC 5681 §4.2: "A TCP receiver SHOULD send an
            // immediate duplicate ACK when an out-of-order segment arrives"), with SACK blocks.
            stats.outOfOrderSegments += 1
            if !reassembly.insert(data, at: seq) { stats.outOfOrderDiscarded += 1 }
            ackNow = true
        }
    }

    /// Hands in-order bytes to the application buffer or the sink.
    private func deliver(_ bytes: UnsafeRawBufferPointer) {
        stats.bytesReceived += UInt64(bytes.count)
        switch receiveMode {
        case .buffer:
            _ = receiveBuffer.append(bytes)
        case .sink:
            stats.patternMismatches += UInt64(TCPBulkPattern.mismatches(in: bytes, streamOffset: sinkOffset))
            sinkOffset &+= UInt64(bytes.count)
        }
    }

    /// "Eighth, check the FIN bit", once every byte before the FIN has arrived.
    private func processPeerFINIfReached(now: Instant) {
        guard let fin = peerFinSequence, !peerFinReceived, fin == rcvNxt else { return }
        peerFinReceived = true
        rcvNxt = rcvNxt + 1
        ackNow = true
        switch state {
        case .synReceived, .established:
            setState(.closeWait, now: now)
            // A sink has nothing to say: it closes its half at once (as iperf3's server does).
            if receiveMode == .sink { close(now: now, transmit: nil) }
        case .finWait1:
            // Our FIN acknowledged already would have moved us to FIN-WAIT-2.
            setState(.closing, now: now)
        case .finWait2: enterTimeWait(now: now)
        default: break
        }
    }
}
