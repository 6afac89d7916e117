// The node engine in the in-memory lab (MeshLab.swift): pings direct and through a relay, failover to a relay when
// a direct link silently dies and failback when it heals, a spoofed inner source, replayed data, a relay request to
// a node without the relay capability, an 8-node mesh with nodes behind NAT, and 10^6 packets through the engine
// across three rekeys without a repeated (key, counter) pair.
import Basics
import Crypto
import Testing
import Wire
@testable import Mesh
@testable import WireGuard

@Test func threeNodesPingDirect() throws {
    let lab = MeshLab(count: 3, relays: [2])
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.run(until: at(.seconds(1)))
    #expect(lab.replies.map(\.sequence) == [1])
    #expect(lab.nodes[0].path(to: lab.key(1)) == .direct(lab.endpoint(1)))
    #expect(lab.nodes[1].path(to: lab.key(0)) == .direct(lab.endpoint(0)))
    #expect(lab.nodes[2].counters.relayed == 0)
    #expect(lab.delivered[2].isEmpty)
    // The request and the reply, each delivered once.
    #expect(lab.delivered[1].count == 1 && lab.delivered[0].count == 1)
}

/// Link 0–1 is cut from the start: the handshake's direct attempt goes unanswered, the engine moves it to the relay
/// (node 2), and the ping crosses nested inside the hop sessions. The relay forwards but never delivers.
@Test func threeNodesPingThroughARelay() throws {
    let lab = MeshLab(count: 3, relays: [2])
    lab.setCut(0, 1, true)
    lab.recordWire = true
    lab.ping(from: 0, to: 1, sequence: 7)
    lab.run(until: at(.seconds(6)))
    #expect(lab.replies.map(\.sequence) == [7])
    #expect(lab.nodes[0].path(to: lab.key(1)) == .relayed(via: lab.key(2)))
    #expect(lab.nodes[1].path(to: lab.key(0)) == .relayed(via: lab.key(2)))
    #expect(lab.nodes[2].counters.relayed >= 4, "handshake both ways, request, reply")
    #expect(lab.delivered[2].isEmpty, "the relay delivers nothing of its own")
    // End to end: 0 and 1 hold a session with each other although no datagram ever passed between them.
    #expect(lab.nodes[0].hasSession(with: lab.key(1)) && lab.nodes[1].hasSession(with: lab.key(0)))
    // The relay never saw plaintext: the echo request's bytes appear in no datagram.
    let request = lab.echo(from: 0, to: lab.overlay(1), sequence: 7)
    let needle = Array(request[4..<28])
    for d in lab.wire where d.bytes.count >= needle.count {
        #expect(!(0...(d.bytes.count - needle.count)).contains { Array(d.bytes[$0..<($0 + needle.count)]) == needle })
    }
    #expect(!lab.wire.isEmpty)
}

/// A silently failed direct link: traffic moves to the relay within the 3.5 s, and back to the direct path
/// once it returns (probed every second).
@Test func failoverToARelayAndFailback() throws {
    let lab = MeshLab(count: 3, relays: [2])
    var sequence: UInt16 = 0
    var sent: [UInt16: Instant] = [:]
    let tick: (Instant) -> Void = { now in
        sequence &+= 1
        sent[sequence] = now
        lab.ping(from: 0, to: 1, sequence: sequence)
    }
    lab.run(until: at(.seconds(10)), period: .milliseconds(100), every: tick)
    #expect(lab.nodes[0].path(to: lab.key(1)) == .direct(lab.endpoint(1)))
    let before = lab.replies.count
    #expect(before >= 95)

    let cutAt = lab.now
    lab.setCut(0, 1, true)
    lab.run(until: at(.seconds(20)), period: .milliseconds(100), every: tick)
    let after = lab.replies.dropFirst(before).filter { sent[$0.sequence]! >= cutAt }
    let firstAfterCut = try #require(after.first)
    let recovery = firstAfterCut.at - cutAt
    print("failover: first reply through the relay \(recovery) after the cut")
    #expect(recovery <= .milliseconds(3500))
    #expect(lab.nodes[0].path(to: lab.key(1)) == .relayed(via: lab.key(2)))
    #expect(lab.nodes[1].path(to: lab.key(0)) == .relayed(via: lab.key(2)))
    #expect(lab.nodes[0].counters.failovers == 1)
    // Once relayed, every ping is answered.
    let late = after.filter { $0.at >= cutAt + .seconds(4) }.count
    #expect(late >= 55)

    let healAt = lab.now
    lab.setCut(0, 1, false)
    var backAt: Instant?
    lab.run(until: at(.seconds(30)), period: .milliseconds(100)) { now in
        tick(now)
        if backAt == nil, lab.nodes[0].path(to: lab.key(1)) == .direct(lab.endpoint(1)),
           lab.nodes[1].path(to: lab.key(0)) == .direct(lab.endpoint(0)) { backAt = now }
    }
    let back = try #require(backAt)
    print("failback: both directions direct \(back - healAt) after the link returned")
    #expect(back - healAt <= .seconds(2))
    #expect(lab.nodes[0].counters.failbacks == 1)
    let relayedBefore = lab.nodes[2].counters.relayed
    lab.run(until: at(.seconds(32)), period: .milliseconds(100), every: tick)
    #expect(lab.nodes[2].counters.relayed == relayedBefore, "nothing goes through the relay after failback")
}

