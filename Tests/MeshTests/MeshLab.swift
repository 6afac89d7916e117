// An in-memory network of MeshNode engines on virtual time, for the node tests: each node has an address
// 192.0.2.(i+1):4500 and an overlay address 10.99.1.(10+i); links can be cut (silently: datagrams vanish) and healed;
// a node "behind NAT" is left out of the others' configuration and, like an endpoint-dependent NAT, accepts
// datagrams only from addresses it has sent to. Inner packets are ICMP-echo-like: the lab answers every request
// delivered to a node with a reply from that node, so a ping's round trip crosses the mesh both ways.
import Basics
import Crypto
import Testing
import Wire
@testable import Mesh
@testable import WireGuard

final class MeshLab {
    let pki = PKI()
    var nodes: [MeshNode<StaticMeshRouting>] = []
    var keys: [KeyPair] = []
    let count: Int
    var now = Instant.zero
    var latency: Duration = .milliseconds(5)
    /// Undirected cut links, as (low index, high index).
    var cut: Set<[Int]> = []
    let behindNAT: Set<Int>
    /// Addresses each NATed node has sent to (its NAT lets answers from them in).
    var natOpen: [Int: Set<SocketAddressV4>] = [:]
    struct InFlight { var at: Instant; var seq: Int; var from: Int; var to: Int; var bytes: [UInt8] }
    var inFlight: [InFlight] = []
    var seq = 0
    /// Inner packets delivered to each node.
    var delivered: [[[UInt8]]]
    /// Echo replies received: (node, sequence number, time).
    var replies: [(node: Int, sequence: UInt16, at: Instant)] = []
    /// Every datagram put on the wire: (from, to, bytes).
    var wire: [(from: Int, to: Int, bytes: [UInt8])] = []
    var recordWire = false

    func endpoint(_ i: Int) -> SocketAddressV4 { SocketAddressV4(address: IPv4Address(192, 0, 2, UInt8(i + 1)), port: 4500) }
    func overlay(_ i: Int) -> IPv4Address { IPv4Address(10, 99, 1, UInt8(10 + i)) }

    /// `count` nodes; `relays` have the relay capability (and the others list them, in order, for failover);
    /// `noRelayCapability` overrides: listed as relays by the others but their certificate lacks the capability.
    init(count: Int, relays: [Int], behindNAT: Set<Int> = [], listedRelays: [Int]? = nil, seed: UInt64 = 1,
         limits: WireGuardLimits = .init(), configure: (inout MeshNodeConfiguration) -> Void = { _ in }) {
        self.count = count
        self.behindNAT = behindNAT
        delivered = Array(repeating: [], count: count)
        var g = SeededRandom(seed: seed, component: "lab-static")
        for _ in 0..<count { keys.append(.deterministic(using: &g)) }
        let pki = self.pki
        var peers: [MeshPeer] = []
        for i in 0..<count {
            peers.append(MeshPeer(key: keys[i].publicKey, name: "n\(i)", endpoint: behindNAT.contains(i) ? nil : endpoint(i),
                                  addresses: [OverlayNetwork(family: 4, address: overlay(i).octets, prefixLength: 24)!]))
        }
        let relayKeys = (listedRelays ?? relays).map { keys[$0].publicKey }
        for i in 0..<count {
            let chain = pki.chain(key: keys[i].publicKey) { f in
                f.name = "n\(i)"; f.serial = 100 + UInt64(i)
                f.addresses = [OverlayNetwork(family: 4, address: self.overlay(i).octets, prefixLength: 24)!]
                f.prefixes = []
                f.capabilities = relays.contains(i) ? [.relay] : []
            }
            let handshaker = MeshHandshaker(identity: MeshIdentity(staticKey: keys[i], chain: chain)!,
                                            verifier: CertificateVerifier(anchors: pki.anchors, revocations: .init()),
                                            random: SeededRandom(seed: seed, component: "node\(i)"),
                                            wallClock: fixtureClock, limits: limits)
            let mine = peers.filter { $0.key != keys[i].publicKey }
            var config = MeshNodeConfiguration(peers: mine)
            configure(&config)
            nodes.append(MeshNode(handshaker: handshaker, configuration: config,
                                  routing: StaticMeshRouting(peers: mine, relays: relayKeys.filter { $0 != keys[i].publicKey })))
        }
    }

