// Noise XX for a peer whose static key is unknown (docs/mesh.md, "XX"): a node that knows only an endpoint dials
// it; the certificate inside the encrypted payloads authenticates each side, and the session is the same WireGuard
// transport an IK handshake gives. Pattern `Noise_XX_25519_ChaChaPoly_BLAKE2s`, prologue `sluice mesh xx v1`.
//
//   message 1 (type 0x15, 1024 bytes): type(4) sender(4) | e(32) | zero padding | mac1(16) mac2(16)
//   message 2 (type 0x16, 1024 bytes): type(4) sender(4) receiver(4) | e(32) enc-s(48) enc-payload(884+16) | mac1 mac2
//       payload: count(1) { length(2) certificate } … zero padding (the responder's chain)
//   message 3 (type 0x17, 1024 bytes): type(4) sender(4) receiver(4) | enc-s(48) enc-payload(916+16) | mac1 mac2
//       payload: TAI64N(12) count(1) { length(2) certificate } … zero padding (the initiator's chain)
//
// mac1 of messages 1 and 2 is keyed with a public label (neither side knows the other's key yet): it only makes a
// stray datagram cheap to drop. Message 1 costs the responder an ephemeral key and two Diffie–Hellman, so it is
// answered only within a node-wide budget (64 a second) and WireGuard's per-source limit (20 a second, burst 5),
// and half-open responder state is bounded (256, oldest first, forgotten after Rekey-Timeout). Message 3 carries a
// real mac1 (the responder's key is known by then), so under load it goes through the cookie check like an IK
// initiation. Every message is 1024 bytes: no reply is larger than what it answers.

import Basics
import Crypto
import Noise
import Wire
import WireGuard

extension MeshConstants {
    public static let xxProtocolName = "Noise_XX_25519_ChaChaPoly_BLAKE2s"
    public static let xxPrologue = Array("sluice mesh xx v1".utf8)
    /// Message-1 answers per second, node-wide.
    public static let xxResponsesPerSecond = 64
    /// Responder handshakes waiting for message 3.
    public static let xxMaxHalfOpen = 256
}

/// Offsets of the XX messages.
public enum MeshXXLayout {
    public static let message1NoiseOffset = 8
    public static let message2NoiseOffset = 12
    public static let message2NoiseLength = MeshConstants.responseSize - 12 - MeshMessageLayout.macsLength
    public static let message2PayloadLength = message2NoiseLength - 32 - 48 - 16
    public static let message3NoiseOffset = 12
    public static let message3NoiseLength = MeshConstants.initiationSize - 12 - MeshMessageLayout.macsLength
    public static let message3PayloadLength = message3NoiseLength - 48 - 16
    /// The key mac1 of messages 1 and 2 is computed with (a label's hash: public).
    static let labelKey = PublicKey(BLAKE2s.hash(Array("sluice mesh xx mac1".utf8)))!
}

/// Our XX dial waiting for message 2.
struct XXInitiation {
    let state: HandshakeState
    let started: Instant
}

/// Someone's XX dial we answered, waiting for message 3.
struct XXResponse {
    let state: HandshakeState
    let remoteIndex: UInt32
    let started: Instant
}