@Test func spoofedInnerSourceIsDroppedAndCounted() throws {
    let lab = MeshLab(count: 3, relays: [2])
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.run(until: at(.seconds(1)))
    let deliveredBefore = lab.delivered[1].count
    // Node 0 claims 10.99.1.12 (node 2's address) as its source: its certificate does not cover it.
    let spoofed = lab.echo(from: 0, to: lab.overlay(1), sequence: 2, source: lab.overlay(2))
    lab.handle(lab.nodes[0].send(packet: spoofed, now: lab.now), of: 0)
    lab.run(until: at(.seconds(2)))
    #expect(lab.drops(1, .disallowedSource) == 1)
    #expect(lab.delivered[1].count == deliveredBefore)
    // A prefix the configuration authorizes is accepted although the certificate lacks it.
    let lab2 = MeshLab(count: 2, relays: []) { config in
        config.peers = config.peers.map { var p = $0; p.prefixes = [net("172.16.0.0/16")]; return p }
    }
    lab2.ping(from: 0, to: 1, sequence: 1)
    lab2.run(until: at(.seconds(1)))
    let fromRoute = lab2.echo(from: 0, to: lab2.overlay(1), sequence: 3, source: IPv4Address(172, 16, 4, 4))
    lab2.handle(lab2.nodes[0].send(packet: fromRoute, now: lab2.now), of: 0)
    lab2.run(until: at(.seconds(2)))
    #expect(lab2.drops(1, .disallowedSource) == 0)
    #expect(lab2.delivered[1].contains(fromRoute))
}

@Test func replayedDataIsDroppedAndCounted() throws {
    let lab = MeshLab(count: 2, relays: [])
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.run(until: at(.seconds(1)))
    lab.recordWire = true
    lab.ping(from: 0, to: 1, sequence: 2)
    let captured = try #require(lab.wire.first { $0.from == 0 && $0.bytes.first == 4 })
    lab.run(until: at(.seconds(2)))
    let delivered = lab.delivered[1].count
    for _ in 0..<3 { lab.handle(lab.nodes[1].receive(datagram: captured.bytes, from: lab.endpoint(0), now: lab.now), of: 1) }
    #expect(lab.drops(1, .replayedCounter) == 3)
    #expect(lab.delivered[1].count == delivered)
}

/// Node 0 lists node 1 as its relay, but node 1's certificate lacks the capability: it refuses, counts, and node 2
/// (reachable from 0 only through a relay) receives nothing.
@Test func aNodeWithoutTheRelayCapabilityRefusesToRelay() throws {
    let lab = MeshLab(count: 3, relays: [], listedRelays: [1])
    lab.setCut(0, 2, true)
    lab.ping(from: 0, to: 2, sequence: 1)
    lab.run(until: at(.seconds(6)))
    #expect(lab.drops(1, .relayRefused) >= 1)
    #expect(lab.nodes[1].counters.relayed == 0)
    #expect(lab.delivered[2].isEmpty)
    #expect(lab.replies.isEmpty)
    // Configuration can also withhold relaying from a capable node.
    let lab2 = MeshLab(count: 3, relays: [1]) { $0.relay = false }
    lab2.setCut(0, 2, true)
    lab2.ping(from: 0, to: 2, sequence: 1)
    lab2.run(until: at(.seconds(6)))
    #expect(lab2.drops(1, .relayRefused) >= 1)
    #expect(lab2.delivered[2].isEmpty)
}

