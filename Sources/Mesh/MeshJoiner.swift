// The joining node's side of a join (docs/mesh.md, "Joining"), sans-IO. From a token and a fresh static key: a
// join initiation to the admission node, then polls on the join session every second until a certificate arrives
// (or a refusal); the certificate must validate under the root the token names and be for this node's key. Every
// datagram goes to the token's endpoint; `tick` says what to (re)send.

import Basics
import Crypto
import Noise
import Wire
import WireGuard

public final class MeshJoiner {
    public enum State: Sendable, Equatable {
        /// Waiting for the join response.
        case initiating
        /// The session is up; polling until approved.
        case waiting
        /// Joined: the chain (node first) and the root it validates under.
        case joined(chain: [Certificate], root: Certificate)
        case refused
    }

    public let token: JoinToken
    public let staticKey: KeyPair
    public let name: String
    public var wallClock: WallClock
    var random: any RandomSource
    public let limits: WireGuardLimits
    public private(set) var state: State = .initiating
    public private(set) var counters = MeshJoinCounters()

    struct Pending { let index: UInt32; let state: HandshakeState; let ephemeral: KeyPair; let payload: [UInt8] }
    var pending: Pending?
    var generator: CookieGenerator
    var keypair: Keypair?
    var lastInitiation: Instant?
    var lastPoll: Instant?

    /// `name` is the name asked for ("" takes the invite's).
    public init(token: JoinToken, staticKey: KeyPair, name: String = "", random: any RandomSource, wallClock: WallClock,
                limits: WireGuardLimits = .init()) {
        self.token = token; self.staticKey = staticKey; self.name = name; self.random = random
        self.wallClock = wallClock; self.limits = limits
        generator = CookieGenerator(remotePublicKey: token.admissionKey)
    }

    /// True while the joiner still has something to do.
    public var isFinished: Bool {
        switch state { case .joined, .refused: true; default: false }
    }