extension MeshHandshaker {
    /// Message 1 of an XX handshake to whoever answers at the endpoint it is sent to.
    public func initiateXX(now: Instant) -> [UInt8]? {
        let fresh = ephemeral()
        guard let state = try? HandshakeState(protocolName: MeshConstants.xxProtocolName, initiator: true,
                                              prologue: MeshConstants.xxPrologue, localStatic: identity.staticKey,
                                              localEphemeral: fresh),
              let noise = try? state.writeMessage(payload: []), noise.count == 32 else { return nil }
        // Forget dials that timed out: the table stays small.
        for (i, x) in xxInitiations where now - x.started >= WireGuardConstants.rekeyTimeout { xxInitiations[i] = nil }
        let index = newIndex()
        var message = [UInt8](repeating: 0, count: MeshConstants.initiationSize)
        message.withUnsafeMutableBytes { b in
            b.storeBytes(of: MeshConstants.xxInitiationType.littleEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: index.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
        message.replaceSubrange(8..<40, with: noise)
        var generator = CookieGenerator(remotePublicKey: MeshXXLayout.labelKey)
        message.withUnsafeMutableBytes { generator.addMACs($0, now: now) }
        xxInitiations[index] = XXInitiation(state: state, started: now)
        counters.initiationsSent &+= 1
        return message
    }

    func receiveXX(_ message: [UInt8], type: UInt32, from source: SocketAddressV4, now: Instant) -> MeshHandshakeResult {
        switch type {
        case MeshConstants.xxInitiationType: return receiveXX1(message, from: source, now: now)
        case MeshConstants.xxResponseType: return receiveXX2(message, from: source, now: now)
        default: return receiveXX3(message, from: source, now: now)
        }
    }

    func labelMAC1(_ message: [UInt8]) -> Bool {
        message.withUnsafeBytes { CookieChecker(localPublicKey: MeshXXLayout.labelKey).checkMAC1($0) }
    }

    func receiveXX1(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshHandshakeResult {
        guard labelMAC1(message) else { return drop(.badMAC1) }
        guard message[40..<MeshMessageLayout.initiationNoiseOffset + MeshMessageLayout.initiationNoiseLength]
                .allSatisfy({ $0 == 0 }) else { return drop(.payloadMalformed) }
        // The budget, before any Diffie–Hellman: node-wide, then per source.
        if now - xxWindowStart >= .seconds(1) { xxWindowStart = now; xxWindowCount = 0 }
        guard xxWindowCount < MeshConstants.xxResponsesPerSecond, rateLimiter.allow(source.address, now: now) else {
            return drop(.handshakeRateLimited)
        }
        xxWindowCount += 1
        let sender = message.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
        guard let state = try? HandshakeState(protocolName: MeshConstants.xxProtocolName, initiator: false,
                                              prologue: MeshConstants.xxPrologue, localStatic: identity.staticKey,
                                              generateEphemeral: { [unowned self] in self.ephemeral() }),
              (try? state.readMessage(Array(message[8..<40]))) != nil,
              let payload = HandshakePayload(timestamp: nil, chain: identity.chain).encode(length: MeshXXLayout.message2PayloadLength)
        else { return drop(.handshakeDecryptFailed) }
        counters.initiationsOpened &+= 1
        guard let noise = try? state.writeMessage(payload: payload), noise.count == MeshXXLayout.message2NoiseLength else {
            return drop(.handshakeDecryptFailed)
        }
        for (i, x) in xxResponses where now - x.started >= WireGuardConstants.rekeyTimeout { xxResponses[i] = nil }
        if xxResponses.count >= MeshConstants.xxMaxHalfOpen,
           let oldest = xxResponses.min(by: { ($0.value.started, $0.key) < ($1.value.started, $1.key) }) {
            xxResponses[oldest.key] = nil
        }
        let index = newIndex()
        var response = [UInt8](repeating: 0, count: MeshConstants.responseSize)
        response.withUnsafeMutableBytes { b in
            b.storeBytes(of: MeshConstants.xxResponseType.littleEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: index.littleEndian, toByteOffset: 4, as: UInt32.self)
            b.storeBytes(of: sender.littleEndian, toByteOffset: 8, as: UInt32.self)
        }
        response.replaceSubrange(MeshXXLayout.message2NoiseOffset..<(MeshXXLayout.message2NoiseOffset + noise.count), with: noise)
        var generator = CookieGenerator(remotePublicKey: MeshXXLayout.labelKey)
        response.withUnsafeMutableBytes { generator.addMACs($0, now: now) }
        xxResponses[index] = XXResponse(state: state, remoteIndex: sender, started: now)
        counters.responsesSent &+= 1
        return MeshHandshakeResult(reply: response)
    }

    /// Message 2 at the initiator: the responder's chain, then message 3 and the session.
    func receiveXX2(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshHandshakeResult {
        let (sender, receiver) = message.withUnsafeBytes {
            (UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
             UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        guard let x = xxInitiations[receiver] else { return drop(.unknownIndex) }
        guard labelMAC1(message) else { return drop(.badMAC1) }
        let o = MeshXXLayout.message2NoiseOffset
        // A forged message 2 spoils the Noise state (readMessage mixes before it fails): the dial is abandoned and a
        // new one is needed, as with a lost response.
        guard let plain = try? x.state.readMessage(Array(message[o..<(o + MeshXXLayout.message2NoiseLength)])),
              let peerStatic = x.state.remoteStatic else {
            xxInitiations[receiver] = nil
            return drop(.handshakeDecryptFailed)
        }
        xxInitiations[receiver] = nil
        let payload: HandshakePayload
        do throws(HandshakePayload.Failure) { payload = try HandshakePayload.decode(plain, withTimestamp: false) } catch {
            if case .certificate(let e) = error { return reject(e) }
            return drop(.payloadMalformed)
        }
        let chain: ValidatedChain
        do throws(CertificateError) { chain = try verifier.validate(payload.chain, now: unixSeconds(now)) } catch { return reject(error) }
        guard chain.node.fields.subjectKey == peerStatic else { return drop(.keyMismatch) }
        let timestamp = TAI64N(unixNanoseconds: wallClock.unixNanoseconds(at: now)).whitened
        guard let ours = HandshakePayload(timestamp: timestamp, chain: identity.chain).encode(length: MeshXXLayout.message3PayloadLength),
              let noise = try? x.state.writeMessage(payload: ours), noise.count == MeshXXLayout.message3NoiseLength,
              let keys = try? x.state.split(), let sendKey = keys.initiatorToResponder.key,
              let receiveKey = keys.responderToInitiator.key else { return drop(.handshakeDecryptFailed) }
        var confirmation = [UInt8](repeating: 0, count: MeshConstants.initiationSize)
        confirmation.withUnsafeMutableBytes { b in
            b.storeBytes(of: MeshConstants.xxConfirmationType.littleEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: receiver.littleEndian, toByteOffset: 4, as: UInt32.self)
            b.storeBytes(of: sender.littleEndian, toByteOffset: 8, as: UInt32.self)
        }
        let o3 = MeshXXLayout.message3NoiseOffset
        confirmation.replaceSubrange(o3..<(o3 + noise.count), with: noise)
        var generator = cookieGenerators[peerStatic] ?? CookieGenerator(remotePublicKey: peerStatic)
        confirmation.withUnsafeMutableBytes { generator.addMACs($0, now: now) }
        cookieGenerators[peerStatic] = generator
        let keypair = Keypair.session(sendKey: sendKey, receiveKey: receiveKey, isInitiator: true, created: now,
                                      localIndex: receiver, remoteIndex: sender, limits: limits)
        let session = MeshSession(peerChain: payload.chain, peer: chain, peerStatic: peerStatic, keypair: keypair)
        admit(session)
        counters.sessionsEstablished &+= 1
        return MeshHandshakeResult(reply: confirmation, session: session)
    }

    /// Message 3 at the responder: the initiator's static key and chain; the session.
    func receiveXX3(_ message: [UInt8], from source: SocketAddressV4, now: Instant) -> MeshHandshakeResult {
        let (sender, receiver) = message.withUnsafeBytes {
            (UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
             UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        guard let x = xxResponses[receiver], x.remoteIndex == sender else { return drop(.unknownIndex) }
        if let early = checkMACs(message, from: source, now: now) { return early }
        let o = MeshXXLayout.message3NoiseOffset
        guard let plain = try? x.state.readMessage(Array(message[o..<(o + MeshXXLayout.message3NoiseLength)])),
              let peerStatic = x.state.remoteStatic else {
            xxResponses[receiver] = nil
            return drop(.handshakeDecryptFailed)
        }
        xxResponses[receiver] = nil
        let payload: HandshakePayload
        do throws(HandshakePayload.Failure) { payload = try HandshakePayload.decode(plain, withTimestamp: true) } catch {
            if case .certificate(let e) = error { return reject(e) }
            return drop(.payloadMalformed)
        }
        guard let timestamp = payload.timestamp else { return drop(.payloadMalformed) }
        if let last = lastTimestamp[peerStatic], !(timestamp > last) { return drop(.staleTimestamp) }
        if let last = lastInitiation[peerStatic], now - last <= MeshConstants.initiationRate { return drop(.handshakeFlood) }
        let chain: ValidatedChain
        do throws(CertificateError) { chain = try verifier.validate(payload.chain, now: unixSeconds(now)) } catch { return reject(error) }
        guard chain.node.fields.subjectKey == peerStatic else { return drop(.keyMismatch) }
        guard let keys = try? x.state.split(), let receiveKey = keys.initiatorToResponder.key,
              let sendKey = keys.responderToInitiator.key else { return drop(.handshakeDecryptFailed) }
        lastTimestamp[peerStatic] = timestamp
        lastInitiation[peerStatic] = now
        let keypair = Keypair.session(sendKey: sendKey, receiveKey: receiveKey, isInitiator: false, created: now,
                                      localIndex: receiver, remoteIndex: sender, limits: limits)
        let session = MeshSession(peerChain: payload.chain, peer: chain, peerStatic: peerStatic, keypair: keypair)
        admit(session)
        counters.sessionsEstablished &+= 1
        return MeshHandshakeResult(session: session)
    }
}
