// MeshNode.reconfigure (what `sluice mesh up` does on SIGHUP): peers that stay keep their sessions — same session
// object, same index, counters going on, no new handshake — while removed peers lose theirs, new ones are added, and a
// changed endpoint is used at once. Also: a Babel leaf (a node that does not relay) never announces others' routes.
import Basics
import Crypto
import Testing
import Wire
@testable import Mesh
@testable import WireGuard

@Test func reconfigureKeepsTheSessionsOfPeersThatStay() throws {
    let lab = MeshLab(count: 4, relays: [2])
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.ping(from: 0, to: 2, sequence: 2)
    lab.ping(from: 0, to: 3, sequence: 3)
    lab.run(until: at(.seconds(1)))
    #expect(Set(lab.replies.map(\.sequence)) == [1, 2, 3])
    let node = lab.nodes[0]
    let s1 = try #require(node.currentSession(with: lab.key(1)))
    let s3 = try #require(node.currentSession(with: lab.key(3)))
    let index1 = s1.localIndex
    let sentBefore = s1.keypair.nextSendCounter
    let established = node.handshaker.counters.sessionsEstablished

    // 1 renamed, 2 moved to another endpoint, 3 gone, a new node 9 added.
    var peers = node.configuration.peers
    peers.removeAll { $0.key == lab.key(3) }
    let i1 = try #require(peers.firstIndex { $0.key == lab.key(1) })
    peers[i1].name = "n1-renamed"
    let i2 = try #require(peers.firstIndex { $0.key == lab.key(2) })
    let moved = SocketAddressV4(address: IPv4Address(192, 0, 2, 99), port: 4500)
    peers[i2].endpoint = moved
    var g = SeededRandom(seed: 9, component: "new-peer")
    let newKey = KeyPair.deterministic(using: &g).publicKey
    peers.append(MeshPeer(key: newKey, name: "n9", endpoint: SocketAddressV4(address: IPv4Address(192, 0, 2, 10), port: 4500),
                          addresses: [OverlayNetwork(family: 4, address: [10, 99, 1, 19], prefixLength: 24)!]))
    let (changes, _) = node.reconfigure(peers: peers, relay: true, now: lab.now)
    #expect(changes.added == [newKey])
    #expect(changes.removed == [lab.key(3)])
    #expect(changes.changed == [lab.key(1), lab.key(2)])
    #expect(changes.unchanged.isEmpty)

    // The peer that stayed: the same session, open, carrying on.
    #expect(node.currentSession(with: lab.key(1)) === s1)
    #expect(!s1.isClosed)
    #expect(node.peerStatus.first { $0.key == lab.key(1) }?.name == "n1-renamed")
    // The removed peer: its session closed and forgotten; its address no longer routed.
    #expect(s3.isClosed)
    #expect(!node.hasSession(with: lab.key(3)))
    #expect(!node.peerKeys.contains(lab.key(3)))
    let noRoute = lab.drops(0, .noRoute)
    lab.ping(from: 0, to: 3, sequence: 30)
    #expect(lab.drops(0, .noRoute) == noRoute + 1)
    // The moved peer: its new endpoint is the path now.
    #expect(node.path(to: lab.key(2)) == .direct(moved))
    // The new peer is known (no session until traffic needs one).
    #expect(node.peerKeys.contains(newKey) && !node.hasSession(with: newKey))

    lab.ping(from: 0, to: 1, sequence: 4)
    lab.run(until: at(.seconds(2)))
    #expect(lab.replies.contains { $0.sequence == 4 })
    #expect(node.currentSession(with: lab.key(1))?.localIndex == index1)
    #expect(s1.keypair.nextSendCounter > sentBefore)
    #expect(node.handshaker.counters.sessionsEstablished == established, "no handshake for the peer that stayed")
}

@Test func reconfiguringTheSamePeersChangesNothing() throws {
    let lab = MeshLab(count: 3, relays: [2])
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.run(until: at(.seconds(1)))
    let node = lab.nodes[0]
    let s = try #require(node.currentSession(with: lab.key(1)))
    let (changes, actions) = node.reconfigure(peers: node.configuration.peers, relay: node.configuration.relay, now: lab.now)
    #expect(changes.isEmpty && changes.unchanged == [lab.key(1), lab.key(2)])
    #expect(actions.isEmpty)
    #expect(node.currentSession(with: lab.key(1)) === s && !s.isClosed)
}

