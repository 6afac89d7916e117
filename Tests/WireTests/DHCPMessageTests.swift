import Testing
import Wire

// DHCPv4 message codec: round trip on a dirty buffer, rejection at every truncation length,
// bad magic cookie, option lengths past the end, and a hand-assembled DHCPDISCOVER.

@Suite("DHCP message codec")
struct DHCPMessageTests {
    /// A message that uses every field, a long (split) option, an unknown option and sname/file.
    static func sample() -> DHCPMessage {
        var options = DHCPOptions()
        options.messageType = .ack
        options.serverIdentifier = IPv4Address(10, 0, 0, 1)
        options.leaseTime = 3600
        options.renewalTime = 1800
        options.rebindingTime = 3150
        options.subnetMask = IPv4Address(255, 255, 255, 0)
        options.routers = [IPv4Address(10, 0, 0, 1)]
        options.domainNameServers = [IPv4Address(9, 9, 9, 9), IPv4Address(1, 1, 1, 1)]
        options.domainName = "lab.example"
        options.append(DHCPOptionCode(224), [0xDE, 0xAD]) // site-specific, unknown to the codec
        options.append(DHCPOptionCode(43), [UInt8](repeating: 0x5A, count: 300)) // split into 255 + 45
        return DHCPMessage(
            op: .bootReply, hops: 1, xid: 0xCAFE_F00D, secs: 7, flags: DHCP.broadcastFlag,
            ciaddr: IPv4Address(10, 0, 0, 9), yiaddr: IPv4Address(10, 0, 0, 100),
            siaddr: IPv4Address(10, 0, 0, 2), giaddr: IPv4Address(10, 1, 0, 1),
            chaddr: DHCPHardwareAddress(MACAddress(0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF)),
            sname: Array("boot.example".utf8), file: Array("pxelinux.0".utf8), options: options)
    }

    static func emitted(_ message: DHCPMessage, capacity: Int = 1024, fill: UInt8 = 0xAA) throws -> [UInt8] {
        var buffer = [UInt8](repeating: fill, count: capacity)
        let n = try buffer.withUnsafeMutableBytes { try message.emit(into: $0) }
        return Array(buffer[..<n])
    }

    static func parse(_ bytes: some Collection<UInt8>) throws(WireError) -> DHCPMessage {
        let copy = Array(bytes)
        let result = copy.withUnsafeBytes { raw in
            Result { () throws(WireError) in try DHCPMessage(parsing: raw) }
        }
        return try result.get()
    }

    static func parseError(_ bytes: some Collection<UInt8>) -> WireError? {
        do { _ = try parse(bytes); return nil } catch { return error }
    }

    @Test("emit then parse gives the same message, on a buffer pre-filled with 0xAA")
    func roundTripOnDirtyBuffer() throws {
        let message = Self.sample()
        var buffer = [UInt8](repeating: 0xAA, count: 1024)
        let n = try buffer.withUnsafeMutableBytes { try message.emit(into: $0) }
        #expect(n == message.encodedLength)
        #expect(n > DHCP.minimumMessageLength)
        #expect(buffer[n...].allSatisfy { $0 == 0xAA }, "emit wrote past the length it returned")
        let parsed = try Self.parse(buffer[..<n])
        #expect(parsed == message)
        #expect(parsed.options.value(of: DHCPOptionCode(43))?.count == 300)
        #expect(parsed.options.codes.filter { $0 == DHCPOptionCode(43) }.count == 2)
        // No 0xAA survives inside the message: every byte was written.
        #expect(!buffer[..<n].contains(0xAA))
    }

