import Testing
@testable import Wire

private let eth = EthernetHeader(destination: .broadcast, source: MACAddress(0x02, 0, 0, 0, 0, 1), etherType: .arp)
private let ip = IPv4Header(source: IPv4Address(10, 0, 0, 1), destination: IPv4Address(10, 0, 0, 255),
                            protocol: .tcp, payloadLength: 0, timeToLive: 1)

@Test func frameWithUDPRoundTrips() throws {
    let payload: [UInt8] = Array(0..<100)
    let frame = try emitDirty { (b) in
        try payload.withUnsafeBytes { (p) in
            try IPv4Frame.emitUDP(into: b, ethernet: eth, ip: ip, udp: UDPHeader(sourcePort: 67, destinationPort: 68), payload: p)
        }
    }
    #expect(frame.count == 14 + 20 + 8 + 100)
    let parsed = try parse(frame) { (b) in try IPv4Frame.parse(b) }
    #expect(parsed.ethernet.etherType == .ipv4 && parsed.ethernet.destination == .broadcast)
    #expect(parsed.ip.protocol == .udp && parsed.ip.timeToLive == 1 && Int(parsed.ip.totalLength) == 128)
    let udpBytes = Array(frame[parsed.payloadRange])
    let udp = try parse(udpBytes) { (d) in
        try UDPHeader(parsing: d, source: parsed.ip.source, destination: parsed.ip.destination)
    }
    #expect(udp.destinationPort == 68)
    #expect(Array(udpBytes[udp.payloadRange]) == payload)
}

@Test func frameWithICMPRoundTripsTaggedAndPadded() throws {
    var tagged = eth; tagged.vlan = VLANTag(identifier: 100)
    let frame = try emitDirty { (b) in
        try [UInt8]([1, 2, 3]).withUnsafeBytes { (d) in
            try IPv4Frame.emitICMP(into: b, ethernet: tagged, ip: ip, icmp: .echoRequest(identifier: 5, sequenceNumber: 6), data: d)
        }
    } + [UInt8](repeating: 0, count: 13)              // pad to 60 bytes
    let parsed = try parse(frame) { (b) in try IPv4Frame.parse(b) }
    #expect(parsed.ethernet.vlan?.identifier == 100 && parsed.ipOffset == 18)
    #expect(parsed.payloadRange == 38..<49)
    let icmp = try parse(Array(frame[parsed.payloadRange])) { (d) in try ICMPv4Message(parsing: d) }
    #expect(icmp.type == .echoRequest && icmp.identifier == 5 && icmp.sequenceNumber == 6)
}

@Test func frameParseRejectsTruncationsAndNonIPv4() throws {
    let frame = try emitDirty { (b) in
        try IPv4Frame.emitICMP(into: b, ethernet: eth, ip: ip, icmp: .echoReply(identifier: 1, sequenceNumber: 1),
                               data: UnsafeRawBufferPointer(start: nil, count: 0))
    }
    expectRejectsEveryTruncation(frame) { (b) in try IPv4Frame.parse(b) }
    var arp = frame; arp[13] = 0x06
    #expect(rejection(arp) { (b) in try IPv4Frame.parse(b) } == .unsupported("EtherType 0x0806"))
    var small = [UInt8](repeating: 0, count: 41)
    #expect(throws: WireError.noSpace(needed: 42, have: 41)) {
        _ = try small.withUnsafeMutableBytes { (b) in
            try IPv4Frame.emitICMP(into: b, ethernet: eth, ip: ip, icmp: .echoReply(identifier: 1, sequenceNumber: 1),
                                   data: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
}
