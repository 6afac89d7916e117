import Testing
@testable import Wire

private let eth = EthernetHeader(destination: MACAddress(0x33, 0x33, 0, 0, 0, 1), source: MACAddress(0x02, 0, 0, 0, 0, 1), etherType: .arp)
private let a = IPv6Address("2001:db8::2")!, b = IPv6Address("2001:db8:1::9")!
private let ip = IPv6Header(source: a, destination: b, nextHeader: .noNextHeader, payloadLength: 0, hopLimit: 64)
private func parseFrame(_ f: UnsafeRawBufferPointer) throws(WireError) -> IPv6Frame.Parsed { try IPv6Frame.parse(f) }

@Test func ipv6FrameWithUDPRoundTrips() throws {
    let payload: [UInt8] = Array(0..<101)
    let frame = try emitDirty { (buf) in
        try payload.withUnsafeBytes { (p) in
            try IPv6Frame.emitUDP(into: buf, ethernet: eth, ip: ip, udp: UDPHeader(sourcePort: 546, destinationPort: 547), payload: p)
        }
    }
    #expect(frame.count == 14 + 40 + 8 + 101)
    #expect(Array(frame[12..<14]) == [0x86, 0xDD])
    let parsed = try parse(frame, parseFrame)
    #expect(parsed.ethernet.etherType == .ipv6 && parsed.ipOffset == 14 && parsed.ip.nextHeader == .udp)
    #expect(parsed.ip.payloadLength == 109 && parsed.upperLayerRange == 54..<163 && parsed.extensions.hasParsableUpperLayer)
    let udpBytes = Array(frame[parsed.upperLayerRange])
    let udp = try parse(udpBytes) { (d) in try UDPHeader(parsing: d, source: a, destination: b) }
    #expect(udp.sourcePort == 546 && udp.destinationPort == 547 && Array(udpBytes[udp.payloadRange]) == payload)
    expectRejectsEveryTruncation(frame, parseFrame)
    // Not IPv6: rejected with the EtherType named.
    var v4 = frame; v4[12] = 0x08; v4[13] = 0x00
    #expect(rejection(v4, parseFrame) == .unsupported("EtherType 0x0800"))
}

@Test func ipv6FrameWithTCPTaggedAndPaddedRoundTrips() throws {
    var tagged = eth; tagged.vlan = VLANTag(identifier: 7)
    let tcp = TCPHeader(sourcePort: 40000, destinationPort: 22, sequenceNumber: 1, acknowledgmentNumber: 2, flags: [.syn, .ack],
                        window: 1000, options: HeaderOptions([2, 4, 5, 0x8C])!)
    var buffer = [UInt8](repeating: 0xAA, count: 200)
    let data: [UInt8] = [1, 2, 3]
    for (i, d) in data.enumerated() { buffer[18 + 40 + 24 + i] = d }
    let n = try buffer.withUnsafeMutableBytes { (f) in try IPv6Frame.emitTCP(into: f, ethernet: tagged, ip: ip, tcp: tcp, payloadLength: 3) }
    let frame = Array(buffer[0..<n]) + [0, 0, 0]                                         // padding past the payload
    let parsed = try parse(frame, parseFrame)
    #expect(parsed.ethernet.vlan?.identifier == 7 && parsed.ipOffset == 18 && parsed.upperLayerRange == 58..<85)
    var got = try parse(Array(frame[parsed.upperLayerRange])) { (d) in try TCPHeader(parsing: d, source: a, destination: b) }
    got.checksum = 0
    #expect(got == tcp)
    #expect(Array(frame[82..<85]) == data)
    expectRejectsEveryTruncation(Array(frame[parsed.upperLayerRange])) { (d) in try TCPHeader(parsing: d, source: a, destination: b) }
    // The IPv6 pseudo-header counts: other addresses or a flipped bit fail.
    #expect(rejection(Array(frame[parsed.upperLayerRange])) { (d) in try TCPHeader(parsing: d, source: a, destination: a) } == .badChecksum)
    var flipped = Array(frame[parsed.upperLayerRange]); flipped[25] ^= 1
    #expect(rejection(flipped) { (d) in try TCPHeader(parsing: d, source: a, destination: b) } == .badChecksum)
}

@Test func udpOverIPv6RequiresAChecksumThatVerifies() throws {
    func parseUDP(_ d: UnsafeRawBufferPointer) throws(WireError) -> UDPHeader { try UDPHeader(parsing: d, source: a, destination: b) }
    let good = try emitDirty { (buf) in
        try [UInt8]([9, 8, 7]).withUnsafeBytes { (p) in try UDPHeader(sourcePort: 1, destinationPort: 2).emit(into: buf, payload: p, source: a, destination: b) }
    }
    #expect(rejection(good, parseUDP) == nil)
    expectRejectsEveryTruncation(good, parseUDP)
    for i in good.indices {
        var bytes = good; bytes[i] ^= 0x08
        #expect(rejection(bytes, parseUDP) != nil, "flipped byte \(i)")
    }
    // RFC 8200 §8.1: a zero checksum is not "none" over IPv6.
    var zero = good; zero[6] = 0; zero[7] = 0
    #expect(rejection(zero, parseUDP) == .malformed("UDP over IPv6 without a checksum"))
    // The IPv4 pseudo-header differs: the same datagram does not verify as IPv4 between the mapped addresses.
    #expect(rejection(good) { (d) in try UDPHeader(parsing: d, source: IPv4Address(0, 0, 0, 0), destination: IPv4Address(0, 0, 0, 0)) } == .badChecksum)
    // A computed zero is sent as all ones.
    let first = try emitDirty { (buf) in
        try [UInt8]([0, 0]).withUnsafeBytes { (p) in try UDPHeader(sourcePort: 1, destinationPort: 2).emit(into: buf, payload: p, source: a, destination: b) }
    }
    let bytes = try emitDirty { (buf) in
        try [first[6], first[7]].withUnsafeBytes { (p) in try UDPHeader(sourcePort: 1, destinationPort: 2).emit(into: buf, payload: p, source: a, destination: b) }
    }
    #expect(Array(bytes[6..<8]) == [0xFF, 0xFF])
    #expect(rejection(bytes, parseUDP) == nil)
}

@Test func ipv6FrameEmitChecksSpace() throws {
    var small = [UInt8](repeating: 0, count: 61)
    #expect(throws: WireError.noSpace(needed: 62, have: 61)) {
        _ = try small.withUnsafeMutableBytes { (f) in
            try IPv6Frame.emitICMPv6(into: f, ethernet: eth, ip: ip, icmp: .echoReply(identifier: 1, sequenceNumber: 1),
                                     data: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
    // A bare packet for a point-to-point link has no Ethernet header.
    let bare = try emitDirty { (buf) in
        try IPv6Frame.emitICMPv6(into: buf, ethernet: nil, ip: ip, icmp: .echoRequest(identifier: 1, sequenceNumber: 2),
                                 data: UnsafeRawBufferPointer(start: nil, count: 0))
    }
    let p = try parse(bare) { (d) in try IPv6Packet.parse(d) }
    #expect(bare.count == 48 && p.header.nextHeader == .icmpv6 && p.upperLayerRange == 40..<48)
}
