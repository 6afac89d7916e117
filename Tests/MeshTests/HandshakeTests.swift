// The mesh handshake between two handshakers: sessions both ways over WireGuard's transport, each bad input
// rejected with no session, a per-reason counter and no larger reply, cookies under load, revocation closing live
// sessions, and 10^6 packets across three rekeys without a repeated (key, counter).
import Basics
import Crypto
import Testing
import Wire
@testable import Mesh
@testable import WireGuard

let addressA = SocketAddressV4(address: IPv4Address(192, 0, 2, 1), port: 4500)
let addressB = SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 4500)
/// The fixtures' time as a wall clock at Instant.zero.
let fixtureClock = WallClock(unixNanoseconds: UInt64(fixtureNow) * 1_000_000_000, at: .zero)

/// Two nodes of one PKI: A (10.99.1.5 under the organization CA) and B (10.99.0.9 under the root).
struct Pair {
    let pki = PKI()
    let a: MeshHandshaker
    let b: MeshHandshaker
    let keyA: KeyPair
    let keyB: KeyPair

    init(seed: UInt64 = 1, limits: WireGuardLimits = .init(), chainA: ((PKI, PublicKey) -> [Certificate])? = nil,
         revocations: RevocationSet = .init()) {
        var g = SeededRandom(seed: seed, component: "static")
        keyA = .deterministic(using: &g); keyB = .deterministic(using: &g)
        let pki = self.pki
        let ca = chainA?(pki, keyA.publicKey) ?? pki.chain(key: keyA.publicKey)
        let cb = pki.chain(key: keyB.publicKey, underOrg: false) { $0.addresses = [net("10.99.0.9/16")]; $0.name = "b" }
        a = MeshHandshaker(identity: MeshIdentity(unchecked: keyA, chain: ca),
                           verifier: CertificateVerifier(anchors: pki.anchors, revocations: revocations),
                           random: SeededRandom(seed: seed, component: "a"), wallClock: fixtureClock, limits: limits)
        b = MeshHandshaker(identity: MeshIdentity(staticKey: keyB, chain: cb)!,
                           verifier: CertificateVerifier(anchors: pki.anchors, revocations: revocations),
                           random: SeededRandom(seed: seed, component: "b"), wallClock: fixtureClock, limits: limits)
    }

    /// A initiates to B; returns (A's session, B's session) or the drop reasons seen.
    func handshake(now: Instant, psk: SecretKey? = nil) -> (MeshSession?, MeshSession?, MeshHandshakeResult, MeshHandshakeResult?) {
        let initiation = a.initiate(to: keyB.publicKey, presharedKey: psk, now: now)!
        let r1 = b.receive(initiation, from: addressA, now: now)
        #expect((r1.reply?.count ?? 0) <= initiation.count, "no reply larger than the request")
        guard let response = r1.reply, r1.session != nil else { return (nil, nil, r1, nil) }
        let r2 = a.receive(response, from: addressB, now: now)
        return (r2.session, r1.session, r1, r2)
    }
}

/// `d` after Instant.zero.
func at(_ d: Duration) -> Instant { .zero + d }

/// An IPv4 packet of `size` bytes from `source` placed at offset 16 of a transport buffer.
func transportBuffer(source: IPv4Address, size: Int = 64) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: 16 + size + 16 + 16)
    b[16] = 0x45; b[18] = UInt8(size >> 8); b[19] = UInt8(size & 0xFF); b[24] = 64; b[25] = 17
    b.withUnsafeMutableBytes { $0.storeBytes(of: source.rawValue.bigEndian, toByteOffset: 28, as: UInt32.self) }
    return b
}

