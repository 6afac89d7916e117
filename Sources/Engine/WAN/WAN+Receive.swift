// What arrives from the WAN: datagrams (wireguard: decrypted in place; udp: from the endpoint
// only) or TAP frames; translated back by the NAT and handed to the router as Ethernet frames.
import Basics
import Wire
import WireGuard

extension WAN {
    /// A datagram in `buffer[0..<count]` from `source`. Returns the Ethernet frame to hand to the
    /// router on the WAN interface (inside `buffer` or the WAN's own memory), or nil.
    func receive(datagram buffer: UnsafeMutableRawBufferPointer, count: Int, from source: SocketAddressV4,
                 now: Instant) -> UnsafeMutableRawBufferPointer? {
        counters.rxDatagrams &+= 1
        counters.rxDatagramBytes &+= UInt64(count)
        guard count <= buffer.count else { drop(.tooBig); return nil }
        switch kind {
        case .wireguard:
            guard let tunnel else { return nil }
            let result = tunnel.receive(datagram: buffer, count: count,
                                        from: source, now: now)
            flushTunnel()
            switch result {
            case .deliver(_, let packet):
                // The transport header (16 bytes) before the packet has room for an Ethernet header.
                return admit(buffer, packet: packet, now: now)
            case .keepalive, .handshake:
                return nil
            case .dropped:
                drop(.tunnel)
                return nil
            }
        case .udp:
            guard source == endpoint else { drop(.unexpectedSource); return nil }
            let e = EthernetHeader.untaggedLength
            guard e + count <= inbound.count else { drop(.tooBig); return nil }
            inbound.slice(e..<(e + count)).copyMemory(from: UnsafeRawBufferPointer(buffer.slice(0..<count)))
            return admit(inbound, packet: e..<(e + count), now: now)
        case .tap:
            drop(.unsupported)
            return nil
        }
    }

    /// Point-to-point: an IP packet at `buffer[packet]` (with 14 bytes free before it) becomes a
    /// frame from the peer to the router, after the NAT.
    func admit(_ buffer: UnsafeMutableRawBufferPointer, packet range: Range<Int>, now: Instant) -> UnsafeMutableRawBufferPointer? {
        let packet = buffer.slice(range)
        guard packet.count >= IPv4Constants.minimumHeaderLength else { drop(.malformed); return nil }
        guard packet[0] >> 4 == IPv4Constants.version else { drop(.unsupported); return nil }
        let total = Int(UnsafeRawBufferPointer(packet).u16(2))
        guard total >= IPv4Constants.minimumHeaderLength, total <= packet.count else { drop(.malformed); return nil }
        guard unmasquerade(packet.slice(0..<total), now: now) else { return nil }
        let start = range.lowerBound - EthernetHeader.untaggedLength
        let frame = buffer.slice(start..<(range.lowerBound + total))
        _ = try? EthernetHeader(destination: mac, source: peerMAC, etherType: .ipv4).emit(into: frame)
        counters.rxPackets &+= 1
        counters.rxBytes &+= UInt64(total)
        return frame
    }

    /// A frame from the TAP uplink. Returns it (translated in place) for the router, or nil.
    func receive(frame: UnsafeMutableRawBufferPointer, now: Instant) -> UnsafeMutableRawBufferPointer? {
        counters.rxDatagrams &+= 1
        counters.rxDatagramBytes &+= UInt64(frame.count)
        guard kind == .tap else { drop(.unsupported); return nil }
        let ethernet: EthernetHeader
        do { ethernet = try EthernetHeader(parsing: UnsafeRawBufferPointer(frame)) } catch { drop(.malformed); return nil }
        guard ethernet.destination == mac || ethernet.destination.isBroadcast else { drop(.notForUs); return nil }
        guard ethernet.vlan == nil else { drop(.unsupported); return nil }
        switch ethernet.etherType {
        case .arp:
            break
        case .ipv4:
            let packet = frame.slice(from: EthernetHeader.untaggedLength)
            guard packet.count >= IPv4Constants.minimumHeaderLength else { drop(.malformed); return nil }
            let total = Int(UnsafeRawBufferPointer(packet).u16(2))
            guard total >= IPv4Constants.minimumHeaderLength, total <= packet.count else { drop(.malformed); return nil }
            guard unmasquerade(packet.slice(0..<total), now: now) else { return nil }
        default:
            drop(.unsupported)
            return nil
        }
        counters.rxPackets &+= 1
        counters.rxBytes &+= UInt64(frame.count)
        return frame
    }
}
