// IPv4 input: validation, local delivery, and forwarding (RFC 1812 §5.2–5.3).
import Basics
import Wire

/// Where an offending datagram came from: ICMP errors and replies go back this way.
struct Arrival {
    var interface: Int
    /// The frame's link-layer source (the previous hop); zero on a point-to-point interface.
    var mac: MACAddress
    /// The frame was sent to the link-layer broadcast address.
    var linkBroadcast: Bool
}

extension Router {
    /// An IPv4 datagram at `packet` (through the end of the frame: Ethernet padding is cut here).
    func receiveIPv4<O: RouterOutput>(
        _ packet: PointToPointPacket, arrival: Arrival, now: Instant, output: inout O
    ) -> RouterDisposition {
        let header: IPv4Header
        // RFC 1812 §5.2.2: version, checksum, header and total lengths are checked here.
        do { header = try IPv4Header(parsing: UnsafeRawBufferPointer(packet.bytes)) } catch { return drop(Self.dropReason(ipv4: error)) }
        let start = packet.range.lowerBound
        let datagram = PointToPointPacket(buffer: packet.buffer, range: start..<(start + Int(header.totalLength)))
        let destination = header.destination

        guard !header.source.isMartianSource, !arrival.mac.isMulticast else { return drop(.martianSource) }
        if destination.isUnspecified || destination.isLoopback || destination.isReservedClassE {
            return drop(.martianDestination)
        }
        if interfaces.contains(where: { $0.address == destination }) {
            return receiveLocal(datagram.bytes, header: header, arrival: arrival, broadcast: false, now: now, output: &output)
        }
        if destination.isLimitedBroadcast || destination == interfaces[arrival.interface].broadcastAddress {
            return receiveLocal(datagram.bytes, header: header, arrival: arrival, broadcast: true, now: now, output: &output)
        }
        if destination.isMulticast { return drop(.multicast) }
        // RFC 1812 §5.3.4: a packet received as link-layer broadcast whose IP destination is not
        // broadcast or multicast "SHOULD be silently discarded".
        if arrival.linkBroadcast { return drop(.linkBroadcastToUnicast) }
        // RFC 1812 §5.3.5.2: forwarding directed broadcasts "MUST ... default to ... disabled".
        if isDirectedBroadcast(destination) { return drop(.directedBroadcast) }
        return forward(datagram, header: header, arrival: arrival, now: now, output: &output)
    }

    /// RFC 1812 §5.3: TTL, route lookup, MTU, next-hop resolution; then the datagram goes out with
    /// TTL − 1: on Ethernet in a frame to the next hop's MAC (its header written in the room before
    /// the datagram), on a point-to-point interface as it is.
    func forward<O: RouterOutput>(
        _ packet: PointToPointPacket, header: IPv4Header, arrival: Arrival, now: Instant, output: inout O
    ) -> RouterDisposition {
        let datagram = packet.bytes
        let original = UnsafeRawBufferPointer(datagram)
        guard !header.source.isUnspecified else { return drop(.martianSource) }
        // RFC 1812 §5.3.1: "If the TTL is reduced to zero (or less), the packet MUST be discarded,
        // and if the destination is not a multicast address the router MUST send an ICMP Time
        // Exceeded message, Code 0 (TTL Exceeded in Transit) message to the source."
        guard header.timeToLive > 1 else {
            sendICMPError(.timeExceeded(code: ICMPv4TimeExceededCode.timeToLiveExceededInTransit),
                          about: original, header: header, arrival: arrival, now: now, output: &output)
            return drop(.ttlExpired)
        }
        guard let route = table.lookup(header.destination) else {
            // RFC 1812 §5.2.7.1: "Network Unreachable ... no route".
            sendICMPError(.destinationUnreachable(code: ICMPv4UnreachableCode.network),
                          about: original, header: header, arrival: arrival, now: now, output: &output)
            return drop(.noRoute)
        }
        let out = interfaces[route.interface]
        if Int(header.totalLength) > out.mtu {
            // RFC 1191 §4: "the router MUST include the MTU of that next-hop network in the
            // low-order 16 bits of the ICMP header field".
            // RFC 1812 §4.2.2.7: "A router MUST be able to fragment ... datagrams" without DF.
            if !header.dontFragment {
                IPv4Header.decrementTimeToLive(in: datagram)
                return sendFragments(datagram, header: header, route: route, arrival: arrival, now: now, output: &output)
            }
            sendICMPError(.destinationUnreachable(code: ICMPv4UnreachableCode.fragmentationNeeded, nextHopMTU: UInt16(out.mtu)),
                          about: original, header: header, arrival: arrival, now: now, output: &output)
            return drop(.fragmentationNeeded)
        }
        IPv4Header.decrementTimeToLive(in: datagram)
        switch out.medium {
        case .pointToPoint:
            output.send(packet: packet, on: route.interface)
            counters.forwarded &+= 1
            return .forwarded(interface: route.interface)
        case .ethernet(let source):
            let nextHop = route.nextHop(for: header.destination)
            guard let mac = cache.lookup(interface: route.interface, address: nextHop, now: now) else {
                return enqueue(UnsafeRawBufferPointer(datagram), nextHop: nextHop, on: route.interface, arrival: arrival,
                               now: now, output: &output)
            }
            let e = EthernetHeader.untaggedLength
            let frame: UnsafeMutableRawBufferPointer
            if packet.headroom >= e {
                frame = packet.buffer.slice((packet.range.lowerBound - e)..<packet.range.upperBound)
            } else {
                // A packet from a point-to-point interface without room for the header: one copy.
                let h = Self.packetHeadroom
                inputCopy.copyBytes(original, at: h)
                frame = inputCopy.slice((h - e)..<(h + datagram.count))
            }
            EthernetHeader.rewriteAddresses(in: frame, source: source, destination: mac)
            frame.setU16(12, EtherType.ipv4.rawValue)
            output.send(UnsafeRawBufferPointer(frame), on: route.interface)
            counters.forwarded &+= 1
            return .forwarded(interface: route.interface)
        }
    }

