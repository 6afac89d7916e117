// The host's IPv4 layer (RFC 791, RFC 1122 §3): accepting datagrams addressed to it, routing
// its own (on-link, or via the default gateway), and the ICMP errors it sends.

import Basics
import Wire

extension Host {
    /// Where a datagram goes on the link.
    enum NextHop: Equatable {
        case broadcast
        case neighbor(IPv4Address)
    }

    /// Handles an Ethernet frame carrying IPv4.
    func receiveIPv4(_ frame: UnsafeRawBufferPointer, now: Instant) {
        let parsed: IPv4Frame.Parsed
        do { parsed = try IPv4Frame.parse(frame) } catch { countDrop(error); return }
        let ip = parsed.ip
        let payload = frame.slice(parsed.payloadRange)
        let own = address
        let unicast = own.map { ip.destination == $0.address } ?? false
        let broadcast = ip.destination.isLimitedBroadcast
            || (own.map { $0.prefixLength < 31 && ip.destination == $0.broadcastAddress } ?? false)
        if ip.isFragment {
            // RFC 1122 §3.3.2: "A host MUST be able to reassemble incoming datagrams".
            guard unicast || broadcast else { counters.notForUs += 1; return }
            return receiveFragment(frame, parsed, now: now)
        }

        switch ip.protocol {
        case .icmp:
            guard unicast || broadcast else { counters.notForUs += 1; return }
            receiveICMP(payload, ip: ip, unicast: unicast, now: now)
        case .udp:
            receiveUDP(payload, ip: ip, unicast: unicast, broadcast: broadcast, frame: frame, parsed: parsed, now: now)
        case .tcp:
            guard unicast || broadcast else { counters.notForUs += 1; return }
            receiveTCP(payload, ip: ip, unicast: unicast, now: now)
        default:
            guard unicast else { counters.notForUs += 1; return }
            counters.unsupported += 1
            // RFC 1122 §3.2.2.1: "A host SHOULD generate Destination Unreachable messages with
            // code: 2 (Protocol Unreachable), when the designated transport protocol is not supported".
            sendICMPError(.destinationUnreachable(code: ICMPv4UnreachableCode.protocol), about: frame, parsed, now: now)
        }
    }

    /// A fragment for us: held until its datagram is whole (IPv4Reassembly.swift), which is then
    /// taken in like any datagram.
    func receiveFragment(_ frame: UnsafeRawBufferPointer, _ parsed: IPv4Frame.Parsed, now: Instant) {
        counters.fragmentsReceived += 1
        let (evicted, timedOut) = (reassembly.evicted, reassembly.timedOut)
        let outcome = reassembly.receive(frame, ipOffset: parsed.ipOffset, ip: parsed.ip, payload: parsed.payloadRange, now: now)
        counters.reassemblyEvicted += reassembly.evicted - evicted
        counters.reassemblyTimeouts += reassembly.timedOut - timedOut
        switch outcome {
        case .held: break
        case .duplicate: counters.duplicateFragments += 1
        case .overlap: counters.reassemblyOverlaps += 1
        case .malformed: counters.reassemblyMalformed += 1
        case .whole(let datagram):
            counters.datagramsReassembled += 1
            datagram.withUnsafeBytes { receiveIPv4($0, now: now) }
        }
    }

    /// The next hop for `destination`: on-link, via the gateway, broadcast, or nil (no route).
    func nextHop(_ destination: IPv4Address) -> NextHop? {
        if destination.isLimitedBroadcast { return .broadcast }
        guard let own = address, !destination.isMulticast, destination != .any else { return nil }
        if own.prefixLength < 31, destination == own.broadcastAddress { return .broadcast }
        if own.contains(destination) { return .neighbor(destination) }
        return gateway.map(NextHop.neighbor)
    }

    /// A header for a datagram the host originates.
    func ipHeader(to destination: IPv4Address, from source: IPv4Address? = nil, protocol: IPProtocol,
                  payloadLength: Int, timeToLive: UInt8? = nil) -> IPv4Header {
        nextIdentification &+= 1
        return IPv4Header(source: source ?? address?.address ?? .any, destination: destination, protocol: `protocol`,
                          payloadLength: payloadLength, timeToLive: timeToLive ?? configuration.timeToLive,
                          identification: nextIdentification)
    }

