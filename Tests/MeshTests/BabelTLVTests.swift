// Babel wire codec (RFC 8966 §4, RFC 9616 §3): for every TLV of the subset, emit→parse on a dirty buffer, rejection
// at every truncation, and a length field too short for the TLV's fields; then the packet header, Omitted prefix
// compression, sub-TLV rules and unknown TLVs.
import Basics
import Testing
import Wire
@testable import Mesh

private let v4 = BabelPrefix(IPv4Network("10.99.7.0/24")!)
private let v6 = BabelPrefix(family: 6, high: 0x2001_0db8_0000_0001, low: 0x0000_0000_0000_0042, length: 128)!

/// One sample per TLV, and the shortest value length its fixed fields need.
private let samples: [(name: String, tlv: BabelTLV, minimumValue: Int)] = [
    ("PadN", .padN(5), 0),
    ("Ack-Req", .ackRequest(opaque: 0xBEEF, interval: 300), 6),
    ("Ack", .ack(opaque: 0x1234), 2),
    ("Hello", .hello(BabelHello(seqno: 0xFFFE, interval: 100)), 6),
    ("Hello+timestamp", .hello(BabelHello(seqno: 7, interval: 100, timestamp: 0xDEAD_BEEF)), 6),
    ("IHU", .ihu(BabelIHU(rxcost: 256, interval: 300)), 6),
    ("IHU+timestamps", .ihu(BabelIHU(rxcost: 384, interval: 300, origin: 0x0102_0304, receive: 0xF0F1_F2F3)), 6),
    ("IHU IPv4", .ihu(BabelIHU(rxcost: 256, interval: 300, address: BabelAddress(encoding: .ipv4, bytes: [10, 0, 0, 1])!)), 10),
    ("Router-Id", .routerID(RouterID(rawValue: 0x0011_2233_4455_6677)), 10),
    ("Next Hop", .nextHop(BabelAddress(encoding: .ipv4, bytes: [192, 0, 2, 1])!), 6),
    ("Update IPv4", .update(BabelUpdate(prefix: v4, interval: 1600, seqno: 9, metric: 512)), 13),
    ("Update IPv4 /32", .update(BabelUpdate(prefix: BabelPrefix(IPv4Network("10.99.0.5/32")!), interval: 1600, seqno: 1, metric: 0)), 14),
    ("Update IPv4 /0", .update(BabelUpdate(prefix: BabelPrefix(IPv4Network("0.0.0.0/0")!), interval: 1600, seqno: 1, metric: 0)), 10),
    ("Update IPv6", .update(BabelUpdate(prefix: v6, interval: 400, seqno: 65535, metric: 0xFFFF)), 26),
    ("Update wildcard retraction", .update(BabelUpdate(prefix: nil, interval: 0, seqno: 0, metric: 0xFFFF)), 10),
    ("Route Request wildcard", .routeRequest(nil), 2),
    ("Route Request", .routeRequest(v4), 5),
    ("Seqno Request", .seqnoRequest(BabelSeqnoRequest(prefix: v4, seqno: 3, hopCount: 64, routerID: RouterID(rawValue: 99))), 17),
    ("Seqno Request IPv6", .seqnoRequest(BabelSeqnoRequest(prefix: v6, seqno: 3, hopCount: 2, routerID: RouterID(rawValue: 5))), 30),
]

private func parseOne(_ bytes: [UInt8], end: Int? = nil) throws(BabelWireError) -> BabelTLV? {
    var result: Result<BabelTLV?, BabelWireError> = .failure(.truncated)
    bytes.withUnsafeBytes { raw in
        var offset = 0, ctx = BabelParseContext()
        do throws(BabelWireError) { result = .success(try BabelTLV.read(raw, at: &offset, end: end ?? raw.count, context: &ctx)) }
        catch { result = .failure(error) }
    }
    return try result.get()
}

@Test func babelTLVsRoundTripOnDirtyBuffer() throws {
    for s in samples {
        var buffer = [UInt8](repeating: 0xA5, count: 64)
        let written = buffer.withUnsafeMutableBytes { s.tlv.emit(into: UnsafeMutableRawBufferPointer(rebasing: $0[3...])) }
        #expect(written == s.tlv.encodedLength, "\(s.name)")
        #expect(buffer[0..<3].allSatisfy { $0 == 0xA5 } && buffer[(3 + (written ?? 0))...].allSatisfy { $0 == 0xA5 }, "\(s.name)")
        let parsed = try parseOne(Array(buffer[3..<(3 + (written ?? 0))]))
        #expect(parsed == s.tlv, "\(s.name)")
        #expect(s.tlv.encoded == Array(buffer[3..<(3 + (written ?? 0))]), "\(s.name)")
        // Too little room: nothing written.
        var small = [UInt8](repeating: 0xA5, count: s.tlv.encodedLength - 1)
        #expect(small.withUnsafeMutableBytes { s.tlv.emit(into: $0) } == nil, "\(s.name)")
        #expect(small.allSatisfy { $0 == 0xA5 }, "\(s.name)")
    }
    let pad1 = BabelTLV.pad1.encoded
    #expect(pad1 == [0])
    #expect(try parseOne(pad1) == .pad1)
}

