import Testing
import Wire
@testable import Datapath

@Suite struct PacketPoolTests {
    @Test func exhaustionReturnsNilAndReleaseMakesRoom() throws {
        let pool = PacketPool(count: 4, bufferSize: 256, headroom: 32)
        var held: [PacketBuffer] = []
        for _ in 0..<4 { held.append(try #require(pool.allocate())) }
        #expect(Set(held.map(\.slot)).count == 4)
        #expect(pool.available == 0 && pool.inUse == 4)
        #expect(pool.allocate() == nil)

        let returned = held.remove(at: 2)
        pool.release(returned)
        #expect(pool.available == 1)
        #expect(!pool.isLive(returned))
        let again = try #require(pool.allocate())
        #expect(again.slot == returned.slot, "LIFO reuse: the just-released slot comes back first")
        #expect(again != returned, "a reused slot gets a new generation")
        #expect(pool.isLive(again))
        #expect(pool.allocate() == nil)
    }

    @Test func freshBufferIsEmptyWithHeadroom() throws {
        let pool = PacketPool(count: 2, bufferSize: 2048)
        let b = try #require(pool.allocate())
        #expect(pool.length(of: b) == 0)
        #expect(pool.headroom(of: b) == PacketHeadroom.default)
        #expect(pool.tailroom(of: b) == 2048 - PacketHeadroom.default)
        #expect(pool.frameCapacity == 2048 - PacketHeadroom.default)
        #expect(PacketHeadroom.default >= PacketHeadroom.virtioNetHeader + PacketHeadroom.wireGuardHeader
            + PacketHeadroom.wireGuardTag + PacketHeadroom.outerIPv4UDP)
    }

    @Test func prependAndTrimFrontMoveTheStart() throws {
        let pool = PacketPool(count: 1, bufferSize: 256, headroom: 64)
        let b = try #require(pool.allocate())
        let payload: [UInt8] = Array(1...20)
        try payload.withUnsafeBytes { try pool.append(copying: $0, to: b) }

        let header = try pool.prepend(12, to: b)
        #expect(header.count == 12)
        for i in 0..<12 { header[i] = 0xA0 + UInt8(i) }
        #expect(pool.headroom(of: b) == 52)
        #expect(Array(pool.bytes(of: b)) == (0..<12).map { 0xA0 + UInt8($0) } + payload)

        try pool.trimFront(12, of: b)
        #expect(Array(pool.bytes(of: b)) == payload)
        #expect(pool.headroom(of: b) == 64)

        #expect(throws: WireError.noSpace(needed: 65, have: 64)) { try pool.prepend(65, to: b) }
        #expect(throws: WireError.truncated(needed: 21, have: 20)) { try pool.trimFront(21, of: b) }
        #expect(Array(pool.bytes(of: b)) == payload, "a failed operation leaves the frame unchanged")

        try pool.prepend(64, to: b)
        #expect(pool.headroom(of: b) == 0 && pool.length(of: b) == 84)
    }

    @Test func appendAndSetLengthStopAtTheEnd() throws {
        let pool = PacketPool(count: 1, bufferSize: 128, headroom: 28)
        let b = try #require(pool.allocate())
        let tail = try pool.append(count: 90, to: b)
        #expect(tail.count == 90)
        #expect(pool.tailroom(of: b) == 10)
        #expect(throws: WireError.noSpace(needed: 11, have: 10)) { try pool.append(count: 11, to: b) }
        try pool.setLength(100, of: b)
        #expect(pool.length(of: b) == 100 && pool.tailroom(of: b) == 0)
        #expect(throws: WireError.noSpace(needed: 101, have: 100)) { try pool.setLength(101, of: b) }
        try pool.setLength(14, of: b)
        #expect(pool.bytes(of: b).count == 14)
    }

    @Test func reuseResetsTheWindow() throws {
        let pool = PacketPool(count: 1, bufferSize: 256, headroom: 64)
        let b = try #require(pool.allocate())
        try pool.append(count: 50, to: b)
        try pool.prepend(30, to: b)
        pool.release(b)
        let c = try #require(pool.allocate())
        #expect(pool.length(of: c) == 0 && pool.headroom(of: c) == 64)
    }

    @Test func jumboBuffersDoNotOverlap() throws {
        let pool = PacketPool(count: 3, bufferSize: 65536 + 128, headroom: 128)
        #expect(pool.frameCapacity == 65536)
        let buffers = (0..<3).compactMap { _ in pool.allocate() }
        #expect(buffers.count == 3)
        for (i, b) in buffers.enumerated() {
            try pool.prepend(128, to: b)
            try pool.setLength(65536 + 128, of: b)
            pool.bytes(of: b).initializeMemory(as: UInt8.self, repeating: UInt8(0x11 * (i + 1)))
        }
        for (i, b) in buffers.enumerated() {
            #expect(pool.bytes(of: b).allSatisfy { $0 == UInt8(0x11 * (i + 1)) })
        }
    }
}
