// A deterministic in-memory network for WireGuard devices: endpoints map to devices, datagrams are pumped until
// quiet, virtual time advances to each device's next deadline.
import Basics
import Crypto
import Wire
@testable import WireGuard

/// An IPv4 packet (20-byte header, no options) with `payload`.
func ipv4(_ src: String, _ dst: String, _ payload: [UInt8] = Array("hello".utf8)) -> [UInt8] {
    var p = [UInt8](repeating: 0, count: 20) + payload
    let total = UInt16(p.count)
    p.withUnsafeMutableBytes { b in
        b[0] = 0x45; b.setU16(2, total); b[8] = 64; b[9] = 17
        b.setU32(12, IPv4Address(src)!.rawValue); b.setU32(16, IPv4Address(dst)!.rawValue)
    }
    return p
}

final class Node {
    let name: String
    let keys: KeyPair
    let device: WireGuardDevice
    var address: SocketAddressV4
    var delivered: [DeliveredPacket] = []
    var keepalives = 0
    var drops: [WireGuardDropReason] = []

    init(_ name: String, seed: UInt64, port: UInt16, limits: WireGuardLimits = .init(), underLoadThreshold: Int = 64) {
        self.name = name
        var g = SeededRandom(seed: seed, component: "keys-\(name)")
        keys = KeyPair.deterministic(using: &g)
        device = WireGuardDevice(configuration: DeviceConfiguration(privateKey: keys.privateKey, limits: limits,
                                                                    underLoadThreshold: underLoadThreshold),
                                 random: SeededRandom(seed: seed, component: "random-\(name)"),
                                 keySource: SeededRandom(seed: seed, component: "ephemeral-\(name)"), wallClock: .monotonic)
        address = SocketAddressV4(address: IPv4Address(192, 0, 2, UInt8(port % 200)), port: port)
    }
}

/// The wire between nodes. Datagrams to an address no node holds are lost (and recorded).
final class TestNetwork {
    var nodes: [Node] = []
    var now = Instant(nanoseconds: 1_000_000_000_000)
    var lost: [OutgoingDatagram] = []
    var log: [String] = []
    /// When set, datagrams are dropped if this returns true.
    var filter: ((OutgoingDatagram) -> Bool)?

    func add(_ node: Node) -> Node { nodes.append(node); return node }

    /// Makes `a` and `b` peers of each other.
    func connect(_ a: Node, _ aIPs: [String], _ b: Node, _ bIPs: [String],
                 psk: (SecretKey?, SecretKey?) = (nil, nil), keepalive: (Duration?, Duration?) = (nil, nil)) {
        a.device.addPeer(PeerConfiguration(publicKey: b.keys.publicKey, presharedKey: psk.0, endpoint: b.address,
                                           allowedIPs: bIPs.map { IPv4Network($0)! }, persistentKeepalive: keepalive.0))
        b.device.addPeer(PeerConfiguration(publicKey: a.keys.publicKey, presharedKey: psk.1, endpoint: a.address,
                                           allowedIPs: aIPs.map { IPv4Network($0)! }, persistentKeepalive: keepalive.1))
    }

    /// Sends `packet` from `node` into its tunnel and delivers everything that results, until quiet.
    @discardableResult
    func send(_ packet: [UInt8], from node: Node) -> WireGuardActions {
        let actions = node.device.send(packet: packet, now: now)
        node.drops += actions.dropped
        deliver(actions.datagrams, from: node)
        return actions
    }

    /// Delivers `datagrams` sent by `sender` and everything they provoke.
    func deliver(_ datagrams: [OutgoingDatagram], from sender: Node) {
        var queue = datagrams.map { ($0, sender) }
        while !queue.isEmpty {
            let (d, from) = queue.removeFirst()
            log.append("\(now) \(from.name) \(d) \(d.bytes.hex)")
            if let filter, filter(d) { lost.append(d); continue }
            guard let target = nodes.first(where: { $0.address == d.endpoint }) else { lost.append(d); continue }
            let actions = target.device.receive(datagram: d.bytes, from: from.address, now: now)
            target.delivered += actions.delivered
            target.keepalives += actions.keepalivesReceived
            target.drops += actions.dropped
            queue += actions.datagrams.map { ($0, target) }
        }
    }

    /// Advances to `time`, firing every timer due on the way.
    func advance(to time: Instant) {
        while let next = nodes.compactMap({ $0.device.nextDeadline() }).min(), next <= time {
            now = max(now, next)
            for node in nodes { deliver(node.device.poll(now: now), from: node) }
        }
        now = max(now, time)
        for node in nodes { deliver(node.device.poll(now: now), from: node) }
    }

    func advance(by d: Duration) { advance(to: now + d) }
}

/// Two peers A (10.0.0.1) and B (10.0.0.2).
func makePair(seed: UInt64 = 42, limits: WireGuardLimits = .init(), psk: (SecretKey?, SecretKey?) = (nil, nil),
              keepalive: (Duration?, Duration?) = (nil, nil)) -> (TestNetwork, Node, Node) {
    let net = TestNetwork()
    let a = net.add(Node("A", seed: seed, port: 1001, limits: limits))
    let b = net.add(Node("B", seed: seed, port: 1002, limits: limits))
    net.connect(a, ["10.0.0.1/32"], b, ["10.0.0.2/32"], psk: psk, keepalive: keepalive)
    return (net, a, b)
}
