// Golden byte vectors for the mesh handshake (fixtures/vectors/mesh-handshake.json): fixed signing seeds, static
// keys, random seeds (from which the ephemerals and indices are drawn, also recorded) and wall time; the test
// rebuilds every certificate, both handshake messages and one transport message each way, byte for byte.
// Regenerate (only when the format changes on purpose): SLUICE_WRITE_MESH_VECTORS=1 swift test --filter MeshVector
import Basics
import Crypto
import Foundation
import Noise
import Testing
import Wire
@testable import Mesh

private let vectorURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures/vectors/mesh-handshake.json")

/// Everything the vector records, computed now.
private func computeVector() throws -> [String: String] {
    let p = Pair(seed: 1)
    var out: [String: String] = [:]
    out["protocol"] = MeshConstants.protocolName
    out["prologue"] = MeshConstants.prologue.hex
    out["unix_time_ns"] = String(fixtureClock.unixNanoseconds)
    out["root_signing_seed"] = p.pki.rootKey.seed.withUnsafeBytes { Array($0) }.hex
    out["org_signing_seed"] = p.pki.orgKey.seed.withUnsafeBytes { Array($0) }.hex
    out["root_certificate"] = p.pki.root.encoded.hex
    out["org_certificate"] = p.pki.org.encoded.hex
    out["initiator_static_private"] = p.keyA.privateKey.withUnsafeBytes { Array($0) }.hex
    out["responder_static_private"] = p.keyB.privateKey.withUnsafeBytes { Array($0) }.hex
    out["initiator_chain"] = p.a.identity.chain.map(\.encoded.hex).joined(separator: ",")
    out["responder_chain"] = p.b.identity.chain.map(\.encoded.hex).joined(separator: ",")
    // The draws each handshaker makes: an ephemeral key pair (four words), then an index (one word).
    for (name, component) in [("initiator", "a"), ("responder", "b")] {
        var g = SeededRandom(seed: 1, component: component)
        out["\(name)_ephemeral_private"] = KeyPair.deterministic(using: &g).privateKey.withUnsafeBytes { Array($0) }.hex
        out["\(name)_index"] = String(UInt32(truncatingIfNeeded: g.next()))
    }
    let initiation = try #require(p.a.initiate(to: p.keyB.publicKey, now: .zero))
    let r1 = p.b.receive(initiation, from: addressA, now: .zero)
    let response = try #require(r1.reply)
    let r2 = p.a.receive(response, from: addressB, now: .zero)
    let a = try #require(r2.session), b = try #require(r1.session)
    out["initiation"] = initiation.hex
    out["response"] = response.hex
    var m = transportBuffer(source: IPv4Address(10, 99, 1, 5))
    let n = try #require(m.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: .zero) })
    out["transport_initiator_to_responder"] = Array(m.prefix(n)).hex
    var back = transportBuffer(source: IPv4Address(10, 99, 0, 9))
    let k = try #require(back.withUnsafeMutableBytes { p.b.seal(b, packet: $0, count: 64, now: .zero) })
    out["transport_responder_to_initiator"] = Array(back.prefix(k)).hex
    return out
}

@Test func meshHandshakeVectorsReproduceByteForByte() throws {
    let computed = try computeVector()
    if ProcessInfo.processInfo.environment["SLUICE_WRITE_MESH_VECTORS"] == "1" {
        var document: [String: Any] = computed
        document["description"] = "Sluice mesh handshake (docs/mesh.md): Noise IKpsk2 with certificate chains in the payloads, "
            + "WireGuard framing and transport. Hex unless noted; *_index and unix_time_ns are decimal; chains are comma-separated."
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: vectorURL)
        print("wrote \(vectorURL.path) — this run compared nothing; run again without SLUICE_WRITE_MESH_VECTORS")
        return
    }
    let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: vectorURL)) as! [String: Any]
    for (key, value) in computed.sorted(by: { $0.key < $1.key }) {
        #expect(stored[key] as? String == value, "field \(key) differs from the committed vector")
    }
    #expect(Set(stored.keys).subtracting(["description"]) == Set(computed.keys))
    #expect([UInt8](hex: computed["initiation"]!)!.count == 1024 && [UInt8](hex: computed["response"]!)!.count == 1024)
}

/// The initiation's Noise message read by the generic Noise HandshakeState from the recorded keys alone: the
/// layout is type | index | Noise message | mac1 | mac2, and the payload starts with the recorded time.
@Test func theVectorsInitiationOpensWithGenericNoise() throws {
    let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: vectorURL)) as! [String: Any]
    let initiation = [UInt8](hex: stored["initiation"] as! String)!
    let responder = KeyPair(privateKey: SecretKey(hex: stored["responder_static_private"] as! String)!)
    let hs = try HandshakeState(protocolName: stored["protocol"] as! String, initiator: false,
                                prologue: [UInt8](hex: stored["prologue"] as! String)!, localStatic: responder,
                                presharedKeys: [SecretKey()], generateEphemeral: { KeyPair.random() })
    let payload = try hs.readMessage(Array(initiation[8..<992]))
    let initiatorStatic = KeyPair(privateKey: SecretKey(hex: stored["initiator_static_private"] as! String)!).publicKey
    #expect(hs.remoteStatic == initiatorStatic)
    let ns = UInt64(stored["unix_time_ns"] as! String)!
    #expect(Array(payload.prefix(12)) == TAI64N(unixNanoseconds: ns).whitened.bytes)
    let chain = (stored["initiator_chain"] as! String).split(separator: ",").map { [UInt8](hex: String($0))! }
    #expect(Int(payload[12]) == chain.count)
    #expect(Array(payload[15..<(15 + chain[0].count)]) == chain[0])
    let ephemeral = KeyPair(privateKey: SecretKey(hex: stored["initiator_ephemeral_private"] as! String)!).publicKey
    #expect(Array(initiation[8..<40]) == ephemeral.bytes)
    #expect(initiation.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
            == UInt32(stored["initiator_index"] as! String)!.littleEndian)
}
