// Bad input (docs/architecture.md) through the whole engine: 10,000 random and mutated frames and a set of hostile
// guests. Nothing crashes, every frame is accounted for, and healthy guests keep working.
import Basics
import Datapath
import HostStack
import Testing
import Virtio
import Wire
@testable import Engine

/// Valid frames of the kinds a bridge meets, to mutate.
func seedFrames(routerMAC: MACAddress) -> [[UInt8]] {
    let guest = MACAddress(0x52, 0x54, 0, 0, 0, 0x42)
    var frames: [[UInt8]] = []
    func build(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) {
        var bytes = [UInt8](repeating: 0, count: 1514)
        let n = bytes.withUnsafeMutableBytes { try! body($0) }
        frames.append(Array(bytes[0..<max(n, 60)]))
    }
    build { out in
        let n = try EthernetHeader(destination: .broadcast, source: guest, etherType: .arp).emit(into: out)
        return n + (try ARPPacket.request(from: guest, IPv4Address(10, 0, 0, 42), asking: IPv4Address(10, 0, 0, 1)).emit(into: out.slice(from: n)))
    }
    let payload = [UInt8](repeating: 0x61, count: 300)
    for (dst, port) in [(IPv4Address(10, 0, 1, 9), UInt16(9)), (IPv4Address.broadcast, UInt16(67)), (IPv4Address(10, 0, 0, 1), UInt16(53))] {
        build { out in
            try payload.withUnsafeBytes { p in
                try IPv4Frame.emitUDP(into: out, ethernet: EthernetHeader(destination: dst == .broadcast ? .broadcast : routerMAC, source: guest, etherType: .ipv4),
                                      ip: IPv4Header(source: IPv4Address(10, 0, 0, 42), destination: dst, protocol: .udp, payloadLength: 0),
                                      udp: UDPHeader(sourcePort: 68, destinationPort: port), payload: p)
            }
        }
    }
    build { out in
        try payload.withUnsafeBytes { p in
            try IPv4Frame.emitICMP(into: out, ethernet: EthernetHeader(destination: routerMAC, source: guest, etherType: .ipv4),
                                   ip: IPv4Header(source: IPv4Address(10, 0, 0, 42), destination: IPv4Address(10, 0, 0, 1), protocol: .icmp, payloadLength: 0, timeToLive: 1),
                                   icmp: .echoRequest(identifier: 7, sequenceNumber: 1), data: p)
        }
    }
    return frames
}

