// Packetization Layer Path MTU Discovery (RFC 4821) for a connection whose path drops large
// segments without a word — a "black hole": a link or tunnel with a smaller MTU whose ICMP
// "fragmentation needed" is filtered, so RFC 1191's PMTUD (TCPConnectionTimers.pathMTUReduced)
// never hears of it.
//
// - Black-hole detection (RFC 4821 §7.1, as Linux's tcp_mtu_probing = 1): when the retransmission
//   timer expires `blackHoleTimeouts` times in a row for a segment larger than the base size, the
//   segment size falls to the base (RFC 4821 §7.2: "a value of 1024 bytes is probably safe
//   enough") and the search for the real size begins.
// - Probing (§7.3–§7.6): one segment of new data larger than the current size, the midpoint of
//   [search_low, search_high], sent when the connection is not recovering from a loss and enough
//   data and window follow it for its loss to show by SACK or duplicate ACKs. Acknowledged: the
//   path carries it, the segment size grows to it. Lost: search_high falls below it, and the loss
//   is repaired without a congestion response (§7.5: "loss of a probe ... SHOULD NOT be
//   interpreted as congestion"). The search ends when search_low meets search_high.
// - After `raiseInterval` (§7.7 "PROBE_TIMER": 10 minutes) without a reduction, the search starts
//   again towards the negotiated size, in case the path grew.
// Sizes here are the connection's segment limit (payload + options, i.e. the IP MTU − 40).

import Basics

/// The RFC 4821 search state of one connection.
struct TCPPathMTUSearch: Sendable {
    /// The largest segment limit known to pass, and the smallest known not to be, minus one.
    var searchLow: Int
    var searchHigh: Int
    /// The negotiated segment limit (min of both sides' MSS): never probed beyond.
    var ceiling: Int
    /// The probe in flight: its sequence range and the segment limit it tests.
    var probe: (start: TCPSequenceNumber, end: TCPSequenceNumber, limit: Int)?
    /// Not before this instant may the next probe go (the raise timer once the search is over).
    var nextProbeAt: Instant = .zero
    /// cwnd when a lost probe put the connection into recovery: restored when recovery ends.
    var cwndBeforeProbeLoss: Int?

    init(ceiling: Int) {
        self.ceiling = ceiling
        searchLow = ceiling
        searchHigh = ceiling
    }

    /// Whether there is a size left to try.
    var isSearching: Bool { searchHigh > searchLow }

    /// The next size to try: the midpoint, rounded up so the search always ends.
    var nextProbeLimit: Int { searchLow + (searchHigh - searchLow + 1) / 2 }
}

extension TCPConnection {
    /// The segment limit black-hole detection falls back to: RFC 4821 §7.2's 1024-byte MTU.
    static let pathMTUProbingBaseLimit = 1024 - 40
    /// Timeouts in a row that mean a black hole (Linux: tcp_retries1 before it probes; here 2, so
    /// a transfer stalls for two RTOs, not three).
    static let blackHoleTimeouts = 2
    /// RFC 4821 §7.7: "PROBE_TIMER ... 10 minutes".
    static let pathMTURaiseInterval: Duration = .seconds(600)

    /// At the timeout that makes `consecutiveTimeouts` in a row: a lost probe ends that probe; a
    /// full-size segment lost twice in a row means a black hole — fall back to the base size.
    func pathMTUOnTimeout(now: Instant) {
        guard configuration.pathMTUProbing else { return }
        if let p = pathMTUSearch.probe, sndUna < p.end {
            probeLost(p, now: now)
            return
        }
        let base = Self.pathMTUProbingBaseLimit
        guard consecutiveTimeouts >= Self.blackHoleTimeouts, segmentLimit > base,
              sendBufferEnd - sndUna > base - optionLength(syn: false) else { return }
        // RFC 4821 §7.1 / §7.2: the size in use does not pass; restart the search below it.
        pathMTUSearch.searchHigh = segmentLimit - 1
        pathMTUSearch.searchLow = base
        pathMTUSearch.probe = nil
        pathMTUSearch.nextProbeAt = now
        segmentLimit = base
        stats.pathMTUBlackHoles += 1
    }