    /// The join initiation (1024 bytes) to send to `token.endpoint`. Nil when the name does not fit.
    public func initiate(now: Instant) -> [UInt8]? {
        let ephemeral = KeyPair.deterministic(using: &random)
        let timestamp = TAI64N(unixNanoseconds: wallClock.unixNanoseconds(at: now)).whitened
        let proof = JoinPayload.proof(secret: token.secret, joiner: staticKey.publicKey, ephemeral: ephemeral.publicKey)
        guard let payload = JoinPayload(timestamp: timestamp, inviteID: token.inviteID, proof: proof, name: name).encode(),
              let (state, noise) = firstMessage(ephemeral: ephemeral, payload: payload) else { return nil }
        var index: UInt32 = 0
        while index == 0 || index == keypair?.localIndex { index = UInt32(truncatingIfNeeded: random.next()) }
        var message = [UInt8](repeating: 0, count: MeshConstants.initiationSize)
        message.withUnsafeMutableBytes { b in
            b.storeBytes(of: MeshJoinConstants.initiationType.littleEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: index.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
        let o = MeshMessageLayout.initiationNoiseOffset
        message.replaceSubrange(o..<(o + noise.count), with: noise)
        message.withUnsafeMutableBytes { generator.addMACs($0, now: now) }
        pending = Pending(index: index, state: state, ephemeral: ephemeral, payload: payload)
        lastInitiation = now
        return message
    }

    func firstMessage(ephemeral: KeyPair, payload: [UInt8]) -> (HandshakeState, [UInt8])? {
        guard let state = try? HandshakeState(
            protocolName: MeshConstants.protocolName, initiator: true, prologue: MeshJoinConstants.prologue,
            localStatic: staticKey, localEphemeral: ephemeral, remoteStatic: token.admissionKey,
            presharedKeys: [token.secret.copy()]),
              let noise = try? state.writeMessage(payload: payload),
              noise.count == MeshMessageLayout.initiationNoiseLength else { return nil }
        return (state, noise)
    }

    /// A datagram from the admission node; returns what to send back (a first poll after the response).
    public func receive(_ datagram: [UInt8], now: Instant) -> [UInt8]? {
        guard datagram.count >= 4 else { counters.count(.badSize); return nil }
        let type = datagram.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        switch type {
        case MeshJoinConstants.responseType:
            guard datagram.count == MeshConstants.responseSize else { counters.count(.badSize); return nil }
            return receiveResponse(datagram, now: now)
        case MeshConstants.cookieReplyType:
            guard datagram.count == CookieReply.size,
                  let reply = datagram.withUnsafeBytes({ try? CookieReply(parsing: $0) }),
                  reply.receiver == pending?.index, generator.consume(reply, now: now) else {
                counters.count(.badCookieReply); return nil
            }
            return nil
        case MeshConstants.transportType:
            receiveTransport(datagram, now: now)
            return nil
        default:
            counters.count(.unknownMessageType)
            return nil
        }
    }

    func receiveResponse(_ message: [UInt8], now: Instant) -> [UInt8]? {
        let (sender, receiver) = message.withUnsafeBytes {
            (UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
             UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        guard let p = pending, p.index == receiver else { counters.count(.unknownIndex); return nil }
        let mac1OK = message.withUnsafeBytes { CookieChecker(localPublicKey: staticKey.publicKey).checkMAC1($0) }
        guard mac1OK else { counters.count(.badMAC1); return nil }
        let o = MeshMessageLayout.responseNoiseOffset
        let noise = Array(message[o..<(o + MeshMessageLayout.responseNoiseLength)])
        guard let plain = try? p.state.readMessage(noise) else {
            // A forged response must not spoil the handshake: rebuild the state from the initiation's inputs.
            if let (state, _) = firstMessage(ephemeral: p.ephemeral, payload: p.payload) {
                pending = Pending(index: p.index, state: state, ephemeral: p.ephemeral, payload: p.payload)
            }
            counters.count(.handshakeDecryptFailed)
            return nil
        }
        guard plain.allSatisfy({ $0 == 0 }), let keys = try? p.state.split(), let sendKey = keys.initiatorToResponder.key,
              let receiveKey = keys.responderToInitiator.key else { counters.count(.payloadMalformed); return nil }
        pending = nil
        keypair?.wipeKeys()
        keypair = Keypair.session(sendKey: sendKey, receiveKey: receiveKey, isInitiator: true, created: now,
                                  localIndex: receiver, remoteIndex: sender, limits: limits)
        if state == .initiating { state = .waiting }
        return poll(now: now)
    }

    /// A poll on the session (which also proves the invite secret to the admission node).
    func poll(now: Instant) -> [UInt8]? {
        guard let keypair else { return nil }
        var buffer = [UInt8](repeating: 0, count: 16 + 16 + 16)
        buffer[16] = MeshJoinConstants.pollKind
        guard let n = buffer.withUnsafeMutableBytes({ keypair.seal(packet: $0, count: 4, now: now, limits: limits) }) else {
            return nil
        }
        lastPoll = now
        return Array(buffer[0..<n])
    }

    func receiveTransport(_ message: [UInt8], now: Instant) {
        guard let keypair, message.count >= 32 else { counters.count(.unknownIndex); return }
        var buffer = message
        let opened = buffer.withUnsafeMutableBytes { keypair.open(message: $0, count: message.count, now: now, limits: limits) }
        guard case .plaintext(let range) = opened else {
            if case .dropped(.replayedCounter) = opened { counters.count(.replayedCounter) } else { counters.count(.decryptFailed) }
            return
        }
        guard !range.isEmpty else { return }
        switch buffer[range.lowerBound] {
        case MeshJoinConstants.statusKind where range.count >= 4:
            if buffer[range.lowerBound + 1] == MeshJoinConstants.statusRefused, !isFinished { state = .refused }
        case MeshJoinConstants.certificateKind:
            guard !isFinished else { return }
            guard let m = JoinCertificateMessage.decode(buffer[range]), m.root.keyID == token.rootKeyID,
                  let anchors = try? TrustAnchors([m.root]),
                  let valid = try? CertificateVerifier(anchors: anchors, revocations: RevocationSet())
                    .validate(m.chain, now: Int64(wallClock.unixNanoseconds(at: now) / 1_000_000_000)),
                  valid.node.fields.subjectKey == staticKey.publicKey,
                  MeshIdentity(staticKey: staticKey, chain: m.chain) != nil else {
                counters.count(.certificateRejected)
                return
            }
            state = .joined(chain: m.chain, root: m.root)
            keypair.wipeKeys()
            self.keypair = nil
        default:
            counters.count(.unknownPlaintext)
        }
    }

    /// What to send at `now`: a new initiation when no response came for `retryAfter` (or the session is old), a
    /// poll every `pollInterval` while waiting.
    public func tick(now: Instant) -> [[UInt8]] {
        guard !isFinished else { return [] }
        if let keypair, now - keypair.created < MeshJoinConstants.sessionRenewAfter {
            guard lastPoll.map({ now - $0 >= MeshJoinConstants.pollInterval }) ?? true else { return [] }
            return poll(now: now).map { [$0] } ?? []
        }
        // No session yet, or one about to age out (approval can outlast a session): (re)initiate.
        guard lastInitiation.map({ now - $0 >= MeshJoinConstants.retryAfter }) ?? true else { return [] }
        return initiate(now: now).map { [$0] } ?? []
    }

    /// When `tick` next has something to do.
    public func nextDeadline() -> Instant? {
        guard !isFinished else { return nil }
        if let keypair, let lastPoll, lastPoll - keypair.created < MeshJoinConstants.sessionRenewAfter {
            return lastPoll + MeshJoinConstants.pollInterval
        }
        return (lastInitiation ?? .zero) + MeshJoinConstants.retryAfter
    }
}