@Test func tenThousandRandomAndMutatedFramesAreCountedNeverFatal() throws {
    let config = try BridgeConfig.parse("""
    router:
      ipv4: 10.0.0.1/24
      dhcp: { start: 10.0.0.100, end: 10.0.0.110 }
      interfaces: [ { name: lan2, ipv4: 10.0.1.1/24 } ]
    """)
    let bridge = try Bridge(config: config)
    var delivered = 0
    let fuzz = try bridge.attachExternal(name: "fuzz", segment: "lan") { _ in }
    let sink = try bridge.attachExternal(name: "sink", segment: "lan2") { _ in delivered += 1 }
    // The lan2 host 10.0.1.9 introduces itself (the router learns from requests to it), so
    // well-formed UDP to it is forwarded.
    var hello = [UInt8](repeating: 0, count: 60)
    let neighbor = MACAddress(0x52, 0x54, 0, 0, 9, 9)
    hello.withUnsafeMutableBytes { out in
        let n = try! EthernetHeader(destination: .broadcast, source: neighbor, etherType: .arp).emit(into: out)
        _ = try! ARPPacket.request(from: neighbor, IPv4Address(10, 0, 1, 9), asking: IPv4Address(10, 0, 1, 1)).emit(into: out.slice(from: n))
    }
    hello.withUnsafeBytes { bridge.receive($0, from: sink, now: .zero) }
    let seeds = seedFrames(routerMAC: config.router!.interfaces[0].mac)
    var random = SeededRandom(seed: 2026, component: "hostile-frames")
    var now = Instant.zero
    for i in 0..<10_000 {
        var frame: [UInt8]
        switch i % 4 {
        case 0:  // pure noise, any length including empty
            frame = (0..<Int(random.next() % 1600)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        case 1:  // a valid frame with a few bytes flipped
            frame = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + random.next() % 4) { frame[Int(random.next() % UInt64(frame.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1) }
        case 2:  // a valid frame cut short
            let f = seeds[Int(random.next() % UInt64(seeds.count))]
            frame = Array(f[0..<Int(random.next() % UInt64(f.count))])
        default: // a valid frame
            frame = seeds[Int(random.next() % UInt64(seeds.count))]
        }
        frame.withUnsafeBytes { bridge.receive($0, from: fuzz, now: now) }
        now = now + .milliseconds(1)
        _ = bridge.service(now: now)
    }
    _ = bridge.service(now: now + .seconds(10))
    let fuzzCounters = try #require(bridge.ports[fuzz]?.counters)
    #expect(fuzzCounters.rxPackets == 10_000)
    // Too-short frames are counted as malformed at the switch.
    #expect(fuzzCounters.drops[.malformed] > 0)
    // Every frame the router took is in exactly one outcome; its drops are counted by reason.
    let router = try #require(bridge.router)
    #expect(router.counters.framesReceived == bridge.routerOutcomes.total)
    // Drops decided on receipt, plus those decided later by timers (ARP give-ups), are all counted by reason.
    let laterDrops = router.counters.drops[.arpResolutionFailed]
    #expect(bridge.routerOutcomes.dropped + laterDrops == router.counters.drops.total)
    #expect(delivered > 0)
    #expect(bridge.routerOutcomes.dropped > 1000)
    #expect(bridge.routerOutcomes.forwarded > 0 && bridge.routerOutcomes.answered > 0)
    #expect(router.counters.drops[.ipv4BadChecksum] > 0)
    print("hostile frames: fuzz port drops \(fuzzCounters.drops.nonzero); router outcomes \(bridge.routerOutcomes); router drops \(router.counters.drops.nonzero.map { "\($0.0)=\($0.1)" }.joined(separator: " "))")
}

/// One way a guest can break its transmit queue.
enum HostileRing: CaseIterable {
    case addressOutsideMemory, lengthPastEndOfMemory, descriptorLoop, headIndexOutOfRange, availIndexJump, writableTransmitBuffer

    func apply(to driver: InMemoryGuestDriver) {
        var ring = driver.transmitRing
        let size = Int(ring.size)
        switch self {
        case .addressOutsideMemory:
            ring.writeDescriptor(VirtqDescriptor(address: 0xFFFF_FFFF_0000, length: 100, flags: 0, next: 0), at: 0)
            ring.makeAvailable(head: 0)
        case .lengthPastEndOfMemory:
            ring.writeDescriptor(VirtqDescriptor(address: driver.scratchAddress, length: .max, flags: 0, next: 0), at: 0)
            ring.makeAvailable(head: 0)
        case .descriptorLoop:
            ring.writeDescriptor(VirtqDescriptor(address: driver.scratchAddress, length: 64, flags: VirtqLayout.descriptorFlagNext, next: 1), at: 0)
            ring.writeDescriptor(VirtqDescriptor(address: driver.scratchAddress, length: 64, flags: VirtqLayout.descriptorFlagNext, next: 0), at: 1)
            ring.makeAvailable(head: 0)
        case .headIndexOutOfRange:
            ring.makeAvailable(head: UInt16(size + 5))
        case .availIndexJump:
            ring.setAvailIndexRaw(ring.availIndex &+ UInt16(size) &+ 7)
        case .writableTransmitBuffer:
            ring.writeDescriptor(VirtqDescriptor(address: driver.scratchAddress, length: 64, flags: VirtqLayout.descriptorFlagWrite, next: 0), at: 0)
            ring.makeAvailable(head: 0)
        }
        driver.transmitRing = ring
    }
}

@Test func hostileGuestsBreakOnlyTheirOwnQueue() throws {
    let config = try BridgeConfig.parse("router: { ipv4: 10.0.0.1/24 }")
    let bridge = try Bridge(config: config)
    let good1 = try TestGuest(name: "good1", mac: MACAddress(0x52, 0x54, 0, 0, 1, 1), seed: 1)
    let good2 = try TestGuest(name: "good2", mac: MACAddress(0x52, 0x54, 0, 0, 1, 2), seed: 1)
    good1.port = try bridge.attachGuest(name: "good1", nic: try good1.driver.makeDevice())
    good2.port = try bridge.attachGuest(name: "good2", nic: try good2.driver.makeDevice())
    good1.host.configureStatic(address: IPv4Network("10.0.0.11/24")!, now: .zero)
    good2.host.configureStatic(address: IPv4Network("10.0.0.12/24")!, now: .zero)

    var hostile: [(HostileRing, InMemoryGuestDriver, PortID)] = []
    for (i, kind) in HostileRing.allCases.enumerated() {
        let driver = try InMemoryGuestDriver()
        driver.refillReceiveBuffers()
        let port = try bridge.attachGuest(name: "hostile\(i)", nic: try driver.makeDevice())
        kind.apply(to: driver)
        hostile.append((kind, driver, port))
    }
    var pump = Pump(bridge: bridge, guests: [good1, good2])
    let ping = good1.host.ping(IPv4Address(10, 0, 0, 12), count: 5, interval: .milliseconds(100), now: pump.now)
    for round in 0..<3 {
        for (_, _, port) in hostile { #expect(bridge.serviceGuestTransmit(port, now: pump.now) == 0) }
        pump.run(for: .milliseconds(300))
        _ = round
    }
    for (kind, _, port) in hostile {
        let nic = try #require(bridge.nic(of: port))
        #expect(nic.transmitQueue.isBroken, "\(kind) did not break the queue")
        #expect(bridge.ports[port]?.counters.drops[.brokenQueue] ?? 0 >= 1, "\(kind) not counted")
    }
    // Broadcasts flooded towards the hostile guests' receive queues are delivered or counted, never fatal;
    // the healthy guests kept talking throughout.
    #expect(good1.host.pingResult(ping).received == 5, "\(good1.host.pingResult(ping))")
}