@Test func relayEnvelopeRoundTripAndRejections() throws {
    let lab = MeshLab(count: 2, relays: [])
    let e = RelayEnvelope(hopLimit: 3, destination: lab.key(0), source: lab.key(1), datagram: [4, 0, 0, 0, 9, 9])
    var bytes = try #require(e.encode())
    #expect(bytes.count == RelayEnvelope.headerSize + 6)
    bytes += [UInt8](repeating: 0, count: 10)  // the transport's padding
    #expect(bytes.withUnsafeBytes { RelayEnvelope(parsing: $0, range: 0..<$0.count) } == e)
    for n in 0..<(RelayEnvelope.headerSize + 6) {
        #expect(bytes.withUnsafeBytes { RelayEnvelope(parsing: $0, range: 0..<n) } == nil)
    }
    var long = bytes
    long[3] = 200  // a length past the plaintext
    #expect(long.withUnsafeBytes { RelayEnvelope(parsing: $0, range: 0..<$0.count) } == nil)
    #expect(RelayEnvelope(hopLimit: 1, destination: lab.key(0), source: lab.key(1),
                          datagram: [UInt8](repeating: 0, count: 70_000)).encode() == nil)
}

/// Eight nodes: 0 and 1 relay, 5–7 behind NAT (nobody has their endpoint, and their NAT admits only answers).
/// Every node pings every other; all 56 pairs answer — NAT to NAT through a relay. Then a link between two
/// public nodes dies silently and their pings recover through a relay within 3.5 s.
@Test func eightNodeMeshWithNATAndRelays() throws {
    let lab = MeshLab(count: 8, relays: [0, 1], behindNAT: [5, 6, 7])
    var sequence: UInt16 = 0
    var pairs: [UInt16: (Int, Int)] = [:]
    for a in 0..<8 { for b in 0..<8 where a != b {
        sequence += 1
        pairs[sequence] = (a, b)
        lab.ping(from: a, to: b, sequence: sequence)
    } }
    lab.run(until: at(.seconds(15)))
    let answered = Set(lab.replies.map(\.sequence))
    let missing = pairs.keys.filter { !answered.contains($0) }.map { pairs[$0]! }
    #expect(missing.isEmpty, "pairs without a reply: \(missing)")
    #expect(lab.nodes[5].path(to: lab.key(6)) == .relayed(via: lab.key(0)))
    #expect(lab.nodes[0].counters.relayed > 0)
    #expect(lab.delivered[0].count == 14 && lab.delivered[1].count == 14, "relays deliver only their own pings")

    lab.replies = []
    let cutAt = lab.now
    lab.setCut(2, 3, true)
    var s2: UInt16 = 1000
    var sent: [UInt16: Instant] = [:]
    lab.run(until: cutAt + .seconds(8), period: .milliseconds(100)) { now in
        s2 += 1
        sent[s2] = now
        lab.ping(from: 2, to: 3, sequence: s2)
    }
    let first = try #require(lab.replies.first { $0.node == 2 })
    print("8 nodes: 2–3 answered again \(first.at - cutAt) after the cut")
    #expect(first.at - cutAt <= .milliseconds(3500))
    #expect(lab.nodes[2].path(to: lab.key(3)) == .relayed(via: lab.key(0)))
}

