// What a connection sends (RFC 9293 §3.8.6 "Managing the Window", RFC 5681 congestion window,
// RFC 6675 hole retransmission) and how a segment is built: options (RFC 7323 timestamps, RFC 2018
// SACK blocks), the advertised window (scaled, never shrinking), and the ACK bookkeeping that
// every outgoing segment settles.

import Basics
import Wire

extension TCPConnection {
    /// Sends everything the windows allow now: a pending retransmission, new data, the FIN, and a
    /// bare ACK if one is owed.
    func output(now: Instant, transmit: TCPTransmit) {
        guard state.isSynchronized || state == .synReceived, state != .timeWait || ackNow else { return }
        if state == .timeWait || state == .synReceived {
            if ackNow, state == .timeWait { sendControl(sequence: sndNxt, flags: .ack, now: now, transmit: transmit) }
            return
        }
        refillBulk(now: now)

        // A retransmission asked for by loss recovery: the first hole at or above HighRxt
        // (RFC 6675 §4 NextSeg rule 1), or SND.UNA without SACK (RFC 6582).
        if retransmitPending {
            retransmitPending = false
            let from = TCPSequenceNumber.max(highRetransmitted, sndUna)
            // With SACK, only holes below the highest SACKed byte count as lost (RFC 6675 §4
            // NextSeg (1.a)); above it the data may simply still be in flight.
            var hole: (start: TCPSequenceNumber, length: Int?) = (from, nil)
            var end = sndMax
            if sackEnabled, let highest = scoreboard.highestSACKed {
                hole = scoreboard.nextHole(from: from)
                end = highest
            } else if from != sndUna {
                end = from  // without SACK only SND.UNA is known lost (RFC 6582 §3.2)
            }
            if hole.start < end {
                let limit = min(hole.length ?? Int.max, end - hole.start)
                let sent = sendData(from: hole.start, maximum: limit, now: now, transmit: transmit)
                highRetransmitted = hole.start + max(sent, 1)
            }
        }

        // A path MTU probe (RFC 4821), when one is due: new data in one larger segment.
        var sentSomething = sendPathMTUProbeIfDue(now: now, transmit: transmit)
        // New (or, after a timeout, resent) data within min(cwnd, SND.WND).
        while true {
            // Going back over sent data (after a timeout or a path MTU drop), SACKed data is
            // skipped and does not count against the window (RFC 6675 §5.1, §2 "pipe").
            var hole: Int?
            var usable: Int
            let window = min(congestion.cwnd, sndWnd)
            skipSACKedData()
            if sndNxt < sndMax, sackEnabled, !scoreboard.isEmpty {
                hole = scoreboard.nextHole(from: sndNxt).length
                usable = (sndUna + window) - sndNxt + scoreboard.sackedBytes(below: sndNxt)
            } else {
                usable = (sndUna + window) - sndNxt
            }
            let available = sendBufferEnd - sndNxt
            let finDue = finQueued && available <= 0 && sndNxt == sendBufferEnd
            if available > 0 {
                guard usable > 0 else { break }
                let maxPayload = segmentLimit - optionLength(syn: false)
                // Two-argument mins: min's variadic form (four values) allocates its array per segment.
                let length = min(min(available, usable), min(maxPayload, hole ?? Int.max))
                // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): send a full segment, all that is
                // queued, or at least half the largest window the peer offered (a hole being
                // resent is whatever size it is).
                // The persist timer's override (§3.8.6.2.1) sends a small segment anyway.
                guard length == maxPayload || length == available || length == hole || length >= maximumSendWindow / 2
                        || overrideSWS else { break }
                overrideSWS = false
                let sent = sendData(from: sndNxt, maximum: length, now: now, transmit: transmit)
                guard sent > 0 else { break }
                sndNxt = sndNxt + sent
                if finQueued, let fin = finSequence, sndNxt == fin {
                    // The FIN rode along (sendData set it): it occupies one sequence number.
                    sndNxt = sndNxt + 1
                }
                if sndMax < sndNxt { sndMax = sndNxt }
                sentSomething = true
            } else if finDue {
                // A FIN alone (RFC 9293 §3.10.4): after all data, whatever the window.
                let seq = sendBufferEnd
                finSequence = seq
                sendControl(sequence: seq, flags: TCPFlags.fin.union(.ack), now: now, transmit: transmit)
                sndNxt = seq + 1
                if sndMax < sndNxt { sndMax = sndNxt }
                if retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
                sentSomething = true
                break
            } else {
                break
            }
        }

        // Data waiting, nothing in flight, and a window too small (or zero) to send: the persist
        // timer (RFC 9293 §3.8.6.1 zero-window probes, §3.8.6.2.1 the SWS override timeout).
        let waiting = sendBufferEnd - sndNxt > 0
        if waiting, !sentSomething, sndNxt == sndUna, retransmitDeadline == nil, persistDeadline == nil {
            persistDeadline = now + persistInterval()
        }
        if ackNow, !sentSomething {
            sendControl(sequence: sndNxt, flags: .ack, now: now, transmit: transmit)
        }
    }

