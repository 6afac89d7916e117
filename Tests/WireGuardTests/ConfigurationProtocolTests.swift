// The cross-platform configuration protocol: parsing, checking and applying set transactions, the get reply, and
// hostile input (every rejection leaves the device exactly as it was).
import Basics
import Crypto
import Wire
import Testing
@testable import WireGuard

private func hex(_ key: PublicKey) -> String { key.bytes.hex }
private func hex(_ key: SecretKey) -> String { key.withUnsafeBytes { Array($0) }.hex }

/// Runs `text` through a session as one client would send it; returns the requests.
private func session(_ text: String) -> [ConfigurationRequest] {
    var s = ConfigurationSession()
    return Array(text.utf8).withUnsafeBytes { s.receive($0) }
}

/// Parses, checks and applies a set body; returns the error, if any.
private func set(_ device: WireGuardDevice, _ body: String, now: Instant = .zero) -> ConfigurationProtocolError? {
    do {
        let parsed = try ConfigurationSet.parse(Substring(body))
        try device.check(parsed)
        device.apply(parsed, now: now)
        return nil
    } catch { return error }
}

private func text(_ device: WireGuardDevice) -> String {
    device.configurationText(socket: InterfaceSocketSettings(listenPort: 51820, fwmark: 0), now: .zero)
}

