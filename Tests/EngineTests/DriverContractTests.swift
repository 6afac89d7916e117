// The driver contract (Sources/Engine/Driver.swift, docs/driver-contract.md) from a driver's side:
// an in-memory driver that uses nothing but the contract runs two guests and a plain-UDP WAN (the
// far end reflects pings), and checks what came out through the outputs, the memory capture
// sink, and the deadlines `service(now:)` returned.
import Basics
import Capture
import Datapath
import Testing
import Wire
import Engine

/// A driver that knows only the contract: connect, start, events, `service(now:)`, `removeTaps`.
final class ContractDriver {
    let bridge: Bridge
    let guests: [TestGuest]
    var now = Instant.zero
    /// What the last `service(now:)` returned: the one timer this driver keeps.
    var deadline: Instant?
    /// Deadlines `service(now:)` returned at or before the time it was called (must be none).
    var staleDeadlines = 0
    var notifications: [PortID: Int] = [:]
    /// Every datagram the WAN sent, in order.
    var sent: [(bytes: [UInt8], to: SocketAddressV4)] = []
    /// Datagrams on their way to the far end, which turns pings around.
    var inFlight: [[UInt8]] = []
    static let farEnd = SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 51820)

    init(_ config: BridgeConfig, guests: [TestGuest], tap: CaptureTap) throws {
        bridge = try Bridge(config: config, wanSetup: WANSetup(random: SeededRandom(seed: 7)))
        self.guests = guests
        bridge.connect(BridgeOutputs(
            notifyGuest: { [unowned self] port in self.notifications[port, default: 0] += 1 },
            sendWANDatagram: { [unowned self] bytes, to in
                self.sent.append((Array(bytes), to))
                self.inFlight.append(Array(bytes))
            }))
        for (i, g) in guests.enumerated() { g.port = try bridge.attachGuest(name: "vm\(i + 1)", nic: try g.driver.makeDevice()) }
        try bridge.addTap(tap, segment: "lan")
        bridge.start(now: now)
        serviced()
    }

    /// After every event: the contract's one call, and the one timer re-armed.
    func serviced() {
        deadline = bridge.service(now: now)
        if let d = deadline, d <= now { staleDeadlines += 1 }
    }

    func run(for duration: Duration) {
        let end = now + duration
        while now < end {
            if let d = deadline, d <= now { serviced() }  // the timer fired
            for g in guests {
                g.host.poll(now: now)
                g.host.drainOutgoing { frame in g.driver.transmit(frame) }
                bridge.serviceGuestTransmit(g.port, now: now)  // an event
                serviced()
            }
            while !inFlight.isEmpty {
                var packet = inFlight.removeFirst()
                guard Self.reflectEcho(&packet) else { continue }
                packet.withUnsafeMutableBytes { bridge.receiveWANDatagram($0, count: $0.count, from: Self.farEnd, now: now) }  // an event
                serviced()
            }
            for g in guests {
                g.driver.receiveFrames { _, frame in g.host.receive(frame, now: now) }
                g.driver.refillReceiveBuffers()
                g.driver.reapTransmitted()
            }
            var next = now + .milliseconds(1)
            if let d = deadline, d < next { next = d }
            for g in guests { if let d = g.host.nextDeadline(), d > now, d < next { next = d } }
            if guests.contains(where: { $0.host.hasOutgoing }) { next = now + .microseconds(10) }
            now = min(next, end)
        }
    }

    /// Turns an ICMP echo request (a bare IPv4 packet) into its reply, in place.
    static func reflectEcho(_ p: inout [UInt8]) -> Bool {
        guard p.count >= 28, p[0] >> 4 == 4, p[9] == IPProtocol.icmp.rawValue else { return false }
        let ihl = Int(p[0] & 0x0F) * 4
        guard p.count >= ihl + 8, p[ihl] == 8 else { return false }
        for i in 0..<4 { p.swapAt(12 + i, 16 + i) }   // the header checksum does not change
        p[ihl] = 0
        var sum = (UInt32(p[ihl + 2]) << 8 | UInt32(p[ihl + 3])) + 0x0800  // type 8 → 0
        sum = (sum & 0xFFFF) + (sum >> 16)
        p[ihl + 2] = UInt8(sum >> 8)
        p[ihl + 3] = UInt8(sum & 0xFF)
        return true
    }
}