    /// An ICMP fragmentation-needed said the path takes at most `limit`: the search stays below it.
    func pathMTUOnICMP(limit: Int) {
        pathMTUSearch.searchHigh = min(pathMTUSearch.searchHigh, limit)
        pathMTUSearch.searchLow = min(pathMTUSearch.searchLow, limit)
        if let p = pathMTUSearch.probe, p.limit > limit {
            pathMTUSearch.probe = nil
            stats.pathMTUProbesLost += 1
        }
    }

    /// Sends a probe if one is due and the connection can afford it; returns whether it did.
    func sendPathMTUProbeIfDue(now: Instant, transmit: TCPTransmit) -> Bool {
        guard configuration.pathMTUProbing, pathMTUSearch.probe == nil, state == .established || state == .closeWait,
              !inRecovery, !retransmitPending, sndNxt == sndMax, now >= pathMTUSearch.nextProbeAt else { return false }
        if !pathMTUSearch.isSearching {
            // §7.7: after the raise timer, look again for a larger size.
            guard segmentLimit < pathMTUSearch.ceiling, pathMTUSearch.nextProbeAt != .zero else { return false }
            pathMTUSearch.searchHigh = pathMTUSearch.ceiling
        }
        let limit = pathMTUSearch.nextProbeLimit
        let payload = limit - optionLength(syn: false)
        // §7.4: room for the probe now, and a window and data for three segments behind it, so
        // that its loss shows by SACK or duplicate ACKs rather than by a timeout; never the FIN's.
        let following = 3 * mss
        guard payload > mss, sendBufferEnd - sndNxt >= payload + following,
              min(congestion.cwnd, sndWnd) >= payload + following,
              (sndUna + min(congestion.cwnd, sndWnd)) - sndNxt >= payload else { return false }
        let start = sndNxt
        let sent = sendData(from: start, maximum: payload, segmentLimit: limit, now: now, transmit: transmit)
        guard sent > 0 else { return false }
        sndNxt = start + sent
        if sndMax < sndNxt { sndMax = sndNxt }
        pathMTUSearch.probe = (start, start + sent, limit)
        stats.pathMTUProbes += 1
        return true
    }

    /// SND.UNA moved to `ack`: a probe wholly acknowledged passed — its size is the new segment limit.
    func pathMTUOnAcknowledged(upTo ack: TCPSequenceNumber, now: Instant) {
        guard let p = pathMTUSearch.probe, !(ack < p.end) else { return }
        pathMTUSearch.probe = nil
        pathMTUSearch.searchLow = max(pathMTUSearch.searchLow, p.limit)
        if p.limit > segmentLimit { segmentLimit = p.limit }
        endSearchIfDone(now: now)
    }

    /// Bytes from `seq` are being sent again: if they are the probe's, the probe was lost (its
    /// bytes go again at the current size; an ACK for them later proves nothing).
    func pathMTUOnRetransmission(from seq: TCPSequenceNumber, length: Int, now: Instant) {
        guard let p = pathMTUSearch.probe, seq < p.end, p.start < seq + max(length, 1) else { return }
        probeLost(p, now: now)
    }

    /// Recovery is starting at SND.UNA: if the first hole is the probe, the probe was lost — not
    /// congestion (RFC 4821 §7.5). Returns whether it was.
    func pathMTUProbeLostAtRecovery(now: Instant) -> Bool {
        guard let p = pathMTUSearch.probe, !(sndUna < p.start), sndUna < p.end else { return false }
        probeLost(p, now: now)
        return true
    }

    private func probeLost(_ p: (start: TCPSequenceNumber, end: TCPSequenceNumber, limit: Int), now: Instant) {
        pathMTUSearch.probe = nil
        pathMTUSearch.searchHigh = min(pathMTUSearch.searchHigh, p.limit - 1)
        stats.pathMTUProbesLost += 1
        endSearchIfDone(now: now)
    }

    private func endSearchIfDone(now: Instant) {
        if !pathMTUSearch.isSearching { pathMTUSearch.nextProbeAt = now + Self.pathMTURaiseInterval }
    }
}
