// A reload while the bridge runs (Config/BridgeReconfiguration.swift, Bridge+Reconfigure.swift):
// what a new file changes, what is refused (located at the new value), and that applying it keeps
// guests attached and leases held while the new settings take effect.
import Basics
import Capture
import Crypto
import Datapath
import Foundation
import HostStack
import Testing
import Wire
import YAMLSchema
@testable import Engine

private let base = """
name: br0
router:
  ipv4: 10.0.0.1/24
  dhcp: { start: 10.0.0.100, end: 10.0.0.200, lease: 1h, dns: [10.0.0.53] }
switch: { aging: 300s }
captures: [{ file: a.pcap }]
"""

@Test func aPoolLeaseTimeDNSRoutesAgingAndCapturesChangeLive() throws {
    let old = try BridgeConfig.parse(base)
    let text = """
    name: br0
    router:
      ipv4: 10.0.0.1/24
      dhcp:
        start: 10.0.0.150
        end: 10.0.0.160
        lease: 2h
        dns: [10.0.0.54]
        reservations: [{ mac: "52:54:00:00:00:09", ipv4: 10.0.0.9 }]
      routes: [{ to: 10.9.0.0/16, via: 10.0.0.254 }]
    switch: { aging: 60s }
    captures: [{ file: b.pcap }]
    """
    let change = try old.reconfiguration(toText: text, file: "new.yml")
    #expect(!change.isEmpty)
    let dhcp = try #require(change.dhcp[0] ?? nil)
    #expect(dhcp.start == IPv4Address(10, 0, 0, 150) && dhcp.end == IPv4Address(10, 0, 0, 160))
    #expect(dhcp.leaseTime == .seconds(7200) && dhcp.dnsServers == [IPv4Address(10, 0, 0, 54)] && dhcp.reservations.count == 1)
    #expect(change.routes?.count == 1)
    #expect(change.aging == .seconds(60))
    #expect(change.capturesAdded.map(\.file) == ["b.pcap"] && change.capturesRemoved.map(\.file) == ["a.pcap"])
    #expect(change.summary.contains { $0.contains("pool 10.0.0.100-10.0.0.200 -> 10.0.0.150-10.0.0.160") }, "\(change.summary)")
}

@Test func theSameFileChangesNothing() throws {
    let old = try BridgeConfig.parse(base)
    #expect(try old.reconfiguration(toText: base, file: "same.yml").isEmpty)
}

@Test func aChangeThatCannotBeAppliedLiveIsRefusedWhereItIs() throws {
    let old = try BridgeConfig.parse(base)
    // The router's address, on line 3 column 9 of the new file.
    let moved = base.replacingOccurrences(of: "ipv4: 10.0.0.1/24", with: "ipv4: 10.0.0.2/24")
    do {
        _ = try old.reconfiguration(toText: moved, file: "new.yml")
        Issue.record("a new router address was accepted")
    } catch {
        #expect(error.file == "new.yml" && error.line == 3 && error.column == 9, "\(error)")
        #expect(error.message.contains("router.ipv4") && error.message.contains("cannot change while the bridge runs"), "\(error)")
        #expect(error.fix?.contains("restart") == true)
    }
    // More refusals, each located at its key.
    let refused: [(String, String)] = [
        (base + "\nvhost-user: [{ socket: /tmp/x.sock }]", "vhost-user"),
        (base.replacingOccurrences(of: "name: br0", with: "name: br1"), "name"),
        (base + "\nvirtio: { queues: 2 }", "virtio"),
        (base.replacingOccurrences(of: "switch: { aging: 300s }", with: "switch: { aging: 300s, table-size: 64 }"), "switch.table-size"),
        (base + "\ncontrol: /tmp/x.ctl", "control"),
        (base + "\nmetrics: { listen: 127.0.0.1:9464 }", "metrics"),
    ]
    for (text, key) in refused {
        do {
            _ = try old.reconfiguration(toText: text, file: "new.yml")
            Issue.record("\(key): accepted")
        } catch {
            #expect(error.message.hasPrefix(key), "\(key): \(error)")
        }
    }
    // A file that does not parse is reported as any bad config is.
    #expect(throws: ConfigError.self) { try old.reconfiguration(toText: "router: { ipv4: nonsense }", file: "bad.yml") }
}

