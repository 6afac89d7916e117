// The host's UDP (RFC 768, RFC 1122 §4.1): sending datagrams, open ports with an inbox, an echo
// service, and flood senders and receivers.

import Basics
import Wire

/// A datagram delivered to an open port.
public struct UDPDatagram: Equatable, Sendable {
    public var time: Instant
    public var source: IPv4Address
    public var sourcePort: UInt16
    public var destination: IPv4Address
    public var destinationPort: UInt16
    public var payload: [UInt8]
}

extension Host {
    // MARK: Datagrams

    /// Sends one datagram from `sourcePort` (an ephemeral port if nil). Returns false if it could
    /// not be sent (no address or route, too big); a datagram waiting for ARP counts as sent.
    @discardableResult
    public func sendUDP(to destination: IPv4Address, port: UInt16, from sourcePort: UInt16? = nil,
                        payload: [UInt8], now: Instant) -> Bool {
        let source = sourcePort ?? ephemeralPort()
        return payload.withUnsafeBytes { bytes in
            sendUDPDatagram(to: destination, sourcePort: source, destinationPort: port,
                            payloadLength: bytes.count, now: now) { $0.copyBytes(bytes, at: 0) }
        }
    }

    /// Opens `port`: datagrams to it are kept (up to `configuration.udpInboxLimit`) until taken.
    public func openUDP(port: UInt16) {
        if inboxes[port] == nil { inboxes[port] = [] }
    }

    /// Closes `port`, dropping what it held.
    public func closeUDP(port: UInt16) { inboxes[port] = nil }

    /// The datagrams received on the open `port` since the last call, oldest first.
    public func takeDatagrams(port: UInt16) -> [UDPDatagram] {
        guard let held = inboxes[port] else { return [] }
        inboxes[port] = []
        return held
    }

    /// Echoes every datagram to `port` back to its sender (RFC 862 over UDP).
    public func startUDPEcho(port: UInt16) { echoPorts.insert(port) }

    /// Stops echoing on `port`.
    public func stopUDPEcho(port: UInt16) { echoPorts.remove(port) }

    // MARK: Floods

    /// Starts sending `size`-byte payloads (at least `UDPFloodPayload.headerLength`) to
    /// `target:port` at `rate` for `duration`, the first now; each carries a sequence number
    /// from 0 and its send time.
    @discardableResult
    public func startUDPFlood(to target: IPv4Address, port: UInt16, size: Int, rate: UDPFloodRate,
                              duration: Duration, from sourcePort: UInt16? = nil, now: Instant) -> UDPFloodID {
        let payloadSize = max(size, UDPFloodPayload.headerLength)
        let packetsPerSecond: Double
        switch rate {
        case .packetsPerSecond(let p): packetsPerSecond = p
        case .bitsPerSecond(let b): packetsPerSecond = b / Double(payloadSize * 8)
        }
        let stats = UDPFloodSenderStats(
            target: target, port: port, sourcePort: sourcePort ?? ephemeralPort(),
            stream: UInt32(truncatingIfNeeded: random.next() >> 32), size: payloadSize,
            startedAt: now, endsAt: now + duration,
            scheduled: UDPFloodSender.scheduledCount(rate: packetsPerSecond, duration: duration))
        floods.append(UDPFloodSender(stats: stats, rate: packetsPerSecond))
        pollFlood(floods.count - 1, now: now)
        return UDPFloodID(rawValue: floods.count - 1)
    }

    /// What flood `id` has sent so far.
    public func floodStats(_ id: UDPFloodID) -> UDPFloodSenderStats { floods[id.rawValue].stats }

    /// Every flood started, in order.
    public var floodIDs: [UDPFloodID] { floods.indices.map(UDPFloodID.init(rawValue:)) }

    /// Counts flood datagrams arriving on `port`.
    public func startUDPFloodReceiver(port: UInt16) {
        if floodReceivers[port] == nil { floodReceivers[port] = UDPFloodReceiverStats(port: port) }
    }

    /// What the flood receiver on `port` counted, if one was started.
    public func floodReceiverStats(port: UInt16) -> UDPFloodReceiverStats? { floodReceivers[port] }

