// aronet's registry.json in both dialects (fixtures/mesh/), its refusals with a line, a path and a fix, hostile bytes
// that never trap, and a registry turned into the peers of a lab mesh that then pings across.
import Basics
import Crypto
import Foundation
import Testing
import Wire
@testable import Mesh

private let meshFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures/mesh")

private func fixture(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: meshFixtures.appendingPathComponent(name)))
}

@Test func registryNewerDialectLoads() throws {
    let r = try MeshRegistry(json: try fixture("registry-extra-network.json"))
    #expect(r.dialect == .extraNetwork)
    #expect(r.organizations.map(\.name) == ["harbor", "lighthouse"])
    #expect(r.nodes.map(\.identity) == ["O=harbor,CN=quay", "O=harbor,CN=dock", "O=lighthouse,CN=keeper", "O=lighthouse,CN=lamp"])
    let quay = r.nodes[0]
    #expect(quay.endpoints.map(\.family) == [.ip4, .ip6])
    #expect(quay.endpoints[0].socketAddress == SocketAddressV4(address: IPv4Address(198, 51, 100, 10), port: 12025))
    #expect(quay.network.description == OverlayNetwork(anyFamily: "fd70::1/64")!.description)
    #expect(quay.network.family == 6 && quay.network.address.first == 0xFD && quay.network.address.last == 1)
    #expect(quay.extraNetworks == [net("192.168.140.1/24")])
    #expect(r.nodes[1].endpoints[0].address == "dock.example.net" && r.nodes[1].endpoints[0].socketAddress == nil)
    let keeper = r.nodes[2]
    #expect(keeper.endpoints[0].address == nil, "null: behind NAT")
    #expect(keeper.extraNetworks.count == 2)
    #expect(r.nodes[3].noiseKey == nil && r.nodesWithoutKeys.map(\.commonName) == ["lamp"])

    // As seen from quay: dock (a name to resolve: no endpoint yet) and keeper (behind NAT); lamp has no key.
    let peers = r.peers(localKey: quay.noiseKey)
    #expect(peers.map(\.name) == ["O=harbor,CN=dock", "O=lighthouse,CN=keeper"])
    #expect(peers.allSatisfy { $0.endpoint == nil })
    #expect(peers[1].prefixes.contains(net("192.168.141.0/24")), "host bits cleared: aronet writes 192.168.141.1/24")
    #expect(peers[1].addresses == [net("10.99.1.22/24")])
    // The organization keys are the SubjectPublicKeyInfo's last 32 bytes.
    #expect(r.organizations[0].key.bytes == Array(Base64.decode("MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=")!.suffix(32)))
}

@Test func registryOlderDialectLoads() throws {
    let r = try MeshRegistry(json: try fixture("registry-prefixs.json"))
    #expect(r.dialect == .prefixs)
    #expect(r.nodes.map(\.commonName) == ["quay", "keeper"])
    #expect(r.nodes[0].extraNetworks == [net("192.168.140.1/24")])
    // No serial_number: the endpoint's position stands in.
    #expect(r.nodes[1].endpoints.map(\.serialNumber) == [0, 1])
    #expect(r.nodes[1].endpoints[1].address == nil)
    #expect(r.nodes.allSatisfy { $0.noiseKey == nil })
    #expect(r.peers(localKey: nil).isEmpty, "aronet's own files carry no node keys")
}

