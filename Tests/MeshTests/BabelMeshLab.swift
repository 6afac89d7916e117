// An in-memory network of MeshNode engines routed by Babel (BabelMeshRouting), on virtual time: node i has the
// endpoint 192.0.2.(i+1):4500 and the overlay address 10.99.1.(10+i); the underlay is a set of links with a latency
// each (datagrams between unlinked nodes vanish, like a silently cut link). Every node has the relay capability and
// knows every other node's endpoint. Events come from a binary heap; each node's next deadline is cached and
// recomputed only after that node was called, so 64 nodes stay fast. Inner packets are echo requests and replies
// (as in MeshLab.swift): the lab answers each request delivered to a node.
import Basics
import Crypto
import Testing
import Wire
@testable import Mesh
@testable import WireGuard

final class BabelMeshLab {
    let pki = PKI()
    var nodes: [MeshNode<BabelMeshRouting>] = []
    var keys: [KeyPair] = []
    var index: [PublicKey: Int] = [:]
    let count: Int
    var now = Instant.zero
    /// Underlay links (low*count + high) and their one-way latency; `cut` ones drop everything silently.
    var links: [Int: Duration] = [:]
    var cut: Set<Int> = []
    struct Event { var at: Instant; var seq: Int; var from: Int; var to: Int; var bytes: [UInt8] }
    var heap: [Event] = []
    var seq = 0
    var deadlines: [Instant] = []
    /// Bytes each node put on the wire (UDP payloads), and datagrams.
    var bytesSent: [Int]
    var datagramsSent: [Int]
    var replies: [(node: Int, sequence: UInt16, at: Instant)] = []
    /// FNV-1a over every datagram put on the wire, with its sender and time: equal for equal runs.
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325
    let revocations: RevocationSet

    func endpoint(_ i: Int) -> SocketAddressV4 { SocketAddressV4(address: IPv4Address(192, 0, 2, UInt8(i + 1)), port: 4500) }
    func overlay(_ i: Int) -> IPv4Address { IPv4Address(10, 99, 1, UInt8(10 + i)) }
    func key(_ i: Int) -> PublicKey { keys[i].publicKey }
    func link(_ a: Int, _ b: Int) -> Int { min(a, b) * count + max(a, b) }

    init(count: Int, links: [(Int, Int)], latency: (Int, Int) -> Duration = { _, _ in .milliseconds(5) }, seed: UInt64 = 1,
         babel: BabelConfiguration = BabelConfiguration()) {
        self.count = count
        bytesSent = Array(repeating: 0, count: count)
        datagramsSent = Array(repeating: 0, count: count)
        revocations = RevocationSet()
        var g = SeededRandom(seed: seed, component: "babel-mesh-lab")
        for i in 0..<count {
            keys.append(.deterministic(using: &g))
            index[keys[i].publicKey] = i
        }
        for (a, b) in links { self.links[link(a, b)] = latency(a, b) }
        let pki = self.pki
        var peers: [MeshPeer] = []
        for i in 0..<count {
            peers.append(MeshPeer(key: keys[i].publicKey, name: "n\(i)", endpoint: endpoint(i),
                                  addresses: [OverlayNetwork(family: 4, address: overlay(i).octets, prefixLength: 24)!]))
        }
        for i in 0..<count {
            let chain = pki.chain(key: keys[i].publicKey) { f in
                f.name = "n\(i)"; f.serial = 100 + UInt64(i)
                f.addresses = [OverlayNetwork(family: 4, address: self.overlay(i).octets, prefixLength: 24)!]
                f.prefixes = []
                f.capabilities = [.relay]
            }
            let handshaker = MeshHandshaker(identity: MeshIdentity(staticKey: keys[i], chain: chain)!,
                                            verifier: CertificateVerifier(anchors: pki.anchors, revocations: .init()),
                                            random: SeededRandom(seed: seed, component: "node\(i)"),
                                            wallClock: fixtureClock)
            let mine = peers.filter { $0.key != keys[i].publicKey }
            let routing = BabelMeshRouting(localKey: keys[i].publicKey, addresses: peers[i].addresses, prefixes: [],
                                           peers: mine, configuration: babel, now: .zero)
            nodes.append(MeshNode(handshaker: handshaker, configuration: MeshNodeConfiguration(peers: mine), routing: routing))
        }
        deadlines = nodes.map { $0.nextDeadline() ?? .distantFuture }
    }

    func setCut(_ a: Int, _ b: Int, _ on: Bool) {
        if on { cut.insert(link(a, b)) } else { cut.remove(link(a, b)) }
    }

    // MARK: Heap of datagrams in flight, ordered by (time, sequence).

