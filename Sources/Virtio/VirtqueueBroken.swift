// What a misbehaving guest gets (docs/architecture.md, Bad input): the queue stops, says why, and the device sets
// DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2: "The device SHOULD set DEVICE_NEEDS_RESET when it enters an
// error state that a reset is needed."). Never a crash, never an access outside the mapped regions.

/// Why a queue stopped: each case is a rule of virtio 1.2 the guest broke (or a limit of this device).
public enum VirtqueueBrokenReason: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// A descriptor's (or indirect table's) address range is not inside guest memory.
    case descriptorOutOfBounds(index: UInt16)
    /// A head in the available ring, or a `next` field, names a descriptor past the table.
    case descriptorIndexOutOfRange(index: UInt16)
    /// The chain visits more descriptors than its table holds: a loop.
    case descriptorLoop
    /// The chain holds more than 2^32 - 1 bytes ("Drivers MUST NOT add a descriptor chain longer than 2^32 bytes").
    case chainTooLarge
    /// The chain maps to more buffer segments than this device accepts ("The device MAY have a
    /// reasonable limit of descriptors it will allow in a chain.").
    case tooManySegments(limit: Int)
    /// A descriptor of zero bytes.
    case zeroLengthDescriptor(index: UInt16)
    /// A device-readable descriptor after a device-writable one ("The driver MUST place any
    /// device-writable descriptor elements after any device-readable descriptor elements.").
    case readableAfterWritable(index: UInt16)
    /// VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated.
    case indirectNotNegotiated
    /// VIRTQ_DESC_F_INDIRECT inside an indirect table ("only one table per descriptor").
    case nestedIndirect
    /// VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT.
    case indirectWithNext
    /// An indirect table whose length is zero or not a multiple of 16.
    case indirectTableMisaligned(length: UInt32)
    /// An indirect table with more entries than the queue size ("A driver MUST NOT create a
    /// descriptor chain longer than the Queue Size of the device.").
    case indirectTableTooLarge(entries: Int)
    /// The available index ran more than a queue's worth ahead of what the device consumed.
    case availableIndexJump(from: UInt16, to: UInt16)
    /// A device-writable buffer on a queue the device only reads (virtio-net transmit).
    case unexpectedWritable
    /// A device-readable buffer on a queue the device only writes (virtio-net receive).
    case unexpectedReadable
    /// A virtio-net transmit chain shorter than the virtio-net header.
    case truncatedNetHeader(length: Int)
    /// A mergeable receive buffer smaller than the virtio-net header ("each buffer MUST be at least
    /// size of struct virtio_net_hdr").
    case receiveBufferTooSmall(length: Int)

    public var description: String {
        switch self {
        case .descriptorOutOfBounds(let i): "descriptor \(i) points outside guest memory"
        case .descriptorIndexOutOfRange(let i): "descriptor index \(i) is past the table"
        case .descriptorLoop: "descriptor chain loops (longer than its table)"
        case .chainTooLarge: "descriptor chain longer than 2^32 bytes"
        case .tooManySegments(let n): "descriptor chain maps to more than \(n) segments"
        case .zeroLengthDescriptor(let i): "descriptor \(i) has zero length"
        case .readableAfterWritable(let i): "device-readable descriptor \(i) after a device-writable one"
        case .indirectNotNegotiated: "indirect descriptor without VIRTIO_F_INDIRECT_DESC"
        case .nestedIndirect: "indirect descriptor inside an indirect table"
        case .indirectWithNext: "indirect descriptor with VIRTQ_DESC_F_NEXT"
        case .indirectTableMisaligned(let l): "indirect table length \(l) is not a positive multiple of 16"
        case .indirectTableTooLarge(let n): "indirect table of \(n) entries exceeds the queue size"
        case .availableIndexJump(let a, let b): "available index jumped from \(a) to \(b)"
        case .unexpectedWritable: "device-writable buffer on a device-read-only queue"
        case .unexpectedReadable: "device-readable buffer on a device-write-only queue"
        case .truncatedNetHeader(let l): "transmit chain of \(l) bytes is shorter than the virtio-net header"
        case .receiveBufferTooSmall(let l): "receive buffer of \(l) bytes is smaller than the virtio-net header"
        }
    }
}

/// Why a queue could not be set up from the addresses the driver gave.
public enum VirtqueueSetupError: Error, Equatable, Sendable {
    /// Not a power of two between 1 and 32768.
    case invalidQueueSize(UInt16)
    /// A ring part is not aligned as §2.7 requires ("The driver MUST ensure that the physical address
    /// of the first byte of each virtqueue part is a multiple of the specified alignment value").
    case misaligned(VirtqueuePart, address: UInt64)
    /// A ring part is not entirely inside guest memory.
    case outsideGuestMemory(VirtqueuePart, address: UInt64)
}

/// The three parts of a split virtqueue.
public enum VirtqueuePart: Equatable, Sendable {
    case descriptorTable, availableRing, usedRing
}