@Test func aDriverUsingOnlyTheContractRunsTwoGuestsAndAWAN() throws {
    let config = try BridgeConfig.parse("""
    router: { ipv4: 10.0.0.1/24, nat: true }
    wan: { type: udp, endpoint: 192.0.2.2:51820, ipv4: 10.201.0.1/24 }
    """)
    let vm1 = try TestGuest(name: "vm1", mac: MACAddress(0x52, 0x54, 0, 0, 0, 1), seed: 3)
    let vm2 = try TestGuest(name: "vm2", mac: MACAddress(0x52, 0x54, 0, 0, 0, 2), seed: 3)
    let tap = CaptureTap(name: "lan", sink: .memory(capacity: 512))  // the in-memory twin of a pcap file
    let driver = try ContractDriver(config, guests: [vm1, vm2], tap: tap)
    #expect(driver.deadline == nil, "an idle bridge has no timer")
    vm1.host.configureStatic(address: IPv4Network("10.0.0.11/24")!, gateway: IPv4Address(10, 0, 0, 1), now: driver.now)
    vm2.host.configureStatic(address: IPv4Network("10.0.0.12/24")!, gateway: IPv4Address(10, 0, 0, 1), now: driver.now)

    // Guest to guest, and guest to the far side of the WAN.
    let local = vm1.host.ping(IPv4Address(10, 0, 0, 12), count: 3, interval: .milliseconds(100), now: driver.now)
    let remote = vm2.host.ping(IPv4Address(198, 51, 100, 7), count: 3, interval: .milliseconds(100), now: driver.now)
    driver.run(for: .seconds(2))
    #expect(vm1.host.pingResult(local).received == 3, "\(vm1.host.pingResult(local))")
    #expect(vm2.host.pingResult(remote).received == 3, "\(vm2.host.pingResult(remote))")

    // Outputs: every WAN datagram went to the endpoint, one masqueraded packet each; both guests
    // were notified; the memory sink saw the pings on the segment (3 requests and 3 replies each way).
    #expect(driver.sent.count == 3)
    for (bytes, to) in driver.sent {
        #expect(to == ContractDriver.farEnd)
        #expect(Array(bytes[12..<16]) == IPv4Address(10, 201, 0, 1).bytes && Array(bytes[16..<20]) == IPv4Address(198, 51, 100, 7).bytes)
    }
    #expect(driver.notifications[vm1.port, default: 0] > 0 && driver.notifications[vm2.port, default: 0] > 0)
    let echoes = tap.records.filter { r in
        r.bytes.count > 34 && r.bytes[12] == 0x08 && r.bytes[13] == 0x00 && r.bytes[23] == IPProtocol.icmp.rawValue
    }
    #expect(echoes.count == 6 + 6, "vm1↔vm2 (request and reply each seen once) and vm2↔router (both ways)")

    // Deadlines: never in the past; with traffic over, the timers (MAC aging, ARP, NAT) run only
    // through `service(now:)` at the deadlines it returned, until none is left.
    #expect(driver.staleDeadlines == 0)
    let learned = try #require(driver.deadline, "learned MACs and the NAT mapping keep a timer")
    #expect(learned > driver.now)
    var fired = 0
    while let d = driver.deadline, fired < 100 {
        driver.now = d
        driver.serviced()
        fired += 1
    }
    #expect(driver.deadline == nil && driver.staleDeadlines == 0, "after \(fired) timers")
    #expect(driver.bridge.segments[0].learning.count == 0)
    #expect(driver.bridge.wan?.nat?.mappingCount == 0)

    // Shutting down: the driver takes its taps back; frames after that are not recorded.
    let recorded = tap.recorded
    #expect(driver.bridge.removeTaps().map(\.name) == ["lan"])
    let ping = vm1.host.ping(IPv4Address(10, 0, 0, 12), count: 1, now: driver.now)
    driver.run(for: .seconds(1))
    #expect(vm1.host.pingResult(ping).received == 1)
    #expect(tap.recorded == recorded)
}

