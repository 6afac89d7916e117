// Changing a peer while its session runs (WireGuardDevice+Reconfigure.swift, as `wg set … peer …
// endpoint … persistent-keepalive …`): the next datagram goes to the new endpoint over the same
// session, and a persistent keepalive turned on is due one interval later.
import Basics
import Testing
import Wire
@testable import WireGuard

@Test func aPeerMovedByReconfigurationIsReachedOverTheSameSession() throws {
    let net = TestNetwork()
    let a = net.add(Node("a", seed: 1, port: 1001)), b = net.add(Node("b", seed: 2, port: 1002))
    net.connect(a, ["10.0.0.1/32"], b, ["10.0.0.2/32"])
    net.send(ipv4("10.0.0.1", "10.0.0.2"), from: a)
    #expect(b.delivered.count == 1)
    let sessions = a.device.counters.sessionsDerived
    let peer = try #require(a.device.peer(for: b.keys.publicKey))

    // b moves; a is told (no packet from b announced it).
    b.address = SocketAddressV4(address: IPv4Address(192, 0, 2, 77), port: 2002)
    a.device.updatePeer(peer, endpoint: b.address, persistentKeepalive: nil, now: net.now)
    #expect(a.device.status(of: peer).endpoint == b.address)
    net.send(ipv4("10.0.0.1", "10.0.0.2"), from: a)
    #expect(b.delivered.count == 2, "delivered at the new endpoint: lost \(net.lost)")
    #expect(a.device.counters.sessionsDerived == sessions, "no new handshake")

    // Keepalive on: due 7 s from now; then off again.
    a.device.updatePeer(peer, endpoint: nil, persistentKeepalive: .some(.seconds(7)), now: net.now)
    #expect(a.device.nextDeadline().map { $0 <= net.now + .seconds(7) } == true)
    #expect(a.device.peers[peer.rawValue].timers.persistentKeepalive == net.now + .seconds(7))
    a.device.updatePeer(peer, endpoint: nil, persistentKeepalive: .some(nil), now: net.now)
    #expect(a.device.peers[peer.rawValue].timers.persistentKeepalive == nil)
    #expect(a.device.status(of: peer).endpoint == b.address, "a nil endpoint keeps the one it has")
}
