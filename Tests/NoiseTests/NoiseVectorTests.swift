// Every Noise_*_25519_ChaChaPoly_BLAKE2s case of the cacophony vectors (fixtures/vectors/…json): fixed ephemerals,
// each handshake message's bytes, the final handshake hash, then the transport messages both ways.
import Foundation
import Testing
import Crypto
@testable import Noise

/// The package root, found from this file's path (Tests/NoiseTests/<file>).
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

struct NoiseVector: Sendable, CustomTestStringConvertible {
    let fields: [String: String]
    let psks: (initiator: [String], responder: [String])
    let messages: [(payload: String, ciphertext: String)]
    var protocolName: String { fields["protocol_name"]! }
    var testDescription: String { protocolName }
}

private func loadVectors() throws -> [NoiseVector] {
    let url = packageRoot.appendingPathComponent("fixtures/vectors/noise-25519-chachapoly-blake2s.json")
    let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    return (root["vectors"] as! [[String: Any]]).map { v in
        NoiseVector(
            fields: v.compactMapValues { $0 as? String },
            psks: (v["init_psks"] as? [String] ?? [], v["resp_psks"] as? [String] ?? []),
            messages: (v["messages"] as! [[String: String]]).map { ($0["payload"]!, $0["ciphertext"]!) })
    }
}

private let vectors: [NoiseVector] = (try? loadVectors()) ?? []

@Test func theFixtureHasVectorsAndWeSupportEveryPattern() {
    #expect(vectors.count == 59)
    let names = vectors.map(\.protocolName)
    let unsupported = names.filter { (try? HandshakeState(protocolName: $0, initiator: true, presharedKeys: [])) == nil
        && HandshakePattern.named(String($0.split(separator: "_")[1])) == nil }
    #expect(unsupported.isEmpty, "unsupported: \(unsupported)")
    print("Noise vectors in fixture: \(vectors.count); patterns supported: \(names.count - unsupported.count)")
}

@Test(arguments: vectors)
func cacophonyVector(_ v: NoiseVector) throws {
    func pair(_ key: String) -> KeyPair? { v.fields[key].map { KeyPair(privateKey: SecretKey(hex: $0)!) } }
    func pub(_ key: String) -> PublicKey? { v.fields[key].map { PublicKey(hex: $0)! } }
    let noEphemeral: () -> KeyPair = { Issue.record("a vector must not need a fresh ephemeral"); return .random() }
    let initiator = try HandshakeState(
        protocolName: v.protocolName, initiator: true, prologue: [UInt8](hex: v.fields["init_prologue"]!)!,
        localStatic: pair("init_static"), localEphemeral: pair("init_ephemeral"),
        remoteStatic: pub("init_remote_static"), presharedKeys: v.psks.initiator.map { SecretKey(hex: $0)! },
        generateEphemeral: noEphemeral)
    let responder = try HandshakeState(
        protocolName: v.protocolName, initiator: false, prologue: [UInt8](hex: v.fields["resp_prologue"]!)!,
        localStatic: pair("resp_static"), localEphemeral: pair("resp_ephemeral"),
        remoteStatic: pub("resp_remote_static"), presharedKeys: v.psks.responder.map { SecretKey(hex: $0)! },
        generateEphemeral: noEphemeral)

    let handshakeLength = initiator.pattern.messages.count
    var transport: (i2r: CipherState, r2i: CipherState)? = nil
    var transportR: (i2r: CipherState, r2i: CipherState)? = nil
    for (index, message) in v.messages.enumerated() {
        let payload = [UInt8](hex: message.payload)!, expected = [UInt8](hex: message.ciphertext)!
        // Messages alternate initiator/responder; after a one-way pattern only the initiator sends.
        let fromInitiator = initiator.pattern.isOneWay || index % 2 == 0
        if index < handshakeLength {
            let (writer, reader) = fromInitiator ? (initiator, responder) : (responder, initiator)
            let written = try writer.writeMessage(payload: payload)
            #expect(written.hex == message.ciphertext, "\(v.protocolName) handshake message \(index)")
            #expect(try reader.readMessage(written) == payload, "\(v.protocolName) message \(index) payload")
            if index == handshakeLength - 1 {
                #expect(initiator.isFinished && responder.isFinished)
                #expect(initiator.handshakeHash.hex == v.fields["handshake_hash"]!, "\(v.protocolName) h")
                #expect(responder.handshakeHash == initiator.handshakeHash)
                let a = try initiator.split(), b = try responder.split()
                transport = (a.initiatorToResponder, a.responderToInitiator)
                transportR = (b.initiatorToResponder, b.responderToInitiator)
            }
        } else {
            guard transport != nil, transportR != nil else { Issue.record("no split"); return }
            if fromInitiator {
                let c = try transport!.i2r.encrypt(payload)
                #expect(c == expected, "\(v.protocolName) transport \(index)")
                #expect(try transportR!.i2r.decrypt(c) == payload)
            } else {
                let c = try transportR!.r2i.encrypt(payload)
                #expect(c == expected, "\(v.protocolName) transport \(index)")
                #expect(try transport!.r2i.decrypt(c) == payload)
            }
        }
    }
}

