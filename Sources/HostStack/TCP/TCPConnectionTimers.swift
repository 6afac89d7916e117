// A connection's timers: retransmission (RFC 6298 §5, with the SYN's own retry count), delayed
// ACK (RFC 1122 §4.2.3.2), persist (zero-window probes, RFC 9293 §3.8.6.1) and TIME-WAIT
// (2·MSL, RFC 9293 §3.4.2). `nextDeadline` is the earliest; `poll` runs whatever is due.

import Basics
import Wire

extension Instant {
    /// The earlier of two optional instants (nil: no deadline).
    @inline(__always) static func earliest(_ a: Instant?, _ b: Instant?) -> Instant? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }
}

extension TCPConnection {
    /// When `poll` next has work; nil when idle (or closed).
    func nextDeadline() -> Instant? {
        guard state != .closed else { return nil }
        // No closures capturing a variable here: unoptimized builds box it, once per call.
        return Instant.earliest(Instant.earliest(retransmitDeadline, delayedACKDeadline),
                                Instant.earliest(persistDeadline, timeWaitDeadline))
    }

    /// Runs the timers due at `now`.
    func poll(now: Instant, transmit: TCPTransmit) {
        if let t = timeWaitDeadline, t <= now {
            timeWaitDeadline = nil
            enterClosed(.normal, now: now)
            return
        }
        if let t = retransmitDeadline, t <= now {
            retransmitDeadline = nil
            retransmissionTimeout(now: now, transmit: transmit)
            if state == .closed { return }
        }
        if let t = persistDeadline, t <= now {
            persistDeadline = nil
            sendWindowProbe(now: now, transmit: transmit)
        }
        if let t = delayedACKDeadline, t <= now {
            delayedACKDeadline = nil
            ackNow = true
        }
        output(now: now, transmit: transmit)
    }

    /// RFC 6298 §5 (5.4)–(5.6), RFC 5681 §3.1 (4), RFC 6582 §4 after a timeout.
    private func retransmissionTimeout(now: Instant, transmit: TCPTransmit) {
        stats.timeouts += 1
        if state == .synSent || state == .synReceived {
            guard synTransmissions <= configuration.maximumSYNRetransmissions else {
                enterClosed(.timedOut, now: now)
                return
            }
            rtt.backOff()
            timedSegment = nil
            sendSYN(now: now, transmit: transmit)
            return
        }
        consecutiveTimeouts += 1
        guard consecutiveTimeouts <= configuration.maximumRetransmissions else {
            // RFC 1122 §4.2.3.5: "close the connection" after R2.
            sendControl(sequence: sndNxt, flags: .rst, now: now, transmit: transmit)
            enterClosed(.timedOut, now: now)
            return
        }
        guard sndUna < sndMax else { return }
        // (5.5) "The host MUST set RTO <- RTO * 2 ('back off the timer')".
        rtt.backOff()
        congestion.onTimeout(flightSize: flightSize, mss: mss)
        pathMTUSearch.cwndBeforeProbeLoss = nil
        // RFC 4821: a lost probe, or a black hole (the resend below goes at the smaller size).
        pathMTUOnTimeout(now: now)
        // RFC 6582 §4 / RFC 6675 §5.1: "recover" (RecoveryPoint) becomes the highest sequence
        // number sent; no fast retransmit below it.
        recover = sndMax
        inRecovery = false
        duplicateACKs = 0
        retransmitPending = false
        // RFC 6675 §5.1: the scoreboard is kept, so the go-back below resends only the holes.
        // A SACKed block starting at SND.UNA means the receiver dropped data it had SACKed
        // (reneging, RFC 2018 §8): then nothing it reported is trusted.
        if let first = scoreboard.ranges.first, first.start == sndUna { scoreboard.removeAll() }
        timedSegment = nil
        // Go back: resend from SND.UNA as cwnd (now one segment) allows, skipping SACKed data.
        sndNxt = sndUna
        highRetransmitted = sndUna
        if sndWnd == 0 {
            // The peer's window is closed: probe instead (RFC 9293 §3.8.6.1).
            persistDeadline = now + persistInterval()
            return
        }
        // (5.4) retransmit the earliest segment, whatever the windows say; (5.6) restart the timer.
        if sendBufferEnd - sndUna > 0 {
            let hole = sackEnabled ? scoreboard.nextHole(from: sndUna).length ?? mss : mss
            let sent = sendData(from: sndUna, maximum: min(mss, hole), now: now, transmit: transmit)
            sndNxt = sndUna + sent
            if finQueued, let fin = finSequence, sndNxt == fin { sndNxt = sndNxt + 1 }
            skipSACKedData()
        } else if finQueued {
            sendControl(sequence: sendBufferEnd, flags: TCPFlags.fin.union(.ack), now: now, transmit: transmit)
            sndNxt = sendBufferEnd + 1
        }
        retransmitDeadline = now + rtt.rto
    }

    /// A zero-window probe: one byte beyond the closed window (RFC 9293 §3.8.6.1: "the sending TCP
    /// peer must regularly transmit at least one octet of new data (if available)"). SND.NXT stays,
    /// so the byte goes again with the next segment once the window opens.
    private func sendWindowProbe(now: Instant, transmit: TCPTransmit) {
        guard state.isSynchronized, sendBufferEnd - sndNxt > 0 else { persistBackoff = 0; return }
        if sndWnd > 0 {
            // A small window: send what it allows (output runs after the timers).
            overrideSWS = true
            return
        }
        stats.windowProbes += 1
        let offset = sndNxt - sendDataStart
        let header = makeHeader(sequence: sndNxt, flags: .ack, syn: false, now: now)
        sendBuffer.withBytes(offset: offset, length: 1) { transmit(header, $0) }
        stats.segmentsSent += 1
        counterDeltas.segmentsSent += 1
        ackNow = false; delayedACKDeadline = nil; bytesSinceACK = 0; lastACKSent = rcvNxt
        if sndMax < sndNxt + 1 { sndMax = sndNxt + 1 }
        persistBackoff += 1
        persistDeadline = now + persistInterval()
    }

    /// Path MTU discovery (RFC 1191 §6.1): an ICMP "fragmentation needed" for a segment in flight
    /// lowers the segment size to the next-hop MTU − 40 and resends what is in flight at the new
    /// size. Not a congestion signal: cwnd stays. A next-hop MTU of 0 (RFC 792 routers) is taken
    /// as 576 (RFC 1191 §5's plateau for IPv4 hosts); below 296 is not believed (RFC 1191 §3:
    /// 68 is the minimum, Linux's floor is 552; 296 is the RFC 1191 plateau table's second step).
    func pathMTUReduced(to nextHopMTU: Int, quotedSequence: TCPSequenceNumber, now: Instant, transmit: TCPTransmit) -> Bool {
        guard state.isSynchronized, !(quotedSequence < sndUna), quotedSequence < sndMax else { return false }
        let mtu = nextHopMTU == 0 ? 576 : max(nextHopMTU, 296)
        let limit = mtu - 40
        pathMTUOnICMP(limit: limit)
        guard limit < segmentLimit else { return true }
        segmentLimit = limit
        stats.pathMTUReductions += 1
        // Everything in flight was too big: send it again, smaller (RFC 1191 §6.5).
        sndNxt = sndUna
        highRetransmitted = sndUna
        timedSegment = nil
        output(now: now, transmit: transmit)
        return true
    }
}
