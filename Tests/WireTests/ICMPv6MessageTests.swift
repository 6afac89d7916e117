import Testing
@testable import Wire

private let a = IPv6Address("fe80::1")!, b = IPv6Address("2001:db8::7")!
private func parseICMP(_ d: UnsafeRawBufferPointer) throws(WireError) -> ICMPv6Message { try ICMPv6Message(parsing: d, source: a, destination: b) }
private func emitICMP(_ m: ICMPv6Message, _ data: [UInt8]) throws -> [UInt8] {
    try emitDirty { (buf) in try data.withUnsafeBytes { (d) in try m.emit(into: buf, data: d, source: a, destination: b) } }
}

@Test func icmpv6EchoRoundTripsOnDirtyBuffer() throws {
    let data: [UInt8] = Array(1...37)
    for message in [ICMPv6Message.echoRequest(identifier: 0xBEEF, sequenceNumber: 3), .echoReply(identifier: 0xBEEF, sequenceNumber: 3)] {
        let bytes = try emitICMP(message, data)
        #expect(bytes.count == 45 && Array(bytes[8...]) == data)
        var parsed = try parse(bytes, parseICMP)
        #expect(parsed.identifier == 0xBEEF && parsed.sequenceNumber == 3 && !parsed.isError)
        parsed.checksum = 0
        #expect(parsed == message)
    }
    #expect(ICMPv6Message.echoRequest(identifier: 1, sequenceNumber: 1).type.rawValue == 128)
}

/// The checksum covers the RFC 8200 §8.1 pseudo-header: a known-answer vector computed by hand.
@Test func icmpv6ChecksumMatchesAHandComputedPseudoHeaderSum() throws {
    // Echo request ::1 → ::1, id 0, seq 0, no data. Sum: ::1 + ::1 = 2, length 8, next header 58,
    // type/code 0x8000 → 0x8000 + 2 + 8 + 58 = 0x8044; checksum = ~0x8044 = 0x7FBB.
    let bytes = try emitDirty { (buf) in
        try ICMPv6Message.echoRequest(identifier: 0, sequenceNumber: 0)
            .emit(into: buf, data: UnsafeRawBufferPointer(start: nil, count: 0), source: .loopback, destination: .loopback)
    }
    #expect(bytes == [0x80, 0, 0x7F, 0xBB, 0, 0, 0, 0])
}

@Test func icmpv6RejectsTruncationsCorruptionAndWrongPseudoHeader() throws {
    let good = try emitICMP(.parameterProblem(code: ICMPv6ParameterProblemCode.unrecognizedNextHeader, pointer: 40), Array(0..<48))
    #expect(rejection(good, parseICMP) == nil)
    expectRejectsEveryTruncation(good, parseICMP)
    for i in good.indices {
        var bytes = good; bytes[i] ^= 0x20
        #expect(rejection(bytes, parseICMP) == .badChecksum, "flipped byte \(i)")
    }
    #expect(rejection(good) { (d) in try ICMPv6Message(parsing: d, source: b, destination: a) } == nil)   // the sum is symmetric
    #expect(rejection(good) { (d) in try ICMPv6Message(parsing: d, source: a, destination: a) } == .badChecksum)
}

