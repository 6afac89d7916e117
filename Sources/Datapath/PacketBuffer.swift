// A packet buffer is a handle into a `PacketPool`'s slab (docs/performance.md: fixed-size buffers from a
// pool, zero heap allocations per packet).
//
// Ownership rule: a `PacketBuffer` is owned by exactly one holder at a time — whoever got it from
// `PacketPool.allocate()` or was handed it (a queue, a ring slot, a function it was passed to for
// sending). The owner either hands it on or gives it back with `PacketPool.release(_:)`, exactly
// once. Copying the handle does not copy the bytes or the ownership; after `release` every copy is
// stale and any use of it traps (each slot carries a generation number that `release` advances).
//
// Why handles rather than a class instance per buffer: a handle is 8 trivial bytes, so queues of
// buffers cost no ARC traffic and no allocation; the bytes and the window state (where the frame
// starts, how long it is) live in the pool, so every copy of a handle sees the same frame.

/// A handle to one buffer of a `PacketPool`. Trivial and 8 bytes; see the ownership rule above.
public struct PacketBuffer: Hashable, Sendable, CustomStringConvertible {
    /// Which slot of the pool's slab this buffer occupies (0 ..< pool.count).
    public let slot: UInt32
    /// The slot's generation when the handle was issued; a mismatch means the handle is stale.
    @usableFromInline let generation: UInt32

    @inlinable init(slot: UInt32, generation: UInt32) {
        self.slot = slot
        self.generation = generation
    }

    public var description: String { "buffer#\(slot).\(generation)" }
}

/// Room in front of a frame for the encapsulations Sluice adds (docs/performance.md).
public enum PacketHeadroom {
    /// virtio-net header with VIRTIO_NET_F_MRG_RXBUF (virtio 1.2 §5.1.6: `struct virtio_net_hdr`).
    public static let virtioNetHeader = 12
    /// WireGuard transport data message header: type, reserved, receiver index, counter.
    public static let wireGuardHeader = 16
    /// ChaCha20-Poly1305 authentication tag appended by WireGuard (stored at the tail, counted here
    /// so that one figure covers a full encapsulation).
    public static let wireGuardTag = 16
    /// Outer IPv4 header without options (20) plus UDP header (8).
    public static let outerIPv4UDP = 28
    /// 12 + 16 + 16 + 28 = 72, rounded up to 128 to keep the frame start cache-line aligned.
    public static let `default` = 128
}
