import Testing
@testable import Wire

@Test func ipv6AddressParsesEveryTextForm() throws {
    let doc = IPv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)
    for text in ["2001:db8::1", "2001:DB8:0:0:0:0:0:1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8:0::0:1"] {
        #expect(IPv6Address(text) == doc, "\(text)")
    }
    #expect(IPv6Address("::") == .unspecified)
    #expect(IPv6Address("::1") == .loopback)
    #expect(IPv6Address("1::") == IPv6Address(1, 0, 0, 0, 0, 0, 0, 0))
    #expect(IPv6Address("::ffff:192.0.2.33") == IPv6Address(ipv4Mapped: IPv4Address(192, 0, 2, 33)))
    #expect(IPv6Address("64:ff9b::192.0.2.33") == IPv6Address(0x64, 0xff9b, 0, 0, 0, 0, 0xC000, 0x0221))
    #expect(IPv6Address("1:2:3:4:5:6:1.2.3.4") == IPv6Address(1, 2, 3, 4, 5, 6, 0x0102, 0x0304))
    #expect(IPv6Address("1:2:3:4:5:6:7::") == IPv6Address(1, 2, 3, 4, 5, 6, 7, 0))
    #expect(IPv6Address("::2:3:4:5:6:7:8") == IPv6Address(0, 2, 3, 4, 5, 6, 7, 8))
    for bad in ["", ":", ":::", "1", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:8::",
                "::1:2:3:4:5:6:7:8", ":1::", "1::2:", "1:", "fe80::1%eth0", "::1.2.3", "1.2.3.4", "::1.2.3.4:5",
                "1:2:3:4:5:6:7:1.2.3.4", " ::1", "::1 ", "2001:db8::/64", "::256.0.0.1",
                String(repeating: "0", count: 46)] {
        #expect(IPv6Address(bad) == nil, "accepted \(bad)")
    }
}

/// RFC 5952 §4 and its examples; printing then parsing gives the address back.
@Test func ipv6AddressPrintsRFC5952() throws {
    let cases: [(IPv6Address, String)] = [
        (IPv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), "2001:db8::1"),
        (IPv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 2, 1), "2001:db8::2:1"),          // §4.2.1 longest
        (IPv6Address(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1), "2001:db8:0:1:1:1:1:1"),   // §4.2.2 not one field
        (IPv6Address(0x2001, 0, 0, 1, 0, 0, 0, 1), "2001:0:0:1::1"),              // §4.2.3 longest run
        (IPv6Address(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1), "2001:db8::1:0:0:1"),      // §4.2.3 first of equals
        (IPv6Address(0x2001, 0xDB8, 0xAAAA, 0xBBBB, 0xCCCC, 0xDDDD, 0xEEEE, 0xAAAA), "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa"),
        (.unspecified, "::"), (.loopback, "::1"), (IPv6Address(1, 0, 0, 0, 0, 0, 0, 0), "1::"),
        (IPv6Address(1, 0, 0, 0, 0, 0, 0, 2), "1::2"),
        (.allNodes, "ff02::1"), (.allDHCPRelayAgentsAndServers, "ff02::1:2"),
        (IPv6Address(ipv4Mapped: IPv4Address(192, 0, 2, 1)), "::ffff:192.0.2.1"),      // §5
    ]
    for (address, text) in cases {
        #expect(address.description == text)
        #expect(IPv6Address(text) == address)
    }
    var random = TestRandom(seed: 6)
    for _ in 0..<2000 {
        // Sparse groups so that zero runs of every length appear.
        let g = (0..<8).map { _ in Bool.random(using: &random) ? 0 : UInt16.random(in: 0...0xFFFF, using: &random) }
        let a = IPv6Address(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7])
        #expect(IPv6Address(a.description) == a, "\(a)")
        #expect(!a.description.contains(":::"))
    }
}

