import Datapath
import Foundation
import Testing
import Wire
import YAMLSchema
@testable import Engine

/// The package root, found from this file's path (tests run from anywhere).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Test func acceptsOathgatesSampleUnchanged() throws {
    let path = packageRoot + "/fixtures/configs/oathgate-sample.yml"
    let config = try BridgeConfig.parse(String(contentsOfFile: path, encoding: .utf8), file: path)
    let router = try #require(config.router)
    #expect(router.interfaces.count == 1)
    #expect(router.interfaces[0].ipv4.description == "10.67.213.1/24")
    #expect(router.interfaces[0].dhcp?.start == IPv4Address(10, 67, 213, 100))
    #expect(router.interfaces[0].dhcp?.end == IPv4Address(10, 67, 213, 200))
    #expect(router.interfaces[0].dhcp?.dnsServers == [])
    #expect(config.virtio.queues == 1)
    guard case .wireguard(let wg) = config.wan else {
        Issue.record("wan is not wireguard"); return
    }
    #expect(wg.privateKey.count == 32 && wg.peerPublicKey.count == 32)
    #expect(wg.endpoint == Endpoint(host: "203.0.113.7", port: 51820))
    #expect(wg.ipv4.address == IPv4Address(10, 200, 0, 2))
}

@Test func extensionsParse() throws {
    let config = try BridgeConfig.parse("""
    name: lab0
    router:
      ipv4: 10.0.0.1/24
      mac: 02:00:00:00:00:fe
      dns: [192.0.2.53]
      dhcp:
        start: 10.0.0.100
        end: 10.0.0.120
        lease: 10m
        domain: lab.test
        reservations:
          - { mac: 52:54:00:00:00:07, ipv4: 10.0.0.7 }
      interfaces:
        - { name: lan2, ipv4: 10.0.1.1/24, dhcp: { start: 10.0.1.100, end: 10.0.1.110 } }
      routes:
        - { to: 10.9.0.0/16, via: 10.0.1.254 }
    switch: { aging: 60s, table-size: 256 }
    captures:
      - { file: lan2.pcap, at: lan2, filter: "udp port 67" }
    """)
    let router = try #require(config.router)
    #expect(config.name == "lab0")
    #expect(config.segmentNames == ["lan", "lan2"])
    #expect(router.interfaces[0].mac == MACAddress(2, 0, 0, 0, 0, 0xfe))
    #expect(router.interfaces[1].mac == MACAddress(2, 0x5e, 10, 0, 1, 1))
    #expect(router.interfaces[0].dhcp?.leaseTime == .seconds(600))
    #expect(router.interfaces[0].dhcp?.dnsServers == [IPv4Address(192, 0, 2, 53)])
    #expect(router.interfaces[1].dhcp?.dnsServers == [IPv4Address(192, 0, 2, 53)])
    #expect(router.interfaces[0].dhcp?.reservations.first?.ipv4 == IPv4Address(10, 0, 0, 7))
    #expect(router.routes == [StaticRoute(destination: IPv4Network("10.9.0.0/16")!, gateway: IPv4Address(10, 0, 1, 254))])
    #expect(config.switching.aging == .seconds(60) && config.switching.tableSize == 256)
    #expect(config.captures == [CaptureConfig(file: "lan2.pcap", segment: "lan2", filter: "udp port 67")])
}