@Test func aHandshakeGivesSessionsBothWaysOverWireGuardTransport() throws {
    let p = Pair()
    let (sa, sb, r1, r2) = p.handshake(now: .zero)
    let a = try #require(sa), b = try #require(sb)
    #expect(r1.reply?.count == MeshConstants.responseSize && r2?.dropped == nil)
    #expect(a.isInitiator && !b.isInitiator)
    #expect(a.peer.node.fields.name == "b" && b.peer.node.fields.organization == "acme")
    #expect(a.keypair.remoteIndex == b.localIndex && b.keypair.remoteIndex == a.localIndex)
    // A → B with A's address; B → A with B's.
    var m = transportBuffer(source: IPv4Address(10, 99, 1, 5))
    let n = try #require(m.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: .zero) })
    #expect(m[0] == 4, "WireGuard's transport type")
    let got = m.withUnsafeMutableBytes { p.b.open(message: $0, count: n, now: .zero) }
    #expect(got == .packet(localIndex: b.localIndex, range: 16..<80))
    var back = transportBuffer(source: IPv4Address(10, 99, 0, 9))
    let k = try #require(back.withUnsafeMutableBytes { p.b.seal(b, packet: $0, count: 64, now: .zero) })
    #expect(back.withUnsafeMutableBytes { p.a.open(message: $0, count: k, now: .zero) } == .packet(localIndex: a.localIndex, range: 16..<80))
    // A packet whose inner source A's certificate does not cover is dropped and counted; so is a prefix source allowed.
    var spoof = transportBuffer(source: IPv4Address(10, 99, 0, 77))
    let s = try #require(spoof.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: .zero) })
    #expect(spoof.withUnsafeMutableBytes { p.b.open(message: $0, count: s, now: .zero) } == .dropped(.disallowedSource))
    #expect(p.b.counters.drops[.disallowedSource] == 1)
    var routed = transportBuffer(source: IPv4Address(192, 168, 7, 20))
    let r = try #require(routed.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: .zero) })
    #expect(routed.withUnsafeMutableBytes { p.b.open(message: $0, count: r, now: .zero) } == .packet(localIndex: b.localIndex, range: 16..<80))
    // Replayed data: the same message twice.
    var again = transportBuffer(source: IPv4Address(10, 99, 1, 5))
    let n2 = try #require(again.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: .zero) })
    var replay = again
    #expect(again.withUnsafeMutableBytes { p.b.open(message: $0, count: n2, now: .zero) } == .packet(localIndex: b.localIndex, range: 16..<80))
    #expect(replay.withUnsafeMutableBytes { p.b.open(message: $0, count: n2, now: .zero) } == .dropped(.replayedCounter))
    #expect(p.b.counters.drops[.replayedCounter] == 1)
    print("mesh handshake: \(p.b.counters.summary)")
}

/// Runs a handshake where A presents `chain` (or uses `psk`) and checks B refuses it by `reason` (and
/// `certificate` when the chain is at fault) with no session and no reply.
func expectRefused(_ reason: MeshDropReason, certificate: CertificateError? = nil, at now: Instant = .zero,
                   chainA: ((PKI, PublicKey) -> [Certificate])? = nil, revocations: RevocationSet = .init(),
                   sourceLocation: SourceLocation = #_sourceLocation) {
    let p = Pair(chainA: chainA, revocations: revocations)
    let (_, sb, r1, _) = p.handshake(now: now)
    #expect(sb == nil && r1.reply == nil, sourceLocation: sourceLocation)
    #expect(r1.dropped == reason, sourceLocation: sourceLocation)
    #expect(p.b.sessions.isEmpty, sourceLocation: sourceLocation)
    #expect(p.b.counters.drops[reason] == 1 && p.b.counters.drops.total == 1, sourceLocation: sourceLocation)
    if let certificate {
        #expect(p.b.counters.certificateRejections[certificate] == 1, sourceLocation: sourceLocation)
    }
}