@Test func aWireGuardPeerEndpointAndKeepaliveChangeLiveButItsKeyDoesNot() throws {
    func base64(_ byte: UInt8) -> String { [UInt8](repeating: byte, count: 32).withUnsafeBytes { KeyBase64.encode($0) } }
    let key = base64(1), peer = base64(2)
    func file(endpoint: String, keepalive: String, peerKey: String = peer) -> String {
        """
        router: { ipv4: 10.0.0.1/24 }
        wan: { type: wireguard, key: "\(key)", peer: "\(peerKey)", endpoint: \(endpoint), ipv4: 10.201.0.1/24, keepalive: \(keepalive) }
        """
    }
    let old = try BridgeConfig.parse(file(endpoint: "192.0.2.2:51820", keepalive: "25s"))
    let change = try old.reconfiguration(toText: file(endpoint: "192.0.2.3:51821", keepalive: "10s"), file: "new.yml")
    #expect(change.wanEndpoint == Endpoint(host: "192.0.2.3", port: 51821))
    #expect(change.wanKeepalive == .some(.seconds(10)))
    let other = base64(3)
    #expect(throws: ConfigError.self) {
        try old.reconfiguration(toText: file(endpoint: "192.0.2.2:51820", keepalive: "25s", peerKey: other), file: "new.yml")
    }
}

@Test func applyingAReloadKeepsGuestsAndLeasesAndTheNewPoolServesNewClients() throws {
    let config = try BridgeConfig.parse(base.replacingOccurrences(of: "captures: [{ file: a.pcap }]", with: ""))
    let bridge = try Bridge(config: config)
    bridge.connect(BridgeOutputs())
    let vm1 = try TestGuest(name: "vm1", mac: MACAddress(0x52, 0x54, 0, 0, 0, 1), seed: 3)
    let vm2 = try TestGuest(name: "vm2", mac: MACAddress(0x52, 0x54, 0, 0, 0, 2), seed: 4)
    vm1.port = try bridge.attachGuest(name: "vm1", nic: try vm1.driver.makeDevice())
    vm2.port = try bridge.attachGuest(name: "vm2", nic: try vm2.driver.makeDevice())
    var pump = Pump(bridge: bridge, guests: [vm1, vm2])
    vm1.host.startDHCP(now: pump.now)
    pump.run(for: .seconds(3))
    let first = try #require(vm1.host.lease?.address.address, "vm1 got no lease: \(vm1.host.dhcpState)")
    #expect(first >= IPv4Address(10, 0, 0, 100) && first <= IPv4Address(10, 0, 0, 200))
    let portsBefore = bridge.ports.count

    // The pool moves away from vm1's address; the lease time and DNS change; a capture starts.
    let text = """
    name: br0
    router:
      ipv4: 10.0.0.1/24
      dhcp: { start: 10.0.0.210, end: 10.0.0.220, lease: 2h, dns: [10.0.0.54] }
    switch: { aging: 60s }
    captures: [{ file: live.pcap }]
    """
    let change = try bridge.config.reconfiguration(toText: text, file: "new.yml")
    let tap = CaptureTap(name: "lan:live.pcap", sink: .memory(capacity: 64))
    let removed = try bridge.reconfigure(change, addedTaps: [tap], now: pump.now)
    #expect(removed.isEmpty)
    #expect(bridge.config.router?.interfaces[0].dhcp?.start == IPv4Address(10, 0, 0, 210))
    #expect(bridge.ports.count == portsBefore, "no port was detached")
    #expect(bridge.segments[0].learning.configuration.agingTime == .seconds(60))
    let held = try #require(bridge.dhcpServers[0]?.lease(for: first))
    #expect(held.state == .bound, "vm1's lease is kept")

    // vm2 asks now: an address from the new pool, with the new lease time.
    vm2.host.startDHCP(now: pump.now)
    pump.run(for: .seconds(3))
    let second = try #require(vm2.host.lease?.address.address, "vm2 got no lease: \(vm2.host.dhcpState)")
    #expect(second >= IPv4Address(10, 0, 0, 210) && second <= IPv4Address(10, 0, 0, 220), "\(second)")
    #expect(vm2.host.lease?.leaseTime == .seconds(7200))
    #expect(bridge.dhcpServers[0]?.lease(for: first)?.state == .bound, "still vm1's")
    #expect(!tap.records.isEmpty, "the new capture records")

    // vm1 renews at T1 (30 min) the address it holds, though it is outside the new pool.
    let renewed = vm1.host.lease?.obtainedAt
    pump.run(for: .seconds(31 * 60), step: .seconds(1))
    #expect(vm1.host.lease?.address.address == first, "vm1 kept its address: \(vm1.host.dhcpState)")
    #expect(vm1.host.lease?.obtainedAt != renewed, "vm1 renewed (ACKed, not NAKed)")
    #expect(bridge.dhcpServers[0]?.counters.naks == 0)
    #expect(bridge.dhcpServers[0]?.lease(for: first)?.state == .bound)

    // The guests still reach each other.
    let ping = vm1.host.ping(second, count: 3, interval: .milliseconds(100), now: pump.now)
    pump.run(for: .seconds(1))
    #expect(vm1.host.pingResult(ping).received == 3)

    // Stopping the capture hands its tap back for the driver to close.
    let stop = try bridge.config.reconfiguration(toText: text.replacingOccurrences(of: "captures: [{ file: live.pcap }]", with: ""), file: "new.yml")
    #expect(try bridge.reconfigure(stop, now: pump.now).map(\.name) == ["lan:live.pcap"])
}

