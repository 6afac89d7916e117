// The host's ICMP (RFC 792, RFC 1122 §3.2.2): the echo server, the echo client behind `ping`,
// and the reading of ICMP errors that quote the host's own datagrams.

import Basics
import Wire

extension Host {
    // MARK: Ping

    /// Starts a ping session: `count` echo requests of `size` data bytes to `target`, one every
    /// `interval` (the first now), each answered within `timeout` or counted lost. `timeToLive`
    /// overrides the IP TTL (for time-exceeded scenarios). `count` is clamped to 1…65535.
    @discardableResult
    public func ping(_ target: IPv4Address, count: Int = 4, interval: Duration = .seconds(1), size: Int = 56,
                     timeout: Duration = .seconds(1), timeToLive: UInt8? = nil, now: Instant) -> PingID {
        let n = min(max(count, 1), Int(UInt16.max))
        // A fresh identifier, distinct from every unfinished session's.
        var identifier: UInt16
        repeat {
            identifier = UInt16(truncatingIfNeeded: random.next() >> 48)
        } while pings.contains { !$0.result.isFinished && $0.result.identifier == identifier }
        let probes = (0..<n).map { PingProbe(sequence: UInt16(truncatingIfNeeded: $0 + 1)) }
        let result = PingResult(target: target, identifier: identifier, count: n, size: max(size, 0),
                                timeToLive: timeToLive ?? configuration.timeToLive, probes: probes)
        pings.append(PingSession(result: result, interval: interval, timeout: timeout, start: now))
        let id = PingID(rawValue: pings.count - 1)
        pollPing(pings.count - 1, now: now)
        return id
    }

    /// What the session `id` has seen so far.
    public func pingResult(_ id: PingID) -> PingResult {
        pings[id.rawValue].result
    }

    /// Every session started, in order.
    public var pingIDs: [PingID] { pings.indices.map(PingID.init(rawValue:)) }

    func pollPings(now: Instant) {
        for i in pings.indices where !pings[i].result.isFinished { pollPing(i, now: now) }
    }

    private func pollPing(_ i: Int, now: Instant) {
        pings[i].expire(now: now)
        while let index = pings[i].dueProbe(now: now) {
            let delivered = pings[i].result.targetIPv6.map { sendEchoRequest6(session: pings[i].result, target: $0, index: index, now: now) }
                ?? sendEchoRequest(session: pings[i].result, index: index, now: now)
            pings[i].markSent(index, at: now, delivered: delivered)
        }
    }

    private func sendEchoRequest(session: PingResult, index: Int, now: Instant) -> Bool {
        let probe = session.probes[index]
        let icmp = ICMPv4Message.echoRequest(identifier: session.identifier, sequenceNumber: probe.sequence)
        let header = ipHeader(to: session.target, protocol: .icmp,
                              payloadLength: ICMPv4Constants.headerLength + session.size, timeToLive: session.timeToLive)
        let size = session.size
        let datagramLength = IPv4Constants.minimumHeaderLength + ICMPv4Constants.headerLength + session.size
        let sent = sendIPv4(to: session.target, datagramLength: datagramLength, now: now) { frame, ethernet throws(WireError) in
            // The data: a byte pattern (ping(8) fills with 0x08, 0x09, ...), written in place.
            let dataOffset = ethernet.headerLength + header.headerLength + ICMPv4Constants.headerLength
            try frame.requireSpace(dataOffset + size)
            for j in 0..<size { frame[dataOffset + j] = UInt8(truncatingIfNeeded: j + 8) }
            return try IPv4Frame.emitICMP(into: frame, ethernet: ethernet, ip: header, icmp: icmp,
                                          data: UnsafeRawBufferPointer(frame.slice(dataOffset..<dataOffset + size)))
        }
        if sent { counters.echoRequestsSent += 1 }
        return sent
    }

    // MARK: Receive

