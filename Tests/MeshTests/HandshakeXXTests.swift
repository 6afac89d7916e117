// Noise XX for a peer whose static key is unknown (docs/mesh.md, "XX"): A knows only B's endpoint; three 1024-byte
// messages give both sides a session whose peer is the certificate's node; bad inputs refused with no session, a
// counter and no larger reply; the node engine dials by endpoint and pings.
import Basics
import Crypto
import Foundation
import Noise
import Testing
import Wire
@testable import Mesh
@testable import WireGuard

/// A dials B by XX; returns both sessions and the three messages.
func xxHandshake(_ p: Pair, now: Instant = .zero) throws -> (MeshSession, MeshSession, [[UInt8]]) {
    let m1 = try #require(p.a.initiateXX(now: now))
    let r1 = p.b.receive(m1, from: addressA, now: now)
    let m2 = try #require(r1.reply)
    #expect(r1.session == nil && m2.count <= m1.count)
    let r2 = p.a.receive(m2, from: addressB, now: now)
    let m3 = try #require(r2.reply)
    let a = try #require(r2.session)
    let r3 = p.b.receive(m3, from: addressA, now: now)
    let b = try #require(r3.session)
    #expect(r3.reply == nil)
    return (a, b, [m1, m2, m3])
}

@Test func xxGivesBothSidesASessionWithTheCertifiedPeer() throws {
    let p = Pair()
    let (a, b, messages) = try xxHandshake(p)
    #expect(messages.map(\.count) == [1024, 1024, 1024])
    #expect(messages.map { $0[0] } == [0x15, 0x16, 0x17])
    #expect(a.peerStatic == p.keyB.publicKey && a.peer.node.fields.name == "b")
    #expect(b.peerStatic == p.keyA.publicKey && b.peer.node.fields.name == "node")
    // Data both ways over WireGuard's transport.
    var m = transportBuffer(source: IPv4Address(10, 99, 1, 5))
    let n = try #require(m.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: .zero) })
    guard case .packet = m.withUnsafeMutableBytes({ p.b.open(message: $0, count: n, now: .zero) }) else {
        Issue.record("B did not open A's packet"); return
    }
    var back = transportBuffer(source: IPv4Address(10, 99, 0, 9))
    let k = try #require(back.withUnsafeMutableBytes { p.b.seal(b, packet: $0, count: 64, now: .zero) })
    guard case .packet = back.withUnsafeMutableBytes({ p.a.open(message: $0, count: k, now: .zero) }) else {
        Issue.record("A did not open B's packet"); return
    }
    // No key was known beforehand: message 1 names none, and its padding is zero.
    #expect(!messages[0].contains(subsequence: p.keyB.publicKey.bytes))
}