    /// Going back over sent data: SND.NXT past data the receiver SACKed (RFC 6675 §5.1), so it is
    /// not sent again.
    func skipSACKedData() {
        guard sackEnabled, sndNxt < sndMax, !scoreboard.isEmpty else { return }
        sndNxt = TCPSequenceNumber.min(scoreboard.nextHole(from: sndNxt).start, sndMax)
    }

    /// The persist interval: the RTO, doubled per unanswered probe, bounded (RFC 9293 §3.8.6.1).
    func persistInterval() -> Duration {
        var d = rtt.rto
        for _ in 0..<min(persistBackoff, 30) where d < configuration.maximumPersistInterval { d = d * 2 }
        return min(max(d, configuration.minimumRTO), configuration.maximumPersistInterval)
    }

    /// Sends up to `maximum` bytes of the send buffer starting at `seq` (an ACK with data, FIN if
    /// it ends the data after CLOSE) in a segment of at most `limit` (default: the connection's
    /// segment limit; a path MTU probe's is larger); returns the payload length sent.
    @discardableResult
    func sendData(from seq: TCPSequenceNumber, maximum: Int, segmentLimit limit: Int? = nil, now: Instant,
                  transmit: TCPTransmit) -> Int {
        let offset = seq - sendDataStart
        let available = sendBuffer.count - offset
        guard offset >= 0, available >= 0 else { return 0 }
        let length = min(maximum, available, max((limit ?? segmentLimit) - optionLength(syn: false), 1))
        let end = seq + length
        var flags = TCPFlags.ack
        if finQueued, end == sendBufferEnd, length > 0 || finSequence != nil {
            flags.insert(.fin)
            finSequence = end
        }
        if length > 0, end == sendBufferEnd { flags.insert(.psh) }
        guard length > 0 || flags.contains(.fin) else { return 0 }
        let isRetransmission = seq < sndMax
        if isRetransmission {
            if pathMTUSearch.probe != nil { pathMTUOnRetransmission(from: seq, length: length, now: now) }
            stats.segmentsRetransmitted += 1
            stats.bytesRetransmitted += UInt64(length)
            counterDeltas.segmentsRetransmitted += 1
            timedSegment = nil   // Karn's rule
        } else {
            stats.bytesSent += UInt64(length)
            if !timestampsEnabled, timedSegment == nil { timedSegment = (end, now) }
        }
        let header = makeHeader(sequence: seq, flags: flags, syn: false, now: now)
        sendBuffer.withBytes(offset: offset, length: length) { transmit(header, $0) }
        didSend(header, now: now)
        // RFC 6298 (5.1): "Every time a packet containing data is sent ... if the timer is not
        // running, start it".
        if retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
        persistDeadline = nil
        if flags.contains(.fin), sndMax < end + 1 { sndMax = end + 1 }
        return length
    }

    /// SYN (active open) or SYN-ACK (passive), sent or resent from ISS.
    func sendSYN(now: Instant, transmit: TCPTransmit) {
        var flags = TCPFlags.syn
        if state == .synReceived { flags.insert(.ack) }
        let header = makeHeader(sequence: iss, flags: flags, syn: true, now: now)
        if synTransmissions > 0 {
            stats.segmentsRetransmitted += 1
            counterDeltas.segmentsRetransmitted += 1
        } else {
            timedSegment = (iss + 1, now)
        }
        synTransmissions += 1
        transmit(header, UnsafeRawBufferPointer(start: nil, count: 0))
        didSend(header, now: now)
        sndNxt = iss + 1
        if sndMax < sndNxt { sndMax = sndNxt }
        retransmitDeadline = now + rtt.rto
    }

    /// A segment without data (ACK, FIN, RST) at `sequence`.
    func sendControl(sequence: TCPSequenceNumber, flags: TCPFlags, now: Instant, transmit: TCPTransmit) {
        var flags = flags
        if state != .synSent || flags.contains(.ack) { flags.insert(.ack) }
        if flags.contains(.rst) { counterDeltas.resetsSent += 1 }
        if flags.contains(.fin), sequence < sndMax, !(sequence + 1 < sndMax) {
            stats.segmentsRetransmitted += 1
            counterDeltas.segmentsRetransmitted += 1
        }
        let header = makeHeader(sequence: sequence, flags: flags, syn: false, now: now)
        transmit(header, UnsafeRawBufferPointer(start: nil, count: 0))
        didSend(header, now: now)
    }

