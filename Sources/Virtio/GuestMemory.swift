// Guest memory as the device sees it (docs/architecture.md, Bad input: never a read or write outside the mapped regions).
//
// Every address a guest hands us — ring addresses, descriptor buffers, indirect tables — is a guest
// physical address (GPA). The device turns it into a pointer only through `GuestMemory`, which says
// nil the moment any byte of the range falls outside what is mapped. vhost-user front ends describe
// rings by their own *user* (virtual) addresses, hence the second translation.

/// One contiguous piece of guest physical memory that is mapped into this process.
public struct GuestMemoryRegion {
    /// First guest physical address of the region.
    public var guestPhysicalAddress: UInt64
    /// Length of the region in bytes.
    public var size: UInt64
    /// The front end's (QEMU's) virtual address of the first byte; vhost-user ring addresses use it.
    public var userAddress: UInt64
    /// Where the first byte is mapped in this process.
    public var pointer: UnsafeMutableRawPointer

    /// A region of `size` bytes at `guestPhysicalAddress`, mapped at `pointer` here and at `userAddress` in the front end.
    @inlinable
    public init(guestPhysicalAddress: UInt64, size: UInt64, userAddress: UInt64, pointer: UnsafeMutableRawPointer) {
        self.guestPhysicalAddress = guestPhysicalAddress
        self.size = size
        self.userAddress = userAddress
        self.pointer = pointer
    }

    /// The pointer for `[address, address + length)` if the whole range lies inside this region.
    @inlinable
    public func translate(_ address: UInt64, length: UInt64) -> UnsafeMutableRawPointer? {
        // Written so that nothing can overflow: `address + length` is never formed.
        guard address >= guestPhysicalAddress else { return nil }
        let offset = address - guestPhysicalAddress
        guard offset < size, length <= size - offset else { return nil }
        return pointer + Int(offset)
    }

    /// The longest run inside this region that starts at `address`, capped at `length` bytes.
    @inlinable
    public func run(at address: UInt64, upTo length: UInt64) -> (pointer: UnsafeMutableRawPointer, length: UInt64)? {
        guard address >= guestPhysicalAddress else { return nil }
        let offset = address - guestPhysicalAddress
        guard offset < size else { return nil }
        return (pointer + Int(offset), min(length, size - offset))
    }
}

/// Guest physical memory mapped into this process: the only way the device touches guest bytes.
///
/// Implementations must never return a pointer for a range with any byte outside their mappings.
/// Use it generically (`<M: GuestMemory>`), never as `any GuestMemory`, on the per-packet path.
public protocol GuestMemory {
    /// A pointer to the `length` bytes at guest physical `address`, or nil unless every byte lies in one mapped region.
    func translate(_ address: UInt64, length: UInt64) -> UnsafeMutableRawPointer?

    /// The longest mapped run that starts at `address` (at most `length` bytes), or nil when `address` is unmapped.
    ///
    /// A descriptor's buffer may straddle two adjacent regions; the device maps it run by run.
    func run(at address: UInt64, upTo length: UInt64) -> (pointer: UnsafeMutableRawPointer, length: UInt64)?

    /// The guest physical address of the front end's user (virtual) address, or nil when no region maps it.
    func guestPhysicalAddress(ofUserAddress userAddress: UInt64) -> UInt64?
}

/// Why a set of regions was refused.
public enum GuestMemoryError: Error, Equatable, Sendable {
    /// A region of zero bytes.
    case emptyRegion(index: Int)
    /// A region whose guest physical or user address range wraps past 2^64.
    case addressOverflow(index: Int)
    /// Two regions that share guest physical addresses.
    case overlappingRegions(Int, Int)
    /// The allocator could not provide the memory.
    case allocationFailed(bytes: UInt64)
}