@Test func babelTLVsRejectEveryTruncation() {
    for s in samples {
        let bytes = s.tlv.encoded
        for cut in 0..<bytes.count {
            #expect(throws: BabelWireError.truncated, "\(s.name) cut at \(cut)") { try parseOne(Array(bytes[0..<cut])) }
            // The same cut inside a packet drops the packet.
            let packet = BabelPacket(tlvs: [s.tlv]).encoded()
            #expect(throws: BabelWireError.truncated, "\(s.name) packet cut at \(cut)") {
                try BabelPacket(parsing: Array(packet[0..<(BabelWire.headerLength + cut)]))
            }
        }
    }
}

@Test func babelTLVsRejectALengthTooShortForTheirFields() {
    for s in samples where s.minimumValue > 0 {
        var bytes = s.tlv.encoded
        bytes[1] = UInt8(s.minimumValue - 1)
        #expect(throws: BabelWireError.badLength, "\(s.name)") { try parseOne(Array(bytes[0..<(2 + s.minimumValue - 1)])) }
        // In a packet the bad TLV is skipped and counted; the next one still parses.
        var body = Array(bytes[0..<(2 + s.minimumValue - 1)])
        body += BabelTLV.routerID(RouterID(rawValue: 1)).encoded
        let packet = [BabelWire.magic, BabelWire.version, 0, UInt8(body.count)] + body
        let parsed = try? BabelPacket(parsing: packet)
        #expect(parsed?.malformedTLVs == 1, "\(s.name)")
        #expect(parsed?.tlvs == [.routerID(RouterID(rawValue: 1))], "\(s.name)")
    }
    // A length past the bytes given is a truncation.
    var hello = BabelTLV.hello(BabelHello(seqno: 1, interval: 100)).encoded
    hello[1] += 1
    #expect(throws: BabelWireError.truncated) { try parseOne(hello) }
}

@Test func babelValuesOutOfRangeAreRejected() {
    func value(_ type: BabelWire.TLVType, _ v: [UInt8]) -> [UInt8] { [type.rawValue, UInt8(v.count)] + v }
    // Router-id all zeros / all ones.
    #expect(throws: BabelWireError.invalidRouterID) { try parseOne(value(.routerID, [0, 0] + [UInt8](repeating: 0, count: 8))) }
    #expect(throws: BabelWireError.invalidRouterID) { try parseOne(value(.routerID, [0, 0] + [UInt8](repeating: 0xFF, count: 8))) }
    // IPv4 prefix longer than 32; unknown AE; AE 3 in an update; AE 0 update with a finite metric.
    #expect(throws: BabelWireError.badPrefixLength) { try parseOne(value(.update, [1, 0, 33, 0, 0, 1, 0, 1, 0, 0, 10, 0, 0, 0, 0])) }
    #expect(throws: BabelWireError.badAddressEncoding) { try parseOne(value(.update, [4, 0, 8, 0, 0, 1, 0, 1, 0, 0, 10])) }
    #expect(throws: BabelWireError.badAddressEncoding) { try parseOne(value(.update, [3, 0, 64, 0, 0, 1, 0, 1, 0, 0] + [UInt8](repeating: 1, count: 8))) }
    #expect(throws: BabelWireError.badAddressEncoding) { try parseOne(value(.update, [0, 0, 0, 0, 0, 1, 0, 1, 0, 5])) }
    // Omitted octets with no default prefix, and more omitted than the prefix has.
    #expect(throws: BabelWireError.noDefaultPrefix) { try parseOne(value(.update, [1, 0, 24, 2, 0, 1, 0, 1, 0, 0, 7])) }
    #expect(throws: BabelWireError.badPrefixLength) { try parseOne(value(.update, [1, 0, 8, 2, 0, 1, 0, 1, 0, 0])) }
    // Seqno request with the wildcard; router-id flag on an IPv4 update.
    #expect(throws: BabelWireError.badAddressEncoding) { try parseOne(value(.seqnoRequest, [0, 0, 0, 1, 64, 0] + [UInt8](repeating: 1, count: 8))) }
    #expect(throws: BabelWireError.invalidRouterID) { try parseOne(value(.update, [1, 0x40, 8, 0, 0, 1, 0, 1, 0, 0, 10])) }
}

