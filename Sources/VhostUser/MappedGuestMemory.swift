// The front end's memory, mmap'd from the descriptors of SET_MEM_TABLE / ADD_MEM_REG.
//
// Virtio's `GuestMemoryRegions(mapping:)` borrows the pointers, so whoever unmaps must be sure no
// queue still uses them. A `MappedGuestMemory` pairs the mappings with the one `GuestMemoryRegions`
// built over them; every queue pair built by the connection holds that object. When the memory
// table changes or the front end leaves, the old `MappedGuestMemory` is retired and its mappings
// are unmapped only once nothing but the retiring owner references its `GuestMemoryRegions`
// (`isKnownUniquelyReferenced`) — never while a datapath that forgot to detach still holds a queue.

import Glibc
import HostIO
import Virtio

/// One mmap'd region; unmapped when the last `MappedGuestMemory` using it goes.
final class MappedRegion {
    let region: VhostUserMemoryRegion
    private let base: UnsafeMutableRawPointer
    private let length: Int
    /// Where the region's first byte (`mmapOffset` into the file) is mapped here.
    let pointer: UnsafeMutableRawPointer

    /// Maps `region` from `descriptor` (which may be closed afterwards: the mapping stays).
    init(_ region: VhostUserMemoryRegion, from descriptor: FileDescriptor, index: Int) throws(VhostUserError) {
        let page = UInt64(sysconf(CInt(_SC_PAGESIZE)))
        guard region.size > 0 else { throw .badMemoryTable("region \(index) is empty") }
        let alignedOffset = region.mmapOffset & ~(page - 1)
        let (end, overflow) = region.mmapOffset.addingReportingOverflow(region.size)
        guard !overflow, end - alignedOffset <= UInt64(Int.max / 2), region.mmapOffset <= UInt64(Int64.max) else {
            throw .badMemoryTable("region \(index) of 0x\(String(region.size, radix: 16)) bytes at offset 0x\(String(region.mmapOffset, radix: 16)) is too large")
        }
        // Touching a page past the end of the file would raise SIGBUS: refuse such regions.
        let fileSize: Int
        do { fileSize = try descriptor.size() } catch { throw .mapFailed(region: index, error) }
        guard UInt64(fileSize) >= end else {
            throw .badMemoryTable("region \(index) ends at offset 0x\(String(end, radix: 16)) but its file has 0x\(String(fileSize, radix: 16)) bytes")
        }
        let length = Int(end - alignedOffset)
        let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                          descriptor.rawValue, off_t(alignedOffset))
        guard let mapped, mapped != MAP_FAILED else { throw .mapFailed(region: index, Errno.current) }
        self.region = region
        base = mapped
        self.length = length
        pointer = mapped + Int(region.mmapOffset - alignedOffset)
    }

    deinit { munmap(base, length) }

    /// The region as Virtio sees it.
    var guestMemoryRegion: GuestMemoryRegion {
        GuestMemoryRegion(guestPhysicalAddress: region.guestPhysicalAddress, size: region.size,
                          userAddress: region.userAddress, pointer: pointer)
    }
}

/// A front end's guest memory: the mapped regions and the `GuestMemoryRegions` queues use.
public final class MappedGuestMemory {
    /// The view the queues translate guest addresses through.
    public private(set) var regions: GuestMemoryRegions
    let mappings: [MappedRegion]

    init(_ mappings: [MappedRegion]) throws(VhostUserError) {
        do {
            regions = try GuestMemoryRegions(mapping: mappings.map(\.guestMemoryRegion))
        } catch {
            throw .badMemoryTable("\(error)")
        }
        self.mappings = mappings
    }

    /// The region descriptions, in the order the front end gave them.
    public var descriptions: [VhostUserMemoryRegion] { mappings.map(\.region) }

    /// True while something besides this object (a queue pair, a datapath) holds `regions`.
    var isReferencedElsewhere: Bool {
        !isKnownUniquelyReferenced(&regions)
    }
}
