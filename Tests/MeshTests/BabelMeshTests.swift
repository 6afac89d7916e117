// Babel wired into the node engine (BabelMeshRouting): the issue's routing checks on whole MeshNode engines, with
// real sessions, relays and virtual time (BabelMeshLab.swift).
import Basics
import Crypto
import Testing
import Wire
@testable import Mesh
@testable import WireGuard

/// An 8-node ring with four chords (i–i+4): every node has three underlay neighbours; most pairs are two or
/// three hops apart, so Babel's routes (through relays) are the only way between them.
func ringWithChords(_ n: Int) -> [(Int, Int)] {
    (0..<n).map { ($0, ($0 + 1) % n) } + (0..<(n / 2)).map { ($0, $0 + n / 2) }
}

/// Pings from `a` to `b` every 100 ms from `from` to `until`; returns the time of the first reply to a request sent at
/// or after `after`.
func firstReply(_ lab: BabelMeshLab, from a: Int, to b: Int, start: UInt16, after: Instant, until: Instant,
                during: ((Instant) -> Void)? = nil) -> Instant? {
    var s = start
    let first = lab.replies.count
    var sentAt: [UInt16: Instant] = [:]
    lab.run(until: until, period: .milliseconds(100)) { now in
        sentAt[s] = now
        lab.ping(from: a, to: b, sequence: s)
        s &+= 1
        during?(now)
    }
    return lab.replies[first...].first { $0.node == a && (sentAt[$0.sequence].map { $0 >= after } ?? false) }?.at
}