    @Test("a small message is padded with Pad options to the 300-octet BOOTP minimum")
    func paddedToBOOTPMinimum() throws {
        var message = DHCPMessage(op: .bootRequest, xid: 1, chaddr: DHCPHardwareAddress(MACAddress(2, 0, 0, 0, 0, 1)))
        message.messageType = .discover
        let bytes = try Self.emitted(message)
        #expect(bytes.count == DHCP.minimumMessageLength)
        // cookie, 53/1/1, End, then zeros
        #expect(Array(bytes[236..<244]) == [99, 130, 83, 99, 53, 1, 1, 255])
        #expect(bytes[244...].allSatisfy { $0 == 0 })
        #expect(try Self.parse(bytes) == message)
    }

    @Test("every truncation of the fixed part and of the options is rejected without trapping")
    func rejectsEveryTruncation() throws {
        let message = Self.sample()
        let bytes = try Self.emitted(message)
        let endIndex = DHCP.Offset.firstOption + message.options.encodedLength
        #expect(bytes[endIndex] == 255)
        for length in 0...endIndex {
            let error = Self.parseError(bytes[..<length])
            #expect(error != nil, "prefix of \(length) bytes parsed")
            if length < DHCP.headerLength {
                #expect(error == .truncated(needed: DHCP.headerLength, have: length))
            }
        }
        // With End present, the trailing Pad may be cut anywhere.
        for length in (endIndex + 1)...bytes.count {
            #expect(try Self.parse(bytes[..<length]) == message)
        }
    }

    @Test("a wrong magic cookie is rejected")
    func badMagicCookie() throws {
        let bytes = try Self.emitted(Self.sample())
        for offset in 236..<240 {
            var bad = bytes
            bad[offset] ^= 0x01
            guard case .unsupported = Self.parseError(bad) else {
                Issue.record("cookie byte \(offset) flipped: not rejected as unsupported"); continue
            }
        }
    }

    @Test("an option whose length runs past the end is rejected")
    func optionLengthPastEnd() throws {
        let header = Array(try Self.emitted(Self.sample())[..<DHCP.Offset.firstOption])
        // host-name claims 10 octets, 2 are present
        #expect(Self.parseError(header + [12, 10, 0x61, 0x62]) == .badLength)
        // claims 5, and the End that follows would be swallowed: still past the end
        #expect(Self.parseError(header + [12, 5, 0x61, 0x62, 255]) == .badLength)
        // the tag is present but its length octet is not
        #expect(Self.parseError(header + [53, 1, 1, 12]) == .truncated(needed: 245, have: 244))
        // options complete but no End
        #expect(Self.parseError(header + [53, 1, 1]) == .truncated(needed: 244, have: 243))
        // the same bytes with End parse, and Pad between options is skipped
        let ok = try Self.parse(header + [0, 0, 53, 1, 1, 0, 255])
        #expect(ok.options.codes == [.dhcpMessageType])
        #expect(ok.messageType == .discover)
    }

    @Test("op other than 1 or 2 and hlen over 16 are malformed")
    func badFixedFields() throws {
        var bytes = try Self.emitted(Self.sample())
        bytes[0] = 3
        guard case .malformed = Self.parseError(bytes) else { Issue.record("op 3 accepted"); return }
        bytes[0] = 1
        bytes[2] = 17
        guard case .malformed = Self.parseError(bytes) else { Issue.record("hlen 17 accepted"); return }
        bytes[2] = 16
        #expect(Self.parseError(bytes) == nil)
    }

