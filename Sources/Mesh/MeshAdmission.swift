// The admission node's side of a join (docs/mesh.md, "Joining"), sans-IO: join initiations and join-session
// transport messages in, responses, status and certificate messages out, every refusal counted.
//
// Order of checks on a join initiation, cheapest first: exact size; mac1 (no Diffie–Hellman before it); under load,
// mac2 or a cookie reply; the Noise message (two DH); the payload's form; the invite (known, not expired, not used
// by another key); the proof of the invite secret; the requested name; the TAI64N replay and 20 ms flood guards; room
// in the join table. Nothing is kept from a message that fails any of them and none gets a reply but the cookie
// reply. A message that passes gets the response (the same size) and an unconfirmed join session; the invite is
// used (consumed) only when the first transport message on that session authenticates, which proves the joiner
// derived the session keys — the invite secret included (IKpsk2's psk). Then the request waits for approval
// (`approve`) unless the invite approves itself; the certificate is signed with the CA key this node holds and
// sent on the session.

import Basics
import Crypto
import Noise
import Wire
import WireGuard

/// A join request an admission node knows about (status, `sluice mesh approve`).
public struct MeshJoinRequest: Sendable, Equatable {
    public enum State: Sendable, Equatable { case waiting, approved, refused }
    public let key: PublicKey
    public let name: String
    public let inviteID: [UInt8]
    public internal(set) var state: State
    /// When the invite was consumed.
    public let since: Instant
    /// The chain sent back, once approved.
    public internal(set) var chain: [Certificate] = []
}

/// Something the driver may act on (persist a consumed invite, log).
public enum MeshAdmissionEvent: Sendable, Equatable {
    /// The invite was used: the driver removes it from its store so a restart cannot accept it again.
    case inviteConsumed(id: [UInt8], name: String)
    case approved(name: String, key: PublicKey)
}

/// What one datagram produced at the admission node.
public struct MeshAdmissionResult {
    public var reply: [UInt8]?
    public var dropped: MeshJoinDropReason?
    public var events: [MeshAdmissionEvent] = []
}

public final class MeshAdmission {
    final class JoinSession {
        let keypair: Keypair
        let joiner: PublicKey
        let inviteID: [UInt8]
        let name: String
        var confirmed = false
        var source: SocketAddressV4
        init(keypair: Keypair, joiner: PublicKey, inviteID: [UInt8], name: String, source: SocketAddressV4) {
            self.keypair = keypair; self.joiner = joiner; self.inviteID = inviteID; self.name = name; self.source = source
        }
    }

    public let staticKey: KeyPair
    let issuerKey: SigningKey
    /// The CA that signs (the root, or an organization CA whose certificate follows the node's in the chain).
    public let issuer: Certificate
    public let root: Certificate
    public var wallClock: WallClock
    var random: any RandomSource
    public let limits: WireGuardLimits
    public private(set) var counters = MeshJoinCounters()

    /// Invites by id, and the key that used each one.
    public private(set) var invites: [[UInt8]: MeshInvite] = [:]
    var usedBy: [[UInt8]: PublicKey] = [:]
    /// Requests by joiner key (a request outlives its sessions: approval may take longer than a session lives).
    public private(set) var requests: [PublicKey: MeshJoinRequest] = [:]
    var sessions: [UInt32: JoinSession] = [:]
    var lastTimestamp: [PublicKey: TAI64N] = [:]
    var lastInitiation: [PublicKey: Instant] = [:]

    var cookieChecker: CookieChecker
    var rateLimiter = HandshakeRateLimiter()
    var windowStart = Instant.zero
    var windowCount = 0
    var underLoadUntil: Instant?

    /// Indices another protocol on the same port holds (the node's own handshaker): set by the driver.
    public var indexInUseElsewhere: ((UInt32) -> Bool)?

    /// `issuerKey` must belong to `issuer`, and `issuer` be `root` or signed by it; nil otherwise.
    public init?(staticKey: KeyPair, issuerKey: SigningKey, issuer: Certificate, root: Certificate,
                 random: any RandomSource, wallClock: WallClock, limits: WireGuardLimits = .init()) {
        guard issuer.fields.isCA, issuer.fields.subjectKey == issuerKey.publicKey.key,
              root.fields.isCA, root.fields.issuer == root.keyID,
              issuer == root || issuer.fields.issuer == root.keyID else { return nil }
        self.staticKey = staticKey; self.issuerKey = issuerKey; self.issuer = issuer; self.root = root
        self.random = random; self.wallClock = wallClock; self.limits = limits
        cookieChecker = CookieChecker(localPublicKey: staticKey.publicKey)
    }