    func pollFloods(now: Instant) {
        for i in floods.indices where !floods[i].stats.isFinished { pollFlood(i, now: now) }
    }

    private func pollFlood(_ i: Int, now: Instant) {
        while let index = floods[i].due(now: now) {
            let s = floods[i].stats
            let sent = sendUDPDatagram(to: s.target, sourcePort: s.sourcePort, destinationPort: s.port,
                                       payloadLength: s.size, now: now) {
                UDPFloodPayload.write(into: $0, stream: s.stream, sequence: UInt64(index), sentAt: now)
            }
            if sent {
                floods[i].stats.sent += 1
                floods[i].stats.bytes += s.size
            } else {
                floods[i].stats.notSent += 1
            }
        }
    }

    // MARK: Send and receive

    /// Sends a datagram whose payload `fill` writes in place (no copy, no allocation).
    @discardableResult
    func sendUDPDatagram(to destination: IPv4Address, from source: IPv4Address? = nil, sourcePort: UInt16,
                         destinationPort: UInt16, payloadLength: Int, now: Instant,
                         fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        let datagramLength = IPv4Constants.minimumHeaderLength + UDPConstants.headerLength + payloadLength
        // Larger than the MTU: sendIPv4 fragments it.
        guard datagramLength <= Int(UInt16.max) else { counters.tooBig += 1; return false }
        let header = ipHeader(to: destination, from: source, protocol: .udp,
                              payloadLength: UDPConstants.headerLength + payloadLength)
        let udp = UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort)
        let sent = sendIPv4(to: destination, datagramLength: datagramLength, now: now) { frame, ethernet throws(WireError) in
            let offset = ethernet.headerLength + header.headerLength + UDPConstants.headerLength
            try frame.requireSpace(offset + payloadLength)
            let payload = frame.slice(offset..<offset + payloadLength)
            fill(payload)
            return try IPv4Frame.emitUDP(into: frame, ethernet: ethernet, ip: header, udp: udp,
                                         payload: UnsafeRawBufferPointer(payload))
        }
        if sent { counters.udpSent += 1 }
        return sent
    }

    /// Handles a UDP datagram (the IP payload).
    func receiveUDP(_ datagram: UnsafeRawBufferPointer, ip: IPv4Header, unicast: Bool, broadcast: Bool,
                    frame: UnsafeRawBufferPointer, parsed: IPv4Frame.Parsed, now: Instant) {
        let udp: UDPHeader
        do { udp = try UDPHeader(parsing: datagram, source: ip.source, destination: ip.destination) } catch {
            countDrop(error)
            return
        }
        let payload = datagram.slice(udp.payloadRange)
        // DHCP replies reach a client before it has an address: unicast to the offered 'yiaddr'
        // or broadcast (RFC 2131 §4.1). Accept them by port while the client runs.
        if udp.destinationPort == DHCP.clientPort, udp.sourcePort == DHCP.serverPort, dhcp.state != .stopped {
            counters.dhcpReceived += 1
            receiveDHCP(payload, now: now)
            return
        }
        guard unicast || broadcast else { counters.notForUs += 1; return }
        counters.udpReceived += 1
        let port = udp.destinationPort
        if echoPorts.contains(port) {
            guard unicast else { return }
            sendUDPDatagram(to: ip.source, sourcePort: port, destinationPort: udp.sourcePort,
                            payloadLength: payload.count, now: now) { $0.copyBytes(payload, at: 0) }
        } else if floodReceivers[port] != nil {
            floodReceivers[port]!.record(payload, source: ip.source, sourcePort: udp.sourcePort, now: now)
        } else if inboxes[port] != nil {
            if inboxes[port]!.count >= max(configuration.udpInboxLimit, 1) {
                inboxes[port]!.removeFirst()
                counters.udpInboxDrops += 1
            }
            inboxes[port]!.append(UDPDatagram(time: now, source: ip.source, sourcePort: udp.sourcePort,
                                              destination: ip.destination, destinationPort: port, payload: Array(payload)))
        } else if unicast, configuration.sendsPortUnreachable {
            sendICMPError(.destinationUnreachable(code: ICMPv4UnreachableCode.port), about: frame, parsed, now: now)
        }
    }
}
