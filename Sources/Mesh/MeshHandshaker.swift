// The mesh handshake as a sans-IO state machine (docs/mesh.md, "Handshake"): one per node and port. It writes
// initiations, answers them, consumes responses and cookie replies, and hands each finished handshake's keys to a
// WireGuard `Keypair` (Sources/WireGuard/KeypairTransport.swift) — the transport is WireGuard's, not a second one.
//
// Order of checks on an initiation, cheapest first, so a flood costs little: exact size; mac1 (no Diffie–Hellman
// before it); under load, mac2 or a cookie reply; the Noise message (two DH); the payload's form; the TAI64N replay
// and 20 ms flood guards; the certificate chain (Ed25519); the certificate's key against the Noise static key.
// Nothing is remembered from a message that fails any of them, and no reply is larger than the message.

import Basics
import Crypto
import Noise
import Wire
import WireGuard

/// This node: its Noise static key and the certificate chain binding it (the node's certificate first).
public struct MeshIdentity: Sendable {
    public let staticKey: KeyPair
    public let chain: [Certificate]

    /// Nil unless the chain's first certificate is a node certificate for `staticKey`'s public key.
    public init?(staticKey: KeyPair, chain: [Certificate]) {
        guard let node = chain.first, !node.fields.isCA, node.fields.subjectKey == staticKey.publicKey,
              chain.count <= MeshConstants.maxChainLength else { return nil }
        self.staticKey = staticKey; self.chain = chain
    }

    /// Any pairing, for tests that present a certificate for another key.
    init(unchecked staticKey: KeyPair, chain: [Certificate]) { self.staticKey = staticKey; self.chain = chain }
}

/// A session with a peer whose chain was validated: WireGuard transport keys plus who the peer is.
public final class MeshSession {
    /// The peer's chain as it presented it (re-checked when revocations change).
    public let peerChain: [Certificate]
    public let peer: ValidatedChain
    public let peerStatic: PublicKey
    public let keypair: Keypair
    /// True once a revocation closed it (its keys are wiped).
    public internal(set) var isClosed = false

    init(peerChain: [Certificate], peer: ValidatedChain, peerStatic: PublicKey, keypair: Keypair) {
        self.peerChain = peerChain; self.peer = peer; self.peerStatic = peerStatic; self.keypair = keypair
    }

    public var localIndex: UInt32 { keypair.localIndex }
    public var isInitiator: Bool { keypair.isInitiator }
}

/// What one received handshake datagram produced.
public struct MeshHandshakeResult {
    /// Bytes to send back to the datagram's source (a response or a cookie reply).
    public var reply: [UInt8]?
    /// A session established by this datagram.
    public var session: MeshSession?
    /// Set when the datagram was dropped (and counted).
    public var dropped: MeshDropReason?

    static func drop(_ r: MeshDropReason) -> MeshHandshakeResult { MeshHandshakeResult(dropped: r) }
}

/// What one received transport message produced.
public enum MeshTransportResult: Equatable {
    /// An inner IPv4 packet at `range` of the caller's buffer, from `session`'s peer.
    case packet(localIndex: UInt32, range: Range<Int>)
    case keepalive(localIndex: UInt32)
    case dropped(MeshDropReason)
}

/// The handshake and session table of one node.
public final class MeshHandshaker {
    /// This node's key and chain; `renew` replaces the chain.
    public private(set) var identity: MeshIdentity
    public private(set) var verifier: CertificateVerifier
    public internal(set) var counters = MeshCounters()
    /// Transport limits (tests shrink Rekey-After-Messages to force rekeys).
    public let limits: WireGuardLimits
    public var wallClock: WallClock
    var random: any RandomSource

