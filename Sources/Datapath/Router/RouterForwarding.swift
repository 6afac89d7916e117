// IPv4 input: validation, local delivery, and forwarding (RFC 1812 §5.2–5.3).
import Basics
import Wire

/// Where an offending frame came from: ICMP errors and replies go back this way.
struct Arrival {
    var interface: Int
    /// The frame's link-layer source (the previous hop).
    var mac: MACAddress
    /// The frame was sent to the link-layer broadcast address.
    var linkBroadcast: Bool
}

extension Router {
    func receiveIPv4<O: RouterOutput>(
        _ frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader, on interface: Int, now: Instant, output: inout O
    ) -> RouterDisposition {
        let packet = frame.slice(from: EthernetHeader.untaggedLength)
        let header: IPv4Header
        // RFC 1812 §5.2.2: version, checksum, header and total lengths are checked here.
        do { header = try IPv4Header(parsing: UnsafeRawBufferPointer(packet)) } catch { return drop(Self.dropReason(ipv4: error)) }
        let datagram = packet.slice(0..<Int(header.totalLength))    // Ethernet padding cut off
        let arrival = Arrival(interface: interface, mac: ethernet.source, linkBroadcast: ethernet.destination.isBroadcast)
        let destination = header.destination

        guard !header.source.isMartianSource, !ethernet.source.isMulticast else { return drop(.martianSource) }
        if destination.isUnspecified || destination.isLoopback || destination.isReservedClassE {
            return drop(.martianDestination)
        }
        if interfaces.contains(where: { $0.address == destination }) {
            return receiveLocal(datagram, header: header, arrival: arrival, broadcast: false, now: now, output: &output)
        }
        if destination.isLimitedBroadcast || destination == interfaces[interface].network.broadcastAddress {
            return receiveLocal(datagram, header: header, arrival: arrival, broadcast: true, now: now, output: &output)
        }
        if destination.isMulticast { return drop(.multicast) }
        // RFC 1812 §5.3.4: a packet received as link-layer broadcast whose IP destination is not
        // broadcast or multicast "SHOULD be silently discarded".
        if arrival.linkBroadcast { return drop(.linkBroadcastToUnicast) }
        // RFC 1812 §5.3.5.2: forwarding directed broadcasts "MUST ... default to ... disabled".
        if isDirectedBroadcast(destination) { return drop(.directedBroadcast) }
        return forward(frame, datagram: datagram, header: header, arrival: arrival, now: now, output: &output)
    }

    /// RFC 1812 §5.3: TTL, route lookup, MTU, next-hop resolution; then the frame goes out as it
    /// came, with new MAC addresses and TTL − 1.
    func forward<O: RouterOutput>(
        _ frame: UnsafeMutableRawBufferPointer, datagram: UnsafeMutableRawBufferPointer, header: IPv4Header,
        arrival: Arrival, now: Instant, output: inout O
    ) -> RouterDisposition {
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
            guard header.dontFragment else { return drop(.fragmentationUnsupported) }
            sendICMPError(.destinationUnreachable(code: ICMPv4UnreachableCode.fragmentationNeeded, nextHopMTU: UInt16(out.mtu)),
                          about: original, header: header, arrival: arrival, now: now, output: &output)
            return drop(.fragmentationNeeded)
        }
        let nextHop = route.nextHop(for: header.destination)
        IPv4Header.decrementTimeToLive(in: datagram)
        if let mac = cache.lookup(interface: route.interface, address: nextHop, now: now) {
            let outFrame = frame.slice(0..<EthernetHeader.untaggedLength + datagram.count)
            EthernetHeader.rewriteAddresses(in: outFrame, source: out.mac, destination: mac)
            output.send(UnsafeRawBufferPointer(outFrame), on: route.interface)
            counters.forwarded &+= 1
            return .forwarded(interface: route.interface)
        }
        return enqueue(UnsafeRawBufferPointer(datagram), nextHop: nextHop, on: route.interface, arrival: arrival,
                       now: now, output: &output)
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