@Test func icmpv6ErrorsQuoteAtMostTheMinimumMTU() throws {
    let eth = EthernetHeader(destination: MACAddress(0x02, 0, 0, 0, 0, 2), source: MACAddress(0x02, 0, 0, 0, 0, 1), etherType: .arp)
    let router = IPv6Header(source: a, destination: b, nextHeader: .udp, payloadLength: 0)
    // The invoking packet: 1500 octets of UDP from b.
    let invokingHeader = IPv6Header(source: b, destination: IPv6Address("2001:db8:9::1")!, nextHeader: .udp, payloadLength: 1460)
    var invoking = try emitDirty { (buf) in try invokingHeader.emit(into: buf) }
    invoking += (0..<1460).map { UInt8(truncatingIfNeeded: $0) }
    for (message, code) in [(ICMPv6Message.packetTooBig(mtu: 1400), 0), (.destinationUnreachable(code: 4), 4),
                            (.timeExceeded(code: ICMPv6TimeExceededCode.hopLimitExceeded), 0),
                            (.parameterProblem(code: 0, pointer: 7), 0)] {
        var frame = [UInt8](repeating: 0xAA, count: 1600)
        let n = try frame.withUnsafeMutableBytes { (f) in
            try invoking.withUnsafeBytes { (inv) in try IPv6Frame.emitICMPv6Error(into: f, ethernet: eth, ip: router, icmp: message, invoking: inv) }
        }
        // The whole error packet is exactly the minimum MTU.
        #expect(n == 14 + 1280)
        let parsed = try parse(Array(frame[0..<n])) { (f) in try IPv6Frame.parse(f) }
        #expect(parsed.ethernet.etherType == .ipv6 && parsed.ip.nextHeader == .icmpv6 && parsed.ip.totalLength == 1280)
        let icmpBytes = Array(frame[parsed.upperLayerRange])
        let icmp = try parse(icmpBytes) { (d) in try ICMPv6Message(parsing: d, source: a, destination: b) }
        #expect(icmp.type == message.type && Int(icmp.code) == code && icmp.restOfHeader == message.restOfHeader && icmp.isError)
        #expect(Array(icmpBytes[8...]) == Array(invoking[0..<ICMPv6Constants.maximumQuoteLength]))
        let quoted = try parse(Array(icmpBytes[8...])) { (d) in try ICMPv6Message.quotedPacket(in: d) }
        #expect(quoted.header == invokingHeader && quoted.extensions?.upperLayer == .udp && quoted.upperLayer == 40..<1232)
    }
    #expect(ICMPv6Message.packetTooBig(mtu: 1280).mtu == 1280 && ICMPv6Message.parameterProblem(code: 1, pointer: 6).pointer == 6)
    // A short invoking packet is quoted whole; an echo is not an error.
    #expect(ICMPv6Message.quoteLength(invokingLength: 100) == 100 && ICMPv6Message.quoteLength(invokingLength: -1) == 0)
    #expect(throws: WireError.malformed("ICMPv6 type 128 is not an error")) {
        var frame = [UInt8](repeating: 0, count: 200)
        _ = try frame.withUnsafeMutableBytes { (f) in
            try invoking.withUnsafeBytes { (inv) in
                try IPv6Frame.emitICMPv6Error(into: f, ethernet: nil, ip: router, icmp: .echoRequest(identifier: 1, sequenceNumber: 1), invoking: inv.slice(0..<60))
            }
        }
    }
}

/// RFC 4443 §2.4 (e): no errors about errors, redirects, multicast destinations or unspecified sources.
@Test func icmpv6ErrorRulesOfRFC4443() {
    let unicast = IPv6Address("2001:db8::1")!
    #expect(ICMPv6Message.mayReport(source: unicast, destination: b, invokingICMPv6Type: nil, exception: false))
    #expect(ICMPv6Message.mayReport(source: unicast, destination: b, invokingICMPv6Type: .echoRequest, exception: false))
    #expect(!ICMPv6Message.mayReport(source: unicast, destination: b, invokingICMPv6Type: .packetTooBig, exception: false))
    #expect(!ICMPv6Message.mayReport(source: unicast, destination: b, invokingICMPv6Type: .redirect, exception: false))
    #expect(!ICMPv6Message.mayReport(source: unicast, destination: .allNodes, invokingICMPv6Type: nil, exception: false))
    #expect(ICMPv6Message.mayReport(source: unicast, destination: .allNodes, invokingICMPv6Type: nil, exception: true))
    #expect(!ICMPv6Message.mayReport(source: .unspecified, destination: b, invokingICMPv6Type: nil, exception: true))
    #expect(!ICMPv6Message.mayReport(source: .allRouters, destination: b, invokingICMPv6Type: nil, exception: true))
}
