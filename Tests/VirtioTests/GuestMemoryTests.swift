import Testing
@testable import Virtio

@Suite struct GuestMemoryTests {
    @Test func translateInsideAndAtTheEdges() throws {
        let m = try GuestMemoryRegions(allocatingBytes: 8192, at: 0x10000)
        let base = try #require(m.translate(0x10000, length: 8192))
        #expect(m.translate(0x10000 + 100, length: 10) == base + 100)
        #expect(m.translate(0x10000 + 8191, length: 1) == base + 8191)
        #expect(m.translate(0x10000 + 8191, length: 2) == nil)
        #expect(m.translate(0x10000 + 8192, length: 0) == nil)
        #expect(m.translate(0xFFFF, length: 2) == nil)
        #expect(m.translate(0, length: 1) == nil)
        #expect(UInt(bitPattern: base) % 4096 == 0)
        // Zeroed.
        #expect(UnsafeRawBufferPointer(start: base, count: 8192).allSatisfy { $0 == 0 })
    }

    @Test func translateNeverOverflows() throws {
        let m = try GuestMemoryRegions(allocatingBytes: 4096, at: 0x1000)
        #expect(m.translate(0x1000, length: .max) == nil)
        #expect(m.translate(.max, length: 2) == nil)
        #expect(m.translate(.max - 10, length: 100) == nil)
        #expect(m.run(at: .max, upTo: 1) == nil)
        // A region that ends exactly at 2^64 - 1.
        let top = try GuestMemoryRegions(allocatingBytes: 4096, at: UInt64.max - 4095)
        #expect(top.translate(UInt64.max - 4095, length: 4096) != nil)
        #expect(top.translate(UInt64.max, length: 1) != nil)
        #expect(top.translate(UInt64.max, length: 2) == nil)
    }

    @Test func regionsAreValidated() throws {
        #expect(throws: GuestMemoryError.emptyRegion(index: 0)) {
            try GuestMemoryRegions(allocating: [(guestPhysicalAddress: 0, size: 0)])
        }
        #expect(throws: GuestMemoryError.overlappingRegions(0, 1)) {
            try GuestMemoryRegions(allocating: [(guestPhysicalAddress: 0, size: 8192), (guestPhysicalAddress: 4096, size: 4096)])
        }
        let backing = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
        defer { backing.deallocate() }
        #expect(throws: GuestMemoryError.addressOverflow(index: 0)) {
            try GuestMemoryRegions(mapping: [GuestMemoryRegion(guestPhysicalAddress: .max - 10, size: 64, userAddress: 0, pointer: backing)])
        }
    }

    @Test func mappedRegionsTranslateUserAddresses() throws {
        // Two borrowed mappings, as vhost-user's SET_MEM_TABLE would describe them (below and above 4 GiB).
        let low = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        let high = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { low.deallocate(); high.deallocate() }
        let m = try GuestMemoryRegions(mapping: [
            GuestMemoryRegion(guestPhysicalAddress: 0x1_0000_0000, size: 4096, userAddress: 0x7F00_0010_0000, pointer: high),
            GuestMemoryRegion(guestPhysicalAddress: 0, size: 4096, userAddress: 0x7F00_0000_0000, pointer: low),
        ])
        #expect(m.regions.map(\.guestPhysicalAddress) == [0, 0x1_0000_0000])
        #expect(m.guestPhysicalAddress(ofUserAddress: 0x7F00_0000_0010) == 0x10)
        #expect(m.guestPhysicalAddress(ofUserAddress: 0x7F00_0010_0FFF) == 0x1_0000_0FFF)
        #expect(m.guestPhysicalAddress(ofUserAddress: 0x7F00_0010_1000) == nil)
        #expect(m.guestPhysicalAddress(ofUserAddress: 0x10) == nil)
        #expect(m.translate(0x1_0000_0010, length: 16) == high + 16)
        #expect(m.translate(0x1000, length: 1) == nil)
    }

    @Test func runsStopAtRegionEdges() throws {
        let m = try GuestMemoryRegions(allocating: [(guestPhysicalAddress: 0, size: 4096), (guestPhysicalAddress: 4096, size: 4096)])
        // Adjacent regions: one range, two runs, and `translate` (single region) refuses it.
        #expect(m.translate(4000, length: 200) == nil)
        let first = try #require(m.run(at: 4000, upTo: 200))
        #expect(first.length == 96)
        let second = try #require(m.run(at: 4096, upTo: 104))
        #expect(second.length == 104)
        #expect(second.pointer == m.translate(4096, length: 1))
        #expect(m.run(at: 8192, upTo: 1) == nil)
    }
}
