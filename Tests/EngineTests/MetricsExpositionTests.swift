// Metrics in the Prometheus text format (Metrics/MetricsExposition.swift, Bridge+Metrics.swift):
// the format's rules, every counter of the bridge's counter structs exported, and Debian's
// `promtool check metrics` accepting a running bridge's exposition.
import Basics
import Datapath
import Foundation
import HostStack
import Testing
import Wire
@testable import Engine

@Test func fieldNamesBecomeSnakeCase() {
    #expect(MetricsExposition.snakeCase("rxPackets") == "rx_packets")
    #expect(MetricsExposition.snakeCase("queuedForARP") == "queued_for_arp")
    #expect(MetricsExposition.snakeCase("icmpErrorsSent") == "icmp_errors_sent")
    #expect(MetricsExposition.snakeCase("ipv4BadChecksum") == "ipv4_bad_checksum")
    #expect(MetricsExposition.snakeCase("forwarded") == "forwarded")
}

@Test func familiesHaveOneHelpAndTypeAndLabelsAreEscaped() {
    var m = MetricsExposition()
    m.add("x_total", .counter, help: "line one\nback\\slash", labels: [("port", "a\"b\\c\nd")], value: 3)
    m.add("y", .gauge, help: "y", value: 1)
    m.add("x_total", .counter, help: "ignored", labels: [("port", "e")], value: 4)
    #expect(m.text == """
    # HELP x_total line one\\nback\\\\slash
    # TYPE x_total counter
    x_total{port="a\\"b\\\\c\\nd"} 3
    x_total{port="e"} 4
    # HELP y y
    # TYPE y gauge
    y 1

    """)
    #expect(m.json(extra: [("bridge", "\"br0\"")]) ==
            #"{"bridge":"br0","metrics":[{"name":"x_total","type":"counter","labels":{"port":"a\"b\\c\nd"},"value":3},{"name":"x_total","type":"counter","labels":{"port":"e"},"value":4},{"name":"y","type":"gauge","labels":{},"value":1}]}"# + "\n")
}

/// A bridge with two guests that got leases and pinged: nonzero port, switch, router and DHCP counters.
private func busyBridge() throws -> Bridge {
    let bridge = try Bridge(config: BridgeConfig.parse("""
    name: metrics-test
    router:
      ipv4: 10.0.0.1/24
      dhcp: { start: 10.0.0.100, end: 10.0.0.120 }
    """))
    bridge.connect(BridgeOutputs())
    let vm1 = try TestGuest(name: "vm1", mac: MACAddress(0x52, 0x54, 0, 0, 0, 1), seed: 1)
    let vm2 = try TestGuest(name: "vm2", mac: MACAddress(0x52, 0x54, 0, 0, 0, 2), seed: 2)
    vm1.port = try bridge.attachGuest(name: "vm1", nic: try vm1.driver.makeDevice())
    vm2.port = try bridge.attachGuest(name: "vm2", nic: try vm2.driver.makeDevice())
    var pump = Pump(bridge: bridge, guests: [vm1, vm2])
    vm1.host.startDHCP(now: pump.now)
    vm2.host.startDHCP(now: pump.now)
    pump.run(for: .seconds(3))
    if let a = vm2.host.lease?.address.address {
        _ = vm1.host.ping(a, count: 2, interval: .milliseconds(50), now: pump.now)
        pump.run(for: .milliseconds(500))
    }
    return bridge
}

@Test func everyCounterOfTheBridgeIsExported() throws {
    let bridge = try busyBridge()
    var m = MetricsExposition()
    bridge.addMetrics(to: &m)
    let text = m.text
    let names = Set(m.families.map(\.name))
    // Each UInt64 field of each counters struct is a family, and each drop reason a sample.
    func fields(_ value: Any) -> [String] {
        Mirror(reflecting: value).children.compactMap { $0.value is UInt64 ? $0.label.map(MetricsExposition.snakeCase) : nil }
    }
    for f in fields(PortCounters()) { #expect(names.contains("sluice_port_\(f)_total"), "\(f)") }
    for f in fields(RouterCounters()) { #expect(names.contains("sluice_router_\(f)_total"), "\(f)") }
    for f in fields(ARPCounters()) { #expect(names.contains("sluice_router_arp_\(f)_total"), "\(f)") }
    for f in fields(DHCPServerCounters()) { #expect(names.contains("sluice_dhcp_\(f)_total"), "\(f)") }
    for f in fields(LearningSwitch.Statistics()) { #expect(names.contains("sluice_switch_\(f)_total"), "\(f)") }
    for reason in PortDropReason.allCases {
        #expect(text.contains("sluice_port_drops_total{port=\"vm1\",kind=\"\(PortKind.virtioGuest)\",segment=\"lan\",reason=\"\(reason)\"}"), "\(reason)")
    }
    #expect(text.contains("sluice_dhcp_leases{segment=\"lan\",state=\"bound\"} 2"), "\(text)")
    #expect(text.contains("sluice_dhcp_sent_total{segment=\"lan\",type=\"\(DHCPMessageType.ack)\"} 2"))
    let rx = try #require(m.families.first { $0.name == "sluice_port_rx_packets_total" })
    #expect(rx.samples.contains { s in s.labels.contains { $0 == ("port", "vm1") } && s.value > 0 })
    #expect(text.contains("sluice_bridge_info{bridge=\"metrics-test\"} 1"))
}

@Test func promtoolAcceptsTheExposition() throws {
    guard let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        print("skipped: promtool is not installed (Debian package prometheus; ci/setup.sh installs it)")
        return
    }
    let bridge = try busyBridge()
    var m = MetricsExposition()
    bridge.addMetrics(to: &m)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: promtool)
    p.arguments = ["check", "metrics"]
    let input = Pipe(), output = Pipe()
    p.standardInput = input; p.standardOutput = output; p.standardError = output
    try p.run()
    input.fileHandleForWriting.write(Data(m.text.utf8))
    try input.fileHandleForWriting.close()
    let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "promtool check metrics: \(said)")
    #expect(said.isEmpty, "promtool's lint findings: \(said)")
}