@Test func aReloadTheBridgeCannotApplyChangesNothing() throws {
    let config = try BridgeConfig.parse(base.replacingOccurrences(of: "captures: [{ file: a.pcap }]", with: ""))
    let bridge = try Bridge(config: config)
    let text = base.replacingOccurrences(of: "captures: [{ file: a.pcap }]", with: "captures: [{ file: b.pcap }]")
        .replacingOccurrences(of: "lease: 1h", with: "lease: 2h")
    let change = try bridge.config.reconfiguration(toText: text, file: "new.yml")
    // The driver failed to open the capture file: it hands over no tap.
    #expect(throws: EngineError.self) { try bridge.reconfigure(change, addedTaps: [], now: .zero) }
    #expect(bridge.config == config)
    #expect(bridge.dhcpServers[0]?.configuration.leaseTime == .seconds(3600))
}

@Test func aUDPWANSendsToItsNewEndpointAfterAReload() throws {
    let text = """
    router: { ipv4: 10.0.0.1/24, nat: true }
    wan: { type: udp, endpoint: 192.0.2.2:51820, ipv4: 10.201.0.1/24 }
    """
    let bridge = try Bridge(config: BridgeConfig.parse(text), wanSetup: WANSetup(random: SeededRandom(seed: 7)))
    final class Sent { var to: [SocketAddressV4] = [] }
    let sent = Sent()
    bridge.connect(BridgeOutputs(sendWANDatagram: { _, to in sent.to.append(to) }))
    let vm1 = try TestGuest(name: "vm1", mac: MACAddress(0x52, 0x54, 0, 0, 0, 1), seed: 3)
    vm1.port = try bridge.attachGuest(name: "vm1", nic: try vm1.driver.makeDevice())
    var pump = Pump(bridge: bridge, guests: [vm1])
    vm1.host.configureStatic(address: IPv4Network("10.0.0.11/24")!, gateway: IPv4Address(10, 0, 0, 1), now: pump.now)
    _ = vm1.host.ping(IPv4Address(198, 51, 100, 7), count: 1, interval: .milliseconds(100), now: pump.now)
    pump.run(for: .milliseconds(500))
    #expect(sent.to == [SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 51820)])

    let moved = text.replacingOccurrences(of: "192.0.2.2:51820", with: "192.0.2.3:9000")
    let change = try bridge.config.reconfiguration(toText: moved, file: "new.yml")
    #expect(change.wanEndpoint == Endpoint(host: "192.0.2.3", port: 9000))
    // The driver resolves the endpoint; without it the bridge refuses and changes nothing.
    #expect(throws: EngineError.self) { try bridge.reconfigure(change, now: pump.now) }
    let newEndpoint = SocketAddressV4(address: IPv4Address(192, 0, 2, 3), port: 9000)
    _ = try bridge.reconfigure(change, wanEndpoint: newEndpoint, now: pump.now)
    _ = vm1.host.ping(IPv4Address(198, 51, 100, 7), count: 1, interval: .milliseconds(100), now: pump.now)
    pump.run(for: .milliseconds(500))
    #expect(sent.to.last == newEndpoint && sent.to.count == 2, "\(sent.to)")
}

@Test func staticRoutesAreReplacedAndTheWANsOwnRouteStays() throws {
    let text = """
    router: { ipv4: 10.0.0.1/24, nat: true }
    wan: { type: udp, endpoint: 192.0.2.2:51820, ipv4: 10.201.0.1/24 }
    """
    let bridge = try Bridge(config: BridgeConfig.parse(text), wanSetup: WANSetup(random: SeededRandom(seed: 7)))
    let router = try #require(bridge.router)
    let wanRoute = try #require(router.configuration.staticRoutes.last, "the WAN's default route")
    let routed = text.replacingOccurrences(of: "nat: true }", with: "nat: true, routes: [{ to: 10.9.0.0/16, via: 10.0.0.254 }] }")
    _ = try bridge.reconfigure(try bridge.config.reconfiguration(toText: routed, file: "new.yml"), now: .zero)
    #expect(router.configuration.staticRoutes == [StaticRoute(destination: IPv4Network("10.9.0.0/16")!, gateway: IPv4Address(10, 0, 0, 254)), wanRoute])
    #expect(bridge.wan?.nat?.configuration.internalNetworks.contains(IPv4Network("10.9.0.0/16")!) == true, "the NAT masquerades the routed network")
    _ = try bridge.reconfigure(try bridge.config.reconfiguration(toText: text, file: "old.yml"), now: .zero)
    #expect(router.configuration.staticRoutes == [wanRoute])
}