/// Rimnet's bug through the engine: 10^6 packets from node 0 to node 1 with Rekey-After-Messages shrunk to 300 000,
/// so the engine rekeys three times on its own; no (session, counter) pair appears twice on the wire, every send key
/// differs, and every packet is delivered exactly once.
@Test func aMillionPacketsThroughTheEngineAcrossThreeRekeys() throws {
    let lab = MeshLab(count: 2, relays: [], limits: WireGuardLimits(rekeyAfterMessages: 300_000))
    let a = lab.nodes[0], b = lab.nodes[1]
    var now = Instant.zero
    // Back to back: every datagram is handed over at once, both ways, until quiet.
    func pump(_ actions: [MeshNodeAction], from i: Int, seen: inout Set<UInt64>, repeats: inout Int,
              sessions: inout [UInt32: UInt64], delivered: inout Int) {
        var queue = actions.map { (i, $0) }
        while !queue.isEmpty {
            let (from, action) = queue.removeFirst()
            switch action {
            case .send(let bytes, _):
                if from == 0, bytes.count >= 32, bytes[0] == 4 {
                    let receiver = UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24
                    var counter: UInt64 = 0
                    for k in 0..<8 { counter |= UInt64(bytes[8 + k]) << (8 * k) }
                    let ordinal: UInt64
                    if let o = sessions[receiver] { ordinal = o } else { ordinal = UInt64(sessions.count); sessions[receiver] = ordinal }
                    if !seen.insert(ordinal << 40 | counter).inserted { repeats += 1 }
                }
                let to = 1 - from
                queue += lab.nodes[to].receive(datagram: bytes, from: lab.endpoint(from), now: now).map { (to, $0) }
            case .deliver:
                if from == 1 { delivered += 1 }
            }
        }
    }
    var seen = Set<UInt64>()
    seen.reserveCapacity(1_000_100)
    var repeats = 0, delivered = 0
    var sessions: [UInt32: UInt64] = [:]
    var sendKeys: [[UInt8]] = []
    var packet = lab.echo(from: 0, to: lab.overlay(1), sequence: 0, reply: true)
    for n in 0..<1_000_000 {
        now = .zero + .microseconds(Int64(n))
        packet[26] = UInt8(truncatingIfNeeded: n >> 8); packet[27] = UInt8(truncatingIfNeeded: n)
        pump(a.send(packet: packet, now: now), from: 0, seen: &seen, repeats: &repeats, sessions: &sessions, delivered: &delivered)
        if n % 1000 == 0 {
            pump(a.tick(now: now), from: 0, seen: &seen, repeats: &repeats, sessions: &sessions, delivered: &delivered)
            pump(b.tick(now: now), from: 1, seen: &seen, repeats: &repeats, sessions: &sessions, delivered: &delivered)
        }
        if let s = a.currentSession(with: lab.key(1)) {
            let k = s.keypair.sendKey.withUnsafeBytes { Array($0) }
            if sendKeys.last != k { sendKeys.append(k) }
        }
    }
    print("engine, 1e6 packets: \(sendKeys.count) send keys, \(sessions.count) sessions on the wire, \(seen.count) distinct (session, counter), \(delivered) delivered")
    #expect(sendKeys.count == 4, "three rekeys")
    #expect(Set(sendKeys).count == sendKeys.count)
    #expect(repeats == 0)
    #expect(delivered == 1_000_000)
    #expect(lab.drops(1, .replayedCounter) == 0)
}

/// Multi-hop relaying comes from routing: a chain 0–1–2–3 (every other link cut), 1 and 2 relay, each node's static
/// routes point at its neighbour toward the far end. 0 and 3 handshake and ping end to end through two relays.
@Test func twoRelaysInARowFollowTheRoutes() throws {
    let lab = MeshLab(count: 4, relays: [1, 2])
    for a in 0..<4 { for b in (a + 1)..<4 where b - a > 1 { lab.setCut(a, b, true) } }
    for i in 0..<4 {
        var routes: [StaticMeshRouting.Route] = []
        for j in 0..<4 where j != i {
            let via = abs(i - j) == 1 ? j : (j > i ? i + 1 : i - 1)
            routes.append(.init(network: OverlayNetwork(family: 4, address: lab.overlay(j).octets, prefixLength: 32)!,
                                via: lab.key(via)))
        }
        lab.nodes[i].routing = StaticMeshRouting(routes: routes)
    }
    lab.ping(from: 0, to: 3, sequence: 1)
    lab.run(until: at(.seconds(3)))
    #expect(lab.replies.map(\.sequence) == [1])
    #expect(lab.nodes[0].path(to: lab.key(3)) == .relayed(via: lab.key(1)))
    #expect(lab.nodes[1].counters.relayed >= 4 && lab.nodes[2].counters.relayed >= 4)
    #expect(lab.delivered[1].isEmpty && lab.delivered[2].isEmpty)
    #expect(lab.nodes[0].hasSession(with: lab.key(3)))
    #expect((0..<4).allSatisfy { lab.drops($0, .relayHopLimit) == 0 && lab.drops($0, .noRoute) == 0 })
}