@Test func eachBadInitiationIsRefusedByReason() throws {
    // Forged signature.
    expectRefused(.certificateRejected, certificate: .badSignature) { pki, key in
        let forger = SigningKey(seed: SecretKey(hex: String(repeating: "44", count: 32))!)
        return [try! Certificate(signing: pki.nodeFields(key: key), with: forger), pki.org]
    }
    // Foreign CA.
    expectRefused(.certificateRejected, certificate: .unknownIssuer) { _, key in PKI(seed: 99).chain(key: key) }
    // Expired and not yet valid, each just past the 60 s of skew (the fixture clock is fixtureNow at .zero).
    expectRefused(.certificateRejected, certificate: .expired) { pki, key in
        pki.chain(key: key) { $0.notAfter = fixtureNow - 61 }
    }
    expectRefused(.certificateRejected, certificate: .notYetValid) { pki, key in
        pki.chain(key: key) { $0.notBefore = fixtureNow + 61 }
    }
    // Revoked serial, key, and CA.
    let pki = PKI()
    func list(serials: [RevokedSerial] = [], keys: [PublicKey] = []) -> RevocationSet {
        var s = RevocationSet()
        try! s.apply(try! RevocationList(signer: pki.rootKey, sequence: 1, issuedAt: 0, serials: serials, keys: keys), roots: pki.anchors)
        return s
    }
    expectRefused(.certificateRejected, certificate: .revokedSerial,
                  revocations: list(serials: [RevokedSerial(issuer: pki.org.keyID, serial: 100)]))
    var g = SeededRandom(seed: 1, component: "static")
    let keyA = KeyPair.deterministic(using: &g)
    expectRefused(.certificateRejected, certificate: .revokedKey, revocations: list(keys: [keyA.publicKey]))
    expectRefused(.certificateRejected, certificate: .revokedIssuer,
                  revocations: list(serials: [RevokedSerial(issuer: pki.root.keyID, serial: 2)]))
    // The certificate's key is not the Noise static key A proved it holds.
    expectRefused(.keyMismatch) { pki, _ in pki.chain(key: KeyPair(privateKey: SecretKey(hex: String(repeating: "77", count: 32))!).publicKey) }
}

@Test func replayedInitiationIsStaleAndCreatesNothing() throws {
    let p = Pair()
    let initiation = p.a.initiate(to: p.keyB.publicKey, now: .zero)!
    #expect(p.b.receive(initiation, from: addressA, now: .zero).session != nil)
    let replay = p.b.receive(initiation, from: addressA, now: at(.seconds(5)))
    #expect(replay.dropped == .staleTimestamp && replay.reply == nil && replay.session == nil)
    #expect(p.b.sessions.count == 1 && p.b.counters.drops[.staleTimestamp] == 1)
    // A fresh initiation within 20 ms of the last is a flood; after it, accepted (its timestamp is newer).
    let quick = p.a.initiate(to: p.keyB.publicKey, now: at(.milliseconds(17)))!
    #expect(p.b.receive(quick, from: addressA, now: at(.milliseconds(17))).dropped == .handshakeFlood)
    let later = p.a.initiate(to: p.keyB.publicKey, now: at(.milliseconds(40)))!
    #expect(p.b.receive(later, from: addressA, now: at(.milliseconds(40))).session != nil)
}

@Test func aFloodWithBadMAC1CostsNoDiffieHellman() throws {
    let p = Pair()
    var initiation = p.a.initiate(to: p.keyB.publicKey, now: .zero)!
    var replies = 0
    for i in 0..<10_000 {
        initiation[992 + i % 16] ^= UInt8(truncatingIfNeeded: i | 1)  // mac1 wrong
        let r = p.b.receive(initiation, from: addressA, now: at(.milliseconds(Int64(i))))
        if r.reply != nil { replies += 1 }
        initiation[992 + i % 16] ^= UInt8(truncatingIfNeeded: i | 1)
    }
    #expect(replies == 0)
    #expect(p.b.counters.drops[.badMAC1] == 10_000)
    #expect(p.b.counters.initiationsOpened == 0, "no Noise message opened, so no Diffie–Hellman")
    #expect(p.b.sessions.isEmpty)
    // Garbage of other sizes and types.
    #expect(p.b.receive([1, 2, 3], from: addressA, now: .zero).dropped == .badSize)
    #expect(p.b.receive([0x11, 0, 0, 0] + [UInt8](repeating: 0, count: 100), from: addressA, now: .zero).dropped == .badSize)
    #expect(p.b.receive([0x99, 0, 0, 0], from: addressA, now: .zero).dropped == .unknownMessageType)
    var altered = p.a.initiate(to: p.keyB.publicKey, now: at(.seconds(10)))!
    altered[500] ^= 1  // inside the encrypted payload; mac1 recomputed so the Noise check is what fails
    var gen = CookieGenerator(remotePublicKey: p.keyB.publicKey)
    altered.withUnsafeMutableBytes { gen.addMACs($0, now: at(.seconds(10))) }
    #expect(p.b.receive(altered, from: addressA, now: at(.seconds(10))).dropped == .handshakeDecryptFailed)
}