    /// A RST in reply to an unacceptable ACK (RFC 9293 §3.10.7.3/4: "<SEQ=SEG.ACK><CTL=RST>").
    func sendReset(sequence: TCPSequenceNumber, now: Instant, transmit: TCPTransmit) {
        let header = TCPHeader(sourcePort: localPort, destinationPort: remotePort, sequenceNumber: sequence.rawValue,
                               flags: .rst, window: 0)
        counterDeltas.resetsSent += 1
        stats.segmentsSent += 1
        counterDeltas.segmentsSent += 1
        transmit(header, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Bookkeeping after any segment left: the ACK it carried settles delayed ACKs.
    private func didSend(_ header: TCPHeader, now: Instant) {
        stats.segmentsSent += 1
        counterDeltas.segmentsSent += 1
        if header.flags.contains(.ack) {
            ackNow = false
            delayedACKDeadline = nil
            bytesSinceACK = 0
            lastACKSent = rcvNxt
        }
    }

    /// Bytes of options a segment carries now.
    func optionLength(syn: Bool) -> Int {
        if syn { return synOptions(now: .zero).encodedLength }
        var n = timestampsEnabled ? 12 : 0
        let blocks = sackBlockCount()
        if blocks > 0 { n += 4 + 8 * blocks }
        return n
    }

    private func sackBlockCount() -> Int {
        guard sackEnabled, !reassembly.isEmpty else { return 0 }
        return min(reassembly.sackBlocks(limit: 4).count, timestampsEnabled ? 3 : 4)
    }

    private func synOptions(now: Instant) -> TCPOptions {
        var o = TCPOptions()
        o.maximumSegmentSize = UInt16(announcedMSS)
        let passive = state == .synReceived && listenerPort != nil
        // A passive side offers an option only if the SYN carried it (RFC 7323 §2.2, §3.2; RFC 2018 §2).
        if configuration.windowScaling, !passive || windowScalingAgreed {
            o.windowScale = receiveScale
        }
        if configuration.sack, !passive || sackEnabled { o.sackPermitted = true }
        if configuration.timestamps, !passive || timestampsEnabled {
            o.timestamp = (timestampClock(now), passive ? tsRecent : 0)
        }
        return o
    }

    /// The header of an outgoing segment: ports, numbers, flags, window and options.
    func makeHeader(sequence: TCPSequenceNumber, flags: TCPFlags, syn: Bool, now: Instant) -> TCPHeader {
        var options: TCPOptions
        if syn {
            options = synOptions(now: now)
        } else {
            options = TCPOptions()
            if timestampsEnabled { options.timestamp = (timestampClock(now), tsRecent) }
            if flags.contains(.ack), sackEnabled, !reassembly.isEmpty {
                // RFC 2018 §4: the most recently changed block first. At most 3 with timestamps.
                for b in reassembly.sackBlocks(limit: timestampsEnabled ? 3 : 4) {
                    options.appendSACKBlock(TCPSACKBlock(left: b.left.rawValue, right: b.right.rawValue))
                }
            }
        }
        let raw = (try? options.emitted()) ?? HeaderOptions()
        return TCPHeader(sourcePort: localPort, destinationPort: remotePort, sequenceNumber: sequence.rawValue,
                         acknowledgmentNumber: flags.contains(.ack) ? rcvNxt.rawValue : 0, flags: flags,
                         window: advertiseWindow(syn: syn), options: raw)
    }

    /// The window we may offer now: free space, but never less than what was already promised,
    /// and the right edge moves only by a worthwhile amount (receiver SWS avoidance, RFC 9293
    /// §3.8.6.2.2: until "the reduction ... is at least min(Fr * RCV.BUFF, Eff.snd.MSS)").
    func advertisableWindow() -> Int {
        let promised = max(rcvAdvertisedEdge - rcvNxt, 0)
        let space = receiveSpace
        guard space - promised >= min(configuration.receiveBufferSize / 2, mss) else { return promised }
        return max(space, promised)
    }

    /// The window field to send, and the right edge it promises (RFC 7323 §2.3 scaling; a SYN's
    /// window is not scaled).
    private func advertiseWindow(syn: Bool) -> UInt16 {
        let scale = syn ? 0 : Int(receiveScale)
        let field = min(advertisableWindow() >> scale, Int(UInt16.max))
        let edge = rcvNxt + (field << scale)
        if rcvAdvertisedEdge < edge || state == .synSent || state == .synReceived { rcvAdvertisedEdge = edge }
        return UInt16(field)
    }
}
