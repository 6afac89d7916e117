// The node engine's in-place data path (docs/mesh.md, "The agent"): what `sluice mesh up` calls per packet so the
// common case — an inner IPv4 packet to or from a peer with a current session on the direct path — is sealed and
// opened in the driver's own buffer, as `WireGuardDevice.send`/`receive` do, with no array per packet. Everything
// else (no session yet, a relayed path, handshakes, routing, probes, envelopes) falls back to `send(packet:)` /
// `receive(datagram:)`'s logic; what those emit is collected with `takeActions()`.

import Basics
import Crypto
import Wire
import WireGuard

extension MeshNode {
    /// Seals the inner IPv4 packet at `buffer[16..<16 + count]` in place when its owner has a usable session on the
    /// direct path: returns the endpoint and the transport message's length (`buffer[0..<length]`). Nil when the
    /// packet needs the general path (`send(packet:)` with a copy; nothing was consumed).
    public func sendInPlace(_ buffer: UnsafeMutableRawBufferPointer, count: Int, now: Instant) -> (to: SocketAddressV4, length: Int)? {
        self.now = now
        let h = TransportHeader.size
        guard count >= 20, buffer.count >= h + count, count <= RelayEnvelope.maxDatagram - 64, buffer[h] >> 4 == 4 else { return nil }
        let destination = IPv4Address(rawValue: UInt32(buffer[h + 16]) << 24 | UInt32(buffer[h + 17]) << 16
                                      | UInt32(buffer[h + 18]) << 8 | UInt32(buffer[h + 19]))
        guard let p = owner(of: destination), let s = usable(p.current), case .direct(let e) = route(to: p),
              h + TransportHeader.paddedLength(count, mtu: nil) + WireGuardConstants.tagSize <= buffer.count,
              let length = handshaker.seal(s, packet: buffer, count: count, now: now) else { return nil }
        counters.packetsSent &+= 1
        // As sendEndToEnd and transmit do for data.
        p.keepaliveAt = nil
        if p.newHandshakeAt == nil {
            p.newHandshakeAt = now + WireGuardConstants.keepaliveTimeout + WireGuardConstants.rekeyTimeout
        }
        if p.unansweredSince == nil { p.unansweredSince = now }
        if s.keypair.needsRekey(now: now, limits: handshaker.limits) { initiate(p, retry: false) }
        return (e, length)
    }

    /// A datagram from `source` at `buffer[0..<count]`: a transport message is opened in place, and when it carries
    /// an inner IPv4 packet from a peer on the direct path, the packet's range in `buffer` is returned to deliver.
    /// Anything else goes the general way (`receive(datagram:)`); nil then, and `takeActions()` has the results.
    public func receiveInPlace(_ buffer: UnsafeMutableRawBufferPointer, count: Int, from source: SocketAddressV4,
                               now: Instant) -> Range<Int>? {
        self.now = now
        guard count >= 4, count <= buffer.count else {
            handshaker.countDrop(.badSize)
            return nil
        }
        let type = UInt32(buffer[0]) | UInt32(buffer[1]) << 8 | UInt32(buffer[2]) << 16 | UInt32(buffer[3]) << 24
        guard type == MeshConstants.transportType else {
            receiveDatagram(Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count])), from: source, hop: nil, origin: nil)
            return nil
        }
        guard case .plaintext(let session, let range) = handshaker.openPlaintext(message: buffer, count: count, now: now) else {
            return nil
        }
        guard let p = peers[session.peerStatic], p.next !== session, range.count >= 20, buffer[range.lowerBound] >> 4 == 4 else {
            transportOpened(Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count])), session: session, range: range,
                            from: source, hop: nil, origin: nil)
            return nil
        }
        // As transportOpened and receiveInner do for an inner packet on the direct path.
        p.newHandshakeAt = nil
        p.endpoint = source
        directReceive(p)
        let h = range.lowerBound
        let total = Int(buffer[h + 2]) << 8 | Int(buffer[h + 3])
        guard total >= 20, total <= range.count else { handshaker.countDrop(.invalidPacket); return nil }
        let inner = IPv4Address(rawValue: UInt32(buffer[h + 12]) << 24 | UInt32(buffer[h + 13]) << 16
                                | UInt32(buffer[h + 14]) << 8 | UInt32(buffer[h + 15]))
        let authorized = session.peer.node.covers(source: inner)
            || p.addresses.contains { $0.family == 4 && $0.ipv4 == inner }
            || p.prefixes.contains { $0.family == 4 && $0.contains(inner) }
        guard authorized else { handshaker.countDrop(.disallowedSource); return nil }
        dataReceived(p)
        counters.packetsDelivered &+= 1
        return h..<(h + total)
    }

    /// What the engine emitted since the last call (handshakes, keepalives, routing, relayed datagrams, inner
    /// packets) — after `sendInPlace` / `receiveInPlace`.
    public func takeActions() -> [MeshNodeAction] { take() }
}
