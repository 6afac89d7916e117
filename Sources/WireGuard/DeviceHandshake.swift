// Sending and consuming handshake messages and deriving sessions (wireguard-go send.go SendHandshake*,
// receive.go RoutineHandshake, noise-protocol.go BeginSymmetricSession).

import Basics
import Crypto
import Wire

extension WireGuardDevice {
    /// Starts a handshake with `peer` now (e.g. to bring a tunnel up before traffic); the initiation goes to the
    /// outbox. Does nothing if one was sent less than Rekey-Timeout ago.
    public func initiateHandshake(with peer: PeerID, now: Instant) {
        sendHandshakeInitiation(peers[peer.rawValue], now: now, isRetry: false)
    }

    /// Sends a handshake initiation to `peer`, unless one went out less than Rekey-Timeout ago.
    func sendHandshakeInitiation(_ peer: Peer, now: Instant, isRetry: Bool) {
        if !isRetry { peer.timers.handshakeAttempts = 0 }
        guard hasPrivateKey else { otherCounters.count(.noPrivateKey); return }
        // §6.4: "a handshake initiation is not sent more than once every Rekey-Timeout".
        if let last = peer.handshake.lastSentHandshake, now - last < WireGuardConstants.rekeyTimeout { return }
        peer.handshake.lastSentHandshake = now

        setIndex(peer.handshake.localIndex, to: nil)
        let index = newIndex(.handshake(peer: peer.id.rawValue))
        guard let message = NoiseIK.createInitiation(peer.handshake, localStatic: identity, ephemeral: keySource.keyPair(),
                                                     timestamp: timestamp(now: now), sender: index) else {
            setIndex(index, to: nil)
            return
        }
        var bytes = message.bytes
        bytes.withUnsafeMutableBytes { peer.cookieGenerator.addMACs($0, now: now) }
        timersAnyAuthenticatedPacketTraversal(peer, now: now)
        timersAnyAuthenticatedPacketSent(peer)
        otherCounters.initiationsSent &+= 1
        emit(bytes, kind: .handshakeInitiation, peer: peer)
        timersHandshakeInitiated(peer, now: now)
    }

    /// Answers a consumed initiation and derives the responder's session (it waits in `next`).
    func sendHandshakeResponse(_ peer: Peer, now: Instant) {
        peer.handshake.lastSentHandshake = now
        setIndex(peer.handshake.localIndex, to: nil)
        let index = newIndex(.handshake(peer: peer.id.rawValue))
        guard let message = NoiseIK.createResponse(peer.handshake, ephemeral: keySource.keyPair(), sender: index) else {
            setIndex(index, to: nil)
            return
        }
        var bytes = message.bytes
        bytes.withUnsafeMutableBytes { peer.cookieGenerator.addMACs($0, now: now) }
        guard beginSymmetricSession(peer, now: now) else { return }
        timersSessionDerived(peer, now: now)
        timersAnyAuthenticatedPacketTraversal(peer, now: now)
        timersAnyAuthenticatedPacketSent(peer)
        otherCounters.responsesSent &+= 1
        emit(bytes, kind: .handshakeResponse, peer: peer)
    }

    /// Derives transport keys from the finished handshake and rotates the keypair slots (§5.4.5, §6).
    @discardableResult
    func beginSymmetricSession(_ peer: Peer, now: Instant) -> Bool {
        let hs = peer.handshake
        let localIndex = hs.localIndex, remoteIndex = hs.remoteIndex
        guard let keys = NoiseIK.deriveTransportKeys(hs) else { return false }
        let keypair = Keypair(sendKey: keys.send, receiveKey: keys.receive, isInitiator: keys.isInitiator,
                              created: now, localIndex: localIndex, remoteIndex: remoteIndex,
                              rekeyAfterTime: configuration.limits.rekeyAfterTime)
        setIndex(localIndex, to: .keypair(peer: peer.id.rawValue, keypair))
        hs.localIndex = 0
        otherCounters.sessionsDerived &+= 1

        let previous = peer.keypairs.previous, next = peer.keypairs.next, current = peer.keypairs.current
        if keys.isInitiator {
            // The initiator uses the new session at once.
            if next != nil {
                peer.keypairs.next = nil
                peer.keypairs.previous = next
                deleteKeypair(current)
            } else {
                peer.keypairs.previous = current
            }
            deleteKeypair(previous)
            peer.keypairs.current = keypair
        } else {
            // §5.4.6: the responder may not send with the new session until the initiator has used it.
            peer.keypairs.next = keypair
            deleteKeypair(next)
            peer.keypairs.previous = nil
            deleteKeypair(previous)
        }
        return true
    }

    /// Promotes `next` to `current` on first use by the initiator; true if it did.
    func receivedWithKeypair(_ peer: Peer, _ keypair: Keypair) -> Bool {
        guard peer.keypairs.next === keypair else { return false }
        let old = peer.keypairs.previous
        peer.keypairs.previous = peer.keypairs.current
        deleteKeypair(old)
        peer.keypairs.current = keypair
        peer.keypairs.next = nil
        return true
    }

