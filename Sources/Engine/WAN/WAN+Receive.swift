// What arrives from the WAN: datagrams (wireguard: decrypted in place; udp: from the endpoint
// only) whose IP packets go to the router's point-to-point interface where they lie, or TAP
// frames for its Ethernet interface; translated back by the NAT on the way.
import Basics
import Datapath
import Wire
import WireGuard

extension WAN {
    /// A datagram in `buffer[0..<count]` from `source`. Returns the IP packet to hand to the
    /// router on the WAN interface (inside `buffer`, with the room around it), or nil.
    func receive(datagram buffer: UnsafeMutableRawBufferPointer, count: Int, from source: SocketAddressV4,
                 now: Instant) -> PointToPointPacket? {
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
                // The transport header (16 bytes) before the packet stays as headroom: room for the
                // Ethernet header the router writes when it forwards onto a segment.
                return admit(PointToPointPacket(buffer: buffer, range: packet), now: now)
            case .keepalive, .handshake:
                return nil
            case .dropped:
                drop(.tunnel)
                return nil
            }
        case .udp:
            guard source == endpoint else { drop(.unexpectedSource); return nil }
            return admit(PointToPointPacket(buffer: buffer, range: 0..<count), now: now)
        case .tap:
            drop(.unsupported)
            return nil
        }
    }

    /// Point-to-point: checks the IPv4 packet, cuts it to its total length and translates it back.
    func admit(_ packet: PointToPointPacket, now: Instant) -> PointToPointPacket? {
        let bytes = packet.bytes
        guard bytes.count >= IPv4Constants.minimumHeaderLength else { drop(.malformed); return nil }
        guard bytes[0] >> 4 == IPv4Constants.version else { drop(.unsupported); return nil }
        let total = Int(UnsafeRawBufferPointer(bytes).u16(2))
        guard total >= IPv4Constants.minimumHeaderLength, total <= bytes.count else { drop(.malformed); return nil }
        guard unmasquerade(bytes.slice(0..<total), now: now) else { return nil }
        counters.rxPackets &+= 1
        counters.rxBytes &+= UInt64(total)
        let start = packet.range.lowerBound
        return PointToPointPacket(buffer: packet.buffer, range: start..<(start + total))
    }

    /// A frame from the TAP uplink. Returns it (translated in place) for the router, or nil.
    func receive(frame: UnsafeMutableRawBufferPointer, now: Instant) -> UnsafeMutableRawBufferPointer? {
        counters.rxDatagrams &+= 1
        counters.rxDatagramBytes &+= UInt64(frame.count)
        guard kind == .tap, let mac else { drop(.unsupported); return nil }
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