    /// Routes a datagram of `datagramLength` bytes to `destination` and lets `build` write the
    /// whole frame, Ethernet header given. Without a cached MAC the frame waits for ARP. Returns
    /// false if it could not be sent (no route, too big).
    @discardableResult
    func sendIPv4(to destination: IPv4Address, datagramLength: Int, now: Instant,
                  build: (UnsafeMutableRawBufferPointer, EthernetHeader) throws(WireError) -> Int) -> Bool {
        guard datagramLength <= Int(UInt16.max) else { counters.tooBig += 1; return false }
        guard let hop = nextHop(destination) else { counters.noRoute += 1; return false }
        if datagramLength > configuration.mtu {
            return sendFragments(to: destination, datagramLength: datagramLength, now: now, build: build)
        }
        let length = EthernetHeader.untaggedLength + datagramLength
        let neighborMAC: MACAddress
        switch hop {
        case .broadcast:
            neighborMAC = .broadcast
        case .neighbor(let next):
            if let known = arp.lookup(next, now: now) {
                neighborMAC = known
            } else {
                // RFC 1122 §2.3.2.2: hold the datagram until the address resolves.
                var frame = [UInt8](repeating: 0, count: length)
                let ethernet = EthernetHeader(destination: .zero, source: mac, etherType: .ipv4)
                let written: Int? = frame.withUnsafeMutableBytes { buffer in
                    do throws(WireError) { return try build(buffer, ethernet) } catch { return nil }
                }
                guard let written else { return false }
                frame.removeLast(length - written)
                let (started, dropped) = arp.enqueue(frame, for: next, now: now)
                if dropped { counters.arpQueueDrops += 1 }
                if started { sendARPRequest(for: next, now: now) }
                return true
            }
        }
        let ethernet = EthernetHeader(destination: neighborMAC, source: mac, etherType: .ipv4)
        return emitFrame(maximumLength: length) { frame throws(WireError) in try build(frame, ethernet) }
    }

    /// A datagram larger than the MTU: built whole, then sent as fragments (RFC 791 §3.2) of at
    /// most the MTU, every one but the last carrying a multiple of 8 data bytes. Refused
    /// (`tooBig`) if the datagram has DF set (TCP, which sizes its segments to the path MTU).
    /// The host sends no IP options, so every fragment carries the datagram's header as it is.
    func sendFragments(to destination: IPv4Address, datagramLength: Int, now: Instant,
                       build: (UnsafeMutableRawBufferPointer, EthernetHeader) throws(WireError) -> Int) -> Bool {
        let e = EthernetHeader.untaggedLength
        var whole = [UInt8](repeating: 0, count: e + datagramLength)
        let ethernet = EthernetHeader(destination: .zero, source: mac, etherType: .ipv4)
        let written: Int? = whole.withUnsafeMutableBytes { buffer in
            do throws(WireError) { return try build(buffer, ethernet) } catch { return nil }
        }
        guard let written, written == e + datagramLength else { return false }
        let headerLength = Int(whole[e] & 0x0F) * 4
        let flags = UInt16(whole[e + 6]) << 8 | UInt16(whole[e + 7])
        guard flags & 0x4000 == 0, headerLength >= IPv4Constants.minimumHeaderLength,
              headerLength + 8 <= configuration.mtu else { counters.tooBig += 1; return false }
        let data = datagramLength - headerLength
        let step = (configuration.mtu - headerLength) & ~7
        var position = 0
        var sent = true
        while position < data {
            let count = min(step, data - position)
            let last = position + count == data
            let length = headerLength + count
            let piece = Array(whole[e..<(e + headerLength)]) + whole[(e + headerLength + position)..<(e + headerLength + position + count)]
            let ok = sendIPv4(to: destination, datagramLength: length, now: now) { out, ethernet throws(WireError) in
                try out.requireSpace(e + length)
                let h = try ethernet.emit(into: out)
                piece.withUnsafeBytes { out.copyBytes($0, at: h) }
                out.setU16(h + 2, UInt16(length))
                out.setU16(h + 6, (flags & 0x8000) | (last ? 0 : 0x2000) | UInt16(position / 8))
                out.setU16(h + 10, 0)
                out.setU16(h + 10, InternetChecksum.of(UnsafeRawBufferPointer(out.slice(h..<(h + headerLength)))))
                return h + length
            }
            if !ok { sent = false }
            counters.fragmentsSent += 1
            position += count
        }
        return sent
    }

    /// Sends an ICMP error about the datagram in `frame`, quoting its header and first 8 payload
    /// bytes (RFC 792: "Internet Header + 64 bits of Original Data Datagram"), unless RFC 1122
    /// §3.2.2 forbids it: "An ICMP error message MUST NOT be sent as the result of receiving: an
    /// ICMP error message, or a datagram destined to an IP broadcast or IP multicast address, or
    /// a datagram sent as a link-layer broadcast, or a non-initial fragment, or a datagram whose source address does
    /// not define a single host".
    func sendICMPError(_ message: ICMPv4Message, about frame: UnsafeRawBufferPointer, _ parsed: IPv4Frame.Parsed, now: Instant) {
        let ip = parsed.ip
        guard !parsed.ethernet.destination.isMulticast, !ip.destination.isMulticast, !ip.destination.isLimitedBroadcast,
              ip.fragmentOffset == 0, ip.source != .any, !ip.source.isLimitedBroadcast, !ip.source.isMulticast
        else { return }
        let quoteEnd = min(parsed.payloadRange.lowerBound + ICMPv4Constants.quotedPayloadLength, parsed.payloadRange.upperBound)
        let quote = frame.slice(parsed.ipOffset..<quoteEnd)
        let header = ipHeader(to: ip.source, protocol: .icmp, payloadLength: ICMPv4Constants.headerLength + quote.count)
        let sent = sendIPv4(to: ip.source, datagramLength: Int(header.totalLength), now: now) { out, ethernet throws(WireError) in
            try IPv4Frame.emitICMP(into: out, ethernet: ethernet, ip: header, icmp: message, data: quote)
        }
        if sent { counters.icmpErrorsSent += 1 }
    }
}
