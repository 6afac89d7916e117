// The plain-UDP WAN (raw IP packets in datagrams, both ways) and the TAP WAN (a real Ethernet
// uplink: the router's WAN interface ARPs for its gateway and sends proper frames).
import Basics
import Datapath
import Testing
import Wire
@testable import Engine

@Test func udpWANCarriesRawIPPacketsBothWays() throws {
    let a = """
    router: { ipv4: 10.1.0.1/24, nat: true }
    wan: { type: udp, endpoint: 192.0.2.2:51820, listen-port: 51820, ipv4: 10.201.0.1/24 }
    """
    let b = """
    router: { ipv4: 10.2.0.1/24, nat: false }
    wan: { type: udp, endpoint: 192.0.2.1:51820, listen-port: 51820, ipv4: 10.201.0.2/24 }
    """
    let pair = try WANPair(a, b, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                           guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
    let ping = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 4, interval: .milliseconds(200), now: pair.now)
    pair.run(for: .seconds(2))
    #expect(pair.guestA.host.pingResult(ping).received == 4, "\(pair.guestA.host.pingResult(ping))")

    // Every datagram is one IPv4 packet as the router forwarded it: A's requests masqueraded
    // behind 10.201.0.1 (TTL 63 after A's router), B's replies to that address.
    #expect(pair.crossed.count == 8)
    for c in pair.crossed {
        let packet = c.bytes
        #expect(packet[0] == 0x45 && Int(packet[2]) << 8 | Int(packet[3]) == packet.count)
        let source = Array(packet[12..<16]), destination = Array(packet[16..<20])
        #expect(packet[9] == IPProtocol.icmp.rawValue)
        if c.fromA {
            #expect(source == IPv4Address(10, 201, 0, 1).bytes && destination == IPv4Address(10, 2, 0, 10).bytes)
            #expect(packet[8] == 63)
        } else {
            #expect(source == IPv4Address(10, 2, 0, 10).bytes && destination == IPv4Address(10, 201, 0, 1).bytes)
        }
    }
    #expect(pair.a.wan?.counters.txDatagrams == 4 && pair.a.wan?.counters.rxPackets == 4)
}

@Test func udpWANTakesDatagramsOnlyFromItsEndpoint() throws {
    let config = try BridgeConfig.parse("""
    router: { ipv4: 10.1.0.1/24, nat: false }
    wan: { type: udp, endpoint: 192.0.2.2:9000 }
    """)
    let bridge = try Bridge(config: config)
    let wan = try #require(bridge.wan)
    #expect(wan.address == UDPWANConfig.linkLocal)   // routed without ipv4: link-local
    var packet: [UInt8] = [0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 192, 0, 2, 99, 10, 1, 0, 10,
                           8, 0, 0xF7, 0xFF, 0, 0, 0, 0]
    packet.withUnsafeMutableBytes { b in
        bridge.receiveWANDatagram(b, count: b.count, from: SocketAddressV4(address: IPv4Address(192, 0, 2, 3), port: 9000), now: .zero)
        bridge.receiveWANDatagram(b, count: b.count, from: SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 9001), now: .zero)
    }
    #expect(wan.counters.drops[.unexpectedSource] == 2)
    #expect(wan.counters.rxPackets == 0)
    var v6: [UInt8] = [0x60] + [UInt8](repeating: 0, count: 39)
    v6.withUnsafeMutableBytes { b in
        bridge.receiveWANDatagram(b, count: b.count, from: SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 9000), now: .zero)
    }
    #expect(wan.counters.drops[.unsupported] == 1)
}

func tapConfigs(natA: Bool) -> (String, String) {
    let a = """
    router: { ipv4: 10.1.0.1/24, nat: \(natA) }
    wan: { type: tap, device: wan-a, ipv4: 192.0.2.1/24, gateway: 192.0.2.2 }
    """
    let b = """
    router: { ipv4: 10.2.0.1/24, nat: false, routes: [] }
    wan: { type: tap, device: wan-b, ipv4: 192.0.2.2/24, gateway: 192.0.2.1, mac: "02:00:00:00:0b:01" }
    """
    return (a, b)
}