    func key(_ i: Int) -> PublicKey { keys[i].publicKey }
    func isCut(_ a: Int, _ b: Int) -> Bool { cut.contains([min(a, b), max(a, b)]) }
    func setCut(_ a: Int, _ b: Int, _ on: Bool) {
        if on { cut.insert([min(a, b), max(a, b)]) } else { cut.remove([min(a, b), max(a, b)]) }
    }

    /// An echo request (or reply) from node `from` to node `to`'s overlay address, with a sequence number.
    func echo(from: Int, to: IPv4Address, sequence: UInt16, reply: Bool = false, source: IPv4Address? = nil) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 64)
        p[0] = 0x45; p[3] = 64; p[8] = 64; p[9] = 1
        let s = source ?? overlay(from)
        for (i, b) in s.octets.enumerated() { p[12 + i] = b }
        for (i, b) in to.octets.enumerated() { p[16 + i] = b }
        p[20] = reply ? 0 : 8
        p[26] = UInt8(sequence >> 8); p[27] = UInt8(sequence & 0xFF)
        return p
    }

    func ping(from a: Int, to b: Int, sequence: UInt16) {
        handle(nodes[a].send(packet: echo(from: a, to: overlay(b), sequence: sequence), now: now), of: a)
    }

    func handle(_ actions: [MeshNodeAction], of i: Int) {
        for action in actions {
            switch action {
            case .send(let bytes, let to):
                if recordWire { wire.append((i, -1, bytes)) }
                if behindNAT.contains(i) { natOpen[i, default: []].insert(to) }
                guard let j = (0..<count).first(where: { endpoint($0) == to }), !isCut(i, j) else { continue }
                if behindNAT.contains(j), natOpen[j]?.contains(endpoint(i)) != true { continue }
                seq += 1
                inFlight.append(InFlight(at: now + latency, seq: seq, from: i, to: j, bytes: bytes))
            case .deliver(let packet):
                delivered[i].append(packet)
                if packet.count >= 28, packet[9] == 1 {
                    let sequence = UInt16(packet[26]) << 8 | UInt16(packet[27])
                    let source = IPv4Address(packet[12], packet[13], packet[14], packet[15])
                    if packet[20] == 8 {
                        let r = echo(from: i, to: source, sequence: sequence, reply: true)
                        handle(nodes[i].send(packet: r, now: now), of: i)
                    } else {
                        replies.append((i, sequence, now))
                    }
                }
            }
        }
    }

    /// Runs datagrams and timers in time order up to `end`, calling `every` at each multiple of `period` (if any).
    func run(until end: Instant, period: Duration? = nil, every: ((Instant) -> Void)? = nil) {
        var nextPeriodic = period.map { _ in now }
        var steps = 0
        while true {
            steps += 1
            if steps > 5_000_000 { Issue.record("the lab did not settle"); return }
            var t = Instant.distantFuture
            var which = -1
            for (k, f) in inFlight.enumerated() where f.at < t || (f.at == t && f.seq < inFlight[which].seq) {
                t = f.at; which = k
            }
            var tickAt = Instant.distantFuture
            for n in nodes { if let d = n.nextDeadline(), d < tickAt { tickAt = d } }
            let p = nextPeriodic ?? .distantFuture
            let soonest = min(t, tickAt, p)
            guard soonest <= end else { break }
            now = max(now, soonest)
            if p == soonest, let period {
                nextPeriodic = p + period
                every?(now)
            } else if t == soonest, which >= 0 {
                let f = inFlight.remove(at: which)
                handle(nodes[f.to].receive(datagram: f.bytes, from: endpoint(f.from), now: now), of: f.to)
            } else {
                for (i, n) in nodes.enumerated() where (n.nextDeadline() ?? .distantFuture) <= now {
                    handle(n.tick(now: now), of: i)
                }
            }
        }
        now = end
    }

    func drops(_ i: Int, _ r: MeshDropReason) -> UInt64 { nodes[i].handshaker.counters.drops[r] }
}
