// Frames the router sends out of its WAN interface: ARP is answered (point-to-point) or passed
// on (tap); IPv4 is masqueraded, then encrypted (wireguard), sent raw (udp) or framed (tap).
import Basics
import Wire
import WireGuard

extension WAN {
    /// A frame the router emitted on the WAN interface (valid only during the call).
    func transmit(_ frame: UnsafeRawBufferPointer, now: Instant) {
        let ethernet: EthernetHeader
        do { ethernet = try EthernetHeader(parsing: frame) } catch { return drop(.malformed) }
        if kind == .tap { return transmitTap(frame, ethernet: ethernet, now: now) }
        switch ethernet.etherType {
        case .arp: answerARP(frame.slice(from: ethernet.headerLength))
        case .ipv4: transmitPacket(frame.slice(from: ethernet.headerLength), now: now)
        default: drop(.unsupported)
        }
    }

    /// Point-to-point: one IP packet into a datagram.
    func transmitPacket(_ packet: UnsafeRawBufferPointer, now: Instant) {
        guard packet.count >= IPv4Constants.minimumHeaderLength else { return drop(.malformed) }
        let total = Int(packet.u16(2))
        guard total >= IPv4Constants.minimumHeaderLength, total <= packet.count else { return drop(.malformed) }
        let h = Self.headroom
        let ip = outbound.slice(h..<(h + total))
        ip.copyMemory(from: packet.slice(0..<total))
        guard masquerade(ip, now: now) else { return }
        counters.txPackets &+= 1
        counters.txBytes &+= UInt64(total)
        switch kind {
        case .udp:
            guard let endpoint else { return drop(.noEndpoint) }
            emit(UnsafeRawBufferPointer(ip), to: endpoint)
        case .wireguard:
            guard let tunnel else { return }
            switch tunnel.send(packet: outbound, count: total, now: now) {
            case .transmit(_, let to, let count):
                emit(UnsafeRawBufferPointer(outbound.slice(0..<count)), to: to)
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

    /// TAP: the frame as the router built it, masqueraded if it is IPv4 and NAT is on.
    func transmitTap(_ frame: UnsafeRawBufferPointer, ethernet: EthernetHeader, now: Instant) {
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
