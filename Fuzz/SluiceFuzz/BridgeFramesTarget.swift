// Fuzz target `bridge-frames` (layer 3, Engine): the whole bridge — learning switches, the router with
// ARP, ICMP, DHCP servers and NAT, a UDP WAN — fed Ethernet frames on its ports and datagrams on its WAN,
// with time moving, as every driver feeds it. Nothing may trap, and the router may never hand the WAN a
// packet larger than the WAN's MTU (a bigger one is fragmented or dropped and counted).
// Input: records (16-bit little-endian length + bytes), each: a source byte (0–2: lan ports, 3: the lan2
// port, 4: a WAN datagram from the WAN's peer, 5: one from a stranger), a time step byte (milliseconds ×
// 16), then the frame or datagram.
import Basics
import Datapath
import Engine
import Wire

enum BridgeFramesTarget {
    static let wanMTU = 1472
    static let peer = SocketAddressV4(address: IPv4Address(203, 0, 113, 7), port: 9000)
    static let stranger = SocketAddressV4(address: IPv4Address(198, 51, 100, 1), port: 9000)
    static let config: BridgeConfig = {
        do {
            return try BridgeConfig.parse("""
                name: fuzz
                wan: { type: udp, endpoint: 203.0.113.7:9000, ipv4: 10.201.0.2/24, mtu: \(wanMTU) }
                router:
                    ipv4: 10.0.0.254/24
                    dhcp:
                        start: 10.0.0.100
                        end: 10.0.0.103
                        lease: 10s
                        reservations: [{ mac: 02:00:00:00:00:01, ipv4: 10.0.0.1 }]
                    interfaces:
                        - { name: lan2, ipv4: 10.0.1.1/24, mtu: 1280, dhcp: { start: 10.0.1.100, end: 10.0.1.200 } }
                    routes:
                        - { to: 10.9.0.0/16, via: 10.0.1.254 }
                switch: { table-size: 16, aging: 30s }
                """, file: "fuzz-bridge.yml")
        } catch { fatalError("the bridge-frames configuration: \(error)") }
    }()

    static func run(_ data: UnsafeRawBufferPointer) {
        guard let bridge = try? Bridge(config: config, wanSetup: WANSetup(endpoint: peer, random: SeededRandom(seed: 19, component: "fuzz-bridge"))) else {
            fatalError("the bridge-frames bridge does not build")
        }
        bridge.connect(BridgeOutputs(
            notifyGuest: { _ in },
            sendWANDatagram: { datagram, _ in precondition(datagram.count <= wanMTU, "a WAN datagram of \(datagram.count) bytes, over the MTU") },
            transmitWANFrame: { _ in }))
        var ports: [PortID] = []
        for (name, segment) in [("p0", "lan"), ("p1", "lan"), ("p2", "lan"), ("p3", "lan2")] {
            guard let port = try? bridge.attachExternal(name: name, segment: segment, transmit: { _ in }) else {
                fatalError("the bridge-frames port \(name) does not attach")
            }
            ports.append(port)
        }
        var now = Instant(nanoseconds: 1_000_000_000)
        bridge.start(now: now)
        var input = FuzzInput(data)
        var count = 0
        while !input.isEmpty, count < 64 {
            var record = FuzzInput(input.record())
            count += 1
            let source = Int(record.u8() % 6)
            now = now + .milliseconds(16 * Int64(record.u8()))
            var bytes = exactCopy(record.rest())
            let n = bytes.count
            switch source {
            case 0...3:
                bytes.withUnsafeBytes { bridge.receive($0, from: ports[source], now: now) }
            default:
                bytes.withUnsafeMutableBytes { bridge.receiveWANDatagram($0, count: n, from: source == 4 ? peer : stranger, now: now) }
            }
            _ = bridge.service(now: now)
        }
        // Let the timers run: ARP retries, lease expiry, NAT and switch aging.
        var steps = 0
        while steps < 8, let next = bridge.service(now: now), next <= now + .seconds(120) {
            now = max(now, next)
            steps += 1
        }
    }

    static func seeds() -> [[UInt8]] {
        let host = MACAddress(0x02, 0, 0, 0, 0, 1), router = MACAddress(0x02, 0x5e, 10, 0, 0, 254)
        func frame(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: 1600)
            guard let n = buffer.withUnsafeMutableBytes({ try? body($0) }) else { fatalError("a seed did not encode") }
            return Array(buffer.prefix(n))
        }
        func ping(_ from: IPv4Address, _ to: IPv4Address, ethernet: EthernetHeader?, size: Int = 56) -> [UInt8] {
            let data = [UInt8](repeating: 0x5a, count: size)
            return frame { f in
                try data.withUnsafeBytes { d in
                    try IPv4Frame.emitICMP(into: f, ethernet: ethernet, ip: IPv4Header(source: from, destination: to, protocol: .icmp, payloadLength: 0),
                                           icmp: ICMPv4Message(type: .echoRequest, code: 0, restOfHeader: 0x0001_0001), data: d)
                }
            }
        }
        let toRouter = EthernetHeader(destination: router, source: host, etherType: .ipv4)
        let arp = frame { f in
            let h = try EthernetHeader(destination: .broadcast, source: host, etherType: .arp).emit(into: f)
            return h + (try ARPPacket(operation: .request, senderHardwareAddress: host, senderProtocolAddress: IPv4Address(10, 0, 0, 1),
                                      targetHardwareAddress: .zero, targetProtocolAddress: IPv4Address(10, 0, 0, 254)).emit(into: f.slice(from: h)))
        }
        let lan = IPv4Address(10, 0, 0, 1)
        let toInternet = ping(lan, IPv4Address(8, 8, 8, 8), ethernet: toRouter)
        let toLan2 = ping(lan, IPv4Address(10, 0, 1, 5), ethernet: toRouter)
        let big = ping(lan, IPv4Address(8, 8, 8, 8), ethernet: toRouter, size: 1472)
        let reply = ping(IPv4Address(8, 8, 8, 8), IPv4Address(10, 201, 0, 2), ethernet: nil)
        var out = [
            records([[0, 0] + arp, [0, 1] + toInternet, [4, 1] + reply]),
            records([[0, 0] + arp, [0, 1] + toLan2, [3, 70] + arp]),
            records([[0, 0] + big, [1, 255] + toInternet]),
        ]
        out += WireFrameTarget.seeds().map { records([[0, 0] + $0.dropFirst()]) }
        return out
    }
}