    var cookieChecker: CookieChecker
    var rateLimiter = HandshakeRateLimiter()
    var cookieGenerators: [PublicKey: CookieGenerator] = [:]
    /// An initiation awaiting its response: the Noise state after message 1, and what rebuilds that state (Noise is
    /// deterministic given the ephemeral key and payload) when a forged response has spoiled it.
    struct Pending {
        var state: HandshakeState
        let peer: PublicKey
        let presharedKey: SecretKey
        let ephemeral: KeyPair
        let payload: [UInt8]
    }
    var pending: [UInt32: Pending] = [:]
    /// Per initiator key: the greatest TAI64N accepted, and when the last initiation was consumed.
    var lastTimestamp: [PublicKey: TAI64N] = [:]
    var lastInitiation: [PublicKey: Instant] = [:]
    /// Sessions by the index this side handed out.
    public private(set) var sessions: [UInt32: MeshSession] = [:]
    /// Handshake messages with a good mac1 in the current one-second window, and until when we are under load.
    var windowStart = Instant.zero
    var windowCount = 0
    var underLoadUntil: Instant?
    /// XX handshakes (MeshHandshakerXX.swift): ours waiting for message 2, and others' waiting for message 3; the
    /// node-wide window of XX first messages answered.
    var xxInitiations: [UInt32: XXInitiation] = [:]
    var xxResponses: [UInt32: XXResponse] = [:]
    var xxWindowStart = Instant.zero
    var xxWindowCount = 0

    /// `random` supplies ephemeral keys, indices and cookie secrets; `wallClock` the TAI64N timestamps and the time
    /// certificates are checked at.
    public init(identity: MeshIdentity, verifier: CertificateVerifier, random: any RandomSource, wallClock: WallClock,
                limits: WireGuardLimits = .init()) {
        self.identity = identity; self.verifier = verifier; self.random = random; self.wallClock = wallClock
        self.limits = limits
        cookieChecker = CookieChecker(localPublicKey: identity.staticKey.publicKey)
    }

    /// Renewal: a new chain for the same static key (a renewed certificate). Live sessions are kept; handshakes
    /// from now on, and the rekeys of those sessions, present the new chain. False (nothing changes) when the chain
    /// is not for this node's key.
    @discardableResult
    public func renew(_ renewed: MeshIdentity) -> Bool {
        guard renewed.staticKey.publicKey == identity.staticKey.publicKey else { return false }
        identity = renewed
        return true
    }

    /// Seconds until this node's certificate expires, when that is within the warning horizon
    /// (`Certificate.expiryWarning`); nil otherwise.
    public func expiryWarning(now: Instant) -> Int64? {
        identity.chain.compactMap { $0.expiryWarning(now: unixSeconds(now)) }.min()
    }

    /// Unix seconds at `now`, by the wall clock.
    func unixSeconds(_ now: Instant) -> Int64 { Int64(wallClock.unixNanoseconds(at: now) / 1_000_000_000) }

    /// Indices another protocol on the same port holds (a WireGuard device's): the driver that shares a port sets
    /// this so cookie replies and transport messages (types 3 and 4, addressed by index) reach one owner only.
    public var indexInUseElsewhere: ((UInt32) -> Bool)?

    /// Optional pre-shared keys per peer static key, as WireGuard's PresharedKey: mixed into both directions'
    /// handshakes with that peer (psk2 — the responder picks it after reading message 1). Absent: all zeros.
    public var presharedKeys: [PublicKey: SecretKey] = [:]

    /// A fresh index no pending handshake, session or `indexInUseElsewhere` uses (never 0).
    func newIndex() -> UInt32 {
        while true {
            let i = UInt32(truncatingIfNeeded: random.next())
            if i != 0, pending[i] == nil, sessions[i] == nil, xxInitiations[i] == nil, xxResponses[i] == nil,
               indexInUseElsewhere?(i) != true { return i }
        }
    }

    func ephemeral() -> KeyPair { KeyPair.deterministic(using: &random) }

    // MARK: Initiator