    @Test("emit refuses a buffer too small and fields too long, writing nothing")
    func emitErrors() throws {
        let message = Self.sample()
        var small = [UInt8](repeating: 0xAA, count: message.encodedLength - 1)
        #expect(throws: WireError.noSpace(needed: message.encodedLength, have: message.encodedLength - 1)) {
            _ = try small.withUnsafeMutableBytes { try message.emit(into: $0) }
        }
        #expect(small.allSatisfy { $0 == 0xAA })
        var long = message
        long.sname = [UInt8](repeating: 0x41, count: 65)
        #expect(throws: WireError.self) { _ = try Self.emitted(long) }
        long = message
        long.file = [UInt8](repeating: 0x41, count: 129)
        #expect(throws: WireError.self) { _ = try Self.emitted(long) }
        long = message
        long.hlen = 17
        #expect(throws: WireError.self) { _ = try Self.emitted(long) }
    }

    // MARK: A DHCPDISCOVER assembled by hand, octet by octet, from RFC 2131 §2 and RFC 2132.

    /// A client 52:54:00:12:34:56 with no address broadcasts a DHCPDISCOVER asking for
    /// 192.168.1.100, naming itself "vm01", with a client identifier and a parameter list.
    static let discoverFixture: [UInt8] = hex("""
        01 01 06 00                                      // op BOOTREQUEST, htype 1, hlen 6, hops 0
        39 03 f3 26                                      // xid
        00 05 80 00                                      // secs 5, flags BROADCAST
        00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   // ciaddr yiaddr siaddr giaddr
        52 54 00 12 34 56 00 00 00 00 00 00 00 00 00 00  // chaddr
        """)
        + [UInt8](repeating: 0, count: 64) // sname
        + [UInt8](repeating: 0, count: 128) // file
        + hex("""
        63 82 53 63                                      // magic cookie 99.130.83.99
        35 01 01                                         // 53 DHCP message type: DHCPDISCOVER
        3d 07 01 52 54 00 12 34 56                       // 61 client identifier: htype 1 + MAC
        32 04 c0 a8 01 64                                // 50 requested IP 192.168.1.100
        0c 04 76 6d 30 31                                // 12 host name "vm01"
        37 04 01 03 06 0f                                // 55 parameter request list 1 3 6 15
        39 02 05 dc                                      // 57 maximum message size 1500
        ff                                               // End
        """)
        + [UInt8](repeating: 0, count: 25) // Pad to 300

    @Test("the hand-assembled DHCPDISCOVER parses to the expected fields")
    func parsesDiscoverFixture() throws {
        #expect(Self.discoverFixture.count == 300)
        let m = try Self.parse(Self.discoverFixture)
        #expect(m.op == .bootRequest)
        #expect(m.htype == 1 && m.hlen == 6 && m.hops == 0)
        #expect(m.xid == 0x3903_F326)
        #expect(m.secs == 5)
        #expect(m.isBroadcast)
        #expect(m.ciaddr == .any && m.yiaddr == .any && m.siaddr == .any && m.giaddr == .any)
        #expect(m.clientMAC == MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56))
        #expect(m.chaddr.prefix(Int(m.hlen)) == [0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
        #expect(m.sname.isEmpty && m.file.isEmpty)
        #expect(m.messageType == .discover)
        #expect(m.options.clientIdentifier == [0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
        #expect(m.options.requestedIPAddress == IPv4Address(192, 168, 1, 100))
        #expect(m.options.hostName == "vm01")
        #expect(m.options.parameterRequestList == [.subnetMask, .router, .domainNameServer, .domainName])
        #expect(m.options.maximumMessageSize == 1500)
        #expect(m.options.serverIdentifier == nil)
        #expect(m.options.leaseTime == nil)
        #expect(m.options.codes == [.dhcpMessageType, .clientIdentifier, .requestedIPAddress, .hostName,
                                    .parameterRequestList, .maximumMessageSize])
        #expect(m.description.hasPrefix("DHCPDISCOVER xid=0x3903f326 chaddr=52:54:00:12:34:56"))
    }

    @Test("re-emitting the parsed DHCPDISCOVER reproduces the fixture byte for byte")
    func reemitsDiscoverFixture() throws {
        let m = try Self.parse(Self.discoverFixture)
        #expect(try Self.emitted(m) == Self.discoverFixture)
    }

    /// Hex pairs from the start of each line, up to the `//` comment.
    static func hex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for line in text.split(separator: "\n") {
            for token in line.split(separator: " ") {
                guard token.count == 2, let b = UInt8(token, radix: 16) else { break }
                out.append(b)
            }
        }
        return out
    }
}
