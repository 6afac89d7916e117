// The NAT between the router and the uplink (`router.nat: true`): guests' sources become the
// WAN address on the way out, and replies find their way back in. With NAT off (routed mode)
// packets pass as they are and the far side routes the guests' subnets.
import Basics
import Datapath
import Wire

extension WAN {
    /// Outbound: true if the IPv4 packet (rewritten in place) may leave.
    @inline(__always) func masquerade(_ packet: UnsafeMutableRawBufferPointer, now: Instant) -> Bool {
        guard let nat else { return true }
        // The router's own packets (echo replies, ICMP errors from its WAN address) leave as they are.
        if UnsafeRawBufferPointer(packet).u32(12) == address.address.rawValue { return true }
        switch nat.translateOutbound(packet, now: now) {
        case .translated: return true
        case .hairpinned, .drop: drop(.nat); return false
        }
    }

    /// Inbound: true if the IPv4 packet (rewritten in place) may go on to the router.
    @inline(__always) func unmasquerade(_ packet: UnsafeMutableRawBufferPointer, now: Instant) -> Bool {
        guard let nat else { return true }
        let raw = UnsafeRawBufferPointer(packet)
        let destination = raw.u32(16)
        // Broadcasts on a TAP uplink's subnet are the router's to take or leave. (A point-to-point
        // WAN has no broadcast: on a /32 the "broadcast address" is our own address, which the NAT
        // must translate.)
        if kind == .tap, destination == IPv4Address.broadcast.rawValue || destination == address.broadcastAddress.rawValue {
            return true
        }
        // Pings of the WAN address are the router's to answer.
        if destination == address.address.rawValue, Self.isEchoRequest(raw) { return true }
        switch nat.translateInbound(packet, now: now) {
        case .translated: return true
        case .hairpinned, .drop: drop(.nat); return false
        }
    }

    /// An unfragmented ICMP echo request.
    static func isEchoRequest(_ packet: UnsafeRawBufferPointer) -> Bool {
        let ihl = Int(packet[0] & 0x0F) * 4
        let fragment = packet.u16(6) & 0x3FFF   // MF and the offset
        return packet[9] == IPProtocol.icmp.rawValue && fragment == 0 && packet.count > ihl && packet[ihl] == ICMPv4Type.echoRequest.rawValue
    }
}
