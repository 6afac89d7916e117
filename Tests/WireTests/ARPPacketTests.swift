import Testing
@testable import Wire

private let request = ARPPacket.request(from: MACAddress(0x02, 0, 0, 0, 0, 1), IPv4Address(10, 0, 0, 5),
                                        asking: IPv4Address(10, 0, 0, 1))

@Test func arpRoundTripOnDirtyBuffer() throws {
    let reply = request.reply(with: MACAddress(0x02, 0, 0, 0, 0, 0xEE))
    for packet in [request, reply] {
        let bytes = try emitDirty { (b) in try packet.emit(into: b) }
        #expect(bytes.count == 28)
        #expect(Array(bytes[0..<8]) == [0, 1, 0x08, 0x00, 6, 4, 0, UInt8(packet.operation.rawValue)])
        #expect(try parse(bytes) { (b) in try ARPPacket(parsing: b) } == packet)
    }
    // RFC 826 reply: sender fields are the replier's, target fields the requester's.
    #expect(reply.operation == .reply)
    #expect(reply.senderProtocolAddress == IPv4Address(10, 0, 0, 1))
    #expect(reply.targetHardwareAddress == request.senderHardwareAddress)
    #expect(reply.targetProtocolAddress == IPv4Address(10, 0, 0, 5))
    // Trailing Ethernet padding is ignored.
    let padded = try emitDirty { (b) in try request.emit(into: b) } + [UInt8](repeating: 0, count: 18)
    #expect(try parse(padded) { (b) in try ARPPacket(parsing: b) } == request)
}

@Test func arpRejectsEveryTruncation() throws {
    let bytes = try emitDirty { (b) in try request.emit(into: b) }
    expectRejectsEveryTruncation(bytes) { (b) in try ARPPacket(parsing: b) }
}

@Test func arpRejectsBadLengthsTypesAndOperations() throws {
    let good = try emitDirty { (b) in try request.emit(into: b) }
    let p: (UnsafeRawBufferPointer) throws(WireError) -> ARPPacket = { (b) in try ARPPacket(parsing: b) }
    var bytes = good; bytes[4] = 8          // hln
    #expect(rejection(bytes, p) == .badLength)
    bytes = good; bytes[5] = 16             // pln
    #expect(rejection(bytes, p) == .badLength)
    bytes = good; bytes[1] = 6              // hrd = IEEE 802
    #expect(rejection(bytes, p) == .unsupported("ARP hardware/protocol type"))
    bytes = good; bytes[2] = 0x86; bytes[3] = 0xDD
    #expect(rejection(bytes, p) == .unsupported("ARP hardware/protocol type"))
    bytes = good; bytes[7] = 3              // RARP request
    #expect(rejection(bytes, p) == .unsupported("ARP operation"))
    #expect(rejection(good, p) == nil)
}