@Test func tamperedHandshakeMessagesAreRejected() throws {
    let rs = KeyPair.random(), ls = KeyPair.random()
    let psk = SecretKey.random()
    let fresh = { KeyPair.random() }  // HandshakeState picks no random source itself
    let i = try HandshakeState(protocolName: "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", initiator: true,
                               localStatic: ls, remoteStatic: rs.publicKey, presharedKeys: [psk], generateEphemeral: fresh)
    let first = try i.writeMessage(payload: Array("hello".utf8))
    for position in [0, 40, first.count - 1] {
        var bad = first
        bad[position] ^= 0x20
        let r = try HandshakeState(protocolName: "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", initiator: false,
                                   localStatic: rs, presharedKeys: [psk], generateEphemeral: fresh)
        #expect(throws: NoiseError.self) { _ = try r.readMessage(bad) }
    }
    // A responder with another psk reads message 1 (psk2 is mixed after it) but its reply fails to decrypt.
    let r = try HandshakeState(protocolName: "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", initiator: false,
                               localStatic: rs, presharedKeys: [.random()], generateEphemeral: fresh)
    #expect(try r.readMessage(first) == Array("hello".utf8))
    let reply = try r.writeMessage()
    #expect(throws: NoiseError.decryptFailed) { _ = try i.readMessage(reply) }
    // Truncated, out of turn, unknown protocols.
    let r2 = try HandshakeState(protocolName: "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", initiator: false,
                                localStatic: rs, presharedKeys: [psk], generateEphemeral: fresh)
    #expect(throws: NoiseError.truncated) { _ = try r2.readMessage(Array(first.prefix(31))) }
    #expect(throws: NoiseError.outOfTurn) { _ = try r2.writeMessage() }
    #expect(throws: NoiseError.self) { _ = try HandshakeState(protocolName: "Noise_ZZ_25519_ChaChaPoly_BLAKE2s", initiator: true) }
    #expect(throws: NoiseError.self) { _ = try HandshakeState(protocolName: "Noise_XX_448_AESGCM_SHA512", initiator: true) }
    #expect(throws: NoiseError.missingKey("psk")) { _ = try HandshakeState(protocolName: "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s", initiator: true) }
}

@Test func pskModifiersPlaceTheToken() {
    #expect(HandshakePattern.named("NNpsk0")?.messages.first?.first == .psk)
    #expect(HandshakePattern.named("IKpsk2")?.messages[1].last == .psk)
    #expect(HandshakePattern.named("XXpsk0+psk3")?.pskCount == 2)
    #expect(HandshakePattern.named("IKpsk3") == nil)
    #expect(HandshakePattern.named("IKpskx") == nil)
    #expect(HandshakePattern.named("IK")?.messages.count == 2)
    #expect(HandshakePattern.baseNames.count == 38)
}

@Test func cipherStateRekeyAndNonceLimit() throws {
    var a = CipherState(key: SecretKey.random())
    var b = CipherState(key: a.key)
    let c1 = try a.encrypt([1, 2, 3])
    #expect(try b.decrypt(c1) == [1, 2, 3])
    a.rekey(); b.rekey()
    #expect(a.key! == b.key!)
    let c2 = try a.encrypt([4])
    #expect(try b.decrypt(c2) == [4])
    var c = CipherState(key: SecretKey.random())
    c.setNonce(.max)
    #expect(throws: NoiseError.nonceExhausted) { _ = try c.encrypt([]) }
    var empty = CipherState()
    #expect(try empty.encrypt([9]) == [9])
}