@Test func registryRefusalsAreLocated() throws {
    let cases: [(String, Int, String, String)] = [
        ("bad-port.json", 5, "[0].nodes[0].endpoints[0].port", "1 to 65535"),
        ("bad-key.json", 3, "[0].public_key", "PUBLIC KEY"),
        ("bad-network.json", 6, "[0].nodes[0].remarks.network", "fd66::1/64"),
        ("bad-duplicate-node.json", 5, "[0].nodes[1].common_name", "unique"),
        ("bad-truncated.json", 5, "", "JSON syntax"),
    ]
    for (file, line, path, fix) in cases {
        let bytes = try fixture(file)
        do throws(RegistryError) {
            _ = try MeshRegistry(json: bytes)
            Issue.record("\(file) loaded")
        } catch {
            #expect(error.line == line, "\(file): \(error)")
            #expect(error.path == path, "\(file): \(error)")
            #expect(error.fix.contains(fix), "\(file): \(error)")
        }
    }
    let inline: [(String, String)] = [
        ("{}", "array of organizations"),
        ("[1]", "as an object"),
        ("[{\"organization\":\"a\"}]", "public_key"),
        ("[{\"organization\":\"a\",\"public_key\":\"MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\"}]", "nodes"),
        ("[{\"organization\":\"a\",\"public_key\":\"MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\",\"nodes\":[{\"common_name\":\"x\",\"endpoints\":[{\"address\":\"1.2.3.4\",\"port\":0}],\"remarks\":{\"network\":\"fd00::1/64\"}}]}]", "1 to 65535"),
        ("[{\"organization\":\"a\",\"public_key\":\"MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\",\"nodes\":[{\"common_name\":\"x\",\"endpoints\":[{\"address\":\"1.2.3.4\",\"port\":12.5}],\"remarks\":{\"network\":\"fd00::1/64\"}}]}]", "1 to 65535"),
        ("[{\"organization\":\"a\",\"public_key\":\"MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\",\"nodes\":[{\"common_name\":\"x\",\"endpoints\":[{\"address\":\"1.2.3.4\",\"port\":1,\"serial_number\":-1}],\"remarks\":{\"network\":\"fd00::1/64\"}}]}]", "0 to 4294967295"),
        ("[{\"organization\":\"a\",\"public_key\":\"MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\",\"nodes\":[{\"common_name\":\"x\",\"endpoints\":[{\"address\":\"1.2.3.4\",\"port\":1,\"address_family\":\"ip5\"}],\"remarks\":{\"network\":\"fd00::1/64\"}}]}]", "ip6"),
        ("[{\"organization\":\"a\",\"public_key\":\"MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\",\"nodes\":[{\"common_name\":\"x\",\"endpoints\":[],\"remarks\":{\"network\":\"fd00::1/64\"},\"sluice\":{\"public_key\":\"short\"}}]}]", "wg pubkey"),
        ("[{\"organization\":\"a\",\"public_key\":\"MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\",\"nodes\":[{\"common_name\":\"x\",\"endpoints\":[],\"remarks\":{\"network\":\"fd00::1/129\"}}]}]", "fd66::1/64"),
        ("[{\"organization\":\"a\",\"public_key\":\"MCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\",\"nodes\":[{\"common_name\":\"x\",\"endpoints\":[],\"remarks\":{\"network\":\"fd00::1/64\",\"prefixs\":\"10.0.0.0/8\"}}]}]", "list the prefixes"),
        ("[{\"organization\":\"a\",\"organization\":\"b\"}]", "JSON syntax"),
        (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "JSON syntax"),
        ("[\"\\ud800\"]", "JSON syntax"),
    ]
    for (text, fix) in inline {
        do throws(RegistryError) {
            _ = try MeshRegistry(json: text)
            Issue.record("loaded: \(text.prefix(60))")
        } catch {
            #expect(error.fix.contains(fix), "\(text.prefix(60)): \(error)")
        }
    }
}

