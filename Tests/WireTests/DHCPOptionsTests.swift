import Testing
import Wire

@Suite("DHCP options")
struct DHCPOptionsTests {
    @Test("typed setters write the RFC 2132 encodings and getters read them back")
    func typedAccessRoundTrip() {
        var o = DHCPOptions()
        o.messageType = .request
        o.subnetMask = IPv4Address(255, 255, 255, 0)
        o.routers = [IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)]
        o.domainNameServers = [IPv4Address(10, 0, 0, 53)]
        o.hostName = "vm01"
        o.domainName = "lab"
        o.broadcastAddress = IPv4Address(10, 0, 0, 255)
        o.requestedIPAddress = IPv4Address(10, 0, 0, 100)
        o.leaseTime = 100
        o.optionOverload = 3
        o.serverIdentifier = IPv4Address(10, 0, 0, 1)
        o.parameterRequestList = [.subnetMask, .router]
        o.message = "no"
        o.maximumMessageSize = 1500
        o.renewalTime = 50
        o.rebindingTime = 87
        o.clientIdentifier = [1, 2, 3]

        #expect(o.messageType == .request)
        #expect(o.subnetMask == IPv4Address(255, 255, 255, 0))
        #expect(o.routers == [IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)])
        #expect(o.domainNameServers == [IPv4Address(10, 0, 0, 53)])
        #expect(o.hostName == "vm01")
        #expect(o.domainName == "lab")
        #expect(o.broadcastAddress == IPv4Address(10, 0, 0, 255))
        #expect(o.requestedIPAddress == IPv4Address(10, 0, 0, 100))
        #expect(o.leaseTime == 100)
        #expect(o.optionOverload == 3)
        #expect(o.serverIdentifier == IPv4Address(10, 0, 0, 1))
        #expect(o.parameterRequestList == [.subnetMask, .router])
        #expect(o.message == "no")
        #expect(o.maximumMessageSize == 1500)
        #expect(o.renewalTime == 50)
        #expect(o.rebindingTime == 87)
        #expect(o.clientIdentifier == [1, 2, 3])

        // RFC 2132 §2: network byte order. Lease time 100 s is 00 00 00 64.
        #expect(o.value(of: .ipAddressLeaseTime).map(Array.init) == [0, 0, 0, 0x64])
        #expect(o.value(of: .router).map(Array.init) == [10, 0, 0, 1, 10, 0, 0, 2])
        #expect(o.value(of: .maximumMessageSize).map(Array.init) == [0x05, 0xDC])
        #expect(o.codes.count == 17)
    }

    @Test("setting replaces every instance; nil and empty remove")
    func setReplacesAndRemoves() {
        var o = DHCPOptions()
        o.hostName = "a"
        o.leaseTime = 1
        o.hostName = "b"
        #expect(o.codes == [.ipAddressLeaseTime, .hostName])
        #expect(o.hostName == "b")
        o.hostName = nil
        #expect(!o.contains(.hostName))
        o.domainName = ""
        o.routers = []
        #expect(o.codes == [.ipAddressLeaseTime])
        o.remove(.ipAddressLeaseTime)
        #expect(o.codes.isEmpty && o.encodedLength == 0)
    }

    @Test("a value with the wrong length reads as absent but is kept")
    func wrongLengthReadsAsNil() {
        var o = DHCPOptions()
        o.append(.requestedIPAddress, [10, 0, 0])
        o.append(.dhcpMessageType, [1, 1])
        o.append(.router, [10, 0, 0, 1, 10])
        o.append(.clientIdentifier, [1])
        o.append(.maximumMessageSize, [5])
        o.append(.parameterRequestList, [UInt8]())
        #expect(o.requestedIPAddress == nil)
        #expect(o.messageType == nil)
        #expect(o.routers == nil)
        #expect(o.clientIdentifier == nil)
        #expect(o.maximumMessageSize == nil)
        #expect(o.parameterRequestList == nil)
        #expect(o.count == 6)
        #expect(o.value(of: .requestedIPAddress).map(Array.init) == [10, 0, 0])
    }

    @Test("several instances of one option are concatenated (RFC 2131 §4.1, RFC 3396)")
    func concatenatesInstances() {
        var o = DHCPOptions()
        o.append(.domainNameServer, [10, 0, 0, 1])
        o.append(.hostName, Array("x".utf8))
        o.append(.domainNameServer, [10, 0, 0, 2])
        #expect(o.domainNameServers == [IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)])
        #expect(o.value(of: .hostName).map(Array.init) == [0x78])
        #expect(o.value(of: .router) == nil)
    }

    @Test("append splits values over 255 octets into consecutive instances")
    func appendSplitsLongValues() {
        var o = DHCPOptions()
        let long = (0..<600).map { UInt8(truncatingIfNeeded: $0) }
        o.append(DHCPOptionCode(43), long)
        #expect(o.map(\.data.count) == [255, 255, 90])
        #expect(o.value(of: DHCPOptionCode(43)).map(Array.init) == long)
        #expect(o.encodedLength == 600 + 3 * 2)
        o.append(DHCPOptionCode(200), [UInt8]())
        #expect(o.count == 4)
        #expect(o.value(of: DHCPOptionCode(200))?.isEmpty == true)
        o.append(.pad, [1])
        o.append(.end, [1])
        #expect(o.count == 4)
    }

    @Test("trailing NULs of text options are deleted (RFC 2132 §2)")
    func trailingNulsDeleted() {
        var o = DHCPOptions()
        o.append(.hostName, Array("vm01".utf8) + [0, 0])
        o.append(.message, [0])
        #expect(o.hostName == "vm01")
        #expect(o.message == nil)
    }

    @Test("message type names and option code names")
    func names() {
        #expect(DHCPMessageType.rfc2131Types.map(\.description) ==
                ["DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPDECLINE", "DHCPACK", "DHCPNAK", "DHCPRELEASE", "DHCPINFORM"])
        #expect(DHCPMessageType.rfc2131Types.map(\.rawValue) == Array(1...8))
        #expect(DHCPMessageType(rawValue: 13).description == "DHCP type 13")
        #expect(DHCPOptionCode.clientIdentifier.description == "client-identifier")
        #expect(DHCPOptionCode(224).description == "option-224")
    }

    @Test("chaddr holds 16 octets; the MAC is the first six")
    func hardwareAddress() {
        let mac = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
        let a = DHCPHardwareAddress(mac)
        #expect(a.macPrefix == mac)
        #expect(a.prefix(6) == [0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
        #expect(a.prefix(16).count == 16 && a.prefix(16)[6...].allSatisfy { $0 == 0 })
        let b = DHCPHardwareAddress(high: 0x0001_0203_0405_0607, low: 0x0809_0A0B_0C0D_0E0F)
        #expect((0..<16).map { b[$0] } == (0..<16).map { UInt8($0) })
        var bytes = [UInt8](repeating: 0xAA, count: 18)
        bytes.withUnsafeMutableBytes { b.write(to: $0, at: 1) }
        #expect(bytes[0] == 0xAA && bytes[17] == 0xAA)
        #expect(bytes.withUnsafeBytes { DHCPHardwareAddress($0, at: 1) } == b)
        #expect(b.description.hasPrefix("00:01:02:03"))
    }
}
