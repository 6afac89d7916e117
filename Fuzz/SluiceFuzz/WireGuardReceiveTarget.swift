// Fuzz target `wireguard-receive` (layer 2, WireGuard): datagrams from the network into a device B
// that has one peer A (fixed keys, seeded randomness, virtual time), as the tunnel and the WAN
// port feed it. Handshake initiation, response, cookie reply, transport data and keepalives all
// arrive here first.
//
// Input: a flags byte, then records (16-bit little-endian length + bytes), each one datagram.
//   bit 0  complete a real handshake A→B first (B then holds a session: transport data is reachable)
//   bit 1  B starts a handshake to A first, and A answers (a response to B's initiation is reachable)
//   bit 2  recompute mac1 of each initiation/response-sized datagram for B's key (past the MAC check)
//   bit 3  datagrams come from an address that is not A's endpoint
//   bit 4  claim B is under load (cookie replies instead of handshakes)
// After the datagrams B's timers fire up to six times (within 30 s of virtual time) and B sends one packet.
import Basics
import Crypto
import Wire
import WireGuard

enum WireGuardReceiveTarget {
    static let start = Instant(nanoseconds: 1_000_000_000_000)
    static let addressA = SocketAddressV4(address: IPv4Address(192, 0, 2, 1), port: 1001)
    static let addressB = SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 1002)
    static let stranger = SocketAddressV4(address: IPv4Address(198, 51, 100, 9), port: 4242)

    /// The same two identities for every input (X25519 of fixed scalars).
    static let keysA: KeyPair = { var g = SeededRandom(seed: 19, component: "fuzz-A"); return .deterministic(using: &g) }()
    static let keysB: KeyPair = { var g = SeededRandom(seed: 19, component: "fuzz-B"); return .deterministic(using: &g) }()
    static let mac1KeyB: [UInt8] = BLAKE2s.hash(Array(WireGuardConstants.labelMAC1.utf8) + keysB.publicKey.bytes)

    static func device(_ keys: KeyPair, _ name: String) -> WireGuardDevice {
        WireGuardDevice(configuration: DeviceConfiguration(privateKey: keys.privateKey),
                        random: SeededRandom(seed: 19, component: "random-\(name)"),
                        keySource: SeededRandom(seed: 19, component: "ephemeral-\(name)"), wallClock: .monotonic)
    }

    /// A fresh pair: A (10.0.0.1) and B (10.0.0.2), each the other's only peer.
    static func pair() -> (a: WireGuardDevice, b: WireGuardDevice) {
        let a = device(keysA, "A"), b = device(keysB, "B")
        a.addPeer(PeerConfiguration(publicKey: keysB.publicKey, endpoint: addressB, allowedIPs: [IPv4Network("10.0.0.2/32")!]))
        b.addPeer(PeerConfiguration(publicKey: keysA.publicKey, endpoint: addressA, allowedIPs: [IPv4Network("10.0.0.1/32")!]))
        return (a, b)
    }

    /// An IPv4 packet from `source` to `destination` carrying `payload`.
    static func packet(_ source: IPv4Address, _ destination: IPv4Address, _ payload: [UInt8] = Array("fuzz".utf8)) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 20) + payload
        let total = UInt16(p.count)
        p.withUnsafeMutableBytes { b in
            b[0] = 0x45; b.setU16(2, total); b[8] = 64; b[9] = 17
            b.setU32(12, source.rawValue); b.setU32(16, destination.rawValue)
            b.setU16(10, InternetChecksum.of(UnsafeRawBufferPointer(b).slice(0..<20)))
        }
        return p
    }

    /// Delivers datagrams back and forth between A and B until quiet (at most `limit` of them).
    static func pump(_ first: [OutgoingDatagram], from sender: WireGuardDevice, _ a: WireGuardDevice, _ b: WireGuardDevice,
                     now: Instant, limit: Int = 16) {
        var queue = first.map { ($0, sender === a) }
        var n = 0
        while !queue.isEmpty, n < limit {
            let (d, fromA) = queue.removeFirst()
            n += 1
            let target = fromA ? b : a
            let actions = target.receive(datagram: d.bytes, from: fromA ? addressA : addressB, now: now)
            queue += actions.datagrams.map { ($0, !fromA) }
        }
    }

    /// The state the flags ask for, before the fuzzed datagrams.
    static func prepare(_ flags: UInt8) -> (a: WireGuardDevice, b: WireGuardDevice) {
        let (a, b) = pair()
        if flags & 1 != 0 {
            pump(a.send(packet: packet(IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)), now: start).datagrams, from: a, a, b, now: start)
        }
        if flags & 2 != 0 {
            // B's initiation reaches A; A's response is not delivered (the fuzzer brings it).
            for d in b.send(packet: packet(IPv4Address(10, 0, 0, 2), IPv4Address(10, 0, 0, 1)), now: start).datagrams {
                _ = a.receive(datagram: d.bytes, from: addressB, now: start)
            }
        }
        if flags & 16 != 0 { b.underLoadOverride = true }
        return (a, b)
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.u8()
        let (_, b) = prepare(flags)
        var now = start + .milliseconds(1)
        var count = 0
        while !input.isEmpty, count < 64 {
            var datagram = exactCopy(input.record())
            count += 1
            if flags & 4 != 0, datagram.count == WireGuardConstants.messageInitiationSize || datagram.count == WireGuardConstants.messageResponseSize {
                datagram.withUnsafeMutableBytes { m in
                    let macStart = m.count - 32
                    let mac = BLAKE2s.hash(Array(m[0..<macStart]), outputLength: 16, key: mac1KeyB)
                    for i in 0..<16 { m[macStart + i] = mac[i] }
                }
            }
            let actions = b.receive(datagram: datagram, from: flags & 8 != 0 ? stranger : addressA, now: now)
            for delivered in actions.delivered {
                precondition(delivered.packet.count <= datagram.count, "a delivered packet is longer than its datagram")
            }
            now = now + .milliseconds(10)
        }
        // A few timer deadlines (retransmits, keepalive, rekey; each may cost a handshake), then a packet out.
        var polls = 0
        while polls < 6, let deadline = b.nextDeadline(), deadline <= start + .seconds(30) {
            now = max(now, deadline)
            _ = b.poll(now: now)
            polls += 1
        }
        _ = b.send(packet: packet(IPv4Address(10, 0, 0, 2), IPv4Address(10, 0, 0, 1)), now: now)
    }

    static func seeds() -> [[UInt8]] {
        var out: [[UInt8]] = []
        // A's initiation, as B would receive it.
        do {
            let (a, _) = pair()
            let d = a.send(packet: packet(IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)), now: start + .milliseconds(1)).datagrams
            out.append([0] + records(d.map(\.bytes)))
            out.append([4] + records(d.map(\.bytes)))
            out.append([16] + records(d.map(\.bytes)))
        }
        // A's response to B's initiation (flags bit 1 makes B initiate the same way).
        do {
            let (a, b) = pair()
            var responses: [[UInt8]] = []
            for d in b.send(packet: packet(IPv4Address(10, 0, 0, 2), IPv4Address(10, 0, 0, 1)), now: start).datagrams {
                responses += a.receive(datagram: d.bytes, from: addressB, now: start).datagrams.map(\.bytes)
            }
            out.append([2] + records(responses))
        }
        // Transport data and a keepalive on an established session (flags bit 0 rebuilds the same session).
        do {
            let (a, b) = prepare(1)
            let data = a.send(packet: packet(IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2), Array(repeating: 7, count: 64)),
                              now: start + .milliseconds(1)).datagrams.map(\.bytes)
            let keepalive = a.poll(now: start + .seconds(11)).map(\.bytes)
            _ = b
            out.append([1] + records(data + keepalive))
            out.append([1] + records(data + data))  // a replay
        }
        // A cookie reply: B under load answers A's initiation with one; A receives it (bytes as A would see them).
        do {
            let (a, b) = pair()
            b.underLoadOverride = true
            var replies: [[UInt8]] = []
            for d in a.send(packet: packet(IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)), now: start).datagrams {
                replies += b.receive(datagram: d.bytes, from: addressA, now: start).datagrams.map(\.bytes)
            }
            out.append([2] + records(replies))
        }
        return out
    }
}