    /// A datagram for the router itself (its address, or a broadcast on the arrival network).
    func receiveLocal<O: RouterOutput>(
        _ datagram: UnsafeMutableRawBufferPointer, header: IPv4Header, arrival: Arrival, broadcast: Bool,
        now: Instant, output: inout O
    ) -> RouterDisposition {
        guard !header.isFragment else { return drop(.fragmentToLocal) }
        let original = UnsafeRawBufferPointer(datagram)
        let payload = original.slice(header.payloadRange)
        switch header.protocol {
        case .icmp:
            let message: ICMPv4Message
            do { message = try ICMPv4Message(parsing: payload) } catch { return drop(.icmpMalformed) }
            guard message.type == .echoRequest else {
                counters.icmpReceived &+= 1
                return .consumed
            }
            guard !broadcast else { return drop(.broadcastEcho) }
            return sendEchoReply(to: message, data: payload.slice(from: ICMPv4Constants.headerLength), header: header,
                                 arrival: arrival, output: &output)
        case .udp:
            let udp: UDPHeader
            do { udp = try UDPHeader(parsing: payload, source: header.source, destination: header.destination) } catch {
                return drop(.udpMalformed)
            }
            guard configuration.localUDPPorts.contains(udp.destinationPort) else {
                sendICMPError(.destinationUnreachable(code: ICMPv4UnreachableCode.port),
                              about: original, header: header, arrival: arrival, now: now, output: &output)
                return drop(.portUnreachable)
            }
            let info = LocalUDPDatagram(interface: arrival.interface, sourceMAC: arrival.mac, source: header.source,
                                        sourcePort: udp.sourcePort, destination: header.destination,
                                        destinationPort: udp.destinationPort)
            output.deliver(info, payload: payload.slice(udp.payloadRange))
            counters.delivered &+= 1
            return .delivered
        default:
            // RFC 1122 §3.2.2.1: protocol unreachable when "the designated transport protocol is not supported".
            sendICMPError(.destinationUnreachable(code: ICMPv4UnreachableCode.protocol),
                          about: original, header: header, arrival: arrival, now: now, output: &output)
            return drop(.protocolUnreachable)
        }
    }

    static func dropReason(ipv4 error: WireError) -> RouterDropReason {
        switch error {
        case .truncated: .ipv4Truncated
        case .badChecksum: .ipv4BadChecksum
        case .unsupported: .ipv4Unsupported
        case .badLength, .malformed, .noSpace: .ipv4BadLength
        }
    }
}