@Test func xxBadInputsAreRefusedWithNoSession() throws {
    // A foreign CA at the responder: message 3's chain refused.
    let foreign = Pair(chainA: { _, key in PKI(seed: 99).chain(key: key) })
    let m1 = try #require(foreign.a.initiateXX(now: .zero))
    let m2 = try #require(foreign.b.receive(m1, from: addressA, now: .zero).reply)
    let r2 = foreign.a.receive(m2, from: addressB, now: .zero)
    let r3 = foreign.b.receive(try #require(r2.reply), from: addressA, now: .zero)
    #expect(r3.session == nil && r3.dropped == .certificateRejected && r3.reply == nil)
    #expect(foreign.b.counters.certificateRejections[.unknownIssuer] == 1 && foreign.b.sessions.isEmpty)

    // A certificate for another key (key ≠ Noise static).
    var g = SeededRandom(seed: 5, component: "other")
    let other = KeyPair.deterministic(using: &g)
    let mismatch = Pair(chainA: { pki, _ in pki.chain(key: other.publicKey) })
    let n1 = try #require(mismatch.a.initiateXX(now: .zero))
    let n2 = try #require(mismatch.b.receive(n1, from: addressA, now: .zero).reply)
    let n3 = try #require(mismatch.a.receive(n2, from: addressB, now: .zero).reply)
    let s3 = mismatch.b.receive(n3, from: addressA, now: .zero)
    #expect(s3.dropped == .keyMismatch && s3.session == nil)

    // Replayed message 3 (the half-open state is gone) and a replayed message 1 after a session (a new half-open
    // state that never completes) — neither makes a second session.
    let p = Pair()
    let (_, _, messages) = try xxHandshake(p)
    let again = p.b.receive(messages[2], from: addressA, now: at(.seconds(1)))
    #expect(again.dropped == .unknownIndex && again.session == nil)
    #expect(p.b.sessions.count == 1)

    // Altered message 2 at the initiator: decrypt fails, no session, the dial is abandoned.
    let q = Pair()
    let q1 = try #require(q.a.initiateXX(now: .zero))
    var q2 = try #require(q.b.receive(q1, from: addressA, now: .zero).reply)
    q2[200] ^= 1
    // mac1 of message 2 is a public label's: recompute it so the Noise layer is what refuses.
    var generator = CookieGenerator(remotePublicKey: MeshXXLayout.labelKey)
    q2.withUnsafeMutableBytes { generator.addMACs($0, now: .zero) }
    let rq = q.a.receive(q2, from: addressB, now: .zero)
    #expect(rq.dropped == .handshakeDecryptFailed && rq.session == nil && rq.reply == nil)
}

@Test func aFloodOfXXFirstMessagesIsBudgetedAndBounded() throws {
    let p = Pair()
    // Bad mac1: no work.
    var g = SeededRandom(seed: 13, component: "xx-flood")
    for _ in 0..<5000 {
        var d = [UInt8](repeating: 0, count: 1024)
        for k in 4..<40 { d[k] = UInt8(truncatingIfNeeded: g.next()) }
        for k in 992..<1024 { d[k] = UInt8(truncatingIfNeeded: g.next()) }
        d[0] = 0x15; d[1] = 0; d[2] = 0; d[3] = 0
        #expect(p.b.receive(d, from: addressA, now: .zero).reply == nil)
    }
    #expect(p.b.counters.drops[.badMAC1] == 5000 && p.b.counters.initiationsOpened == 0)
    // Good mac1 from many sources in one second (one message replayed: message 1 carries no timestamp): at most 64
    // answered, and every answer is the request's size.
    let m1 = try #require(p.a.initiateXX(now: .zero))
    var answered = 0
    for i in 0..<1000 {
        let source = SocketAddressV4(address: IPv4Address(198, 51, UInt8(i / 250), UInt8(i % 250)), port: 1000)
        let r = p.b.receive(m1, from: source, now: at(.milliseconds(i)))
        if let reply = r.reply { answered += 1; #expect(reply.count == m1.count) }
    }
    #expect(answered == MeshConstants.xxResponsesPerSecond)
    #expect(p.b.counters.drops[.handshakeRateLimited] == UInt64(1000 - answered))
    // Over many seconds the half-open table stays bounded.
    for i in 0..<300 {
        let source = SocketAddressV4(address: IPv4Address(203, 0, UInt8(i / 250), UInt8(i % 250)), port: 1000)
        _ = p.b.receive(m1, from: source, now: at(.milliseconds(2000 + 20 * i)))
    }
    #expect(p.b.xxResponses.count <= MeshConstants.xxMaxHalfOpen)
    #expect(p.b.sessions.isEmpty)
}

@Test func aNodeDialsAnEndpointByXXAndPings() throws {
    // Two engines on MeshLab where A has no configured peers at all: it dials B's endpoint, B's certificate makes B
    // a peer, and a ping crosses both ways.
    let p = Pair()
    let nodeA = MeshNode(handshaker: p.a, configuration: MeshNodeConfiguration(peers: []), routing: StaticMeshRouting(peers: [], relays: []))
    let nodeB = MeshNode(handshaker: p.b, configuration: MeshNodeConfiguration(peers: []), routing: StaticMeshRouting(peers: [], relays: []))
    var inflight: [(MeshNodeAction, from: SocketAddressV4)] = nodeA.dial(endpoint: addressB, now: .zero).map { ($0, addressA) }
    var delivered: [SocketAddressV4: [[UInt8]]] = [:]
    func pump(_ now: Instant) {
        while !inflight.isEmpty {
            let (action, from) = inflight.removeFirst()
            switch action {
            case .send(let bytes, let to):
                let target = to == addressB ? nodeB : nodeA
                inflight += target.receive(datagram: bytes, from: from, now: now).map { ($0, to) }
            case .deliver(let packet):
                delivered[from, default: []].append(packet)
            }
        }
    }
    pump(.zero)
    #expect(nodeA.currentSession(with: p.keyB.publicKey) != nil)
    // A ping (an ICMP echo from A's address to B's) and B's answer.
    let ping = icmpEcho(from: IPv4Address(10, 99, 1, 5), to: IPv4Address(10, 99, 0, 9))
    inflight += nodeA.send(packet: ping, now: at(.milliseconds(10))).map { ($0, addressA) }
    pump(at(.milliseconds(10)))
    #expect(delivered[addressB]?.contains(ping) == true, "B got A's ping")
    let pong = icmpEcho(from: IPv4Address(10, 99, 0, 9), to: IPv4Address(10, 99, 1, 5))
    inflight += nodeB.send(packet: pong, now: at(.milliseconds(20))).map { ($0, addressB) }
    pump(at(.milliseconds(20)))
    #expect(delivered[addressA]?.contains(pong) == true, "A got B's answer")
}

/// A minimal IPv4 ICMP echo request (checksums left zero: the engine does not check them).
func icmpEcho(from s: IPv4Address, to d: IPv4Address) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: 28)
    b[0] = 0x45; b[3] = 28; b[8] = 64; b[9] = 1
    for i in 0..<4 { b[12 + i] = UInt8(truncatingIfNeeded: s.rawValue >> (24 - 8 * i)); b[16 + i] = UInt8(truncatingIfNeeded: d.rawValue >> (24 - 8 * i)) }
    b[20] = 8
    return b
}