/// Every truncation and every single-byte change of the newer fixture either loads or is refused with an error: no
/// trap, whatever the bytes.
@Test func registryHostileBytesNeverTrap() throws {
    let good = try fixture("registry-extra-network.json")
    let end = try #require(good.lastIndex(of: UInt8(ascii: "]")))
    var refused = 0, tried = 0
    for n in stride(from: 0, to: end, by: 7) {
        tried += 1
        if (try? MeshRegistry(json: Array(good.prefix(n)))) == nil { refused += 1 }
    }
    #expect(refused == tried, "every truncation is refused")
    var g = SeededRandom(seed: 3, component: "registry-fuzz")
    for _ in 0..<2000 {
        var b = good
        b[Int(g.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: g.next())
        _ = try? MeshRegistry(json: b)
    }
}

@Test func jsonReaderDecodesEscapesAndNumbers() throws {
    let v = try JSONDocument.parse("{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\ud83d\\ude00\\n\"]}")
    guard case .array(let items)? = v["a"]?.kind else { Issue.record("no array"); return }
    #expect(items.map(\.kind) == [.number("1"), .number("-2.5e3"), .bool(true), .null, .string("xé😀\n")])
    for bad in ["", "01", "1.", "-", "\"\u{01}\"", "[1,]", "{\"a\" 1}", "tru", "\"\\x\"", "[1] 2", "\"abc"] {
        #expect((try? JSONDocument.parse(bad)) == nil, "\(bad)")
    }
}

@Test func ipv6TextParses() throws {
    #expect(OverlayNetwork(anyFamily: "fd66::1/64")?.address == [0xFD, 0x66] + [UInt8](repeating: 0, count: 13) + [1])
    #expect(OverlayNetwork(anyFamily: "::/0")?.address == [UInt8](repeating: 0, count: 16))
    #expect(OverlayNetwork(anyFamily: "1:2:3:4:5:6:7:8/128")?.address.last == 8)
    for bad in ["fd66::1::2/64", "1:2:3:4:5:6:7:8:9/64", "fd66::g/64", "fd66::1/129", "fd66::1", ":::/64", "+f::1/64",
                "12345::/64", "1:2:3:4:5:6:7::8/64"] {
        #expect(OverlayNetwork(anyFamily: bad) == nil, "\(bad)")
    }
}

/// A registry with the lab's keys, in the newer dialect with one node behind NAT, becomes each node's peers; the
/// mesh built from it answers pings between every pair, the NATed node through the relay.
@Test func registryBuildsAWorkingMesh() throws {
    let lab = MeshLab(count: 3, relays: [0])
    func entry(_ i: Int, address: String?) -> String {
        """
        { "common_name": "n\(i)",
          "endpoints": [ { "address": \(address.map { "\"\($0)\"" } ?? "null"), "port": 4500, "serial_number": 0, "address_family": "ip4" } ],
          "remarks": { "network": "fd66::\(i + 1)/64", "extra_network": [] },
          "sluice": { "public_key": "\(lab.key(i).base64)", "addresses": ["\(lab.overlay(i))/24"], "relay": \(i == 0) } }
        """
    }
    let text = """
    [ { "public_key": "-----BEGIN PUBLIC KEY-----\\nMCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\\n-----END PUBLIC KEY-----",
        "organization": "acme",
        "nodes": [ \(entry(0, address: "192.0.2.1")), \(entry(1, address: "192.0.2.2")), \(entry(2, address: nil)) ] } ]
    """
    let registry = try MeshRegistry(json: text)
    #expect(registry.relays(localKey: lab.key(1)) == [lab.key(0)] && registry.relays(localKey: lab.key(0)).isEmpty)
    let nodes = (0..<3).map { i -> MeshNode<StaticMeshRouting> in
        let peers = registry.peers(localKey: lab.key(i))
        let old = lab.nodes[i]
        return MeshNode(handshaker: old.handshaker, configuration: MeshNodeConfiguration(peers: peers),
                        routing: StaticMeshRouting(peers: peers, relays: registry.relays(localKey: lab.key(i))))
    }
    #expect(registry.peers(localKey: lab.key(0)).first { $0.name == "O=acme,CN=n2" }?.endpoint == nil)
    lab.nodes = nodes
    var sequence: UInt16 = 0
    for a in 0..<3 { for b in 0..<3 where a != b { sequence += 1; lab.ping(from: a, to: b, sequence: sequence) } }
    lab.run(until: at(.seconds(8)))
    #expect(Set(lab.replies.map(\.sequence)) == Set(1...6))
    let status = lab.nodes[1].peerStatus
    #expect(status.map(\.name) == ["O=acme,CN=n0", "O=acme,CN=n2"] && status.allSatisfy(\.hasSession))
    #expect(lab.nodes[0].counters.relayed > 0, "n1 reaches n2 (no endpoint) through n0")
}
