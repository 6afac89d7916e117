// Split virtqueue layout and flags — OASIS virtio 1.2 §2.7 "Split Virtqueues". Spec names in comments.
//
//   Descriptor Table   alignment 16   16 * Queue Size          { le64 addr; le32 len; le16 flags; le16 next; }
//   Available Ring     alignment 2    6 + 2 * Queue Size       { le16 flags; le16 idx; le16 ring[]; le16 used_event; }
//   Used Ring          alignment 4    6 + 8 * Queue Size       { le16 flags; le16 idx; {le32 id; le32 len} ring[]; le16 avail_event; }

/// Constants and offsets of the split virtqueue (virtio 1.2 §2.7).
public enum VirtqLayout {
    /// "The maximum Queue Size value is 32768." (§2.7)
    public static let maxQueueSize: UInt16 = 32768

    /// VIRTQ_DESC_F_NEXT: "This marks a buffer as continuing via the next field." (§2.7.5)
    public static let descriptorFlagNext: UInt16 = 1
    /// VIRTQ_DESC_F_WRITE: "This marks a buffer as device write-only (otherwise device read-only)." (§2.7.5)
    public static let descriptorFlagWrite: UInt16 = 2
    /// VIRTQ_DESC_F_INDIRECT: "This means the buffer contains a list of buffer descriptors." (§2.7.5)
    public static let descriptorFlagIndirect: UInt16 = 4
    /// VIRTQ_AVAIL_F_NO_INTERRUPT: the driver needs no used-buffer notification (without EVENT_IDX). (§2.7.6)
    public static let availFlagNoInterrupt: UInt16 = 1
    /// VIRTQ_USED_F_NO_NOTIFY: the device needs no available-buffer notification (without EVENT_IDX). (§2.7.8)
    public static let usedFlagNoNotify: UInt16 = 1

    /// Bytes in one `struct virtq_desc`.
    public static let descriptorSize = 16
    /// Bytes in one `struct virtq_used_elem`.
    public static let usedElementSize = 8

    /// Minimum alignments of the three parts (§2.7 table).
    public static let descriptorTableAlignment: UInt64 = 16
    public static let availableRingAlignment: UInt64 = 2
    public static let usedRingAlignment: UInt64 = 4

    /// Bytes of each part for a queue of `size` entries, event fields included (§2.7 table).
    @inlinable public static func descriptorTableBytes(size: UInt16) -> Int { 16 * Int(size) }
    @inlinable public static func availableRingBytes(size: UInt16) -> Int { 6 + 2 * Int(size) }
    @inlinable public static func usedRingBytes(size: UInt16) -> Int { 6 + 8 * Int(size) }

    /// Offsets inside the available ring.
    public static let availFlagsOffset = 0
    public static let availIndexOffset = 2
    public static let availRingOffset = 4
    /// Offset of `used_event`, after the ring's `size` entries.
    @inlinable public static func usedEventOffset(size: UInt16) -> Int { 4 + 2 * Int(size) }

    /// Offsets inside the used ring.
    public static let usedFlagsOffset = 0
    public static let usedIndexOffset = 2
    public static let usedRingOffset = 4
    /// Offset of `avail_event`, after the ring's `size` elements.
    @inlinable public static func availEventOffset(size: UInt16) -> Int { 4 + 8 * Int(size) }

    /// True when `size` is a valid queue size: "Queue Size value is always a power of 2", at most 32768.
    @inlinable public static func isValidQueueSize(_ size: UInt16) -> Bool {
        size != 0 && size <= maxQueueSize && size & (size &- 1) == 0
    }

    /// `vring_need_event`: whether moving an index from `old` to `new` crosses `event`, i.e. whether
    /// the entry numbered `event` is among those just published (virtio 1.2 §2.7.7, §2.7.10; Linux
    /// include/uapi/linux/virtio_ring.h). All arithmetic is modulo 2^16.
    @inlinable public static func needsEvent(event: UInt16, new: UInt16, old: UInt16) -> Bool {
        new &- event &- 1 < new &- old
    }
}
