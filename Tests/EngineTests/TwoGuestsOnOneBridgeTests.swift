// Issue 2's in-process proof: two in-memory virtio guests (HostStack hosts behind the in-memory
// virtio driver) on one bridge get DHCP leases, ping each other and the router; the pcap the
// bridge wrote is read back by tshark with DHCP and ICMP decoded and nothing malformed.
import Basics
import Capture
import Datapath
import Foundation
import HostStack
import Testing
import Virtio
import Wire
@testable import Engine

/// A guest: a host stack behind an in-memory virtio driver attached to a bridge port.
final class TestGuest {
    let host: HostStack.Host
    let driver: InMemoryGuestDriver
    var port = PortID(0)

    init(name: String, mac: MACAddress, seed: UInt64) throws {
        host = HostStack.Host(name: name, mac: mac, random: SeededRandom(seed: seed, component: name))
        driver = try InMemoryGuestDriver()
        driver.refillReceiveBuffers()
    }
}

/// Drives a bridge and its guests in virtual time: no threads, no clock. Each step delivers what
/// every side has to send, then jumps to the next deadline (at most `step` ahead).
struct Pump {
    let bridge: Bridge
    let guests: [TestGuest]
    var now = Instant.zero

    mutating func run(for duration: Duration, step: Duration = .milliseconds(1)) {
        let end = now + duration
        while now < end {
            for g in guests {
                g.host.poll(now: now)
                g.host.drainOutgoing { frame in g.driver.transmit(frame) }
                bridge.serviceGuestTransmit(g.port, now: now)
            }
            _ = bridge.service(now: now)
            for g in guests {
                g.driver.receiveFrames { _, frame in g.host.receive(frame, now: now) }
                g.driver.refillReceiveBuffers()
                g.driver.reapTransmitted()
            }
            var next = now + step
            for g in guests { if let d = g.host.nextDeadline(), d > now, d < next { next = d } }
            if let d = bridge.deadline, d > now, d < next { next = d }
            if guests.contains(where: { $0.host.hasOutgoing }) { next = now + .microseconds(10) }
            now = min(next, end)
        }
    }
}

func tsharkPath() -> String? {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/tshark") {
        return "\(dir)/tshark"
    }
    return nil
}

/// Runs tshark on `file` with `arguments`; returns its standard output lines.
func tshark(_ file: String, _ arguments: [String]) throws -> [String] {
    guard let path = tsharkPath() else { throw TsharkMissing() }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = ["-r", file] + arguments
    let out = Pipe(); p.standardOutput = out; p.standardError = Pipe()
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "tshark \(arguments) exited \(p.terminationStatus)")
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}
struct TsharkMissing: Error {}

@Test func twoGuestsGetLeasesAndPingEachOtherAndTheRouter() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-two-guests-\(getpid())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let config = try BridgeConfig.parse("""
    router:
      ipv4: 10.0.0.1/24
      dhcp: { start: 10.0.0.100, end: 10.0.0.120, lease: 10m }
    captures:
      - { file: lan.pcap }
    """)
    let bridge = try Bridge(config: config)
    bridge.connect(BridgeOutputs())
    // The engine opens no files: this test is the driver, and opens the configured capture.
    let capture = try #require(config.captures.first)
    try bridge.addTap(CaptureTap(name: capture.file, sink: try .file(path: dir + "/" + capture.file)), segment: capture.segment)
    let vm1 = try TestGuest(name: "vm1", mac: MACAddress(0x52, 0x54, 0, 0, 0, 1), seed: 7)
    let vm2 = try TestGuest(name: "vm2", mac: MACAddress(0x52, 0x54, 0, 0, 0, 2), seed: 7)
    vm1.port = try bridge.attachGuest(name: "vm1", nic: try vm1.driver.makeDevice())
    vm2.port = try bridge.attachGuest(name: "vm2", nic: try vm2.driver.makeDevice())
    var pump = Pump(bridge: bridge, guests: [vm1, vm2])

    vm1.host.startDHCP(now: pump.now)
    vm2.host.startDHCP(now: pump.now)
    pump.run(for: .seconds(10))
    let a1 = try #require(vm1.host.lease?.address.address, "vm1 got no lease: \(vm1.host.dhcpState)")
    let a2 = try #require(vm2.host.lease?.address.address, "vm2 got no lease: \(vm2.host.dhcpState)")
    #expect(a1 != a2)
    for a in [a1, a2] { #expect(a >= IPv4Address(10, 0, 0, 100) && a <= IPv4Address(10, 0, 0, 120)) }
    #expect(bridge.dhcpServers[0]?.leases.filter { $0.state == .bound }.count == 2)

    let p12 = vm1.host.ping(a2, count: 5, interval: .milliseconds(200), now: pump.now)
    let p21 = vm2.host.ping(a1, count: 5, interval: .milliseconds(200), now: pump.now)
    let p1r = vm1.host.ping(IPv4Address(10, 0, 0, 1), count: 5, interval: .milliseconds(200), now: pump.now)
    pump.run(for: .seconds(3))
    #expect(vm1.host.pingResult(p12).received == 5, "\(vm1.host.pingResult(p12))")
    #expect(vm2.host.pingResult(p21).received == 5, "\(vm2.host.pingResult(p21))")
    #expect(vm1.host.pingResult(p1r).received == 5, "\(vm1.host.pingResult(p1r))")
    #expect(bridge.router?.counters.echoRepliesSent ?? 0 >= 5)

    // Nothing was dropped on the guests' ports.
    for g in [vm1, vm2] { #expect(bridge.ports[g.port]?.counters.drops.total == 0) }

    // Close the capture, then let an independent reader decode it.
    for tap in bridge.removeTaps() { try tap.close() }
    let file = dir + "/lan.pcap"
    guard tsharkPath() != nil else {
        print("SKIPPED tshark check: tshark not on PATH (install the 'tshark' Debian package; ci/setup.sh does)")
        return
    }
    let all = try tshark(file, ["-T", "fields", "-e", "frame.number"])
    let dhcp = try tshark(file, ["-Y", "dhcp", "-T", "fields", "-e", "dhcp.option.dhcp"])
    let echoReplies = try tshark(file, ["-Y", "icmp.type == 0", "-T", "fields", "-e", "ip.src"])
    let malformed = try tshark(file, ["-Y", "_ws.malformed || _ws.expert.severity >= \"error\""])
    #expect(all.count > 20)
    // DISCOVER(1), OFFER(2), REQUEST(3), ACK(5) for each of the two guests.
    for type in ["1", "2", "3", "5"] { #expect(dhcp.filter { $0 == type }.count >= 2, "DHCP type \(type) in \(dhcp)") }
    #expect(echoReplies.count == 15, "\(echoReplies)")
    #expect(echoReplies.filter { $0 == "10.0.0.1" }.count == 5)
    #expect(malformed.isEmpty, "tshark flagged: \(malformed)")
}
