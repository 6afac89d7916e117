// The mesh on the simulator: one real MeshNode engine with Babel routing (BabelMeshRouting) per scenario node, on
// virtual time, over an in-memory UDP underlay of point-to-point links (delay, loss, up/down, partitions). Node i has
// the endpoint 192.0.2.(i+1):4500 and the overlay address 10.99.1.(10+i)/24. The PKI is made from the seed when the
// scenario loads: a root (Ed25519 from SeededRandom "mesh-pki"), one certificate per node binding its X25519 key
// (also from the seed), relay capability as the file says. Datagrams and timeline tasks share one binary heap ordered
// by (time, sequence); each engine's next deadline is cached and recomputed after it was called. Inner packets are
// ICMP echo requests and replies (identifier = the action, sequence = the probe); the simulation answers each request
// delivered to a node. Same file, same seed: the same datagrams at the same times (`digest`).
import Basics
import Crypto
import Mesh
import Wire

final class MeshSimulation {
    /// Unix time at the simulation's Instant.zero (2026-12-07 00:00:00Z); certificates are valid a year around it.
    static let wallStart: Int64 = 1_796_601_600
    static let port: UInt16 = 4500

    let spec: MeshScenario
    let seed: UInt64
    let count: Int
    let rootKey: SigningKey
    let anchors: TrustAnchors
    var keys: [KeyPair] = []
    var chains: [[Certificate]] = []
    var peers: [MeshPeer] = []
    var index: [PublicKey: Int] = [:]
    /// nil while a node is down (between the two halves of a restart).
    var nodes: [MeshNode<BabelMeshRouting>?] = []
    var generation: [Int]
    /// Every revocation list handed out so far (a restarted node starts with all of them applied).
    var revocations = RevocationSet()
    var revocationSequence: UInt64 = 0
    var now = Instant.zero
    let wall: WallClock

    // Underlay.
    var linkIndex: [Int: Int] = [:]
    var linkUp: [Bool]
    var linkDelay: [Duration]
    var linkLoss: [Double]
    var partitioned: Set<Int>?
    var lossRandom: SeededRandom

    // Events.
    struct Event { var at: Instant; var seq: Int; var from: Int; var to: Int; var bytes: [UInt8]; var task: Int }
    var heap: [Event] = []
    var seq = 0
    var tasks: [Int: () -> Void] = [:]
    var deadlines: [Instant]

    // Measurements.
    var bytesSent: [Int]
    var datagramsSent: [Int]
    var datagramsLost = 0
    /// FNV-1a over every datagram put on the wire, with its sender and time.
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325
    /// Called for each echo reply delivered: (node, identifier, sequence).
    var onReply: ((Int, UInt16, UInt16) -> Void)?

    init(_ spec: MeshScenario, seed: UInt64) throws {
        self.spec = spec
        self.seed = seed
        count = spec.nodes.count
        generation = Array(repeating: 0, count: count)
        bytesSent = Array(repeating: 0, count: count)
        datagramsSent = Array(repeating: 0, count: count)
        deadlines = Array(repeating: .distantFuture, count: count)
        wall = WallClock(unixNanoseconds: UInt64(Self.wallStart) * 1_000_000_000, at: .zero)
        lossRandom = SeededRandom(seed: seed, component: "mesh-underlay-loss")
        linkUp = spec.links.map(\.up)
        linkDelay = spec.links.map(\.delay)
        linkLoss = spec.links.map(\.loss)
        for (i, l) in spec.links.enumerated() { linkIndex[l.a * count + l.b] = i }

        var pkiRandom = SeededRandom(seed: seed, component: "mesh-pki")
        rootKey = .deterministic(using: &pkiRandom)
        let year: Int64 = 365 * 86_400
        let root = try Certificate(signing: CertificateFields(
            isCA: true, pathLength: 0, capabilities: [.relay], issuer: KeyID(of: rootKey.publicKey),
            subjectKey: rootKey.publicKey.key, serial: 1, notBefore: Self.wallStart - year, notAfter: Self.wallStart + 2 * year,
            name: "lab-root", addresses: [OverlayNetwork("10.99.0.0/16")!], prefixes: [], groups: []), with: rootKey)
        anchors = try TrustAnchors([root])
        var keyRandom = SeededRandom(seed: seed, component: "mesh-keys")
        for i in 0..<count {
            let key = KeyPair.deterministic(using: &keyRandom)
            keys.append(key)
            index[key.publicKey] = i
            let address = OverlayNetwork(family: 4, address: Self.overlay(i).octets, prefixLength: 24)!
            chains.append([try Certificate(signing: CertificateFields(
                isCA: false, capabilities: spec.nodes[i].relay ? [.relay] : [], issuer: root.keyID, subjectKey: key.publicKey,
                serial: 100 + UInt64(i), notBefore: Self.wallStart - year, notAfter: Self.wallStart + year,
                name: spec.nodes[i].name, addresses: [address], prefixes: [], groups: []), with: rootKey)])
            peers.append(MeshPeer(key: key.publicKey, name: spec.nodes[i].name, endpoint: Self.endpoint(i), addresses: [address]))
        }
        for i in 0..<count { start(i) }
    }