    public func addInvite(_ invite: MeshInvite) { invites[invite.id] = invite }

    /// Asked for an invite id not loaded (after the Noise message and the payload passed): the driver may look in
    /// its store for invites made since it last read it, and add them with `addInvite`.
    public var lookForInvites: (() -> Void)?
    public func removeInvite(id: [UInt8]) { invites[id] = nil }

    /// True when `index` names one of this node's join sessions (the driver dispatches type-4 messages by index).
    public func owns(index: UInt32) -> Bool { sessions[index] != nil }
    public var sessionCount: Int { sessions.count }

    func unixSeconds(_ now: Instant) -> Int64 { Int64(wallClock.unixNanoseconds(at: now) / 1_000_000_000) }

    func newIndex() -> UInt32 {
        while true {
            let i = UInt32(truncatingIfNeeded: random.next())
            if i != 0, sessions[i] == nil, indexInUseElsewhere?(i) != true { return i }
        }
    }

    func ephemeral() -> KeyPair { KeyPair.deterministic(using: &random) }

    // MARK: Receiving

    /// A join initiation (type 0x13) or a transport message for a join session (type 4).
    public func receive(_ datagram: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshAdmissionResult {
        guard datagram.count >= 4 else { return drop(.badSize) }
        let type = datagram.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        switch type {
        case MeshJoinConstants.initiationType:
            guard datagram.count == MeshConstants.initiationSize else { return drop(.badSize) }
            return receiveInitiation(datagram, from: source, now: now)
        case MeshConstants.transportType:
            return receiveTransport(datagram, from: source, now: now)
        default:
            return drop(.unknownMessageType)
        }
    }

    func checkMACs(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshAdmissionResult? {
        guard message.withUnsafeBytes({ cookieChecker.checkMAC1($0) }) else { return drop(.badMAC1) }
        if now - windowStart >= .seconds(1) { windowStart = now; windowCount = 0 }
        windowCount += 1
        if windowCount > MeshConstants.underLoadThreshold { underLoadUntil = now + MeshConstants.underLoadAfter }
        guard let until = underLoadUntil, now < until else { return nil }
        if message.withUnsafeBytes({ cookieChecker.checkMAC2($0, source: source, now: now) }) {
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

    func receiveInitiation(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshAdmissionResult {
        if let early = checkMACs(message, from: source, now: now) { return early }
        let sender = message.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
        let o = MeshMessageLayout.initiationNoiseOffset
        let noise = Array(message[o..<(o + MeshMessageLayout.initiationNoiseLength)])
        guard let state = try? HandshakeState(
            protocolName: MeshConstants.protocolName, initiator: false, prologue: MeshJoinConstants.prologue,
            localStatic: staticKey, presharedKeys: [SecretKey()],
            generateEphemeral: { [unowned self] in self.ephemeral() }) else {
            return drop(.handshakeDecryptFailed)
        }
        counters.initiationsOpened &+= 1
        guard let plain = try? state.readMessage(noise), let joiner = state.remoteStatic,
              let ephemeral = state.remoteEphemeral else { return drop(.handshakeDecryptFailed) }
        guard let payload = JoinPayload.decode(plain) else { return drop(.payloadMalformed) }
        if invites[payload.inviteID] == nil { lookForInvites?() }
        guard let invite = invites[payload.inviteID] else { return drop(.unknownInvite) }
        guard unixSeconds(now) <= invite.expires || usedBy[invite.id] == joiner else { return drop(.expiredInvite) }
        if let user = usedBy[invite.id], user != joiner { return drop(.usedInvite) }
        let expected = JoinPayload.proof(secret: invite.secret, joiner: joiner, ephemeral: ephemeral)
        guard expected.withUnsafeBytes({ e in payload.proof.withUnsafeBytes { Sodium.constantTimeEqual(e, $0) } }) else {
            return drop(.badInviteProof)
        }
        guard payload.name.isEmpty || payload.name == invite.template.name else { return drop(.nameMismatch) }
        if let last = lastTimestamp[joiner], !(payload.timestamp > last) { return drop(.staleTimestamp) }
        if let last = lastInitiation[joiner], now - last <= MeshConstants.initiationRate { return drop(.handshakeFlood) }
        // One unconfirmed session per invite: a newer initiation replaces it, so the table is bounded by invites
        // and by maxJoins.
        let older = sessions.filter { $0.value.inviteID == invite.id && ($0.value.joiner == joiner || !$0.value.confirmed) }
        guard sessions.count - older.count < MeshJoinConstants.maxJoins else { return drop(.tooManyJoins) }
        guard (try? state.setPresharedKeys([invite.secret.copy()])) != nil,
              let noiseOut = try? state.writeMessage(payload: [UInt8](repeating: 0, count: MeshMessageLayout.responsePayloadLength)),
              noiseOut.count == MeshMessageLayout.responseNoiseLength,
              let keys = try? state.split(), let receiveKey = keys.initiatorToResponder.key,
              let sendKey = keys.responderToInitiator.key else { return drop(.handshakeDecryptFailed) }
        lastTimestamp[joiner] = payload.timestamp
        lastInitiation[joiner] = now
        // Sessions of the same joiner with the same invite are superseded at once (a renewed join); another key's
        // unconfirmed attempt is too (it never proved the secret).
        for (i, s) in older where !s.confirmed || s.joiner == joiner { s.keypair.wipeKeys(); sessions[i] = nil }
        let index = newIndex()
        var response = [UInt8](repeating: 0, count: MeshConstants.responseSize)
        response.withUnsafeMutableBytes { b in
            b.storeBytes(of: MeshJoinConstants.responseType.littleEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: index.littleEndian, toByteOffset: 4, as: UInt32.self)
            b.storeBytes(of: sender.littleEndian, toByteOffset: 8, as: UInt32.self)
        }
        let r = MeshMessageLayout.responseNoiseOffset
        response.replaceSubrange(r..<(r + noiseOut.count), with: noiseOut)
        var generator = CookieGenerator(remotePublicKey: joiner)
        response.withUnsafeMutableBytes { generator.addMACs($0, now: now) }
        let keypair = Keypair.session(sendKey: sendKey, receiveKey: receiveKey, isInitiator: false, created: now,
                                      localIndex: index, remoteIndex: sender, limits: limits)
        sessions[index] = JoinSession(keypair: keypair, joiner: joiner, inviteID: invite.id,
                                      name: invite.template.name, source: source)
        counters.responsesSent &+= 1
        return MeshAdmissionResult(reply: response)
    }

    func receiveTransport(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshAdmissionResult {
        guard message.count >= 32 else { return drop(.badSize) }
        let receiver = message.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
        guard let s = sessions[receiver] else { return drop(.unknownIndex) }
        var buffer = message
        let opened = buffer.withUnsafeMutableBytes { s.keypair.open(message: $0, count: message.count, now: now, limits: limits) }
        let range: Range<Int>
        switch opened {
        case .plaintext(let r): range = r
        case .dropped(let reason):
            switch reason {
            case .replayedCounter: return drop(.replayedCounter)
            case .expiredKeypair: return drop(.expiredSession)
            case .badSize: return drop(.badSize)
            default: return drop(.decryptFailed)
            }
        }
        s.source = source
        var result = MeshAdmissionResult()
        if !s.confirmed {
            // The first authenticated message: the joiner holds the session keys, so it holds the invite secret.
            s.confirmed = true
            if usedBy[s.inviteID] == nil {
                usedBy[s.inviteID] = s.joiner
                counters.invitesConsumed &+= 1
                result.events.append(.inviteConsumed(id: s.inviteID, name: s.name))
                requests[s.joiner] = MeshJoinRequest(key: s.joiner, name: s.name, inviteID: s.inviteID, state: .waiting,
                                                     since: now)
                if invites[s.inviteID]?.autoApprove == true {
                    if (try? sign(s.joiner, now: now)) != nil {
                        result.events.append(.approved(name: s.name, key: s.joiner))
                    }
                }
            }
        }
        guard !range.isEmpty, buffer[range.lowerBound] == MeshJoinConstants.pollKind else {
            if range.isEmpty { return result }  // a keepalive
            counters.count(.unknownPlaintext)
            result.dropped = .unknownPlaintext
            return result
        }
        result.reply = answer(s, now: now)
        return result
    }

    /// The status or certificate message for the session's joiner.
    func answer(_ s: JoinSession, now: Instant) -> [UInt8]? {
        guard let request = requests[s.joiner] else { return nil }
        switch request.state {
        case .waiting: return seal([MeshJoinConstants.statusKind, MeshJoinConstants.statusWaiting, 0, 0], s, now: now)
        case .refused: return seal([MeshJoinConstants.statusKind, MeshJoinConstants.statusRefused, 0, 0], s, now: now)
        case .approved:
            counters.certificatesSent &+= 1
            return seal(JoinCertificateMessage(chain: request.chain, root: root).encode(), s, now: now)
        }
    }

    func seal(_ plaintext: [UInt8], _ s: JoinSession, now: Instant) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16 + plaintext.count + 16 + 16)
        buffer.replaceSubrange(16..<(16 + plaintext.count), with: plaintext)
        guard let n = buffer.withUnsafeMutableBytes({ s.keypair.seal(packet: $0, count: plaintext.count, now: now, limits: limits) })
        else { return nil }
        return Array(buffer[0..<n])
    }

    // MARK: Approval

    /// The request `selector` names: a joiner's name, its invite id (hex, or a prefix of at least 8 digits), or
    /// its key (base64).
    public func request(named selector: String) -> MeshJoinRequest? {
        let matches = requests.values.filter {
            $0.name == selector || $0.key.base64 == selector
                || (selector.count >= 8 && $0.inviteID.hex.hasPrefix(selector.lowercased()))
        }
        return matches.count == 1 ? matches[0] : nil
    }

    /// Approves a waiting request: signs its certificate and returns the certificate messages to send now (to each
    /// confirmed session of that joiner, at its last source address). Refusals say why and how to fix it.
    public func approve(_ selector: String, now: Instant) throws(MeshCAError) -> [(bytes: [UInt8], to: SocketAddressV4)] {
        guard let request = request(named: selector) else {
            let names = requests.values.filter { $0.state == .waiting }.map(\.name).sorted()
            throw MeshCAError("no single join request matches \"\(selector)\"",
                              fix: names.isEmpty ? "no join is waiting; check `sluice mesh status`"
                                                 : "approve one of: " + names.joined(separator: ", "))
        }
        guard request.state != .refused else {
            throw MeshCAError("the join of \(request.name) was refused", fix: "make a new invite with `sluice mesh invite`")
        }
        if request.state == .waiting { try sign(request.key, now: now) }
        var out: [(bytes: [UInt8], to: SocketAddressV4)] = []
        for (_, s) in sessions.sorted(by: { $0.key < $1.key }) where s.joiner == request.key && s.confirmed {
            if let m = answer(s, now: now) { out.append((m, s.source)) }
        }
        return out
    }

    /// Refuses a waiting request; its joiner is told on its next poll.
    public func refuse(_ selector: String) throws(MeshCAError) {
        guard let request = request(named: selector), request.state == .waiting else {
            throw MeshCAError("no waiting join request matches \"\(selector)\"", fix: "check `sluice mesh status`")
        }
        requests[request.key]?.state = .refused
        counters.refused &+= 1
    }

    /// Signs the node certificate for `key` from its invite's template.
    func sign(_ key: PublicKey, now: Instant) throws(MeshCAError) {
        guard let request = requests[key], let invite = invites[request.inviteID] else {
            throw MeshCAError("the invite of this request is gone", fix: "make a new invite with `sluice mesh invite`")
        }
        var fields = invite.template
        let start = unixSeconds(now)
        fields.subjectKey = key
        fields.issuer = issuer.keyID
        fields.serial = random.next() | 1
        fields.notBefore = start
        fields.notAfter = min(start.addingClamped(Int64(invite.days) * 86_400), issuer.fields.notAfter)
        do { try CertificateVerifier.checkWithin(child: fields, issuer: issuer.fields) } catch {
            throw MeshCAError("the invite's certificate would exceed its issuer \(issuer.fields.name): \(error)",
                              fix: "make a new invite inside the CA's limits (`sluice mesh ca inspect` shows them)")
        }
        let node: Certificate
        do { node = try Certificate(signing: fields, with: issuerKey) } catch {
            throw MeshCAError("the invite's certificate cannot be signed: \(error)", fix: "make a new invite")
        }
        requests[key]?.chain = issuer == root ? [node] : [node, issuer]
        requests[key]?.state = .approved
        counters.approved &+= 1
    }

    // MARK: Time

    /// Forgets unconfirmed sessions older than `unconfirmedTimeout` and sessions past Reject-After-Time.
    public func tick(now: Instant) {
        for (i, s) in sessions where s.keypair.isExpired(now: now)
            || (!s.confirmed && now - s.keypair.created > MeshJoinConstants.unconfirmedTimeout) {
            s.keypair.wipeKeys()
            sessions[i] = nil
        }
    }

    @inline(never)
    func drop(_ reason: MeshJoinDropReason) -> MeshAdmissionResult {
        counters.count(reason)
        return MeshAdmissionResult(dropped: reason)
    }
}