@Test func babelMeshEightNodesConvergeAndPingEveryPair() {
    let lab = BabelMeshLab(count: 8, links: ringWithChords(8))
    let answered = lab.pingAll(within: .seconds(20))
    #expect(lab.routed() == 56)
    #expect(lab.loops() == 0)
    let again = lab.pingAll(within: .seconds(2))
    print("babel mesh, 8 nodes: \(answered)/56 pairs answered in the first 20 s (sessions set up on demand), "
          + "\(again)/56 within 2 s afterwards; routed pairs \(lab.routed()), loops \(lab.loops())")
    #expect(again == 56)
    // Routes follow the underlay: metrics are hops × 256 and a path is at most three hops.
    for a in 0..<8 { for b in 0..<8 where a != b {
        if case .reached(let hops) = lab.walk(a, b) { #expect(hops <= 3) } else { Issue.record("\(a)→\(b) unrouted") }
    } }
    // Routing messages ride the hop sessions: every node heard Babel packets and nothing was dropped as unknown.
    for n in lab.nodes {
        #expect(n.routing.router.counters.packetsReceived > 0)
        #expect(n.handshaker.counters.drops[.unknownPlaintext] == 0)
        #expect(n.routing.router.counters.drops[.unauthorizedPrefix] == 0)
    }
}

@Test func babelMeshReroutesASilentlyFailedLink() {
    let lab = BabelMeshLab(count: 8, links: ringWithChords(8))
    #expect(lab.pingAll(within: .seconds(20)) == 56)
    // 0→1 uses the direct link; cut it silently 50 ms into a ping stream.
    #expect(lab.walk(0, 1) == .reached(hops: 1))
    let cutAt = lab.now + .milliseconds(50)
    var loopsSeen = 0, checks = 0
    let reply = firstReply(lab, from: 0, to: 1, start: 30_000, after: cutAt, until: cutAt + .seconds(10)) { now in
        if now >= cutAt { lab.setCut(0, 1, true) }
        loopsSeen += lab.loops(); checks += 1
    }
    let took = reply.map { $0 - cutAt }
    print("babel mesh, 8 nodes: silently cut 0–1, first reply on the new path \(took.map { "\($0)" } ?? "never") "
          + "after the cut; 0→1 now \(lab.walk(0, 1)); loops over \(checks) checks: \(loopsSeen)")
    #expect(took != nil && took! <= .milliseconds(3500))
    #expect(loopsSeen == 0)
    #expect(lab.walk(0, 1) == .reached(hops: 3))  // 0–4–5–1 or 0–7–… : the ring has no other two-hop path
    // Every pair is still answered, and the link coming back is used again.
    #expect(lab.pingAll(within: .seconds(3)) == 56)
    lab.setCut(0, 1, false)
    lab.run(until: lab.now + .seconds(5))
    #expect(lab.walk(0, 1) == .reached(hops: 1))
    #expect(lab.loops() == 0)
}

@Test func babelMeshRelayKilledMidTransfer() {
    let lab = BabelMeshLab(count: 8, links: ringWithChords(8))
    #expect(lab.pingAll(within: .seconds(20)) == 56)
    // 0→2 goes through 1 (0–1–2 is the only two-hop path); node 1 dies silently mid-stream.
    #expect(lab.walk(0, 2) == .reached(hops: 2))
    #expect(lab.nodes[0].routing.nextHop(for: lab.overlay(2)) == lab.key(1))
    let relayedBefore = lab.nodes[1].counters.relayed
    let killAt = lab.now + .milliseconds(1050)
    var loopsSeen = 0
    let reply = firstReply(lab, from: 0, to: 2, start: 40_000, after: killAt, until: killAt + .seconds(10)) { now in
        if now >= killAt { for j in [0, 2, 5] { lab.setCut(1, j, true) } }
        loopsSeen += lab.loops() > 0 ? 1 : 0
    }
    let took = reply.map { $0 - killAt }
    let via = lab.nodes[0].routing.nextHop(for: lab.overlay(2)).flatMap { lab.index[$0] }
    print("babel mesh, 8 nodes: relay 1 killed mid-transfer 0→2, traffic on another path after \(took.map { "\($0)" } ?? "never"), "
          + "0→2 now via \(via.map(String.init) ?? "none") \(lab.walk(0, 2)); relayed by 1 before: "
          + "\(lab.nodes[1].counters.relayed - relayedBefore)")
    #expect(lab.nodes[1].counters.relayed > relayedBefore)
    #expect(took != nil && took! <= .milliseconds(3500))
    #expect(via != nil && via != 1)
    #expect(loopsSeen == 0)
}

@Test func babelMeshRefusesPrefixesTheCertificateDoesNotAllow() {
    let lab = BabelMeshLab(count: 3, links: [(0, 1), (1, 2)])
    #expect(lab.pingAll(within: .seconds(10)) == 6)
    // Node 2 misbehaves: it also announces 192.168.50.0/24, which its certificate does not give it.
    let rogue = BabelPrefix(ipv4: IPv4Address(192, 168, 50, 0), length: 24)
    for m in lab.nodes[2].routing.originate(rogue, now: lab.now) { lab.nodes[2].sendRouting(m) }
    lab.handle(lab.nodes[2].take(), of: 2)
    lab.run(until: lab.now + .seconds(20))
    let dropped = lab.nodes[1].routing.router.counters.drops[.unauthorizedPrefix]
    print("babel mesh: a prefix outside the originator's certificate: dropped \(dropped)× at its neighbour, "
          + "\(lab.nodes[0].routing.router.counters.drops[.unauthorizedPrefix])× further on; route at 0: "
          + "\(lab.nodes[0].routing.nextHop(for: IPv4Address(192, 168, 50, 1)).map { "\(lab.index[$0]!)" } ?? "none")")
    #expect(dropped >= 1)
    #expect(lab.nodes[1].routing.nextHop(for: IPv4Address(192, 168, 50, 1)) == nil)
    #expect(lab.nodes[0].routing.nextHop(for: IPv4Address(192, 168, 50, 1)) == nil)
    #expect(lab.nodes[0].routing.router.counters.drops[.unauthorizedPrefix] == 0)
    // Its allowed address is still routed.
    #expect(lab.walk(0, 2) == .reached(hops: 2))
}

@Test func babelMeshRunsAreByteIdentical() {
    func run(seed: UInt64) -> (UInt64, [Int]) {
        let lab = BabelMeshLab(count: 8, links: ringWithChords(8), seed: seed)
        _ = lab.pingAll(within: .seconds(10))
        lab.setCut(2, 3, true)
        lab.run(until: lab.now + .seconds(5))
        return (lab.digest, lab.bytesSent)
    }
    let a = run(seed: 3), b = run(seed: 3), c = run(seed: 4)
    #expect(a.0 == b.0 && a.1 == b.1)
    #expect(a.0 != c.0)
}

@Test func babelMeshRevocationCutsANodeOffEverywhereWithinASecond() throws {
    let lab = BabelMeshLab(count: 8, links: ringWithChords(8))
    #expect(lab.pingAll(within: .seconds(20)) == 56)
    // The root revokes node 5's certificate; the list reaches node 0 only and is flooded over the sessions.
    let list = try RevocationList(signer: lab.pki.rootKey, sequence: 1, issuedAt: fixtureNow,
                                  serials: [RevokedSerial(issuer: lab.pki.org.keyID, serial: 105)], keys: [])
    let at = lab.now
    lab.handle(lab.nodes[0].receiveRevocationList(list, now: at), of: 0)
    var cutOff: [Duration?] = Array(repeating: nil, count: 8)
    lab.run(until: at + .seconds(1), period: .milliseconds(5)) { now in
        for i in 0..<8 where i != 5 && cutOff[i] == nil {
            if lab.nodes[i].handshaker.verifier.revocations.serials.count == 1, !lab.nodes[i].hasSession(with: lab.key(5)),
               lab.nodes[i].routing.nextHop(for: lab.overlay(5)) == nil {
                cutOff[i] = now - at
            }
        }
    }
    let worst = cutOff.compactMap { $0 }.max()
    let routesLeft = (0..<8).filter { $0 != 5 && lab.nodes[$0].routing.nextHop(for: lab.overlay(5)) != nil }
    print("babel mesh, 8 nodes: revocation of node 5 flooded from node 0; every other node applied it, had no session "
          + "with 5 and no route to it within \(worst.map { "\($0)" } ?? "never") (per node: "
          + cutOff.enumerated().map { "\($0.offset):\($0.element.map { "\($0)" } ?? "-")" }.joined(separator: " ") + ")")
    for i in 0..<8 where i != 5 {
        #expect(cutOff[i] != nil, Comment(rawValue: "node \(i) still talks to or routes to node 5: list applied "
                + "\(lab.nodes[i].handshaker.verifier.revocations.serials.count), session \(lab.nodes[i].hasSession(with: lab.key(5))), "
                + "next hop \(lab.nodes[i].routing.nextHop(for: lab.overlay(5)).map { lab.index[$0]! } ?? -1), up \(lab.nodes[i].routing.up.map { lab.index[$0]! }.sorted()), closed \(lab.nodes[i].handshaker.counters.sessionsClosedByRevocation), route \(String(describing: lab.nodes[i].routing.router.route(for: lab.overlay(5))))"))
    }
    // A second copy of the same list changes nothing and is not flooded again.
    #expect(lab.nodes[3].receiveRevocationList(list, now: lab.now).isEmpty)
    // Node 5 reaches nobody and nobody reaches it (its handshakes are refused); the others still reach each other.
    let answered = lab.answeredPairs(within: .seconds(10))
    #expect(answered.filter { $0.contains(5) }.isEmpty)
    #expect(answered.count == 42)
    #expect(lab.loops() == 0)
    print("babel mesh, revocation: nodes still holding a route to 5 one second after: \(routesLeft), ten seconds later: "
          + "\((0..<8).filter { $0 != 5 && lab.nodes[$0].routing.nextHop(for: lab.overlay(5)) != nil })")
    // A list signed by anyone but a root is refused and counted.
    let forged = try RevocationList(signer: lab.pki.orgKey, sequence: 9, issuedAt: fixtureNow,
                                    serials: [RevokedSerial(issuer: lab.pki.org.keyID, serial: 101)], keys: [])
    _ = lab.nodes[2].receiveRevocationList(forged, now: lab.now)
    #expect(lab.nodes[2].handshaker.counters.drops[.badRevocationList] == 1)
}

