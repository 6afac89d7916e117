import Testing
@testable import Wire

private let dst = MACAddress(0x02, 0, 0, 0, 0, 0x02)
private let src = MACAddress(0x02, 0, 0, 0, 0, 0x01)

@Test(arguments: [nil, VLANTag(priority: 5, dropEligible: true, identifier: 42)])
func ethernetRoundTripOnDirtyBuffer(vlan: VLANTag?) throws {
    let header = EthernetHeader(destination: dst, source: src, vlan: vlan, etherType: .arp)
    let bytes = try emitDirty { (b) in try header.emit(into: b) }
    #expect(bytes.count == (vlan == nil ? 14 : 18))
    #expect(Array(bytes[12..<14]) == (vlan == nil ? [0x08, 0x06] : [0x81, 0x00]))
    let parsed = try parse(bytes) { (b) in try EthernetHeader(parsing: b) }
    #expect(parsed == header)
    #expect(parsed.headerLength == bytes.count)
}

@Test func ethernetRejectsEveryTruncation() throws {
    for vlan in [nil, VLANTag(identifier: 7)] {
        let bytes = try emitDirty { (b) in
            try EthernetHeader(destination: dst, source: src, vlan: vlan, etherType: .ipv4).emit(into: b)
        }
        expectRejectsEveryTruncation(bytes) { (b) in try EthernetHeader(parsing: b) }
    }
}

/// Ethernet II has no length or checksum (the FCS is stripped); the field that sizes the header
/// is the TPID: a frame claiming a tag but cut before its inner type must be rejected.
@Test func ethernetRejectsTagWithoutInnerType() {
    var bytes = [UInt8](repeating: 0, count: 17)
    bytes[12] = 0x81; bytes[13] = 0x00
    #expect(rejection(bytes) { (b) in try EthernetHeader(parsing: b) } == .truncated(needed: 18, have: 17))
    bytes[12] = 0x08; bytes[13] = 0x00
    #expect(rejection(bytes) { (b) in try EthernetHeader(parsing: b) } == nil)
    #expect(EtherType(rawValue: 0x05DC).isLengthField && !EtherType.ipv4.isLengthField)
}

@Test func ethernetRewritesAddressesInPlace() throws {
    var bytes = try emitDirty { (b) in
        try EthernetHeader(destination: dst, source: src, etherType: .ipv4).emit(into: b)
    }
    let newSrc = MACAddress(0x02, 0xAB, 0, 0, 0, 9), newDst = MACAddress(0x02, 0xCD, 0, 0, 0, 8)
    bytes.withUnsafeMutableBytes { EthernetHeader.rewriteAddresses(in: $0, source: newSrc, destination: newDst) }
    let parsed = try parse(bytes) { (b) in try EthernetHeader(parsing: b) }
    #expect(parsed == EthernetHeader(destination: newDst, source: newSrc, etherType: .ipv4))
}
