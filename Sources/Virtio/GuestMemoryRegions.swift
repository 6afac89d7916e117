// A small set of guest memory regions, scanned linearly (a VM has a handful).
//
// Two uses, one type:
//  - mapped: the vhost-user server mmaps the front end's memory and lends the pointers; it keeps the
//    mappings alive for as long as this object and every queue built on it exist.
//  - owning: the simulator and the tests get zeroed, page-aligned memory that is freed in `deinit`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Guest memory made of a few regions, either borrowed from mmap'd mappings or allocated and owned.
public final class GuestMemoryRegions: GuestMemory {
    /// The regions, sorted by guest physical address.
    @usableFromInline let table: UnsafeMutableBufferPointer<GuestMemoryRegion>
    /// Allocations to free in `deinit` (empty when the mappings are borrowed).
    private let owned: [UnsafeMutableRawPointer]

    /// Borrowed mappings: the caller keeps every `pointer` valid for this object's lifetime.
    public init(mapping regions: [GuestMemoryRegion]) throws(GuestMemoryError) {
        try Self.validate(regions)
        table = Self.sortedTable(regions)
        owned = []
    }

    /// Owned, zeroed memory: one region per `(guestPhysicalAddress, size)`, page-aligned, freed in `deinit`.
    /// The user address of each region is its address in this process, as it would be in a front end.
    public init(allocating layout: [(guestPhysicalAddress: UInt64, size: UInt64)]) throws(GuestMemoryError) {
        let page: UInt64 = 4096
        var regions: [GuestMemoryRegion] = []
        var allocations: [UnsafeMutableRawPointer] = []
        for (i, piece) in layout.enumerated() {
            guard piece.size > 0 else { Self.release(allocations); throw .emptyRegion(index: i) }
            // calloc hands large blocks straight from the kernel, so untouched pages cost nothing.
            guard piece.size <= UInt64(Int.max) - page, let raw = calloc(1, Int(piece.size + page)) else {
                Self.release(allocations)
                throw .allocationFailed(bytes: piece.size)
            }
            allocations.append(raw)
            let aligned = UnsafeMutableRawPointer(
                bitPattern: (UInt(bitPattern: raw) + UInt(page) - 1) & ~(UInt(page) - 1))!
            regions.append(GuestMemoryRegion(
                guestPhysicalAddress: piece.guestPhysicalAddress, size: piece.size,
                userAddress: UInt64(UInt(bitPattern: aligned)), pointer: aligned))
        }
        do { try Self.validate(regions) } catch { Self.release(allocations); throw error }
        table = Self.sortedTable(regions)
        owned = allocations
    }

    /// Owned, zeroed memory: a single region of `size` bytes at `guestPhysicalAddress`.
    public convenience init(allocatingBytes size: UInt64, at guestPhysicalAddress: UInt64 = 0) throws(GuestMemoryError) {
        try self.init(allocating: [(guestPhysicalAddress: guestPhysicalAddress, size: size)])
    }

    deinit {
        Self.release(owned)
        table.deallocate()
    }

    /// The regions, sorted by guest physical address.
    public var regions: [GuestMemoryRegion] { Array(table) }

    @inlinable
    public func translate(_ address: UInt64, length: UInt64) -> UnsafeMutableRawPointer? {
        for region in table {
            if let p = region.translate(address, length: length) { return p }
        }
        return nil
    }

    @inlinable
    public func run(at address: UInt64, upTo length: UInt64) -> (pointer: UnsafeMutableRawPointer, length: UInt64)? {
        for region in table {
            if let r = region.run(at: address, upTo: length) { return r }
        }
        return nil
    }

    public func guestPhysicalAddress(ofUserAddress userAddress: UInt64) -> UInt64? {
        for region in table where userAddress >= region.userAddress {
            let offset = userAddress - region.userAddress
            if offset < region.size { return region.guestPhysicalAddress + offset }
        }
        return nil
    }

    private static func validate(_ regions: [GuestMemoryRegion]) throws(GuestMemoryError) {
        for (i, r) in regions.enumerated() {
            guard r.size > 0 else { throw .emptyRegion(index: i) }
            guard r.guestPhysicalAddress <= UInt64.max - (r.size - 1),
                  r.userAddress <= UInt64.max - (r.size - 1) else { throw .addressOverflow(index: i) }
        }
        for i in regions.indices {
            for j in regions.indices where j > i {
                let a = regions[i], b = regions[j]
                let aLast = a.guestPhysicalAddress + (a.size - 1), bLast = b.guestPhysicalAddress + (b.size - 1)
                if a.guestPhysicalAddress <= bLast && b.guestPhysicalAddress <= aLast { throw .overlappingRegions(i, j) }
            }
        }
    }

    private static func sortedTable(_ regions: [GuestMemoryRegion]) -> UnsafeMutableBufferPointer<GuestMemoryRegion> {
        let table = UnsafeMutableBufferPointer<GuestMemoryRegion>.allocate(capacity: regions.count)
        _ = table.initialize(from: regions.sorted { $0.guestPhysicalAddress < $1.guestPhysicalAddress })
        return table
    }

    private static func release(_ allocations: [UnsafeMutableRawPointer]) {
        for p in allocations { free(p) }
    }
}