/// Envelopes that break the rules, sent by hand into a live hop session: a source that is not the sender (which
/// does not relay), a spent hop limit, and an envelope nested in a relayed datagram.
@Test func relayAbuseIsDroppedAndCounted() throws {
    let lab = MeshLab(count: 3, relays: [1])
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.ping(from: 2, to: 1, sequence: 2)
    lab.run(until: at(.seconds(1)))
    let n0 = lab.nodes[0]
    let hop = try #require(n0.peers[lab.key(1)])
    // 0 (no relay capability) claims to pass on an envelope from 2.
    let spoofed = RelayEnvelope(hopLimit: 8, destination: lab.key(1), source: lab.key(2), datagram: [4, 0, 0, 0]).encode()!
    n0.now = lab.now
    n0.sendHop(spoofed, to: hop)
    lab.handle(n0.take(), of: 0)
    // A hop limit of 1 reaches the relay, which may not pass it on.
    let spent = RelayEnvelope(hopLimit: 1, destination: lab.key(2), source: lab.key(0), datagram: [4, 0, 0, 0]).encode()!
    n0.sendHop(spent, to: hop)
    lab.handle(n0.take(), of: 0)
    lab.run(until: at(.seconds(2)))
    #expect(lab.drops(1, .relaySpoofed) == 1)
    #expect(lab.drops(1, .relayHopLimit) == 1)
    #expect(lab.nodes[1].counters.relayed == 0)
}

/// A revocation reaching a node closes its sessions with the revoked peer in the same call: what the peer sends
/// afterwards is refused, and nothing more is delivered from it.
@Test func aRevocationCutsAPeerOffAtOnce() throws {
    let lab = MeshLab(count: 2, relays: [])
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.run(until: at(.seconds(1)))
    #expect(lab.replies.count == 1)
    var set = RevocationSet()
    try set.apply(try RevocationList(signer: lab.pki.rootKey, sequence: 1, issuedAt: fixtureNow,
                                     serials: [RevokedSerial(issuer: lab.pki.org.keyID, serial: 100)], keys: []),
                  roots: lab.pki.anchors)
    #expect(lab.nodes[1].updateRevocations(set, now: lab.now) == [lab.key(0)])
    #expect(!lab.nodes[1].hasSession(with: lab.key(0)))
    let delivered = lab.delivered[1].count
    lab.ping(from: 0, to: 1, sequence: 2)
    // 0 does not know yet: its data is refused until, 15 s after sending without an answer (WireGuard §6.5), it
    // handshakes anew — and that is refused too.
    lab.run(until: at(.seconds(20)))
    #expect(lab.delivered[1].count == delivered)
    #expect(lab.drops(1, .expiredSession) + lab.drops(1, .unknownIndex) >= 1)
    #expect(lab.drops(1, .certificateRejected) >= 1, "its new handshakes are refused")
}

/// Ten minutes of pings once a second: sessions are replaced by Rekey-After-Time (120 s) long before
/// Reject-After-Time (180 s), and no ping goes unanswered.
@Test func sessionsRekeyOnTimeAndTrafficNeverStops() throws {
    let lab = MeshLab(count: 2, relays: [])
    var sequence: UInt16 = 0
    var keys: [[UInt8]] = []
    lab.run(until: at(.seconds(600)), period: .seconds(1)) { _ in
        sequence += 1
        lab.ping(from: 0, to: 1, sequence: sequence)
        if let s = lab.nodes[0].currentSession(with: lab.key(1)) {
            let k = s.keypair.sendKey.withUnsafeBytes { Array($0) }
            if keys.last != k { keys.append(k) }
        }
    }
    lab.run(until: at(.seconds(601)))
    #expect(Set(lab.replies.map(\.sequence)) == Set(1...sequence))
    #expect(keys.count >= 5, "a new session at least every 120 s")
    #expect(lab.nodes[0].handshaker.counters.drops.total == 0 && lab.nodes[1].handshaker.counters.drops.total == 0)
}