@Test func ipv6AddressBuffersAndClassification() throws {
    let a = try #require(IPv6Address("2001:db8:1:2:3:4:5:6"))
    var bytes = [UInt8](repeating: 0xAA, count: 20)
    bytes.withUnsafeMutableBytes { a.write(to: $0, at: 2) }
    #expect(Array(bytes[2..<18]) == [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6])
    #expect(bytes[0..<2] == [0xAA, 0xAA] && bytes[18..<20] == [0xAA, 0xAA])
    #expect(bytes.withUnsafeBytes { IPv6Address($0, at: 2) } == a)
    #expect(IPv6Address(octets: Array(bytes[2..<18])) == a && a.octets == Array(bytes[2..<18]))
    #expect(IPv6Address(octets: [1, 2, 3]) == nil)

    #expect(IPv6Address("fe80::1")!.isLinkLocal && IPv6Address("febf::1")!.isLinkLocal && !IPv6Address("fec0::1")!.isLinkLocal)
    #expect(IPv6Address("fd00::1")!.isUniqueLocal && !IPv6Address("fe00::1")!.isUniqueLocal)
    #expect(IPv6Address.allNodes.isMulticast && IPv6Address.allNodes.multicastScope == 2 && a.multicastScope == nil)
    #expect(IPv6Address("ff0e::101")!.multicastScope == 0xE)
    #expect(IPv6Address.unspecified.isUnspecified && IPv6Address.loopback.isLoopback && !a.isMulticast)
    #expect(IPv6Address("::ffff:10.0.0.1")!.mappedIPv4 == IPv4Address(10, 0, 0, 1) && a.mappedIPv4 == nil)
}

/// RFC 4291 §2.7.1, RFC 2464 §7, RFC 4291 App. A with its example MAC.
@Test func ipv6NeighbourDiscoveryHelpers() throws {
    let a = try #require(IPv6Address("2001:db8::2aa:ff:fe28:9c5a"))
    let solicited = a.solicitedNodeMulticast
    #expect(solicited.description == "ff02::1:ff28:9c5a")
    #expect(solicited.isSolicitedNodeMulticast && !IPv6Address.allNodes.isSolicitedNodeMulticast)
    #expect(solicited.multicastMAC.description == "33:33:ff:28:9c:5a")
    #expect(IPv6Address.allNodes.multicastMAC.description == "33:33:00:00:00:01")
    #expect(IPv6Address.allRouters.multicastMAC.isMulticast)
    // RFC 4291 App. A / RFC 2464 §4: 00-AA-00-28-9C-5A (universal) → 02AA:00FF:FE28:9C5A.
    let mac = try #require(MACAddress("00:aa:00:28:9c:5a"))
    #expect(IPv6Address.interfaceIdentifier(eui48: mac) == 0x02AA_00FF_FE28_9C5A)
    #expect(IPv6Address.linkLocal(mac: mac).description == "fe80::2aa:ff:fe28:9c5a")
    // A locally administered MAC gets the bit cleared.
    #expect(IPv6Address.linkLocal(mac: MACAddress(0x02, 0, 0, 0, 0, 1)).description == "fe80::ff:fe00:1")
    let prefix = try #require(IPv6Network("2001:db8:1:2::/64"))
    #expect(prefix.address(interfaceIdentifier: 0x02AA_00FF_FE28_9C5A)?.description == "2001:db8:1:2:2aa:ff:fe28:9c5a")
    #expect(IPv6Network("2001:db8::/48")!.address(interfaceIdentifier: 1) == nil)
}

@Test func ipv6NetworkParsesAndContains() throws {
    let n = try #require(IPv6Network("2001:db8:abcd:12::1/62"))
    #expect(n.prefixLength == 62 && n.address.description == "2001:db8:abcd:12::1")
    #expect(n.prefix.description == "2001:db8:abcd:10::")
    #expect(n.contains(IPv6Address("2001:db8:abcd:13:ffff::")!))
    #expect(!n.contains(IPv6Address("2001:db8:abcd:14::")!))
    #expect(IPv6Network("::/0")!.contains(IPv6Address("ff02::1")!))
    let host = try #require(IPv6Network("2001:db8::1"))
    #expect(host.prefixLength == 128 && host.contains(IPv6Address("2001:db8::1")!) && !host.contains(IPv6Address("2001:db8::2")!))
    let n100 = try #require(IPv6Network("2001:db8::1:0:0/100"))
    #expect(n100.contains(IPv6Address("2001:db8::1:fff:ffff")!) && !n100.contains(IPv6Address("2001:db8::1:1000:0")!))
    #expect(n.description == "2001:db8:abcd:12::1/62")
    for bad in ["2001:db8::/129", "2001:db8::/", "2001:db8::/-1", "2001:db8::/064", "2001:db8::/6a", "/64", "2001:db8::/64/1", "10.0.0.0/8"] {
        #expect(IPv6Network(bad) == nil, "accepted \(bad)")
    }
    #expect(IPv6Network(address: .loopback, prefixLength: 129) == nil)
}