    static func endpoint(_ i: Int) -> SocketAddressV4 { SocketAddressV4(address: IPv4Address(192, 0, 2, UInt8(i + 1)), port: port) }
    static func overlay(_ i: Int) -> IPv4Address { IPv4Address(10, 99, 1, UInt8(10 + i)) }
    func key(_ i: Int) -> PublicKey { keys[i].publicKey }

    /// A fresh engine for node `i` (at start, and when a restart brings it back).
    func start(_ i: Int) {
        let handshaker = MeshHandshaker(identity: MeshIdentity(staticKey: keys[i], chain: chains[i])!,
                                        verifier: CertificateVerifier(anchors: anchors, revocations: revocations),
                                        random: SeededRandom(seed: seed, component: "mesh-node\(i)-\(generation[i])"),
                                        wallClock: wall)
        let mine = peers.filter { $0.key != keys[i].publicKey }
        let routing = BabelMeshRouting(localKey: keys[i].publicKey, addresses: peers[i].addresses, prefixes: [],
                                       peers: mine, now: now)
        let node = MeshNode(handshaker: handshaker, configuration: MeshNodeConfiguration(peers: mine, relay: spec.nodes[i].relay),
                            routing: routing)
        if i < nodes.count { nodes[i] = node } else { nodes.append(node) }
        deadlines[i] = node.nextDeadline() ?? .distantFuture
    }

    /// Node `i` goes silent: its engine and everything it knew are gone; datagrams to it vanish.
    func stop(_ i: Int) {
        nodes[i] = nil
        generation[i] += 1
        deadlines[i] = .distantFuture
    }

    // MARK: Underlay

    func link(between a: Int, _ b: Int) -> Int? { linkIndex[min(a, b) * count + max(a, b)] }

    /// Whether a datagram from `a` to `b` can pass right now, and its delay.
    func passes(_ a: Int, _ b: Int) -> Duration? {
        guard let l = link(between: a, b), linkUp[l] else { return nil }
        if let p = partitioned, p.contains(a) != p.contains(b) { return nil }
        return linkDelay[l]
    }

    /// Tells both ends of `a`–`b` that the underlay path is gone (interface down / ICMP unreachable).
    func signalDown(_ a: Int, _ b: Int) {
        if let n = nodes[a] { handle(n.directPathFailed(endpoint: Self.endpoint(b), now: now), of: a) }
        if let n = nodes[b] { handle(n.directPathFailed(endpoint: Self.endpoint(a), now: now), of: b) }
    }

    // MARK: Events

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

    /// Runs `task` at `at` (in scheduling order among tasks and datagrams due at the same instant).
    func schedule(at: Instant, _ task: @escaping () -> Void) {
        seq += 1
        tasks[seq] = task
        push(Event(at: max(at, now), seq: seq, from: -1, to: -1, bytes: [], task: seq))
    }

    // MARK: Traffic

