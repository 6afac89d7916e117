// struct virtq_desc — OASIS virtio 1.2 §2.7.5 "The Virtqueue Descriptor Table".
//
//   struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; };

/// One descriptor, copied out of guest memory (the guest can change the original at any time).
public struct VirtqDescriptor: Equatable, Sendable {
    /// "Address (guest-physical)."
    public var address: UInt64
    /// "Length."
    public var length: UInt32
    /// VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT.
    public var flags: UInt16
    /// "Next field if flags & NEXT."
    public var next: UInt16

    @inlinable
    public init(address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        self.address = address
        self.length = length
        self.flags = flags
        self.next = next
    }

    /// Reads entry `index` of the table at `table` (caller checked the index against the table size).
    @inlinable
    public init(table: UnsafeRawPointer, index: Int) {
        let base = index &* VirtqLayout.descriptorSize
        address = SharedRing.loadLE64(table, base)
        length = SharedRing.loadLE32(table, base &+ 8)
        flags = SharedRing.loadLE16(table, base &+ 12)
        next = SharedRing.loadLE16(table, base &+ 14)
    }

    /// Writes this descriptor as entry `index` of the table at `table` (driver side).
    @inlinable
    public func store(table: UnsafeMutableRawPointer, index: Int) {
        let base = index &* VirtqLayout.descriptorSize
        SharedRing.storeLE64(table, base, address)
        SharedRing.storeLE32(table, base &+ 8, length)
        SharedRing.storeLE16(table, base &+ 12, flags)
        SharedRing.storeLE16(table, base &+ 14, next)
    }

    @inlinable public var hasNext: Bool { flags & VirtqLayout.descriptorFlagNext != 0 }
    @inlinable public var isWritable: Bool { flags & VirtqLayout.descriptorFlagWrite != 0 }
    @inlinable public var isIndirect: Bool { flags & VirtqLayout.descriptorFlagIndirect != 0 }
}
