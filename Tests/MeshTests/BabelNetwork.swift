// An in-memory network of BabelRouters for tests: N routers, point-to-point links with a delay per direction that
// can be cut silently (packets vanish) or changed, virtual time only. Routers' actions are carried out in order;
// `run(until:)` delivers packets and fires timers in time order (ties by send order), so a run is a pure function
// of its inputs.
import Basics
import Wire
@testable import Mesh

struct BabelNetwork {
    struct Link {
        var delay: [Duration]  // [a→b, b→a]
        var up = true
        /// Every `lossEvery`-th packet on the link (each direction counted apart) is lost; 0: none.
        var lossEvery = 0
        var sent = [0, 0]
    }
    struct Event {
        var time: Instant
        var seq: UInt64
        var from: Int
        var to: Int
        var bytes: [UInt8]
    }

    var now = Instant.zero
    var routers: [BabelRouter]
    var links: [Int: Link] = [:]
    var adjacency: [[Int]]
    var queue: [Event] = []  // binary heap on (time, seq)
    var seq: UInt64 = 0
    var deadlines: [Instant]
    var bytesSent: [UInt64]
    var packetsSent: [UInt64]
    /// Every routeChanged action: (time, node, prefix, next hop).
    var routeChanges: [(time: Instant, node: Int, prefix: BabelPrefix, nextHop: NeighbourID?)] = []
    /// A digest of every packet delivered (determinism checks).
    var digest: UInt64 = 0xCBF2_9CE4_8422_2325

    static func prefix(_ i: Int) -> BabelPrefix { BabelPrefix(ipv4: address(i), length: 32) }
    static func address(_ i: Int) -> IPv4Address { IPv4Address(10, 99, UInt8(i / 256), UInt8(i % 256)) }
    static func routerID(_ i: Int) -> RouterID { RouterID(rawValue: UInt64(i) + 1) }

    init(nodes: Int, edges: [(Int, Int)], delay: Duration = .milliseconds(2),
         configuration: BabelConfiguration = BabelConfiguration(),
         authorize: @escaping BabelRouter.Authorizer = { _, _ in true }) {
        routers = (0..<nodes).map { BabelRouter(routerID: Self.routerID($0), configuration: configuration, now: .zero, authorize: authorize) }
        adjacency = Array(repeating: [], count: nodes)
        deadlines = Array(repeating: .distantFuture, count: nodes)
        bytesSent = Array(repeating: 0, count: nodes)
        packetsSent = Array(repeating: 0, count: nodes)
        for (a, b) in edges {
            links[key(a, b)] = Link(delay: [delay, delay])
            adjacency[a].append(b); adjacency[b].append(a)
        }
        for i in 0..<nodes { adjacency[i].sort() }
    }

    static func line(_ n: Int) -> [(Int, Int)] { (0..<(n - 1)).map { ($0, $0 + 1) } }
    static func ring(_ n: Int) -> [(Int, Int)] { line(n) + [(n - 1, 0)] }
    static func fullMesh(_ n: Int) -> [(Int, Int)] { (0..<n).flatMap { a in ((a + 1)..<n).map { (a, $0) } } }

    func key(_ a: Int, _ b: Int) -> Int { min(a, b) * 100_000 + max(a, b) }

    /// Every router originates its /32 and brings up its links.
    mutating func start() {
        for i in routers.indices { perform(i, routers[i].originate(prefix: Self.prefix(i), now: now)) }
        for (k, _) in links.sorted(by: { $0.key < $1.key }) {
            let a = k / 100_000, b = k % 100_000
            perform(a, routers[a].neighbourUp(NeighbourID(UInt32(b)), now: now))
            perform(b, routers[b].neighbourUp(NeighbourID(UInt32(a)), now: now))
        }
    }

    mutating func setLink(_ a: Int, _ b: Int, up: Bool) { links[key(a, b)]!.up = up }

    mutating func setDelay(_ a: Int, _ b: Int, _ d: Duration) { links[key(a, b)]!.delay = [d, d] }

    /// The session between a and b is closed and both ends are told (a signalled failure).
    mutating func signalDown(_ a: Int, _ b: Int) {
        setLink(a, b, up: false)
        perform(a, routers[a].neighbourDown(NeighbourID(UInt32(b)), now: now))
        perform(b, routers[b].neighbourDown(NeighbourID(UInt32(a)), now: now))
    }