    /// A 1024-byte initiation to the node whose static key is `peer`; `presharedKey` is nil for a member handshake
    /// (then `presharedKeys[peer]`, else all zeros). Nil only if the chain does not fit (it always does for certificates this module signs).
    public func initiate(to peer: PublicKey, presharedKey: SecretKey? = nil, now: Instant) -> [UInt8]? {
        let psk = (presharedKey ?? presharedKeys[peer])?.copy() ?? SecretKey()
        let fresh = ephemeral()
        let timestamp = TAI64N(unixNanoseconds: wallClock.unixNanoseconds(at: now)).whitened
        guard let payload = HandshakePayload(timestamp: timestamp, chain: identity.chain)
                .encode(length: MeshMessageLayout.initiationPayloadLength),
              let (state, noise) = firstMessage(to: peer, presharedKey: psk, ephemeral: fresh, payload: payload)
        else { return nil }
        // A new initiation supersedes any still outstanding to the same peer (one handshake per peer, as WireGuard):
        // the table stays as small as the set of peers.
        for (i, p) in pending where p.peer == peer { pending[i] = nil }
        let index = newIndex()
        var message = [UInt8](repeating: 0, count: MeshConstants.initiationSize)
        message.withUnsafeMutableBytes { b in
            b.storeBytes(of: MeshConstants.initiationType.littleEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: index.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
        message.replaceSubrange(MeshMessageLayout.initiationNoiseOffset..<(MeshMessageLayout.initiationNoiseOffset + noise.count),
                                with: noise)
        var generator = cookieGenerators[peer] ?? CookieGenerator(remotePublicKey: peer)
        message.withUnsafeMutableBytes { generator.addMACs($0, now: now) }
        cookieGenerators[peer] = generator
        pending[index] = Pending(state: state, peer: peer, presharedKey: psk, ephemeral: fresh, payload: payload)
        counters.initiationsSent &+= 1
        return message
    }

    /// Noise message 1 and the initiator's state after it.
    func firstMessage(to peer: PublicKey, presharedKey: SecretKey, ephemeral: KeyPair,
                      payload: [UInt8]) -> (HandshakeState, [UInt8])? {
        guard let state = try? HandshakeState(
            protocolName: MeshConstants.protocolName, initiator: true, prologue: MeshConstants.prologue,
            localStatic: identity.staticKey, localEphemeral: ephemeral, remoteStatic: peer,
            presharedKeys: [presharedKey.copy()]),
              let noise = try? state.writeMessage(payload: payload),
              noise.count == MeshMessageLayout.initiationNoiseLength else { return nil }
        return (state, noise)
    }

    // MARK: Receiving

    /// Handles one handshake datagram (types 0x11, 0x12 and WireGuard's cookie reply, 3) from `source`.
    public func receive(_ datagram: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshHandshakeResult {
        guard datagram.count >= 4 else { return drop(.badSize) }
        let type = datagram.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        switch type {
        case MeshConstants.initiationType:
            guard datagram.count == MeshConstants.initiationSize else { return drop(.badSize) }
            return receiveInitiation(datagram, from: source, now: now)
        case MeshConstants.responseType:
            guard datagram.count == MeshConstants.responseSize else { return drop(.badSize) }
            return receiveResponse(datagram, from: source, now: now)
        case MeshConstants.xxInitiationType, MeshConstants.xxResponseType, MeshConstants.xxConfirmationType:
            guard datagram.count == MeshConstants.initiationSize else { return drop(.badSize) }
            return receiveXX(datagram, type: type, from: source, now: now)
        case MeshConstants.cookieReplyType:
            guard datagram.count == CookieReply.size,
                  let reply = datagram.withUnsafeBytes({ try? CookieReply(parsing: $0) }) else { return drop(.badSize) }
            // A cookie reply answers our initiation (a pending index) or our response (a session's index).
            guard let peer = pending[reply.receiver]?.peer ?? sessions[reply.receiver]?.peerStatic,
                  var generator = cookieGenerators[peer] else { return drop(.unknownIndex) }
            guard generator.consume(reply, now: now) else { return drop(.badCookieReply) }
            cookieGenerators[peer] = generator
            return MeshHandshakeResult()
        default:
            return drop(.unknownMessageType)
        }
    }

    /// mac1, then the load check: nil to go on, or the result to return (a drop, perhaps with a cookie reply).
    func checkMACs(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshHandshakeResult? {
        guard message.withUnsafeBytes({ cookieChecker.checkMAC1($0) }) else { return drop(.badMAC1) }
        if now - windowStart >= .seconds(1) { windowStart = now; windowCount = 0 }
        windowCount += 1
        if windowCount > MeshConstants.underLoadThreshold { underLoadUntil = now + MeshConstants.underLoadAfter }
        guard let until = underLoadUntil, now < until else { return nil }
        if message.withUnsafeBytes({ cookieChecker.checkMAC2($0, source: source, now: now) }) {
            // A cookie proves only that the sender receives at its address: its rate is still capped (WireGuard's
            // per-source limiter), before any Diffie–Hellman.
            return rateLimiter.allow(source.address, now: now) ? nil : drop(.handshakeRateLimited)
        }
        var random = self.random
        let reply = message.withUnsafeBytes { m in cookieChecker.makeReply(to: m, source: source, now: now) { random.fill($0) } }
        self.random = random
        counters.cookieRepliesSent &+= 1
        var result = drop(.cookieRequired)
        result.reply = reply.bytes
        return result
    }

    func receiveInitiation(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshHandshakeResult {
        if let early = checkMACs(message, from: source, now: now) { return early }
        let sender = message.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
        let noise = Array(message[MeshMessageLayout.initiationNoiseOffset..<(MeshMessageLayout.initiationNoiseOffset
                                                                              + MeshMessageLayout.initiationNoiseLength)])
        // The ephemeral key is drawn only when the response is written: nothing is spent on it before the
        // initiation has passed every check.
        guard let state = try? HandshakeState(
            protocolName: MeshConstants.protocolName, initiator: false, prologue: MeshConstants.prologue,
            localStatic: identity.staticKey, presharedKeys: [SecretKey()],
            generateEphemeral: { [unowned self] in self.ephemeral() }) else {
            return drop(.handshakeDecryptFailed)
        }
        counters.initiationsOpened &+= 1
        guard let plain = try? state.readMessage(noise), let peerStatic = state.remoteStatic else {
            return drop(.handshakeDecryptFailed)
        }
        if let psk = presharedKeys[peerStatic], (try? state.setPresharedKeys([psk])) == nil {
            return drop(.handshakeDecryptFailed)
        }
        let payload: HandshakePayload
        do throws(HandshakePayload.Failure) { payload = try HandshakePayload.decode(plain, withTimestamp: true) } catch {
            if case .certificate(let e) = error { return reject(e) }
            return drop(.payloadMalformed)
        }
        guard let timestamp = payload.timestamp else { return drop(.payloadMalformed) }
        // WireGuard §5.1: keep the greatest timestamp per peer and discard initiations not newer than it.
        if let last = lastTimestamp[peerStatic], !(timestamp > last) { return drop(.staleTimestamp) }
        if let last = lastInitiation[peerStatic], now - last <= MeshConstants.initiationRate { return drop(.handshakeFlood) }
        let chain: ValidatedChain
        do throws(CertificateError) { chain = try verifier.validate(payload.chain, now: unixSeconds(now)) } catch { return reject(error) }
        guard chain.node.fields.subjectKey == peerStatic else { return drop(.keyMismatch) }

        guard let responsePayload = HandshakePayload(timestamp: nil, chain: identity.chain)
                .encode(length: MeshMessageLayout.responsePayloadLength),
              let noiseOut = try? state.writeMessage(payload: responsePayload),
              noiseOut.count == MeshMessageLayout.responseNoiseLength,
              let keys = try? state.split(), let receiveKey = keys.initiatorToResponder.key,
              let sendKey = keys.responderToInitiator.key else {
            return drop(.handshakeDecryptFailed)
        }
        lastTimestamp[peerStatic] = timestamp
        lastInitiation[peerStatic] = now
        let index = newIndex()
        var response = [UInt8](repeating: 0, count: MeshConstants.responseSize)
        response.withUnsafeMutableBytes { b in
            b.storeBytes(of: MeshConstants.responseType.littleEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: index.littleEndian, toByteOffset: 4, as: UInt32.self)
            b.storeBytes(of: sender.littleEndian, toByteOffset: 8, as: UInt32.self)
        }
        response.replaceSubrange(MeshMessageLayout.responseNoiseOffset..<(MeshMessageLayout.responseNoiseOffset
                                                                          + noiseOut.count), with: noiseOut)
        var generator = cookieGenerators[peerStatic] ?? CookieGenerator(remotePublicKey: peerStatic)
        response.withUnsafeMutableBytes { generator.addMACs($0, now: now) }
        cookieGenerators[peerStatic] = generator
        let keypair = Keypair.session(sendKey: sendKey, receiveKey: receiveKey, isInitiator: false, created: now,
                                      localIndex: index, remoteIndex: sender, limits: limits)
        let session = MeshSession(peerChain: payload.chain, peer: chain, peerStatic: peerStatic, keypair: keypair)
        admit(session)
        counters.responsesSent &+= 1
        counters.sessionsEstablished &+= 1
        return MeshHandshakeResult(reply: response, session: session)
    }

    func receiveResponse(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshHandshakeResult {
        let (sender, receiver) = message.withUnsafeBytes {
            (UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
             UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        guard let p = pending[receiver] else { return drop(.unknownIndex) }
        if let early = checkMACs(message, from: source, now: now) { return early }
        let noise = Array(message[MeshMessageLayout.responseNoiseOffset..<(MeshMessageLayout.responseNoiseOffset
                                                                          + MeshMessageLayout.responseNoiseLength)])
        // A response that does not authenticate (forged: mac1 needs only our public key) must not cost us the
        // handshake: the spoiled Noise state is rebuilt from the initiation's inputs, and the real response can
        // still arrive.
        guard let plain = try? p.state.readMessage(noise) else {
            if let (state, _) = firstMessage(to: p.peer, presharedKey: p.presharedKey, ephemeral: p.ephemeral,
                                             payload: p.payload) {
                pending[receiver]?.state = state
            } else {
                pending[receiver] = nil
            }
            return drop(.handshakeDecryptFailed)
        }
        pending[receiver] = nil
        let payload: HandshakePayload
        do throws(HandshakePayload.Failure) { payload = try HandshakePayload.decode(plain, withTimestamp: false) } catch {
            if case .certificate(let e) = error { return reject(e) }
            return drop(.payloadMalformed)
        }
        let chain: ValidatedChain
        do throws(CertificateError) { chain = try verifier.validate(payload.chain, now: unixSeconds(now)) } catch { return reject(error) }
        guard chain.node.fields.subjectKey == p.peer else { return drop(.keyMismatch) }
        guard let keys = try? p.state.split(), let sendKey = keys.initiatorToResponder.key,
              let receiveKey = keys.responderToInitiator.key else {
            return drop(.handshakeDecryptFailed)
        }
        let keypair = Keypair.session(sendKey: sendKey, receiveKey: receiveKey, isInitiator: true, created: now,
                                      localIndex: receiver, remoteIndex: sender, limits: limits)
        let session = MeshSession(peerChain: payload.chain, peer: chain, peerStatic: p.peer, keypair: keypair)
        admit(session)
        counters.sessionsEstablished &+= 1
        return MeshHandshakeResult(session: session)
    }

    // MARK: Transport (WireGuard's, through the session's Keypair)

    /// Seals the IPv4 packet at `buffer[16..<16 + count]` for `session` in place; the message length, or nil when
    /// the session may not send (closed, Reject-After-Time or Reject-After-Messages reached, no room).
    public func seal(_ session: MeshSession, packet buffer: UnsafeMutableRawBufferPointer, count: Int,
                     now: Instant) -> Int? {
        guard !session.isClosed else { return nil }
        return session.keypair.seal(packet: buffer, count: count, now: now, limits: limits)
    }

    /// Opens the transport message `buffer[0..<count]` in place. A packet whose inner source the sender's
    /// certificate does not cover is dropped and counted.
    public func open(message buffer: UnsafeMutableRawBufferPointer, count: Int, now: Instant) -> MeshTransportResult {
        let receiver: UInt32
        switch openPlaintext(message: buffer, count: count, now: now) {
        case .dropped(let reason): return .dropped(reason)
        case .plaintext(let session, let range):
            receiver = session.localIndex
            if range.isEmpty { return .keepalive(localIndex: receiver) }
            let h = range.lowerBound
            guard range.count >= 20, buffer[h] >> 4 == 4 else { return transportDrop(.invalidPacket) }
            let total = Int(buffer[h + 2]) << 8 | Int(buffer[h + 3])
            guard total >= 20, total <= range.count else { return transportDrop(.invalidPacket) }
            let source = IPv4Address(rawValue: UInt32(buffer[h + 12]) << 24 | UInt32(buffer[h + 13]) << 16
                                     | UInt32(buffer[h + 14]) << 8 | UInt32(buffer[h + 15]))
            guard session.peer.node.covers(source: source) else { return transportDrop(.disallowedSource) }
            return .packet(localIndex: receiver, range: h..<(h + total))
        }
    }

    /// What `openPlaintext` gave: the authenticated plaintext (padding included; empty for a keepalive) at `range`
    /// of the caller's buffer and the session it arrived on, or a counted drop.
    public enum Opened {
        case plaintext(MeshSession, Range<Int>)
        case dropped(MeshDropReason)
    }

    /// Opens the transport message `buffer[0..<count]` in place without looking at the plaintext (the node engine
    /// reads its kind: an IPv4 packet, a relay envelope, a routing message, a probe). Failures are counted.
    public func openPlaintext(message buffer: UnsafeMutableRawBufferPointer, count: Int, now: Instant) -> Opened {
        guard count >= 16, count <= buffer.count else { return .dropped(countTransportDrop(.badSize)) }
        let receiver = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        guard let session = sessions[receiver] else { return .dropped(countTransportDrop(.unknownIndex)) }
        guard !session.isClosed else { return .dropped(countTransportDrop(.expiredSession)) }
        switch session.keypair.open(message: buffer, count: count, now: now, limits: limits) {
        case .dropped(let reason):
            switch reason {
            case .replayedCounter: return .dropped(countTransportDrop(.replayedCounter))
            case .expiredKeypair: return .dropped(countTransportDrop(.expiredSession))
            case .badSize: return .dropped(countTransportDrop(.badSize))
            case .unknownIndex: return .dropped(countTransportDrop(.unknownIndex))
            case .unknownMessageType: return .dropped(countTransportDrop(.unknownMessageType))
            default: return .dropped(countTransportDrop(.decryptFailed))
            }
        case .plaintext(let range):
            return .plaintext(session, range)
        }
    }

    @inline(never)
    func countTransportDrop(_ reason: MeshDropReason) -> MeshDropReason {
        counters.count(reason)
        return reason
    }

    /// Counts a drop decided above the handshaker (by the node engine), so one set of counters holds every reason.
    public func countDrop(_ reason: MeshDropReason) { counters.count(reason) }

    /// Draws from the handshaker's random source (the node's timer jitter): one stream per node.
    func nextRandom() -> UInt64 { random.next() }

    /// At most this many sessions per peer are kept (WireGuard's previous, current and next).
    public static let sessionsPerPeer = 3

    /// Adds `session`, forgetting the oldest of the same peer's beyond `sessionsPerPeer`: a peer that handshakes
    /// again and again cannot grow the table.
    func admit(_ session: MeshSession) {
        let same = sessions.values.filter { $0.peerStatic == session.peerStatic }
            .sorted { ($0.keypair.created, $0.localIndex) < ($1.keypair.created, $1.localIndex) }
        for old in same.prefix(max(0, same.count - (Self.sessionsPerPeer - 1))) { remove(old) }
        sessions[session.localIndex] = session
    }

    /// Forgets every session past Reject-After-Time (it can neither send nor receive); returns how many.
    @discardableResult
    public func removeExpired(now: Instant) -> Int {
        let expired = sessions.values.filter { $0.keypair.isExpired(now: now) }
        for s in expired { remove(s) }
        return expired.count
    }

    /// Forgets a session (e.g. the previous one after a rekey), wiping its keys.
    public func remove(_ session: MeshSession) {
        session.keypair.wipeKeys()
        session.isClosed = true
        sessions[session.localIndex] = nil
    }

    // MARK: Revocation

    /// Replaces the revocations and closes, at once, every session whose peer chain no longer validates (revoked at
    /// any level). Returns the closed sessions.
    @discardableResult
    public func updateRevocations(_ revocations: RevocationSet, now: Instant) -> [MeshSession] {
        verifier.revocations = revocations
        var closed: [MeshSession] = []
        for (_, session) in sessions.sorted(by: { $0.key < $1.key }) {
            if (try? verifier.validate(session.peerChain, now: unixSeconds(now))) == nil {
                remove(session)
                closed.append(session)
                counters.sessionsClosedByRevocation &+= 1
            }
        }
        return closed
    }

    @inline(never)
    func drop(_ reason: MeshDropReason) -> MeshHandshakeResult {
        counters.count(reason)
        return .drop(reason)
    }

    @inline(never)
    func reject(_ error: CertificateError) -> MeshHandshakeResult {
        counters.count(error)
        return .drop(.certificateRejected)
    }

    @inline(never)
    func transportDrop(_ reason: MeshDropReason) -> MeshTransportResult {
        counters.count(reason)
        return .dropped(reason)
    }
}