@Test func babelSubTLVsFollowTheMandatoryBit() throws {
    let base = BabelTLV.hello(BabelHello(seqno: 4, interval: 100)).encoded
    // Unknown non-mandatory sub-TLV (type 9) and Pad1/PadN: skipped, the timestamp still read.
    var v = Array(base[2...]) + [9, 2, 0xAA, 0xBB, 0, 1, 1, 0, 3, 4, 0, 0, 0, 42]
    var parsed = try parseOne([BabelWire.TLVType.hello.rawValue, UInt8(v.count)] + v)
    #expect(parsed == .hello(BabelHello(seqno: 4, interval: 100, timestamp: 42)))
    // Unknown mandatory sub-TLV (type 0x85): the whole TLV is ignored.
    v = Array(base[2...]) + [0x85, 1, 0]
    #expect(throws: BabelWireError.mandatorySubTLV) { try parseOne([BabelWire.TLVType.hello.rawValue, UInt8(v.count)] + v) }
    // A timestamp of the wrong size is ignored, not trusted.
    v = Array(base[2...]) + [3, 2, 0, 1]
    parsed = try parseOne([BabelWire.TLVType.hello.rawValue, UInt8(v.count)] + v)
    #expect(parsed == .hello(BabelHello(seqno: 4, interval: 100)))
    // A sub-TLV running past its TLV.
    v = Array(base[2...]) + [3, 4, 0, 1]
    #expect(throws: BabelWireError.badLength) { try parseOne([BabelWire.TLVType.hello.rawValue, UInt8(v.count)] + v) }
}

@Test func babelPacketHeaderTrailerAndUnknownTLVs() throws {
    let tlvs: [BabelTLV] = [.hello(BabelHello(seqno: 1, interval: 100, timestamp: 5)), .routerID(RouterID(rawValue: 7)),
                            .update(BabelUpdate(prefix: v4, interval: 1600, seqno: 2, metric: 256))]
    var bytes = BabelPacket(tlvs: tlvs).encoded()
    #expect(try BabelPacket(parsing: bytes).tlvs == tlvs)
    // A trailer after the body is ignored.
    #expect(try BabelPacket(parsing: bytes + [1, 2, 3]).tlvs == tlvs)
    // An unknown TLV type (200) is skipped and counted.
    var withUnknown = bytes + [200, 3, 1, 2, 3]
    withUnknown[3] += 5
    let parsed = try BabelPacket(parsing: withUnknown)
    #expect(parsed.tlvs == tlvs && parsed.unknownTLVs == 1)
    bytes[0] = 41
    #expect(throws: BabelWireError.badMagic) { try BabelPacket(parsing: bytes) }
    bytes[0] = 42; bytes[1] = 1
    #expect(throws: BabelWireError.badVersion) { try BabelPacket(parsing: bytes) }
    #expect(throws: BabelWireError.truncated) { try BabelPacket(parsing: [42, 2, 0]) }
}

@Test func babelUpdateOmittedOctetsComeFromTheDefaultPrefix() throws {
    // 10.99.7.0/24 with the prefix flag (sets the default), then 10.99.8.0/24 sending only its last octet.
    let first: [UInt8] = [8, 13, 1, 0x80, 24, 0, 0x06, 0x40, 0, 1, 1, 0, 10, 99, 7]
    let second: [UInt8] = [8, 11, 1, 0, 24, 2, 0x06, 0x40, 0, 1, 1, 0, 8]
    let body = first + second
    let parsed = try BabelPacket(parsing: [42, 2, 0, UInt8(body.count)] + body)
    #expect(parsed.tlvs == [
        .update(BabelUpdate(flags: 0x80, prefix: v4, interval: 1600, seqno: 1, metric: 256)),
        .update(BabelUpdate(prefix: BabelPrefix(IPv4Network("10.99.8.0/24")!), interval: 1600, seqno: 1, metric: 256)),
    ])
}

@Test func babelPrefixCoversAndContains() {
    let p = BabelPrefix(IPv4Network("10.99.7.9/24")!)
    #expect(p.description == "10.99.7.0/24")
    #expect(p.contains(IPv4Address("10.99.7.200")!) && !p.contains(IPv4Address("10.99.8.1")!))
    #expect(BabelPrefix(IPv4Network("10.99.0.0/16")!).covers(p) && !p.covers(BabelPrefix(IPv4Network("10.99.0.0/16")!)))
    #expect(BabelPrefix(OverlayNetwork("10.99.7.0/24")!) == p)
    #expect(!v6.contains(IPv4Address("10.99.7.1")!) && !v6.covers(p))
    #expect(RouterID(publicKey: [UInt8](repeating: 0, count: 32)).isValid)
    #expect(Seqno.isNewer(1, than: 0xFFFF) && !Seqno.isNewer(0xFFFF, than: 1) && !Seqno.isNewer(5, than: 5))
}
