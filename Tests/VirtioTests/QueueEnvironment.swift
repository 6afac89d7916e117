import Testing
@testable import Virtio

/// Guest memory with one queue's rings and a buffer area, the driver side of the queue, and
/// the device side on it. For queue-level tests that write rings by hand.
struct QueueEnvironment {
    static let base: UInt64 = 0x10_0000
    static let bufferOffset = 0x1_0000
    let memory: GuestMemoryRegions
    var ring: DriverVirtqueue
    let features: VirtioFeatures

    init(size: UInt16 = 8, features: VirtioFeatures = [.version1, .indirectDescriptors, .ringEventIndex],
         memory: GuestMemoryRegions? = nil, initialIndex: UInt16 = 0) throws {
        let m = try memory ?? GuestMemoryRegions(allocatingBytes: 1 << 20, at: Self.base)
        let p = try #require(m.translate(Self.base, length: 0x1_0000))
        self.memory = m
        self.features = features
        ring = DriverVirtqueue(
            size: size,
            addresses: VirtqueueAddresses(descriptorTable: Self.base, availableRing: Self.base + 0x4000, usedRing: Self.base + 0x8000),
            descriptorTable: p, availableRing: p + 0x4000, usedRing: p + 0x8000,
            features: features, initialIndex: initialIndex)
    }

    var configuration: VirtqueueConfiguration {
        VirtqueueConfiguration(size: ring.size, addresses: ring.addresses, lastAvailIndex: ring.availIndex)
    }

    func makeQueue() throws -> SplitVirtqueue<GuestMemoryRegions> {
        try SplitVirtqueue(memory: memory, configuration: configuration, features: features)
    }

    /// Guest address of byte `offset` of the buffer area.
    func buffer(_ offset: Int) -> UInt64 { Self.base + UInt64(Self.bufferOffset + offset) }
    /// Pointer to byte `offset` of the buffer area.
    func bufferPointer(_ offset: Int) -> UnsafeMutableRawPointer {
        memory.translate(buffer(offset), length: 1)!
    }

    static func readable(_ address: UInt64, _ length: UInt32) -> VirtqDescriptor {
        VirtqDescriptor(address: address, length: length, flags: 0, next: 0)
    }
    static func writable(_ address: UInt64, _ length: UInt32) -> VirtqDescriptor {
        VirtqDescriptor(address: address, length: length, flags: VirtqLayout.descriptorFlagWrite, next: 0)
    }
}
