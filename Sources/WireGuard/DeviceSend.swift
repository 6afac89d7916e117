// Packets from the tunnel to the network (wireguard-go send.go): route by allowed IPs, encrypt in place with the
// current session, or stage the packet and start a handshake.

import Basics
import Crypto
import Wire

extension WireGuardDevice {
    /// Encrypts the IPv4 packet at `buffer[16..<16 + count]` in place into a transport message at `buffer[0...]`.
    /// The buffer needs room for padding to a multiple of 16 and the 16-byte tag: `16 + count + 15 + 16` bytes
    /// always suffice. Without a usable session the packet is copied to the peer's staged queue instead.
    public func send(packet buffer: UnsafeMutableRawBufferPointer, count: Int, now: Instant) -> SendResult {
        let h = TransportHeader.size
        guard count >= 20, buffer.count >= h + count, buffer[h] >> 4 == 4 else { return dropSend(.invalidPacket) }
        guard let index = routes.lookupRaw(buffer.u32(h + 16)) else { return dropSend(.noRoute) }
        let peer = peers[index]
        let padded = TransportHeader.paddedLength(count, mtu: configuration.mtu)
        guard buffer.count >= h + padded + WireGuardConstants.tagSize else { return dropSend(.noSpace) }

        // The session's transport (KeypairTransport.swift) seals in place; it refuses past Reject-After-Messages or
        // Reject-After-Time, and the packet then waits for a new session.
        if peer.staged.isEmpty, let keypair = peer.keypairs.current, let endpoint = peer.endpoint,
           let sealed = keypair.seal(packet: buffer, count: count, now: now, limits: configuration.limits,
                                     mtu: configuration.mtu) {
            transportSent &+= 1
            peer.sentBytes &+= UInt64(sealed)
            timersAnyAuthenticatedPacketTraversal(peer, now: now)
            timersAnyAuthenticatedPacketSent(peer)
            timersDataSent(peer, now: now)
            keepKeyFreshSending(peer, now: now)
            return .transmit(peer: peer.id, endpoint: endpoint, count: sealed)
        }
        stage(peer, Array(buffer[h..<(h + count)]))
        sendStagedPackets(peer, now: now)
        return .queued(peer: peer.id)
    }

    /// The array form of `send`: encrypts `packet` (an IPv4 packet) and returns what to transmit.
    public func send(packet: [UInt8], now: Instant) -> WireGuardActions {
        let h = TransportHeader.size
        var buffer = [UInt8](repeating: 0, count: h + packet.count + WireGuardConstants.paddingMultiple + WireGuardConstants.tagSize)
        buffer.replaceSubrange(h..<(h + packet.count), with: packet)
        var actions = WireGuardActions()
        let result = buffer.withUnsafeMutableBytes { send(packet: $0, count: packet.count, now: now) }
        switch result {
        case .transmit(let peer, let endpoint, let count):
            actions.datagrams.append(OutgoingDatagram(kind: .transportData, peer: peer, endpoint: endpoint,
                                                      bytes: Array(buffer[0..<count])))
        case .queued: break
        case .dropped(let reason): actions.dropped.append(reason)
        }
        actions.datagrams += takeOutgoing()
        return actions
    }

    @inline(never)
    func dropSend(_ reason: WireGuardDropReason) -> SendResult {
        otherCounters.count(reason)
        return .dropped(reason)
    }

    /// Adds `packet` to the staged queue, dropping the oldest when full.
    func stage(_ peer: Peer, _ packet: [UInt8]) {
        if peer.staged.count >= WireGuardConstants.queueStagedSize {
            peer.changeStaged { _ = $0.removeFirst() }
            otherCounters.count(.stagedQueueFull)
        }
        peer.changeStaged { $0.append(packet) }
    }

    /// §6.5 keepalive: an empty transport message (queued behind nothing, so only when nothing is staged).
    func sendKeepalive(_ peer: Peer, now: Instant) {
        if peer.staged.isEmpty { peer.changeStaged { $0.append([]) } }
        sendStagedPackets(peer, now: now)
    }

    /// Encrypts every staged packet with the current session, or starts a handshake if there is none usable.
    func sendStagedPackets(_ peer: Peer, now: Instant) {
        guard !peer.staged.isEmpty else { return }
        let limits = configuration.limits
        guard let keypair = peer.keypairs.current, keypair.sendCounter < limits.rejectAfterMessages,
              now < keypair.rejectAfter else {
            sendHandshakeInitiation(peer, now: now, isRetry: false)
            return
        }
        var dataSent = false
        var sent = 0
        for packet in peer.staged {
            // §6.2: never send with a counter at or past Reject-After-Messages; the rest waits for a new session.
            guard let message = sealTransport(packet, keypair: keypair, now: now) else { break }
            emit(message, kind: packet.isEmpty ? .keepalive : .transportData, peer: peer)
            transportSent &+= 1
            if !packet.isEmpty { dataSent = true }
            sent += 1
        }
        peer.changeStaged { $0.removeFirst(sent) }
        timersAnyAuthenticatedPacketTraversal(peer, now: now)
        timersAnyAuthenticatedPacketSent(peer)
        if dataSent { timersDataSent(peer, now: now) }
        if !peer.staged.isEmpty { sendHandshakeInitiation(peer, now: now, isRetry: false) }
        keepKeyFreshSending(peer, now: now)
    }

    /// A transport message carrying `packet` (cold path: allocates the datagram); nil when the session may no
    /// longer send.
    func sealTransport(_ packet: [UInt8], keypair: Keypair, now: Instant) -> [UInt8]? {
        let h = TransportHeader.size
        let padded = TransportHeader.paddedLength(packet.count, mtu: configuration.mtu)
        var out = [UInt8](repeating: 0, count: h + padded + WireGuardConstants.tagSize)
        out.replaceSubrange(h..<(h + packet.count), with: packet)
        let limits = configuration.limits, mtu = configuration.mtu
        guard let n = out.withUnsafeMutableBytes({
            keypair.seal(packet: $0, count: packet.count, now: now, limits: limits, mtu: mtu)
        }) else { return nil }
        return n == out.count ? out : Array(out.prefix(n))
    }

    /// §6.2: the initiator rekeys after Rekey-After-Time; either side after Rekey-After-Messages.
    func keepKeyFreshSending(_ peer: Peer, now: Instant) {
        guard let keypair = peer.keypairs.current else { return }
        if keypair.sendCounter > configuration.limits.rekeyAfterMessages
            || (keypair.isInitiator && now > keypair.rekeyAfter) {
            sendHandshakeInitiation(peer, now: now, isRetry: false)
        }
    }
}