extension Array where Element == UInt8 {
    func contains(subsequence s: [UInt8]) -> Bool {
        guard s.count <= count else { return false }
        return (0...(count - s.count)).contains { Array(self[$0..<($0 + s.count)]) == s }
    }
}

// MARK: Golden vectors (fixtures/vectors/mesh-xx.json; regenerate on purpose only:
// SLUICE_WRITE_MESH_VECTORS=1 swift test --filter xxVectors)

private let xxVectorURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures/vectors/mesh-xx.json")

private func computeXXVector() throws -> [String: String] {
    let p = Pair(seed: 1)
    var out: [String: String] = [:]
    out["protocol"] = MeshConstants.xxProtocolName
    out["prologue"] = MeshConstants.xxPrologue.hex
    out["unix_time_ns"] = String(fixtureClock.unixNanoseconds)
    out["initiator_static_private"] = p.keyA.privateKey.withUnsafeBytes { Array($0) }.hex
    out["responder_static_private"] = p.keyB.privateKey.withUnsafeBytes { Array($0) }.hex
    out["initiator_chain"] = p.a.identity.chain.map(\.encoded.hex).joined(separator: ",")
    out["responder_chain"] = p.b.identity.chain.map(\.encoded.hex).joined(separator: ",")
    for (name, component) in [("initiator", "a"), ("responder", "b")] {
        var g = SeededRandom(seed: 1, component: component)
        out["\(name)_ephemeral_private"] = KeyPair.deterministic(using: &g).privateKey.withUnsafeBytes { Array($0) }.hex
        out["\(name)_index"] = String(UInt32(truncatingIfNeeded: g.next()))
    }
    let (a, _, messages) = try xxHandshake(p)
    out["message1"] = messages[0].hex
    out["message2"] = messages[1].hex
    out["message3"] = messages[2].hex
    var m = transportBuffer(source: IPv4Address(10, 99, 1, 5))
    let n = try #require(m.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: .zero) })
    out["transport_initiator_to_responder"] = Array(m.prefix(n)).hex
    return out
}

@Test func xxVectorsReproduceByteForByte() throws {
    let computed = try computeXXVector()
    if ProcessInfo.processInfo.environment["SLUICE_WRITE_MESH_VECTORS"] == "1" {
        var document: [String: Any] = computed
        document["description"] = "Sluice mesh XX (docs/mesh.md, XX): Noise XX with certificate chains in messages 2 and 3, "
            + "WireGuard framing and transport. Hex unless noted; *_index and unix_time_ns are decimal; chains are comma-separated."
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: xxVectorURL)
        print("wrote \(xxVectorURL.path) — this run compared nothing; run again without SLUICE_WRITE_MESH_VECTORS")
        return
    }
    let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: xxVectorURL)) as! [String: Any]
    for (key, value) in computed.sorted(by: { $0.key < $1.key }) {
        #expect(stored[key] as? String == value, "field \(key) differs from the committed vector")
    }
    #expect(Set(stored.keys).subtracting(["description"]) == Set(computed.keys))
}

/// Message 1 and 2 read by the generic Noise HandshakeState from the recorded keys alone: the responder's chain is
/// in message 2's payload.
@Test func theXXVectorOpensWithGenericNoise() throws {
    let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: xxVectorURL)) as! [String: Any]
    let m1 = [UInt8](hex: stored["message1"] as! String)!, m2 = [UInt8](hex: stored["message2"] as! String)!
    let responder = KeyPair(privateKey: SecretKey(hex: stored["responder_static_private"] as! String)!)
    let initiatorEphemeral = KeyPair(privateKey: SecretKey(hex: stored["initiator_ephemeral_private"] as! String)!)
    let initiator = KeyPair(privateKey: SecretKey(hex: stored["initiator_static_private"] as! String)!)
    let hs = try HandshakeState(protocolName: stored["protocol"] as! String, initiator: true,
                                prologue: [UInt8](hex: stored["prologue"] as! String)!, localStatic: initiator,
                                localEphemeral: initiatorEphemeral)
    #expect(try hs.writeMessage(payload: []) == Array(m1[8..<40]))
    let payload = try hs.readMessage(Array(m2[12..<992]))
    #expect(hs.remoteStatic == responder.publicKey)
    let chain = (stored["responder_chain"] as! String).split(separator: ",").map { [UInt8](hex: String($0))! }
    #expect(Array(payload[3..<(3 + chain[0].count)]) == chain[0])
}