/// A chain a — b — c: with b a leaf, a learns no route to c (b announces only its own address); with b a router,
/// a does, through b.
@Test func aBabelLeafAnnouncesOnlyItsOwnPrefixes() throws {
    func run(leaf: Bool) -> [BabelRouter] {
        let ids = [RouterID(rawValue: 1), RouterID(rawValue: 2), RouterID(rawValue: 3)]
        var routers: [BabelRouter] = []
        for i in 0..<3 {
            var c = BabelConfiguration()
            c.leaf = leaf && i == 1
            var r = BabelRouter(routerID: ids[i], configuration: c, now: .zero)
            _ = r.originate(prefix: BabelPrefix(family: 4, bytes: [10, 0, 0, UInt8(i + 1)], length: 32)!, now: .zero)
            routers.append(r)
        }
        // Links a–b (a's n2 = b, b's n1 = a, b's n3 = c) and b–c; messages delivered at once, every 100 ms.
        let links: [(Int, NeighbourID, Int, NeighbourID)] = [(0, NeighbourID(2), 1, NeighbourID(1)), (1, NeighbourID(3), 2, NeighbourID(2))]
        var queue: [(to: Int, from: NeighbourID, bytes: [UInt8])] = []
        func route(_ actions: [BabelAction], of i: Int) {
            for a in actions {
                switch a {
                case .send(let bytes, let n):
                    for (x, nx, y, ny) in links {
                        if x == i && nx == n { queue.append((y, ny, bytes)) }
                        if y == i && ny == n { queue.append((x, nx, bytes)) }
                    }
                case .sendToAll(let bytes):
                    for (x, nx, y, ny) in links {
                        if x == i { queue.append((y, ny, bytes)) }
                        if y == i { queue.append((x, nx, bytes)) }
                    }
                case .routeChanged: break
                }
            }
        }
        for (x, nx, y, ny) in links {
            route(routers[x].neighbourUp(nx, now: .zero), of: x)
            route(routers[y].neighbourUp(ny, now: .zero), of: y)
        }
        var now = Instant.zero
        for _ in 0..<200 {
            now = now + .milliseconds(100)
            while !queue.isEmpty {
                let m = queue.removeFirst()
                route(routers[m.to].receive(m.bytes, from: m.from, now: now), of: m.to)
            }
            for i in 0..<3 { route(routers[i].tick(now: now), of: i) }
        }
        return routers
    }
    let c = IPv4Address(10, 0, 0, 3), b = IPv4Address(10, 0, 0, 2)
    let routed = run(leaf: false)
    #expect(routed[0].nextHop(for: c) == NeighbourID(2), "without a leaf a reaches c through b")
    let leafed = run(leaf: true)
    #expect(leafed[0].nextHop(for: c) == nil, "b, a leaf, does not announce c")
    #expect(leafed[0].nextHop(for: b) == NeighbourID(2), "b still announces itself")
    #expect(leafed[2].nextHop(for: IPv4Address(10, 0, 0, 1)) == nil)
}

/// The in-place path (what the agent calls per packet): with a session on the direct path a packet is sealed in the
/// caller's buffer and opened in the receiver's, delivering the same bytes; without one, nothing is consumed and the
/// general path takes over.
@Test func inPlaceSendAndReceiveMatchTheGeneralPath() throws {
    let lab = MeshLab(count: 3, relays: [2])
    let h = TransportHeader.size
    let packet = lab.echo(from: 0, to: lab.overlay(1), sequence: 42)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: packet)
    let moved = UnsafeMutableRawBufferPointer(rebasing: buffer[h...])
    moved.copyBytes(from: packet)
    // No session yet: the general path is needed.
    #expect(lab.nodes[0].sendInPlace(buffer, count: packet.count, now: lab.now) == nil)
    #expect(lab.nodes[0].takeActions().isEmpty)
    lab.ping(from: 0, to: 1, sequence: 1)
    lab.run(until: at(.seconds(1)))
    #expect(lab.replies.count == 1)

    let sent = lab.nodes[0].counters.packetsSent
    moved.copyBytes(from: packet)
    let (to, length) = try #require(lab.nodes[0].sendInPlace(buffer, count: packet.count, now: lab.now))
    #expect(to == lab.endpoint(1))
    #expect(lab.nodes[0].counters.packetsSent == sent + 1)
    let delivered = lab.nodes[1].counters.packetsDelivered
    let range = try #require(lab.nodes[1].receiveInPlace(buffer, count: length, from: lab.endpoint(0), now: lab.now))
    #expect(Array(buffer[range]) == packet)
    #expect(lab.nodes[1].counters.packetsDelivered == delivered + 1)
    // The same message again is a replay: refused and counted, nothing delivered.
    let replays = lab.drops(1, .replayedCounter)
    moved.copyBytes(from: packet)
    let again = try #require(lab.nodes[0].sendInPlace(buffer, count: packet.count, now: lab.now))
    let copy = Array(buffer[0..<again.length])
    #expect(lab.nodes[1].receiveInPlace(buffer, count: again.length, from: lab.endpoint(0), now: lab.now) != nil)
    copy.withUnsafeBytes { buffer.copyMemory(from: $0) }
    #expect(lab.nodes[1].receiveInPlace(buffer, count: copy.count, from: lab.endpoint(0), now: lab.now) == nil)
    #expect(lab.drops(1, .replayedCounter) == replays + 1)
    // A spoofed inner source is dropped on this path too.
    var spoofed = lab.echo(from: 0, to: lab.overlay(1), sequence: 43, source: IPv4Address(10, 99, 1, 99))
    moved.copyBytes(from: spoofed)
    let s = try #require(lab.nodes[0].sendInPlace(buffer, count: spoofed.count, now: lab.now))
    let disallowed = lab.drops(1, .disallowedSource)
    #expect(lab.nodes[1].receiveInPlace(buffer, count: s.length, from: lab.endpoint(0), now: lab.now) == nil)
    #expect(lab.drops(1, .disallowedSource) == disallowed + 1)
    spoofed = []
}