    func echo(from: Int, to: Int, identifier: UInt16, sequence: UInt16, reply: Bool) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 64)
        p[0] = 0x45; p[3] = 64; p[8] = 64; p[9] = 1
        for (k, b) in Self.overlay(from).octets.enumerated() { p[12 + k] = b }
        for (k, b) in Self.overlay(to).octets.enumerated() { p[16 + k] = b }
        p[20] = reply ? 0 : 8
        p[24] = UInt8(identifier >> 8); p[25] = UInt8(identifier & 0xFF)
        p[26] = UInt8(sequence >> 8); p[27] = UInt8(sequence & 0xFF)
        return p
    }

    /// An echo request from `a` to `b`'s overlay address (nothing when `a` is down).
    func ping(from a: Int, to b: Int, identifier: UInt16, sequence: UInt16) {
        guard let n = nodes[a] else { return }
        handle(n.send(packet: echo(from: a, to: b, identifier: identifier, sequence: sequence, reply: false), now: now), of: a)
    }

    func handle(_ actions: [MeshNodeAction], of i: Int) {
        for action in actions {
            switch action {
            case .send(let bytes, let to):
                bytesSent[i] += bytes.count
                datagramsSent[i] += 1
                mix(UInt64(i)); mix(now.nanoseconds); for b in bytes { mix(UInt64(b)) }
                let j = Int(to.address.octets[3]) - 1
                guard to.port == Self.port, to.address.octets[0] == 192, j >= 0, j < count, let delay = passes(i, j) else { continue }
                if let l = link(between: i, j), linkLoss[l] > 0, lossRandom.nextUnit() < linkLoss[l] {
                    datagramsLost += 1
                    continue
                }
                seq += 1
                push(Event(at: now + delay, seq: seq, from: i, to: j, bytes: bytes, task: 0))
            case .deliver(let packet):
                guard packet.count >= 28, packet[9] == 1 else { continue }
                let identifier = UInt16(packet[24]) << 8 | UInt16(packet[25])
                let sequence = UInt16(packet[26]) << 8 | UInt16(packet[27])
                let source = IPv4Address(packet[12], packet[13], packet[14], packet[15])
                if packet[20] == 8 {
                    let o = source.octets
                    let from = Int(o[3]) - 10
                    guard o[0] == 10, o[1] == 99, o[2] == 1, from >= 0, from < count, let n = nodes[i] else { continue }
                    handle(n.send(packet: echo(from: i, to: from, identifier: identifier, sequence: sequence, reply: true), now: now), of: i)
                } else if packet[20] == 0 {
                    onReply?(i, identifier, sequence)
                }
            }
        }
        deadlines[i] = nodes[i]?.nextDeadline() ?? .distantFuture
    }

    func mix(_ v: UInt64) { digest = (digest ^ v) &* 0x100_0000_01b3 }

    /// Runs datagrams, timers and tasks in time order up to `end`. Throws when the run does not settle.
    func run(until end: Instant) throws(MeshSimulationError) {
        var steps = 0
        while true {
            steps += 1
            if steps > 200_000_000 { throw .didNotSettle(at: now) }
            let t = heap.first?.at ?? .distantFuture
            var tickAt = Instant.distantFuture, who = -1
            for (i, d) in deadlines.enumerated() where d < tickAt { tickAt = d; who = i }
            let soonest = min(t, tickAt)
            guard soonest <= end else { break }
            now = max(now, soonest)
            if t == soonest {
                let e = pop()
                if e.task != 0 {
                    let task = tasks.removeValue(forKey: e.task)
                    task?()
                } else if let n = nodes[e.to] {
                    handle(n.receive(datagram: e.bytes, from: Self.endpoint(e.from), now: now), of: e.to)
                }
            } else if who >= 0, let n = nodes[who] {
                handle(n.tick(now: now), of: who)
            }
        }
        now = max(now, end)
    }

    // MARK: Revocation

    /// The root revokes node `i`'s key; the list goes to `via`, which applies and floods it.
    func revoke(_ i: Int, via: Int) throws {
        revocationSequence += 1
        let list = try RevocationList(signer: rootKey, sequence: revocationSequence,
                                      issuedAt: Self.wallStart + (now - .zero).nanosecondsClamped / 1_000_000_000, serials: [], keys: [key(i)])
        _ = try? revocations.apply(list, roots: anchors)
        if let n = nodes[via] { handle(n.receiveRevocationList(list, now: now), of: via) }
    }

    /// True when node `j` holds the revocation of `i`, has no session with it and no route to it (or is down).
    func hasCutOff(_ j: Int, from i: Int) -> Bool {
        guard let n = nodes[j] else { return true }
        return n.handshaker.verifier.revocations.keys.contains(key(i)) && !n.hasSession(with: key(i))
            && n.routing.nextHop(for: Self.overlay(i)) == nil
    }

    // MARK: Routing checks

    enum Walk: Equatable { case reached(hops: Int), blackhole, loop }

    /// Follows each node's Babel next hop from `a` toward `b`'s overlay address.
    func walk(_ a: Int, _ b: Int) -> Walk {
        var seen: Set<Int> = [a]
        var cur = a, hops = 0
        while cur != b {
            guard let n = nodes[cur], let k = n.routing.nextHop(for: Self.overlay(b)), let nxt = index[k] else { return .blackhole }
            hops += 1
            if !seen.insert(nxt).inserted { return .loop }
            cur = nxt
        }
        return .reached(hops: hops)
    }

    /// Ordered pairs whose routes loop right now.
    func loops() -> Int {
        var n = 0
        for a in 0..<count { for b in 0..<count where a != b && walk(a, b) == .loop { n += 1 } }
        return n
    }
}

enum MeshSimulationError: Error, CustomStringConvertible {
    case didNotSettle(at: Instant)
    var description: String {
        switch self {
        case .didNotSettle(let at): "the mesh simulation did not settle (200 million steps by \(Format.time(at)))"
        }
    }
}
