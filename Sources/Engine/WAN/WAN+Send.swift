// What the router sends out of its WAN interface: bare IP packets (wireguard, udp: a
// point-to-point interface), masqueraded in place, then encrypted where they lie (wireguard) or
// sent as they are (udp); Ethernet frames (tap), masqueraded if IPv4 and passed on.
import Basics
import Datapath
import Wire
import WireGuard

extension WAN {
    /// Point-to-point: one IP packet from the router into a datagram. The packet and its room are
    /// ours during the call: the NAT rewrites it in place and WireGuard encrypts it in place when
    /// the room holds its header (16 bytes before) and padding and tag (31 after); otherwise it is
    /// copied once into `outbound`.
    func transmit(packet: PointToPointPacket, now: Instant) {
        guard kind != .tap else { return drop(.unsupported) }
        let bytes = packet.bytes
        guard bytes.count >= IPv4Constants.minimumHeaderLength else { return drop(.malformed) }
        let total = Int(UnsafeRawBufferPointer(bytes).u16(2))
        guard total >= IPv4Constants.minimumHeaderLength, total <= bytes.count else { return drop(.malformed) }
        let ip = bytes.slice(0..<total)
        guard masquerade(ip, now: now) else { return }
        counters.txPackets &+= 1
        counters.txBytes &+= UInt64(total)
        switch kind {
        case .udp:
            guard let endpoint else { return drop(.noEndpoint) }
            emit(UnsafeRawBufferPointer(ip), to: endpoint)
        case .wireguard:
            guard let tunnel else { return }
            let h = Self.headroom, start = packet.range.lowerBound
            let work: UnsafeMutableRawBufferPointer
            if start >= h, packet.buffer.count - start >= total + Self.tailroom {
                work = packet.buffer.slice((start - h)..<packet.buffer.count)   // in place
            } else {
                guard h + total + Self.tailroom <= outbound.count else { return drop(.tooBig) }
                outbound.copyBytes(UnsafeRawBufferPointer(ip), at: h)         // the one copy
                work = outbound
            }
            switch tunnel.send(packet: work, count: total, now: now) {
            case .transmit(_, let to, let count):
                emit(UnsafeRawBufferPointer(work.slice(0..<count)), to: to)
            case .queued:
                break  // waits for the handshake, which is in the outbox
            case .dropped:
                drop(.tunnel)
            }
            flushTunnel()
        case .tap:
            break
        }
    }

    /// TAP: a frame the router emitted on the WAN interface (valid only during the call), as the
    /// router built it, masqueraded if it is IPv4 and NAT is on.
    func transmit(frame: UnsafeRawBufferPointer, now: Instant) {
        guard kind == .tap else { return drop(.unsupported) }
        let ethernet: EthernetHeader
        do { ethernet = try EthernetHeader(parsing: frame) } catch { return drop(.malformed) }
        var out = frame
        if ethernet.etherType == .ipv4, nat != nil {
            guard frame.count <= outbound.count else { return drop(.tooBig) }
            let copy = outbound.slice(0..<frame.count)
            copy.copyMemory(from: frame)
            guard masquerade(copy.slice(from: ethernet.headerLength), now: now) else { return }
            out = UnsafeRawBufferPointer(copy)
        }
        counters.txPackets &+= 1
        counters.txBytes &+= UInt64(out.count)
        counters.txDatagrams &+= 1
        counters.txDatagramBytes &+= UInt64(out.count)
        transmitFrame(out)
    }
}