    /// Handles an ICMP message (the IP payload).
    func receiveICMP(_ message: UnsafeRawBufferPointer, ip: IPv4Header, unicast: Bool, now: Instant) {
        let icmp: ICMPv4Message
        do { icmp = try ICMPv4Message(parsing: message) } catch { countDrop(error); return }
        let data = message.slice(from: ICMPv4Constants.headerLength)
        switch icmp.type {
        case .echoRequest:
            counters.echoRequestsReceived += 1
            // Like Linux (icmp_echo_ignore_broadcasts), only echo requests to our own address
            // are answered.
            guard unicast, configuration.answersEchoRequests else { return }
            // RFC 792: "To form an echo reply message, the source and destination addresses are
            // simply reversed, the type code changed to 0, and the checksum recomputed."
            let reply = ICMPv4Message.echoReply(identifier: icmp.identifier, sequenceNumber: icmp.sequenceNumber)
            let header = ipHeader(to: ip.source, protocol: .icmp, payloadLength: message.count)
            let sent = sendIPv4(to: ip.source, datagramLength: Int(header.totalLength), now: now) { frame, ethernet throws(WireError) in
                try IPv4Frame.emitICMP(into: frame, ethernet: ethernet, ip: header, icmp: reply, data: data)
            }
            if sent { counters.echoRepliesSent += 1 }
        case .echoReply:
            counters.echoRepliesReceived += 1
            // The newest session with this identifier (unfinished ones first).
            guard let i = pings.lastIndex(where: { !$0.result.isFinished && $0.result.identifier == icmp.identifier })
                    ?? pings.lastIndex(where: { $0.result.identifier == icmp.identifier })
            else { counters.unmatchedEchoReplies += 1; return }
            pings[i].reply(sequence: icmp.sequenceNumber, now: now)
        default:
            guard icmp.isError else { counters.unsupported += 1; return }
            receiveICMPError(icmp, data: data, from: ip.source, now: now)
        }
    }

    /// Records an ICMP error and hands it to the ping session or flood whose datagram it quotes.
    private func receiveICMPError(_ icmp: ICMPv4Message, data: UnsafeRawBufferPointer, from: IPv4Address, now: Instant) {
        let quoted: (header: IPv4Header, payload: Range<Int>)
        do { quoted = try ICMPv4Message.quotedDatagram(in: data) } catch { countDrop(error); return }
        // RFC 1122 §3.2.2: the error quotes "the internet header and at least the first 8 data
        // octets of the datagram that triggered the error" — it must be one of ours.
        guard quoted.header.source == address?.address || quoted.header.source == .any else { counters.notForUs += 1; return }
        counters.icmpErrorsReceived += 1
        var report = ICMPErrorReport(time: now, from: from, type: icmp.type, code: icmp.code,
                                     originalDestination: quoted.header.destination,
                                     originalProtocol: quoted.header.protocol)
        if icmp.type == .destinationUnreachable, icmp.code == ICMPv4UnreachableCode.fragmentationNeeded {
            report.nextHopMTU = icmp.nextHopMTU
        }
        let inner = data.slice(quoted.payload)
        var pingIndex: Int?
        var floodIndex: Int?
        if quoted.header.protocol == .icmp, inner.count >= ICMPv4Constants.headerLength,
           inner.u8(0) == ICMPv4Type.echoRequest.rawValue {
            let identifier = inner.u16(4), sequence = inner.u16(6)
            report.echo = (identifier, sequence)
            pingIndex = pings.lastIndex { $0.result.identifier == identifier && $0.result.target == quoted.header.destination }
        } else if quoted.header.protocol == .udp, inner.count >= 4 {
            let ports = (source: inner.u16(0), destination: inner.u16(2))
            report.udpPorts = ports
            floodIndex = floods.lastIndex {
                $0.stats.target == quoted.header.destination && $0.stats.port == ports.destination
                    && $0.stats.sourcePort == ports.source
            }
        }
        if quoted.header.protocol == .tcp { receiveTCPICMPError(icmp, quoted: quoted.header, inner: inner, now: now) }
        if let i = pingIndex, let sequence = report.echo?.sequence { pings[i].error(report, sequence: sequence) }
        if let i = floodIndex { floods[i].stats.icmpErrors += 1 }
        log(.icmpError(report), now)
    }
}