@Test func underLoadTheResponderAsksForACookieAndAcceptsMAC2() throws {
    let p = Pair()
    // Valid-mac1 initiations from many would-be peers: replay one initiation 70 times within a second.
    let initiation = p.a.initiate(to: p.keyB.publicKey, now: .zero)!
    var cookieReply: [UInt8]? = nil
    for i in 0..<70 {
        let r = p.b.receive(initiation, from: addressA, now: at(.milliseconds(Int64(i))))
        if r.dropped == .cookieRequired { cookieReply = r.reply }
        #expect((r.reply?.count ?? 0) <= initiation.count)
    }
    let reply = try #require(cookieReply)
    #expect(reply.count == 64 && p.b.counters.cookieRepliesSent > 0)
    // The initiator takes the cookie; its next initiation carries mac2 and gets through under load.
    let opened = p.b.counters.initiationsOpened
    #expect(p.a.receive(reply, from: addressB, now: at(.milliseconds(80))).dropped == nil)
    let next = p.a.initiate(to: p.keyB.publicKey, now: at(.milliseconds(100)))!
    let r = p.b.receive(next, from: addressA, now: at(.milliseconds(100)))
    #expect(r.session != nil && r.dropped == nil)
    #expect(p.b.counters.initiationsOpened == opened + 1)
    // A forged cookie reply is refused.
    var forged = reply
    forged[40] ^= 1
    _ = p.a.initiate(to: p.keyB.publicKey, now: at(.seconds(3)))
    let idx = p.a.pending.keys.max()!
    forged.withUnsafeMutableBytes { $0.storeBytes(of: idx.littleEndian, toByteOffset: 4, as: UInt32.self) }
    #expect(p.a.receive(forged, from: addressB, now: at(.seconds(3))).dropped == .badCookieReply)
}

@Test func aWrongPresharedKeyFailsAtTheInitiator() {
    let p = Pair()
    let (sa, sb, _, r2) = p.handshake(now: .zero, psk: SecretKey(hex: String(repeating: "99", count: 32))!)
    #expect(sb != nil, "psk2 is mixed after message 1: the responder cannot tell yet")
    #expect(sa == nil && r2?.dropped == .handshakeDecryptFailed)
    #expect(p.a.sessions.isEmpty)
}

@Test func aResponseConsumedTwiceIsRefused() throws {
    let p = Pair()
    let initiation = p.a.initiate(to: p.keyB.publicKey, now: .zero)!
    let response = try #require(p.b.receive(initiation, from: addressA, now: .zero).reply)
    #expect(p.a.receive(response, from: addressB, now: .zero).session != nil)
    #expect(p.a.receive(response, from: addressB, now: .zero).dropped == .unknownIndex)
}

@Test func aRevocationClosesLiveSessionsAtOnce() throws {
    let p = Pair()
    let (sa, sb, _, _) = p.handshake(now: .zero)
    let a = try #require(sa), b = try #require(sb)
    var set = RevocationSet()
    try set.apply(try RevocationList(signer: p.pki.rootKey, sequence: 1, issuedAt: fixtureNow,
                                     serials: [RevokedSerial(issuer: p.pki.org.keyID, serial: 100)], keys: []),
                  roots: p.pki.anchors)
    // B learns the list 300 ms later: A's session is closed in that same call, not at a later timer.
    let closed = p.b.updateRevocations(set, now: at(.milliseconds(300)))
    #expect(closed.count == 1 && closed[0] === b && b.isClosed)
    #expect(p.b.sessions.isEmpty && p.b.counters.sessionsClosedByRevocation == 1)
    var m = transportBuffer(source: IPv4Address(10, 99, 1, 5))
    let n = try #require(m.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: at(.milliseconds(301))) })
    #expect(m.withUnsafeMutableBytes { p.b.open(message: $0, count: n, now: at(.milliseconds(301))) } == .dropped(.unknownIndex))
    #expect(p.b.seal(b, packet: UnsafeMutableRawBufferPointer(start: nil, count: 0), count: 0, now: .zero) == nil)
    // A's side: B is not revoked, so A's session stays.
    #expect(p.a.updateRevocations(set, now: at(.milliseconds(300))).isEmpty)
}