    func before(_ x: Event, _ y: Event) -> Bool { x.at < y.at || (x.at == y.at && x.seq < y.seq) }
    func push(_ e: Event) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard before(heap[i], heap[p]) else { break }
            heap.swapAt(i, p); i = p
        }
    }
    func pop() -> Event {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, before(heap[l], heap[m]) { m = l }
                if r < heap.count, before(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m); i = m
            }
        }
        return top
    }

    // MARK: Traffic

    func echo(from: Int, to: IPv4Address, sequence: UInt16, reply: Bool = false) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 64)
        p[0] = 0x45; p[3] = 64; p[8] = 64; p[9] = 1
        for (k, b) in overlay(from).octets.enumerated() { p[12 + k] = b }
        for (k, b) in to.octets.enumerated() { p[16 + k] = b }
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
                bytesSent[i] += bytes.count
                datagramsSent[i] += 1
                mix(UInt64(i)); mix(now.nanoseconds); for b in bytes { mix(UInt64(b)) }
                let j = Int(to.address.octets[3]) - 1
                guard to.port == 4500, j >= 0, j < count, let latency = links[link(i, j)], !cut.contains(link(i, j)) else { continue }
                seq += 1
                push(Event(at: now + latency, seq: seq, from: i, to: j, bytes: bytes))
            case .deliver(let packet):
                if packet.count >= 28, packet[9] == 1 {
                    let sequence = UInt16(packet[26]) << 8 | UInt16(packet[27])
                    let source = IPv4Address(packet[12], packet[13], packet[14], packet[15])
                    if packet[20] == 8 {
                        handle(nodes[i].send(packet: echo(from: i, to: source, sequence: sequence, reply: true), now: now), of: i)
                    } else {
                        replies.append((i, sequence, now))
                    }
                }
            }
        }
        deadlines[i] = nodes[i].nextDeadline() ?? .distantFuture
    }

    func mix(_ v: UInt64) { digest = (digest ^ v) &* 0x100_0000_01b3 }

    /// Runs datagrams and timers in time order up to `end`, calling `every` at each multiple of `period`.
    func run(until end: Instant, period: Duration? = nil, every: ((Instant) -> Void)? = nil) {
        var nextPeriodic = period.map { _ in now }
        var steps = 0
        while true {
            steps += 1
            if steps > 20_000_000 { Issue.record("the lab did not settle"); return }
            let t = heap.first?.at ?? .distantFuture
            var tickAt = Instant.distantFuture, who = -1
            for (i, d) in deadlines.enumerated() where d < tickAt { tickAt = d; who = i }
            let p = nextPeriodic ?? .distantFuture
            let soonest = min(t, tickAt, p)
            guard soonest <= end else { break }
            now = max(now, soonest)
            if p == soonest, let period {
                nextPeriodic = p + period
                every?(now)
            } else if t == soonest {
                let e = pop()
                handle(nodes[e.to].receive(datagram: e.bytes, from: endpoint(e.from), now: now), of: e.to)
            } else if who >= 0 {
                handle(nodes[who].tick(now: now), of: who)
            }
        }
        now = end
    }

    // MARK: Routing checks

    enum Walk: Equatable { case reached(hops: Int), blackhole, loop }

    /// Follows each node's Babel next hop from `a` toward `b`'s overlay address.
    func walk(_ a: Int, _ b: Int) -> Walk {
        var seen: Set<Int> = [a]
        var cur = a, hops = 0
        while cur != b {
            guard let k = nodes[cur].routing.nextHop(for: overlay(b)), let nxt = index[k] else { return .blackhole }
            hops += 1
            if !seen.insert(nxt).inserted { return .loop }
            cur = nxt
        }
        return .reached(hops: hops)
    }

    /// Pairs whose routes loop right now.
    func loops() -> Int {
        var n = 0
        for a in 0..<count { for b in 0..<count where a != b && walk(a, b) == .loop { n += 1 } }
        return n
    }

    /// Pairs with a route all the way.
    func routed() -> Int {
        var n = 0
        for a in 0..<count { for b in 0..<count where a != b { if case .reached = walk(a, b) { n += 1 } } }
        return n
    }

    /// Pings every ordered pair once (sequence = a*256+b) and returns how many got a reply within `within`.
    func pingAll(within: Duration) -> Int { answeredPairs(within: within).count }

    /// Pings every ordered pair once and returns the pairs [a, b] whose reply came back within `within`.
    func answeredPairs(within: Duration) -> Set<[Int]> {
        let start = now, first = replies.count
        for a in 0..<count { for b in 0..<count where a != b { ping(from: a, to: b, sequence: UInt16(a * 256 + b)) } }
        run(until: start + within)
        var got: Set<[Int]> = []
        for r in replies[first...] where Int(r.sequence) >> 8 == r.node { got.insert([r.node, Int(r.sequence) & 0xFF]) }
        return got
    }
}