    mutating func perform(_ i: Int, _ actions: [BabelAction]) {
        for action in actions {
            switch action {
            case .send(let bytes, let to): transmit(i, Int(to.rawValue), bytes)
            case .sendToAll(let bytes): for j in routers[i].neighbourIDs { transmit(i, Int(j.rawValue), bytes) }
            case .routeChanged(let p, let nh, _): routeChanges.append((now, i, p, nh))
            }
        }
        deadlines[i] = routers[i].nextDeadline()
    }

    mutating func transmit(_ from: Int, _ to: Int, _ bytes: [UInt8]) {
        bytesSent[from] &+= UInt64(bytes.count)
        packetsSent[from] &+= 1
        guard let link = links[key(from, to)], link.up else { return }
        let dir = from < to ? 0 : 1
        links[key(from, to)]!.sent[dir] += 1
        if link.lossEvery > 0, links[key(from, to)]!.sent[dir] % link.lossEvery == 0 { return }
        seq &+= 1
        push(Event(time: now + link.delay[dir], seq: seq, from: from, to: to, bytes: bytes))
    }

    /// Runs events and timers up to `end` (inclusive); `each` is called after every step.
    mutating func run(until end: Instant, each: ((inout BabelNetwork) -> Bool)? = nil) {
        while true {
            var ri = 0
            for i in deadlines.indices where deadlines[i] < deadlines[ri] { ri = i }
            let eventTime = queue.first?.time ?? .distantFuture
            let t = min(eventTime, deadlines[ri])
            if t > end { break }
            now = max(now, t)
            if eventTime <= deadlines[ri] {
                let e = pop()
                for b in e.bytes { digest = (digest ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
                perform(e.to, routers[e.to].receive(e.bytes, from: NeighbourID(UInt32(e.from)), now: now))
            } else {
                perform(ri, routers[ri].tick(now: now))
            }
            if let each, !each(&self) { return }
        }
        now = max(now, end)
    }

    mutating func run(for d: Duration, each: ((inout BabelNetwork) -> Bool)? = nil) { run(until: now + d, each: each) }

    // MARK: paths

    enum Walk: Equatable { case reached, blackhole, loop }

    /// Follows next hops from `s` toward node `d`'s address over links that are up.
    func walk(_ s: Int, _ d: Int) -> Walk {
        var cur = s
        var seen = Set<Int>()
        while cur != d {
            if !seen.insert(cur).inserted { return .loop }
            guard let nh = routers[cur].nextHop(for: Self.address(d)) else { return .blackhole }
            let next = Int(nh.rawValue)
            guard links[key(cur, next)]?.up == true else { return .blackhole }
            cur = next
        }
        return .reached
    }

    /// True when every node reaches every other along up links.
    var converged: Bool {
        for s in routers.indices { for d in routers.indices where s != d && walk(s, d) != .reached { return false } }
        return true
    }

    /// Pairs whose next hops loop.
    var loops: Int {
        var n = 0
        for s in routers.indices { for d in routers.indices where s != d && walk(s, d) == .loop { n += 1 } }
        return n
    }

    /// Runs until converged (checked every `step`), returning the time it took, or nil past `limit`.
    mutating func runUntilConverged(limit: Duration, step: Duration = .milliseconds(50)) -> Duration? {
        let start = now
        while now - start <= limit {
            run(for: step)
            if converged { return now - start }
        }
        return nil
    }

    // MARK: heap

    static func before(_ a: Event, _ b: Event) -> Bool { (a.time, a.seq) < (b.time, b.seq) }

    mutating func push(_ e: Event) {
        queue.append(e)
        var i = queue.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard Self.before(queue[i], queue[p]) else { break }
            queue.swapAt(i, p); i = p
        }
    }

    mutating func pop() -> Event {
        let top = queue[0]
        let last = queue.removeLast()
        if !queue.isEmpty {
            queue[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < queue.count && Self.before(queue[l], queue[m]) { m = l }
                if r < queue.count && Self.before(queue[r], queue[m]) { m = r }
                if m == i { break }
                queue.swapAt(i, m); i = m
            }
        }
        return top
    }
}