/// Rimnet sealed every packet with nonce 0. Here: 10^6 packets, sessions rekeyed by a fresh handshake each time the
/// session passes Rekey-After-Messages (shrunk to 300 000), so four sessions and three rekeys — and no
/// (key, counter) pair is ever used twice; every packet arrives exactly once.
@Test func aMillionPacketsAcrossThreeRekeysNeverRepeatAKeyAndCounter() throws {
    let limits = WireGuardLimits(rekeyAfterMessages: 300_000)
    let p = Pair(limits: limits)
    var now = Instant.zero
    var (sa, sb, _, _) = p.handshake(now: now)
    var a = try #require(sa), b = try #require(sb)
    var keys: [[UInt8]] = [a.keypair.sendKey.withUnsafeBytes { Array($0) }]
    var used = Set<UInt64>()  // session ordinal << 40 | counter (counters stay below 2^40 here)
    used.reserveCapacity(1_000_000)
    var rekeys = 0, delivered = 0, repeats = 0
    var buffer = transportBuffer(source: IPv4Address(10, 99, 1, 5), size: 64)
    let template = buffer
    for _ in 0..<1_000_000 {
        if a.keypair.needsRekey(now: now, limits: limits) {
            now = now + .seconds(1)  // a newer TAI64N than the last initiation, past the flood guard
            (sa, sb, _, _) = p.handshake(now: now)
            p.a.remove(a); p.b.remove(b)
            a = try #require(sa); b = try #require(sb)
            keys.append(a.keypair.sendKey.withUnsafeBytes { Array($0) })
            rekeys += 1
        }
        let count = buffer.withUnsafeMutableBytes { out -> Int in
            template.withUnsafeBytes { out.copyMemory(from: $0) }
            return p.a.seal(a, packet: out, count: 64, now: now) ?? 0
        }
        let counter = buffer.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        if !used.insert(UInt64(keys.count - 1) << 40 | counter).inserted { repeats += 1 }
        if case .packet = buffer.withUnsafeMutableBytes({ p.b.open(message: $0, count: count, now: now) }) { delivered += 1 }
    }
    #expect(rekeys == 3)
    #expect(Set(keys).count == keys.count, "every session has its own send key")
    #expect(repeats == 0)
    #expect(used.count == 1_000_000)
    #expect(delivered == 1_000_000)
    print("1e6 packets: \(rekeys) rekeys, \(keys.count) distinct send keys, \(used.count) distinct (key, counter), \(delivered) delivered")
}

@Test func sessionsExpireAndInitiationsDoNotPileUp() throws {
    let p = Pair()
    for i in 0..<5 { _ = p.a.initiate(to: p.keyB.publicKey, now: at(.seconds(Int64(i)))) }
    #expect(p.a.pending.count == 1, "a new initiation to the same peer supersedes the last")
    let (sa, _, _, _) = p.handshake(now: at(.seconds(10)))
    _ = try #require(sa)
    #expect(p.a.removeExpired(now: at(.seconds(10 + 179))) == 0)
    #expect(p.a.removeExpired(now: at(.seconds(10 + 180))) == 1)
    #expect(p.a.sessions.isEmpty)
}

