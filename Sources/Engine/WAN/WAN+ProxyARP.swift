// The far end of a point-to-point WAN's Ethernet, as the router sees it: every ARP request the
// router sends there is answered with the peer's made-up MAC, so the router forwards into the
// tunnel exactly as onto any segment. Replies wait until the router's call has returned.
import Wire

extension WAN {
    /// An ARP packet the router sent on a point-to-point WAN.
    func answerARP(_ packet: UnsafeRawBufferPointer) {
        let arp: ARPPacket
        do { arp = try ARPPacket(parsing: packet) } catch { return drop(.malformed) }
        // RFC 826: "Is the opcode ares_op$REQUEST? ... swap hardware and protocol fields ... send
        // the packet to the (new) target hardware address". Our own address is the router's.
        guard arp.operation == .request, arp.targetProtocolAddress != address.address, !arp.isGratuitous else { return }
        if proxyHead > 0, proxyHead == proxyReplies.count {
            proxyReplies.removeAll(keepingCapacity: true)
            proxyHead = 0
        }
        proxyReplies.append(arp.reply(with: peerMAC))
        counters.proxyARPReplies &+= 1
    }

    /// Whether ARP replies are waiting for the router.
    var hasProxyARPReplies: Bool { proxyHead < proxyReplies.count }

    /// The next ARP reply for the router as a frame (valid until the next call), or nil.
    func nextProxyARPFrame() -> UnsafeMutableRawBufferPointer? {
        guard proxyHead < proxyReplies.count else { return nil }
        let reply = proxyReplies[proxyHead]
        proxyHead += 1
        let e = EthernetHeader.untaggedLength
        do {
            _ = try EthernetHeader(destination: reply.targetHardwareAddress, source: peerMAC, etherType: .arp).emit(into: arpFrame)
            let n = try reply.emit(into: arpFrame.slice(from: e))
            return arpFrame.slice(0..<(e + n))
        } catch {
            return nil
        }
    }
}