@Test func tapWANResolvesItsGatewayAndSendsEthernetFrames() throws {
    let (a, b) = tapConfigs(natA: true)
    let pair = try WANPair(a, b, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                           guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
    let macA = MACAddress(0x02, 0x5E, 192, 0, 2, 1), macB = MACAddress(0x02, 0, 0, 0, 0x0B, 1)
    #expect(pair.a.wan?.mac == macA && pair.b.wan?.mac == macB)
    let ping = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 3, interval: .milliseconds(200), now: pair.now)
    pair.run(for: .seconds(2))
    #expect(pair.guestA.host.pingResult(ping).received == 3, "\(pair.guestA.host.pingResult(ping))")

    // First on the uplink: A asks for its gateway by broadcast, B answers A's MAC.
    let frames = pair.crossed
    try #require(frames.count >= 4)
    try frames[0].bytes.withUnsafeBytes { f in
        let eth = try EthernetHeader(parsing: f)
        #expect(eth.destination == .broadcast && eth.source == macA && eth.etherType == .arp)
        let arp = try ARPPacket(parsing: f.slice(from: 14))
        #expect(arp.operation == .request && arp.senderHardwareAddress == macA
                && arp.senderProtocolAddress == IPv4Address(192, 0, 2, 1) && arp.targetProtocolAddress == IPv4Address(192, 0, 2, 2))
    }
    try frames[1].bytes.withUnsafeBytes { f in
        let eth = try EthernetHeader(parsing: f)
        #expect(!frames[1].fromA && eth.destination == macA && eth.source == macB && eth.etherType == .arp)
        let arp = try ARPPacket(parsing: f.slice(from: 14))
        #expect(arp.operation == .reply && arp.senderHardwareAddress == macB && arp.senderProtocolAddress == IPv4Address(192, 0, 2, 2))
    }
    // Then IPv4 in proper frames, addressed MAC to MAC; A's guest masqueraded behind 192.0.2.1.
    var requests = 0, replies = 0
    for c in frames {
        try c.bytes.withUnsafeBytes { f in
            let eth = try EthernetHeader(parsing: f)
            guard eth.etherType == .ipv4 else { return }
            let ip = try IPv4Header(parsing: f.slice(from: 14))
            if c.fromA {
                #expect(eth.source == macA && eth.destination == macB)
                #expect(ip.source == IPv4Address(192, 0, 2, 1) && ip.destination == IPv4Address(10, 2, 0, 10))
                requests += 1
            } else {
                #expect(eth.source == macB && eth.destination == macA)
                #expect(ip.source == IPv4Address(10, 2, 0, 10) && ip.destination == IPv4Address(192, 0, 2, 1))
                replies += 1
            }
        }
    }
    #expect(requests == 3 && replies == 3)
    // B learned the route back only because A masqueraded: B has no route to 10.1.0.0/24 but
    // its default route points at A, so it works routed as well (next test).
    #expect(pair.a.wan?.counters.drops.total == 0 && pair.b.wan?.counters.drops.total == 0)
}

@Test func tapWANRoutedAndFramesForOthersIgnored() throws {
    let (a, b) = tapConfigs(natA: false)
    let pair = try WANPair(a, b, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                           guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
    pair.guestB.host.openUDP(port: 9)
    pair.guestA.host.sendUDP(to: IPv4Address(10, 2, 0, 10), port: 9, payload: [7, 7, 7], now: pair.now)
    pair.run(for: .seconds(1))
    #expect(pair.guestB.host.takeDatagrams(port: 9).first?.source == IPv4Address(10, 1, 0, 10))

    // A frame for another MAC on the uplink, and an IPv6 multicast, are counted and dropped.
    let wan = try #require(pair.a.wan)
    var other: [UInt8] = [2, 0, 0, 0, 0, 0x99] + [2, 0, 0, 0, 0, 0x98] + [0x08, 0x00] + [UInt8](repeating: 0, count: 46)
    var v6: [UInt8] = [0x33, 0x33, 0, 0, 0, 1] + [2, 0, 0, 0, 0, 0x98] + [0x86, 0xDD] + [UInt8](repeating: 0, count: 46)
    other.withUnsafeMutableBytes { pair.a.receiveWANFrame($0, now: pair.now) }
    v6.withUnsafeMutableBytes { pair.a.receiveWANFrame($0, now: pair.now) }
    #expect(wan.counters.drops[.notForUs] == 2)
}

@Test func farSidePingsTheWANAddressThroughTheNAT() throws {
    // With NAT on, unsolicited traffic to A's WAN address is refused, but A's router answers pings.
    let (a, b) = tapConfigs(natA: true)
    let pair = try WANPair(a, b, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                           guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
    let ping = pair.guestB.host.ping(IPv4Address(192, 0, 2, 1), count: 2, interval: .milliseconds(200), now: pair.now)
    pair.guestB.host.sendUDP(to: IPv4Address(192, 0, 2, 1), port: 5000, payload: [1], now: pair.now)
    pair.run(for: .seconds(1))
    #expect(pair.guestB.host.pingResult(ping).received == 2)
    #expect(pair.a.wan?.counters.drops[.nat] == 1)
    #expect(pair.a.wan?.nat?.counters.drops[.noMapping] == 1)
}
