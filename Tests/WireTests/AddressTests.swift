import Testing
@testable import Wire

@Test func macAddressParsesAndPrints() throws {
    let a = try #require(MACAddress("02:00:5e:10:00:01"))
    #expect(a == MACAddress(0x02, 0x00, 0x5E, 0x10, 0x00, 0x01))
    #expect(a.description == "02:00:5e:10:00:01")
    #expect(MACAddress("02-00-5E-10-00-01") == a)
    #expect(a.isLocallyAdministered && a.isUnicast)
    #expect(MACAddress("ff:ff:ff:ff:ff:ff")?.isBroadcast == true)
    #expect(MACAddress("01:00:5e:00:00:01")?.isMulticast == true)
    for bad in ["", "02:00:5e:10:00", "02:00:5e:10:00:01:02", "02:00:5e:10:00:0g", "2:00:5e:10:00:01", "002:00:5e:10:00:01"] {
        #expect(MACAddress(bad) == nil, "accepted \(bad)")
    }
    // Buffer round trip at an offset.
    var bytes = [UInt8](repeating: 0xAA, count: 9)
    bytes.withUnsafeMutableBytes { a.write(to: $0, at: 3) }
    #expect(bytes.withUnsafeBytes { MACAddress($0, at: 3) } == a)
    #expect(bytes[0..<3] == [0xAA, 0xAA, 0xAA])
}

@Test func ipv4AddressParsesAndPrints() throws {
    let a = try #require(IPv4Address("192.168.1.254"))
    #expect(a == IPv4Address(192, 168, 1, 254))
    #expect(a.rawValue == 0xC0A8_01FE)
    #expect(a.description == "192.168.1.254")
    #expect(IPv4Address("224.0.0.1")?.isMulticast == true)
    #expect(IPv4Address("255.255.255.255")?.isLimitedBroadcast == true)
    for bad in ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1..2.3", "+1.2.3.4", "1.2.3.-4", "1.2.3.4 ", "١.2.3.4", "1234.1.1.1"] {
        #expect(IPv4Address(bad) == nil, "accepted \(bad)")
    }
}

@Test func ipv4NetworkParsesAndContains() throws {
    let n = try #require(IPv4Network("10.1.2.3/20"))
    #expect(n.address == IPv4Address(10, 1, 2, 3))
    #expect(n.prefixLength == 20)
    #expect(n.netmask == IPv4Address(255, 255, 240, 0))
    #expect(n.networkAddress == IPv4Address(10, 1, 0, 0))
    #expect(n.broadcastAddress == IPv4Address(10, 1, 15, 255))
    #expect(n.contains(IPv4Address(10, 1, 15, 1)))
    #expect(!n.contains(IPv4Address(10, 1, 16, 1)))
    #expect(IPv4Network("10.0.0.1")?.prefixLength == 32)
    #expect(IPv4Network("0.0.0.0/0")?.contains(IPv4Address(8, 8, 8, 8)) == true)
    #expect(IPv4Network("0.0.0.0/0")?.mask == 0)
    #expect(n.description == "10.1.2.3/20")
    for bad in ["10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "10.0.0.1/24/1", "10.0.0/24", "/24", "10.0.0.1/024"] {
        #expect(IPv4Network(bad) == nil, "accepted \(bad)")
    }
}