@Test func babelMeshRTTSwingSwitchesAtMostOnceAMinute() {
    // S(0) reaches D(3) through A(1) or B(2). S–A swings between 2 ms and 100 ms every 20 s; S–B is a steady 30 ms.
    let lab = BabelMeshLab(count: 4, links: [(0, 1), (1, 3), (0, 2), (2, 3)]) { a, b in
        [a, b] == [0, 2] ? .milliseconds(30) : .milliseconds(2)
    }
    #expect(lab.pingAll(within: .seconds(10)) == 12)
    var switches: [Instant] = []
    var hop = lab.nodes[0].routing.nextHop(for: lab.overlay(3))
    let start = lab.now
    var delivered = 0
    var s: UInt16 = 50_000
    let first = lab.replies.count
    lab.run(until: start + .seconds(600), period: .milliseconds(100)) { now in
        let phase = (now - start).nanosecondsClamped / Duration.seconds(20).nanosecondsClamped
        lab.links[lab.link(0, 1)] = phase % 2 == 0 ? .milliseconds(100) : .milliseconds(2)
        let h = lab.nodes[0].routing.nextHop(for: lab.overlay(3))
        if h != hop { switches.append(now); hop = h }
        if (now - start).nanosecondsClamped % Duration.seconds(1).nanosecondsClamped == 0 { lab.ping(from: 0, to: 3, sequence: s); s &+= 1 }
    }
    delivered = lab.replies[first...].filter { $0.node == 0 }.count
    let gaps = zip(switches.dropFirst(), switches).map { $0 - $1 }
    print("babel mesh, RTT swing 2↔100 ms every 20 s for 10 min: \(switches.count) switches, gaps "
          + gaps.map { "\($0)" }.joined(separator: ", ") + "; \(delivered)/600 pings answered; "
          + "S–A cost now \(lab.nodes[0].routing.link(lab.key(1)).map { "\($0.cost), RTT \($0.rtt.map { "\($0)" } ?? "-")" } ?? "-")")
    #expect(switches.count >= 2, "the route never followed the swing (the test could not fail)")
    #expect(switches.count <= 11)
    for g in gaps { #expect(g >= .seconds(60)) }
    #expect(delivered >= 590)
}

// 32 nodes here, in the debug build's test time; the 64-node run (the issue's number) is the scenario
// fixtures/mesh-scale/mesh-64-nodes.yml, run once by ci/test.sh on the release build. (64 engines in one process used
// to exceed vm.max_map_count with one sodium_malloc per key; keys now share slabs, Sources/Crypto/SecretSlab.swift.)
// The per-node control traffic grows with the neighbour count, so it is also reported per neighbour.
@Test func babelMeshThirtyTwoNodesFullMeshConvergeWithin30sUnder16kBPerNode() {
    let n = 32
    var all: [(Int, Int)] = []
    for a in 0..<n { for b in (a + 1)..<n { all.append((a, b)) } }
    let lab = BabelMeshLab(count: n, links: all)
    // A full mesh of pings from the start: every session is set up on demand, and Babel runs on every one.
    let answered = lab.pingAll(within: .seconds(30))
    let routed = lab.routed(), loops = lab.loops()
    // Control traffic alone (no data): Hellos, IHUs, updates and keepalives, on the wire, over two update intervals.
    let before = lab.bytesSent, from = lab.now
    lab.run(until: from + .seconds(32))
    let perNode = (0..<n).map { Double(lab.bytesSent[$0] - before[$0]) / 32 }
    let worst = perNode.max() ?? 0, mean = perNode.reduce(0, +) / Double(n)
    print("babel mesh, \(n) nodes full mesh: \(answered)/\(n * (n - 1)) pairs answered within 30 s, routed \(routed), loops \(loops); "
          + "control traffic per node \(Int(mean)) B/s mean, \(Int(worst)) B/s max (limit 16000), \(Int(worst) / (n - 1)) B/s per neighbour")
    #expect(answered == n * (n - 1))
    #expect(routed == n * (n - 1))
    #expect(loops == 0)
    #expect(worst <= 16_000)
}

@Test func babelMeshFailsOverAtOnceWhenTheFailureIsSignalled() {
    // The same cut as babelMeshReroutesASilentlyFailedLink, but both ends are told (interface down / ICMP
    // unreachable) through MeshNode.directPathFailed: no 2 s timeout, traffic on the new path within 0.5 s.
    let lab = BabelMeshLab(count: 8, links: ringWithChords(8))
    #expect(lab.pingAll(within: .seconds(20)) == 56)
    #expect(lab.walk(0, 1) == .reached(hops: 1))
    let cutAt = lab.now + .milliseconds(50)
    var signalled = false, loopsSeen = 0
    let reply = firstReply(lab, from: 0, to: 1, start: 31_000, after: cutAt, until: cutAt + .seconds(5)) { now in
        if now >= cutAt, !signalled {
            signalled = true
            lab.setCut(0, 1, true)
            lab.handle(lab.nodes[0].directPathFailed(endpoint: lab.endpoint(1), now: now), of: 0)
            lab.handle(lab.nodes[1].directPathFailed(endpoint: lab.endpoint(0), now: now), of: 1)
        }
        loopsSeen += lab.loops()
    }
    let took = reply.map { $0 - cutAt }
    print("babel mesh, 8 nodes: signalled cut 0–1, first reply on the new path \(took.map { "\($0)" } ?? "never") after the cut; "
          + "0→1 now \(lab.walk(0, 1)); failovers at 0: \(lab.nodes[0].counters.failovers)")
    #expect(took != nil && took! <= .milliseconds(500))
    #expect(loopsSeen == 0)
    #expect(lab.nodes[0].counters.failovers >= 1)
    // An endpoint no peer has changes nothing.
    #expect(lab.nodes[2].directPathFailed(endpoint: SocketAddressV4(address: IPv4Address(203, 0, 113, 9), port: 1), now: lab.now).isEmpty)
}