/// Hostile bytes of every size and type, with and without a correct mac1, to both sides: each is dropped and
/// counted, nothing is created, no reply is larger than what came in, nothing traps.
@Test func randomDatagramsAreDroppedAndCounted() throws {
    let p = Pair()
    _ = p.a.initiate(to: p.keyB.publicKey, now: .zero)
    var g = SeededRandom(seed: 42, component: "fuzz")
    var macs = CookieGenerator(remotePublicKey: p.keyB.publicKey)
    var dropped = 0
    for i in 0..<3000 {
        let size = [0, 3, 4, 31, 32, 64, 100, 1023, 1024, 1025][i % 10]
        var d = (0..<size).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        if size >= 4 { d[0] = [0x11, 0x12, 3, 4, 1][(i / 10) % 5]; d[1] = 0; d[2] = 0; d[3] = 0 }
        if size == 1024, (i / 50) % 2 == 0 { d.withUnsafeMutableBytes { macs.addMACs($0, now: .zero) } }
        for side in [p.a, p.b] {
            if d.count >= 4, d[0] == 4 {
                var copy = d
                if case .dropped = copy.withUnsafeMutableBytes({ side.open(message: $0, count: d.count, now: .zero) }) { dropped += 1 }
            } else {
                let r = side.receive(d, from: addressA, now: at(.seconds(Int64(i))))
                #expect(r.session == nil && (r.reply?.count ?? 0) <= d.count)
                if r.dropped != nil { dropped += 1 }
            }
        }
    }
    #expect(dropped == 6000)
    #expect(p.a.sessions.isEmpty && p.b.sessions.isEmpty)
    #expect(p.b.counters.drops[.handshakeDecryptFailed] > 0, "some reached the Noise check (good mac1)")
    print("random datagrams: A \(p.a.counters.summary); B \(p.b.counters.summary)")
}

/// Renewal: the node gets a new certificate for the same key before the old one expires. Its live session keeps
/// working; the next handshake presents the new certificate; a chain for another key is refused.
@Test func renewalKeepsSessionsAndTheNextHandshakeShowsTheNewCertificate() throws {
    let p = Pair()
    let (sa, sb, _, _) = p.handshake(now: .zero)
    let a = try #require(sa), b = try #require(sb)
    #expect(b.peer.node.fields.serial == 100)
    // A's certificate expires in 20 days' time at this clock: warned.
    let warnAt = Instant.zero + .seconds(365 * 86_400 - 20 * 86_400)
    #expect(p.a.expiryWarning(now: .zero) == nil)
    let warning: Int64? = p.a.expiryWarning(now: warnAt)
    #expect(warning == Int64(20 * 86_400), "\(String(describing: warning))")
    let renewed = p.pki.chain(key: p.keyA.publicKey) { $0.serial = 101; $0.notAfter = fixtureNow + 700 * day }
    #expect(p.a.renew(MeshIdentity(staticKey: p.keyA, chain: renewed)!))
    #expect(!p.a.renew(MeshIdentity(staticKey: p.keyB, chain: p.pki.chain(key: p.keyB.publicKey))!))
    #expect(p.a.expiryWarning(now: warnAt) == nil)
    var m = transportBuffer(source: IPv4Address(10, 99, 1, 5))
    let n = try #require(m.withUnsafeMutableBytes { p.a.seal(a, packet: $0, count: 64, now: at(.seconds(1))) })
    #expect(m.withUnsafeMutableBytes { p.b.open(message: $0, count: n, now: at(.seconds(1))) } == .packet(localIndex: b.localIndex, range: 16..<80))
    let (_, sb2, _, _) = p.handshake(now: at(.seconds(2)))
    #expect(try #require(sb2).peer.node.fields.serial == 101)
}