/// Each bad file fails at the right line with a message naming the field.
@Test(arguments: [
    ("router:\n  ipv4: 10.0.0.300/24\n", 2, "router.ipv4: '10.0.0.300/24' is not an interface address"),
    ("router:\n  ipv4: 10.0.0.1/24\n  dhcp:\n    start: 10.0.1.5\n    end: 10.0.0.9\n", 4, "10.0.1.5 is not a usable host address"),
    ("router:\n  ipv4: 10.0.0.1/24\n  dhcp:\n    start: 10.0.0.50\n    end: 10.0.0.9\n", 4, "start 10.0.0.50 is after end 10.0.0.9"),
    ("router:\n  ipv4: 10.0.0.1/24\n  dhcp: { start: 10.0.0.1, end: 10.0.0.9 }\n", 3, "is not a usable host address"),
    ("router:\n  ipv4: 10.0.0.1/24\n  dns: true\n", 3, "'dns: true' needs the servers"),
    ("wan:\n  type: wireguard\n  key: c2hvcnQ=\n  peer: x\n  endpoint: 1.2.3.4:5\n  ipv4: 10.0.0.2\n", 3, "wan.key: not a WireGuard key"),
    ("wan:\n  type: carrier-pigeon\n", 2, "unknown WAN type 'carrier-pigeon'"),
    ("wan:\n  type: udp\n  endpoint: nowhere\n", 3, "'nowhere' is not host:port"),
    ("virtio:\n  queues: 0\n", 2, "virtio.queues: 0 is out of range"),
    ("routr:\n  ipv4: 10.0.0.1/24\n", 1, "unknown key 'routr'"),
    ("router:\n  ipv4: 10.0.0.1/24\n  interfaces:\n    - { name: b, ipv4: 10.0.0.129/25 }\n", 2, "overlap"),
    ("captures:\n  - { file: x.pcap, at: nowhere }\n", 2, "no segment named 'nowhere'"),
])
func badConfigsAreLocated(text: String, line: Int, message: String) {
    do {
        _ = try BridgeConfig.parse(text, file: "bad.yml")
        Issue.record("accepted a bad config: \(text)")
    } catch {
        #expect(error.file == "bad.yml")
        #expect(error.line == line, "\(error)")
        #expect(error.description.contains(message), "\(error)")
        #expect(error.fix != nil || error.message.contains("YAML"), "no fix offered: \(error)")
    }
}

@Test func unreadableFileErrorNamesTheFile() {
    // The Engine reads no files; its callers report a file they cannot read with this error.
    let error = ConfigError.unreadableFile("/nonexistent/bridge.yml")
    #expect(error.file == "/nonexistent/bridge.yml" && error.fix != nil)
    #expect(error.description.hasPrefix("/nonexistent/bridge.yml:0:0: error: cannot read"))
}

/// An aging time of 1e10s overflowed the duration parser (exit 132); now a located error.
@Test func hugeAgingIsALocatedError() {
    do {
        _ = try BridgeConfig.parse("name: lab0\nswitch: { aging: 1e10s }\n", file: "bridge.yml")
        Issue.record("parsed")
    } catch {
        #expect(error.line == 2 && error.message.contains("out of range"), "\(error)")
    }
}

/// 20,000 reservations load (the duplicate check is a set lookup, not a scan of the earlier ones),
/// and a repeated MAC or address is still refused at its line.
@Test func manyReservationsLoadAndRepeatsAreRefused() throws {
    func mac(_ i: Int) -> String { String(format: "52:54:00:%02x:%02x:%02x", (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF) }
    func ip(_ i: Int) -> String { "10.\(1 + i / 65536).\((i / 256) % 256).\(i % 256 == 0 ? 1 : i % 256)" }
    var text = "name: lab0\nrouter:\n  ipv4: 10.0.0.1/8\n  dhcp:\n    start: 10.200.0.10\n    end: 10.200.0.200\n    reservations:\n"
    let n = 20_000
    for i in 1...n where i % 256 != 0 { text += "      - { mac: \(mac(i)), ipv4: \(ip(i)) }\n" }
    let config = try BridgeConfig.parse(text, file: "bridge.yml")
    #expect(config.router?.interfaces[0].dhcp?.reservations.count == n - n / 256)
    let repeated = text + "      - { mac: \(mac(1)), ipv4: 10.250.0.1 }\n"
    do {
        _ = try BridgeConfig.parse(repeated, file: "bridge.yml")
        Issue.record("a repeated MAC was accepted")
    } catch {
        #expect(error.line == repeated.split(separator: "\n").count && error.message.contains("repeats an earlier one"), "\(error)")
    }
}