@Test func setThenGetRoundTrip() throws {
    let (net, a, b) = makePair()
    let c = testKey("c")
    let psk = SecretKey([UInt8](repeating: 7, count: 32))!
    #expect(set(a.device, """
        public_key=\(hex(c.publicKey))
        preshared_key=\(hex(psk))
        endpoint=192.0.2.77:51000
        persistent_keepalive_interval=25
        replace_allowed_ips=true
        allowed_ip=10.7.0.0/16
        allowed_ip=10.8.0.1/32
        allowed_ip=::/0
        protocol_version=1
        """, now: net.now) == nil)
    let out = text(a.device)
    #expect(out.hasPrefix("private_key=\(hex(a.keys.privateKey))\nlisten_port=51820\npublic_key=\(hex(b.keys.publicKey))\n"))
    #expect(out.contains("""
        public_key=\(hex(c.publicKey))
        preshared_key=\(hex(psk))
        protocol_version=1
        endpoint=192.0.2.77:51000
        last_handshake_time_sec=0
        last_handshake_time_nsec=0
        tx_bytes=
        """))
    #expect(out.contains("persistent_keepalive_interval=25\nallowed_ip=10.7.0.0/16\nallowed_ip=10.8.0.1/32\n"))
    // The original peer's session is untouched by adding another.
    net.send(ipv4("10.0.0.1", "10.0.0.2"), from: a)
    #expect(b.delivered.count == 1)
}

@Test func liveChangesKeepUnaffectedSessions() throws {
    let (net, a, b) = makePair()
    let c = net.add(Node("C", seed: 42, port: 1003))
    net.connect(a, ["10.0.0.1/32"], c, ["10.0.0.3/32"])
    net.send(ipv4("10.0.0.1", "10.0.0.2"), from: a)
    net.send(ipv4("10.0.0.1", "10.0.0.3"), from: a)
    let initiations = a.device.counters.initiationsSent
    #expect(initiations == 2 && b.delivered.count == 1 && c.delivered.count == 1)

    // Remove C, and give B more allowed IPs and a keepalive: B's session stays, no new handshake.
    #expect(set(a.device, """
        public_key=\(hex(c.keys.publicKey))
        remove=true
        public_key=\(hex(b.keys.publicKey))
        update_only=true
        allowed_ip=10.9.0.0/24
        """, now: net.now) == nil)
    #expect(a.device.peer(for: c.keys.publicKey) == nil)
    #expect(a.device.allowedIPs.lookup(IPv4Address("10.0.0.3")!) == nil, "C's networks are unrouted")
    net.send(ipv4("10.0.0.1", "10.9.0.5"), from: a)
    net.send(ipv4("10.0.0.1", "10.0.0.3"), from: a)
    #expect(b.delivered.count == 2 && c.delivered.count == 1)
    #expect(a.device.counters.initiationsSent == initiations, "B's session survived")
    #expect(a.drops.contains(.noRoute))

    net.advance(by: .seconds(1))  // a newer handshake timestamp for C
    // Re-adding C reuses its number and handshakes afresh; update_only for an unknown key creates nothing.
    let ghost = testKey("ghost")
    #expect(set(a.device, """
        public_key=\(hex(ghost.publicKey))
        update_only=true
        allowed_ip=10.66.0.0/16
        public_key=\(hex(c.keys.publicKey))
        endpoint=\(c.address)
        allowed_ip=10.0.0.3/32
        """, now: net.now) == nil)
    #expect(a.device.peer(for: ghost.publicKey) == nil)
    #expect(a.device.peerIDs.count == 2, "the removed slot was reused")
    net.send(ipv4("10.0.0.1", "10.0.0.3"), from: a)
    #expect(c.delivered.count == 2)
    #expect(a.device.counters.initiationsSent == initiations + 1)
}

@Test func replacePeersAndPrivateKey() throws {
    let (net, a, b) = makePair()
    net.send(ipv4("10.0.0.1", "10.0.0.2"), from: a)
    #expect(b.delivered.count == 1)
    // A new private key: sessions keyed to the old identity are gone; B (not told) refuses the new one.
    let fresh = testKey("fresh")
    #expect(set(a.device, "private_key=\(hex(fresh.privateKey))\n", now: net.now) == nil)
    #expect(a.device.publicKey == fresh.publicKey)
    net.send(ipv4("10.0.0.1", "10.0.0.2"), from: a)
    #expect(b.delivered.count == 1 && b.drops.contains(.unknownPeer))
    // replace_peers: none left; a zero private key means none: no handshakes at all.
    #expect(set(a.device, "private_key=\(String(repeating: "0", count: 64))\nreplace_peers=true\n") == nil)
    #expect(a.device.peerIDs.isEmpty && !a.device.hasPrivateKey)
    #expect(!text(a.device).contains("private_key="))
    #expect(set(a.device, "public_key=\(hex(b.keys.publicKey))\nendpoint=\(b.address)\nallowed_ip=10.0.0.2/32\n") == nil)
    net.send(ipv4("10.0.0.1", "10.0.0.2"), from: a)
    #expect(a.device.counters.drops[.noPrivateKey] >= 1)
}

@Test func hostileInputIsRejectedWholeWithAClearErrno() throws {
    let (_, a, b) = makePair()
    let before = text(a.device)
    let key = hex(b.keys.publicKey)
    let cases: [(String, Int32)] = [
        ("bogus_key=1\n", -22),
        ("listen_port=65536\n", -22),
        ("listen_port=-1\n", -22),
        ("listen_port=+5\n", -22),
        ("listen_port= 5\n", -22),
        ("fwmark=99999999999999999999999\n", -22),
        ("fwmark=4294967296\n", -22),
        ("private_key=zz\(String(repeating: "0", count: 62))\n", -22),
        ("private_key=\(String(repeating: "0", count: 63))\n", -22),
        ("replace_peers=false\n", -22),
        ("public_key=\(key)\nallowed_ip=10.0.0.0/33\n", -22),
        ("public_key=\(key)\nallowed_ip=10.0.0.256/32\n", -22),
        ("public_key=\(key)\nendpoint=[::1]:51820\n", -22),
        ("public_key=\(key)\nendpoint=1.2.3.4:70000\n", -22),
        ("public_key=\(key)\npersistent_keepalive_interval=65536\n", -22),
        ("public_key=\(key)\nprotocol_version=2\n", -22),
        ("public_key=\(key)\nlisten_port=1\n", -22),
        ("public_key=\(key)\nremove=yes\n", -22),
        ("public_key=\(key)\npreshared_key=\(String(repeating: "g", count: 64))\n", -22),
        ("public_key=\(key)\nno equals sign\n", -71),
        ("public_key=\(key)\nallowed_ip=10.1.0.0/16\nallowed_ip=x\n", -22),
    ]
    for (body, errno) in cases {
        let error = set(a.device, body)
        #expect(error?.errno == errno, "\(body): \(String(describing: error))")
        #expect(text(a.device) == before, "nothing half-applied: \(body)")
    }
    // A good change followed by a bad line: the good one is not applied either.
    #expect(set(a.device, "listen_port=1\npublic_key=\(key)\nallowed_ip=10.5.0.0/16\nendpoint=nope\n") != nil)
    #expect(text(a.device) == before)
}

@Test func thousandsOfPeersAndThePeerLimit() throws {
    let (_, a, _) = makePair()
    var body = "replace_peers=true\n"
    for i in 0..<3000 {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[0] = UInt8(i & 0xFF); bytes[1] = UInt8(i >> 8); bytes[31] = 0x40
        body += "public_key=\(bytes.hex)\nallowed_ip=10.\(i >> 8).\(i & 0xFF).0/24\n"
    }
    #expect(set(a.device, body) == nil)
    #expect(a.device.peerIDs.count == 3000)
    #expect(a.device.allowedIPs.lookup(IPv4Address("10.11.183.9")!) != nil)
    #expect(text(a.device).split(separator: "\n").filter { $0.hasPrefix("public_key=") }.count == 3000)

    // wg syncconf's shape: every existing peer again, with replace_allowed_ips and a new network.
    var again = ""
    for i in 0..<3000 {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[0] = UInt8(i & 0xFF); bytes[1] = UInt8(i >> 8); bytes[31] = 0x40
        again += "public_key=\(bytes.hex)\nreplace_allowed_ips=true\nallowed_ip=172.\(16 + i >> 8).\(i & 0xFF).0/24\n"
    }
    #expect(set(a.device, again) == nil)
    #expect(a.device.allowedIPs.lookup(IPv4Address("10.11.183.9")!) == nil, "the old networks are gone")
    let moved = try #require(a.device.allowedIPs.lookup(IPv4Address("172.27.183.9")!))
    #expect(a.device.status(of: PeerID(rawValue: moved)).allowedIPs == [IPv4Network("172.27.183.0/24")!])
    #expect(a.device.allowedIPs.nodes.count < 2 * 3000 + 64, "empty nodes compacted: \(a.device.allowedIPs.nodes.count)")

    // Past wireguard-go's MaxPeers: refused before anything changes.
    var check = ConfigurationSet()
    for i in 0..<(ConfigurationProtocol.maximumPeers + 1) {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[0] = UInt8(i & 0xFF); bytes[1] = UInt8((i >> 8) & 0xFF); bytes[2] = UInt8(i >> 16); bytes[31] = 0x41
        check.peers.append(PeerChange(publicKey: PublicKey(bytes)!))
    }
    #expect(throws: ConfigurationProtocolError.self) { try a.device.check(check) }
    #expect(a.device.peerIDs.count == 3000)
}

@Test func sessionFramesOperations() throws {
    let requests = session("get=1\n\nset=1\nlisten_port=5\n\nset=1\n\nset=1\nbad\n\nget=1\n\n")
    #expect(requests.count == 5)
    guard case .get = requests[0], case .set(let s1) = requests[1], case .set(let s2) = requests[2],
          case .rejected(let e) = requests[3], case .get = requests[4] else { Issue.record("\(requests)"); return }
    #expect(s1.listenPort == 5 && s2.listenPort == nil && e.errno == -71)

    // Byte by byte: nothing until the blank line.
    var s = ConfigurationSession()
    var got: [ConfigurationRequest] = []
    for byte in "set=1\nfwmark=7\n\n".utf8 { got += [byte].withUnsafeBytes { s.receive($0) } }
    guard got.count == 1, case .set(let s3) = got[0] else { Issue.record("\(got)"); return }
    #expect(s3.fwmark == 7)

    // Unknown operations close; get with trailing bytes is an error; truncated input yields nothing.
    guard case .close(nil)? = session("put=1\n\n").first else { Issue.record("unknown op"); return }
    guard case .close(let trailing?)? = session("get=1\nx").first else { Issue.record("trailing"); return }
    #expect(trailing.errno == -22)
    #expect(session("set=1\nlisten_port=5\n").isEmpty)
    #expect(session(String(repeating: "x", count: 100)).count == 1, "no operation line: closed")
    #expect(ConfigurationSession.reply(nil) == "errno=0\n\n")
    #expect(ConfigurationSession.reply(.invalid("x")) == "errno=-22\n\n")
}

@Test func oversizedTransactionIsRefused() {
    var s = ConfigurationSession()
    var got: [ConfigurationRequest] = []
    let chunk = [UInt8](("set=1\n" + String(repeating: "allowed_ip=10.0.0.0/8\n", count: 1)).utf8)
    got += chunk.withUnsafeBytes { s.receive($0) }
    let filler = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
    for _ in 0..<9 where got.isEmpty { got += filler.withUnsafeBytes { s.receive($0) } }
    guard case .close(let e?)? = got.first else { Issue.record("\(got)"); return }
    #expect(e.errno == -7 && s.isClosed)
}

/// A key pair drawn from a seeded generator named `name`.
private func testKey(_ name: String) -> KeyPair {
    var g = SeededRandom(seed: 7, component: name)
    return KeyPair.deterministic(using: &g)
}
