// WireGuard's hand-written IKpsk2 (NoiseIK) against the generic Noise HandshakeState: same keys, same prologue
// (IDENTIFIER), same payloads (the TAI64N timestamp, then nothing) must give byte-identical messages and keys.
import Basics
import Crypto
import Noise
import Testing
@testable import WireGuard

@Test(arguments: [false, true])
func directHandshakeAgreesWithGenericNoise(withPSK: Bool) throws {
    var g = SeededRandom(seed: 7, component: "agreement")
    let initiator = KeyPair.deterministic(using: &g), responder = KeyPair.deterministic(using: &g)
    let ei = KeyPair.deterministic(using: &g), er = KeyPair.deterministic(using: &g)
    let psk = withPSK ? SecretKey.deterministic(using: &g) : SecretKey()
    let timestamp = TAI64N(unixNanoseconds: 1_700_000_000_123_456_789)

    // Direct.
    let hsI = Handshake(localStatic: initiator, remoteStatic: responder.publicKey, presharedKey: psk)
    let initiation = try #require(NoiseIK.createInitiation(hsI, localStatic: initiator, ephemeral: ei,
                                                           timestamp: timestamp, sender: 11))
    let opened = try #require(NoiseIK.openInitiation(initiation, localStatic: responder))
    #expect(opened.initiatorStatic == initiator.publicKey)
    let hsR = Handshake(localStatic: responder, remoteStatic: initiator.publicKey, presharedKey: psk)
    let (ts, hash, ck) = try #require(NoiseIK.finishInitiation(opened, hsR))
    #expect(ts == timestamp)
    hsR.hash = hash; hsR.chainKey.assign(ck); hsR.remoteIndex = initiation.sender
    hsR.remoteEphemeral = initiation.ephemeral; hsR.state = .initiationConsumed
    let response = try #require(NoiseIK.createResponse(hsR, ephemeral: er, sender: 22))
    #expect(NoiseIK.consumeResponse(response, hsI, localStatic: initiator))
    #expect(hsI.hash == hsR.hash, "both sides end with the same transcript hash")
    let handshakeHash = hsI.hash
    let keysI = try #require(NoiseIK.deriveTransportKeys(hsI))
    let keysR = try #require(NoiseIK.deriveTransportKeys(hsR))
    #expect(keysI.send == keysR.receive && keysI.receive == keysR.send)

    // Generic Noise with the same inputs.
    let name = WireGuardConstants.construction
    let prologue = Array(WireGuardConstants.identifier.utf8)
    let nI = try HandshakeState(protocolName: name, initiator: true, prologue: prologue, localStatic: initiator,
                                localEphemeral: ei, remoteStatic: responder.publicKey, presharedKeys: [psk])
    let nR = try HandshakeState(protocolName: name, initiator: false, prologue: prologue, localStatic: responder,
                                localEphemeral: er, presharedKeys: [psk])
    let m1 = try nI.writeMessage(payload: timestamp.bytes)
    #expect(m1 == Array(initiation.bytes[8..<116]), "initiation = type|sender ‖ Noise message 1 ‖ macs")
    #expect(try nR.readMessage(m1) == timestamp.bytes)
    let m2 = try nR.writeMessage(payload: [])
    #expect(m2 == Array(response.bytes[12..<60]), "response = type|sender|receiver ‖ Noise message 2 ‖ macs")
    _ = try nI.readMessage(m2)
    #expect(nI.handshakeHash == handshakeHash.bytes)
    // Noise's Split gives (initiator→responder, responder→initiator): WireGuard's (T_i^send, T_i^recv).
    var (c1, _) = try nI.split()
    var plain: [UInt8] = [1, 2, 3]
    let viaNoise = try c1.encrypt(plain)
    plain += [UInt8](repeating: 0, count: 16)
    plain.withUnsafeMutableBytes { _ = ChaCha20Poly1305.seal(key: keysI.send, counter: 0, buffer: $0, plaintextCount: 3) }
    #expect(viaNoise == plain)
}
