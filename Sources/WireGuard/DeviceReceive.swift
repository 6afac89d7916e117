// Datagrams from the network (wireguard-go receive.go): transport messages are checked and decrypted in place;
// handshake messages go to DeviceHandshake.

import Basics
import Crypto
import Wire

extension WireGuardDevice {
    /// Handles the datagram `buffer[0..<count]` that arrived from `source`. Transport data is decrypted in place;
    /// a delivered packet is a range of `buffer`. Answers (handshake responses, keepalives, …) go to the outbox.
    public func receive(datagram buffer: UnsafeMutableRawBufferPointer, count: Int, from source: SocketAddressV4,
                        now: Instant) -> ReceiveResult {
        guard count <= buffer.count else { return drop(.badSize) }
        let bytes = UnsafeRawBufferPointer(buffer.slice(0..<count))
        guard let type = MessageType(of: bytes) else { return drop(.unknownMessageType) }
        switch type {
        case .transportData:
            return receiveTransport(buffer, count: count, from: source, now: now)
        case .handshakeInitiation:
            guard count == HandshakeInitiation.size else { return drop(.badSize) }
        case .handshakeResponse:
            guard count == HandshakeResponse.size else { return drop(.badSize) }
        case .cookieReply:
            guard count == CookieReply.size else { return drop(.badSize) }
        }
        return receiveHandshakeMessage(type, bytes, from: source, now: now)
    }

    /// The array form of `receive`: returns decrypted packets and every datagram now waiting to be sent.
    public func receive(datagram: [UInt8], from source: SocketAddressV4, now: Instant) -> WireGuardActions {
        var buffer = datagram
        var actions = WireGuardActions()
        let result = buffer.withUnsafeMutableBytes { receive(datagram: $0, count: datagram.count, from: source, now: now) }
        switch result {
        case .deliver(let peer, let range): actions.delivered.append(DeliveredPacket(peer: peer, packet: Array(buffer[range])))
        case .keepalive: actions.keepalivesReceived += 1
        case .handshake: break
        case .dropped(let reason): actions.dropped.append(reason)
        }
        actions.datagrams = takeOutgoing()
        return actions
    }

    func receiveTransport(_ buffer: UnsafeMutableRawBufferPointer, count: Int, from source: SocketAddressV4,
                          now: Instant) -> ReceiveResult {
        let h = TransportHeader.size
        guard count >= WireGuardConstants.messageKeepaliveSize else { return drop(.badSize) }
        guard case .keypair(let index, let keypair)? = indexTable[buffer.le32(4)] else { return drop(.unknownIndex) }
        // The session's transport (KeypairTransport.swift): Reject-After-Time (§6.2), the replay window checked
        // before decrypting and moved only by authenticated counters, then ChaCha20-Poly1305 in place.
        let plainCount: Int
        switch keypair.open(message: buffer, count: count, now: now, limits: configuration.limits) {
        case .dropped(let reason): return drop(reason)
        case .plaintext(let range): plainCount = range.count
        }

        let peer = peers[index]
        peer.endpoint = source  // roaming: the newest authenticated source wins
        if receivedWithKeypair(peer, keypair) {
            timersHandshakeComplete(peer, now: now)
            sendStagedPackets(peer, now: now)
        }
        transportReceived &+= 1
        peer.receivedBytes &+= UInt64(count)
        keepKeyFreshReceiving(peer, now: now)
        timersAnyAuthenticatedPacketTraversal(peer, now: now)
        timersAnyAuthenticatedPacketReceived(peer)
        guard plainCount > 0 else { return .keepalive(peer: peer.id) }
        timersDataReceived(peer, now: now)

        // The packet is IPv4 with its padding after Total Length; its source must be one of the peer's.
        guard plainCount >= 20, buffer[h] >> 4 == 4 else { return drop(.invalidPacket) }
        let totalLength = Int(buffer.u16(h + 2))
        guard totalLength >= 20, totalLength <= plainCount else { return drop(.invalidPacket) }
        guard routes.lookupRaw(buffer.u32(h + 12)) == index else { return drop(.disallowedSource) }
        return .deliver(peer: peer.id, packet: h..<(h + totalLength))
    }

    /// §6.2: an initiator whose session nears Reject-After-Time (165 s) starts a handshake once, on receipt.
    func keepKeyFreshReceiving(_ peer: Peer, now: Instant) {
        guard !peer.timers.sentLastMinuteHandshake, let keypair = peer.keypairs.current, keypair.isInitiator,
              now > keypair.lastMinuteRekeyAfter else { return }
        peer.timers.sentLastMinuteHandshake = true
        sendHandshakeInitiation(peer, now: now, isRetry: false)
    }
}