/// Same seed, same bytes: two runs of a mesh with relays, NAT and a cut link put identical datagrams on the wire.
@Test func theLabIsDeterministicFromItsSeed() throws {
    func trace(seed: UInt64) -> [[UInt8]] {
        let lab = MeshLab(count: 5, relays: [0], behindNAT: [4], seed: seed)
        lab.recordWire = true
        lab.setCut(1, 2, true)
        var sequence: UInt16 = 0
        for a in 0..<5 { for b in 0..<5 where a != b { sequence += 1; lab.ping(from: a, to: b, sequence: sequence) } }
        lab.run(until: at(.seconds(8)))
        #expect(lab.replies.count == 20)
        return lab.wire.map(\.bytes)
    }
    let first = trace(seed: 42)
    #expect(first == trace(seed: 42))
    #expect(first != trace(seed: 43))
}

/// A routing protocol stand-in on the MeshRouting seam: routes as the static one, says hello to its neighbours every
/// second, and records what the engine reports. Its messages ride in the hop sessions (kind 0x81).
struct RecordingRouting: MeshRouting {
    var inner: StaticMeshRouting
    var neighbours: [PublicKey]
    var received: [(from: PublicKey, bytes: [UInt8])] = []
    var events: [String] = []
    var nextHello = Instant.zero
    let name: UInt8

    func nextHop(for destination: IPv4Address) -> PublicKey? { inner.nextHop(for: destination) }
    func alternateHop(for destination: IPv4Address, avoiding neighbour: PublicKey) -> PublicKey? {
        inner.alternateHop(for: destination, avoiding: neighbour)
    }
    mutating func neighbourUp(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        events.append("up \(neighbour.base64.prefix(4))")
        return inner.neighbourUp(neighbour, now: now)
    }
    mutating func neighbourDown(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        events.append("down \(neighbour.base64.prefix(4))")
        return inner.neighbourDown(neighbour, now: now)
    }
    mutating func receive(_ message: [UInt8], from neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        received.append((neighbour, message))
        return []
    }
    mutating func tick(now: Instant) -> [MeshRoutingMessage] {
        guard now >= nextHello else { return [] }
        nextHello = now + .seconds(1)
        return neighbours.map { MeshRoutingMessage(neighbour: $0, bytes: [0x42, name, 0, 1]) }
    }
    func nextDeadline() -> Instant? { nextHello }
}

@Test func routingMessagesRideTheHopSessionsAndPathChangesAreReported() throws {
    let base = MeshLab(count: 3, relays: [2])
    let nodes = (0..<3).map { i -> MeshNode<RecordingRouting> in
        let peers = base.nodes[i].configuration.peers
        let routing = RecordingRouting(inner: StaticMeshRouting(peers: peers, relays: i == 2 ? [] : [base.key(2)]),
                                       neighbours: peers.map(\.key), name: UInt8(i))
        return MeshNode(handshaker: base.nodes[i].handshaker, configuration: base.nodes[i].configuration, routing: routing)
    }
    // A small pump of its own: the lab is typed to StaticMeshRouting.
    var now = Instant.zero
    var inFlight: [(at: Instant, from: Int, to: Int, bytes: [UInt8])] = []
    var cut = false
    func handle(_ actions: [MeshNodeAction], of i: Int) {
        for case .send(let bytes, let to) in actions {
            let j = Int(to.address.octets[3]) - 1
            if cut, Set([i, j]) == Set([0, 1]) { continue }
            inFlight.append((now + .milliseconds(5), i, j, bytes))
        }
    }
    func run(until end: Instant) {
        while true {
            let t = inFlight.map(\.at).min() ?? .distantFuture
            let d = nodes.compactMap { $0.nextDeadline() }.min() ?? .distantFuture
            let soonest = min(t, d)
            guard soonest <= end else { break }
            now = soonest
            if t == soonest, let k = inFlight.firstIndex(where: { $0.at == t }) {
                let f = inFlight.remove(at: k)
                handle(nodes[f.to].receive(datagram: f.bytes, from: base.endpoint(f.from), now: now), of: f.to)
            } else {
                for (i, n) in nodes.enumerated() where (n.nextDeadline() ?? .distantFuture) <= now { handle(n.tick(now: now), of: i) }
            }
        }
        now = end
    }
    run(until: at(.seconds(5)))
    #expect(nodes[1].routing.received.contains { $0.from == base.key(0) && $0.bytes == [0x42, 0, 0, 1] })
    #expect(nodes[0].routing.received.contains { $0.from == base.key(2) && $0.bytes == [0x42, 2, 0, 1] })
    #expect(nodes[0].routing.events.contains("up \(base.key(1).base64.prefix(4))"))
    cut = true
    run(until: at(.seconds(10)))
    #expect(nodes[0].routing.events.contains("down \(base.key(1).base64.prefix(4))"))
    #expect(nodes[0].path(to: base.key(1)) == .relayed(via: base.key(2)))
    cut = false
    run(until: at(.seconds(13)))
    #expect(nodes[0].routing.events.last == "up \(base.key(1).base64.prefix(4))")
    #expect(nodes[0].path(to: base.key(1)) == .direct(base.endpoint(1)))
    #expect(nodes.allSatisfy { $0.handshaker.counters.drops[.unknownPlaintext] == 0 })
}