    /// Forgets every session and handshake of `peer` and drops its staged packets (after 3 × Reject-After-Time).
    func zeroAndFlushAll(_ peer: Peer) {
        deleteKeypair(peer.keypairs.previous)
        deleteKeypair(peer.keypairs.current)
        deleteKeypair(peer.keypairs.next)
        peer.keypairs = Keypairs()
        setIndex(peer.handshake.localIndex, to: nil)
        peer.handshake.clear()
        flushStaged(peer)
    }

    func flushStaged(_ peer: Peer) {
        for _ in peer.staged { otherCounters.count(.handshakeTimedOut) }
        peer.changeStaged { $0.removeAll() }
    }

    // MARK: Receiving handshake messages

    func receiveHandshakeMessage(_ type: MessageType, _ bytes: UnsafeRawBufferPointer, from source: SocketAddressV4,
                                 now: Instant) -> ReceiveResult {
        if type == .cookieReply {
            guard let reply = try? CookieReply(parsing: bytes) else { return drop(.badSize) }
            guard let entry = indexTable[reply.receiver] else { return drop(.unknownIndex) }
            let peer = peers[entry.peer]
            guard peer.cookieGenerator.consume(reply, now: now) else { return drop(.badCookieReply) }
            return .handshake(peer: peer.id)
        }

        guard hasPrivateKey else { return drop(.noPrivateKey) }
        // §5.4.4: "a responder ... first checks mac1"; only then is the message worth any further work.
        guard cookieChecker.checkMAC1(bytes) else { return drop(.badMAC1) }
        noteHandshakeMessage(now: now)
        let underLoad = isUnderLoad(now: now)
        if underLoad, !cookieChecker.checkMAC2(bytes, source: source, now: now) {
            // §5.4.7: "the responder, rather than responding with a handshake response, may respond with a
            // cookie reply message".
            var keySource = self.keySource
            let reply = cookieChecker.makeReply(to: bytes, source: source, now: now) { keySource.fill($0) }
            self.keySource = keySource
            otherCounters.cookieRepliesSent &+= 1
            outbox.append(OutgoingDatagram(kind: .cookieReply, peer: nil, endpoint: source, bytes: reply.bytes))
            return drop(.cookieRequired)
        }
        // wireguard-go: under load, a source whose cookie is valid is still held to its handshake rate.
        if underLoad, !rateLimiter.allow(source.address, now: now) { return drop(.handshakeRateLimited) }

        if type == .handshakeInitiation {
            guard let message = try? HandshakeInitiation(parsing: bytes) else { return drop(.badSize) }
            guard let opened = NoiseIK.openInitiation(message, localStatic: identity) else {
                return drop(.handshakeDecryptFailed)
            }
            guard let index = peerByKey[opened.initiatorStatic] else { return drop(.unknownPeer) }
            let peer = peers[index], hs = peer.handshake
            guard let (timestamp, hash, chainKey) = NoiseIK.finishInitiation(opened, hs) else {
                return drop(.handshakeDecryptFailed)
            }
            // §5.1: "the responder ... keeps track of the greatest timestamp received per peer and discards
            // packets containing timestamps less than or equal to it."
            if let last = hs.lastTimestamp, !(timestamp > last) { return drop(.staleHandshake) }
            if let last = hs.lastInitiationConsumption, now - last <= WireGuardConstants.handshakeInitiationRate {
                return drop(.handshakeFlood)
            }
            hs.hash = hash
            hs.chainKey.assign(chainKey)
            hs.remoteIndex = message.sender
            hs.remoteEphemeral = message.ephemeral
            hs.lastTimestamp = timestamp
            hs.lastInitiationConsumption = now
            hs.state = .initiationConsumed

            timersAnyAuthenticatedPacketTraversal(peer, now: now)
            timersAnyAuthenticatedPacketReceived(peer)
            peer.endpoint = source  // §2.1 roaming: authenticated packets update the endpoint
            peer.receivedBytes &+= UInt64(bytes.count)
            sendHandshakeResponse(peer, now: now)
            return .handshake(peer: peer.id)
        }

        guard let message = try? HandshakeResponse(parsing: bytes) else { return drop(.badSize) }
        guard case .handshake(let index)? = indexTable[message.receiver] else { return drop(.unknownIndex) }
        let peer = peers[index]
        guard peer.handshake.state == .initiationCreated else { return drop(.unexpectedResponse) }
        guard NoiseIK.consumeResponse(message, peer.handshake, localStatic: identity) else {
            return drop(.handshakeDecryptFailed)
        }
        peer.endpoint = source
        peer.receivedBytes &+= UInt64(bytes.count)
        timersAnyAuthenticatedPacketTraversal(peer, now: now)
        timersAnyAuthenticatedPacketReceived(peer)
        guard beginSymmetricSession(peer, now: now) else { return .handshake(peer: peer.id) }
        timersSessionDerived(peer, now: now)
        timersHandshakeComplete(peer, now: now)
        // Key confirmation for the responder: staged packets, or else a keepalive.
        sendKeepalive(peer, now: now)
        return .handshake(peer: peer.id)
    }

    @inline(never)
    func drop(_ reason: WireGuardDropReason) -> ReceiveResult {
        otherCounters.count(reason)
        return .dropped(reason)
    }
}