/// A forged response (right index, correct mac1 — which needs only the initiator's public key — but no valid Noise
/// message) is dropped and does not cost the initiator its handshake: the real response still completes it.
@Test func aForgedResponseDoesNotSpoilTheHandshake() throws {
    let p = Pair()
    let initiation = p.a.initiate(to: p.keyB.publicKey, now: .zero)!
    let response = try #require(p.b.receive(initiation, from: addressA, now: .zero).reply)
    var forged = response
    for i in 12..<992 { forged[i] ^= 0x5A }
    var macs = CookieGenerator(remotePublicKey: p.keyA.publicKey)
    forged.withUnsafeMutableBytes { macs.addMACs($0, now: .zero) }
    #expect(p.a.receive(forged, from: addressB, now: .zero).dropped == .handshakeDecryptFailed)
    #expect(p.a.receive(forged, from: addressB, now: .zero).dropped == .handshakeDecryptFailed)
    let r = p.a.receive(response, from: addressB, now: .zero)
    #expect(r.session != nil && r.dropped == nil)
}

/// A peer that handshakes again and again keeps at most three sessions on the other side (previous, current, next).
@Test func repeatedHandshakesKeepAtMostThreeSessionsPerPeer() throws {
    let p = Pair()
    var last: MeshSession? = nil
    for i in 0..<10 {
        let (_, sb, _, _) = p.handshake(now: at(.seconds(Int64(i))))
        last = try #require(sb)
    }
    #expect(p.b.sessions.count == MeshHandshaker.sessionsPerPeer)
    #expect(p.a.sessions.count == MeshHandshaker.sessionsPerPeer)
    #expect(p.b.sessions[last!.localIndex] === last)
}

/// Sharing a port with WireGuard: indices the other protocol holds are never handed out.
@Test func indicesHeldElsewhereAreSkipped() throws {
    let p = Pair()
    var g = SeededRandom(seed: 1, component: "a")
    _ = KeyPair.deterministic(using: &g)
    let first = UInt32(truncatingIfNeeded: g.next())
    p.a.indexInUseElsewhere = { $0 == first }
    let initiation = try #require(p.a.initiate(to: p.keyB.publicKey, now: .zero))
    let index = initiation.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
    #expect(index != first && index != 0)
    #expect(p.a.pending[index] != nil)
}

/// Per-peer pre-shared keys (as WireGuard's PresharedKey): the responder picks the key by the initiator's static
/// key after reading message 1. Same key both sides: a session; a key on one side only: the initiator refuses.
@Test func perPeerPresharedKeys() throws {
    let psk = SecretKey(hex: String(repeating: "ab", count: 32))!
    let p = Pair()
    p.a.presharedKeys[p.keyB.publicKey] = psk
    p.b.presharedKeys[p.keyA.publicKey] = psk
    let (sa, sb, _, _) = p.handshake(now: .zero)
    #expect(sa != nil && sb != nil)
    let q = Pair()
    q.b.presharedKeys[q.keyA.publicKey] = psk
    let (qa, _, _, r2) = q.handshake(now: .zero)
    #expect(qa == nil && r2?.dropped == .handshakeDecryptFailed)
}

/// Under load a valid cookie is not a licence to flood: the source is held to WireGuard's handshake rate (burst 5,
/// then 20 a second) before any Diffie–Hellman.
@Test func underLoadAValidCookieIsStillRateLimited() throws {
    let p = Pair()
    let first = p.a.initiate(to: p.keyB.publicKey, now: .zero)!
    var reply: [UInt8]? = nil
    for i in 0..<70 { let r = p.b.receive(first, from: addressA, now: at(.milliseconds(Int64(i)))); if r.dropped == .cookieRequired { reply = r.reply } }
    #expect(p.a.receive(try #require(reply), from: addressB, now: at(.milliseconds(70))).dropped == nil)
    // 20 initiations with mac2 within 10 ms (the same one: each needs the cookie check, not a new handshake).
    let withCookie = p.a.initiate(to: p.keyB.publicKey, now: at(.milliseconds(100)))!
    let opened = p.b.counters.initiationsOpened
    var limited = 0
    for i in 0..<20 {
        if p.b.receive(withCookie, from: addressA, now: at(.milliseconds(100) + .microseconds(Int64(i) * 500))).dropped == .handshakeRateLimited {
            limited += 1
        }
    }
    #expect(limited == 15, "a burst of 5 gets through, the rest of 20 within 10 ms does not")
    #expect(p.b.counters.initiationsOpened == opened + 5)
}