/// Hostile input to a node with live sessions: random datagrams of every type and size from anywhere, and random
/// plaintexts of every kind inside an authenticated session (so the engine's own parsers see them). Nothing traps,
/// nothing is delivered or relayed that should not be, and every refused datagram is counted once.
@Test func hostileDatagramsAndPlaintextsAreCountedAndNeverTrap() throws {
    let lab = MeshLab(count: 3, relays: [1])
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.ping(from: 2, to: 1, sequence: 2)
    lab.run(until: at(.seconds(1)))
    let n1 = lab.nodes[1]
    var g = SeededRandom(seed: 9, component: "hostile")
    let before = n1.handshaker.counters.drops.total
    let deliveredBefore = lab.delivered[1].count
    for k in 0..<3000 {
        var d = [UInt8](repeating: 0, count: Int(g.next() % 1200))
        for i in 0..<d.count { d[i] = UInt8(truncatingIfNeeded: g.next()) }
        if d.count >= 4, k % 2 == 0 { d[0] = [1, 2, 3, 4, 0x11, 0x12][k % 6]; d[1] = 0; d[2] = 0; d[3] = 0 }
        _ = n1.receive(datagram: d, from: lab.endpoint(k % 3), now: lab.now)
    }
    #expect(n1.handshaker.counters.drops.total - before == 3000)
    #expect(lab.delivered[1].count == deliveredBefore)

    // Inside node 0's session with node 1: every kind byte, random lengths and contents.
    let n0 = lab.nodes[0]
    let toOne = try #require(n0.peers[lab.key(1)])
    n0.now = lab.now
    var sent = 0
    for k in 0..<2000 {
        var plain = [UInt8](repeating: 0, count: 1 + Int(g.next() % 200))
        for i in 0..<plain.count { plain[i] = UInt8(truncatingIfNeeded: g.next()) }
        plain[0] = UInt8(truncatingIfNeeded: k)
        if plain[0] >> 4 == 4 { continue }  // IPv4: covered by the source tests
        n0.sendEndToEnd(plain, to: toOne, isData: true)
        sent += 1
        for case .send(let bytes, _) in n0.take() {
            _ = n1.receive(datagram: bytes, from: lab.endpoint(0), now: lab.now)
        }
    }
    #expect(sent > 1800)
    #expect(lab.delivered[1].count == deliveredBefore)
    #expect(n1.counters.relayed == 0, "random envelopes name no known destination")
    let c = n1.handshaker.counters.drops
    print("hostile plaintexts: unknownPlaintext \(c[.unknownPlaintext]), relayMalformed \(c[.relayMalformed]), relaySpoofed \(c[.relaySpoofed]), noRoute \(c[.noRoute]), relayed \(n1.counters.relayed)")
    #expect(c[.unknownPlaintext] + c[.relayMalformed] > 1500)
}
