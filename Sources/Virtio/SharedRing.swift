// Loads and stores of ring fields the guest reads or writes concurrently.
//
// The rings live in memory shared with a guest running on other CPUs, so the fields that hand
// ownership over (avail idx, used idx, flags and event indices) are accessed atomically, and the
// order of the surrounding plain accesses is pinned with acquire/release and full fences — the same
// points where Linux vhost and QEMU use smp_rmb/smp_wmb/smp_mb. On x86-64 acquire and release cost
// nothing at run time (they only stop the compiler from reordering); the full fence is a locked
// instruction. Everything in the rings is little-endian (virtio 1.x).

import Synchronization

@usableFromInline
enum SharedRing {
    /// Atomic view of the 16-bit ring field at `p` (2-byte aligned; checked when the queue is set up).
    @inlinable @inline(__always)
    static func word(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt16>> {
        p.assumingMemoryBound(to: Atomic<UInt16>.self)
    }

    /// Reads a field the other side publishes; later reads of what it guards are ordered after it.
    @inlinable @inline(__always)
    static func loadAcquiring(_ p: UnsafeMutableRawPointer) -> UInt16 {
        UInt16(littleEndian: word(p).pointee.load(ordering: .acquiring))
    }

    /// Reads a field with no ordering of its own (flags, event indices).
    @inlinable @inline(__always)
    static func loadRelaxed(_ p: UnsafeMutableRawPointer) -> UInt16 {
        UInt16(littleEndian: word(p).pointee.load(ordering: .relaxed))
    }

    /// Publishes a field: every earlier write (ring entries, buffer contents) becomes visible first.
    @inlinable @inline(__always)
    static func storeReleasing(_ p: UnsafeMutableRawPointer, _ value: UInt16) {
        word(p).pointee.store(value.littleEndian, ordering: .releasing)
    }

    /// Writes a field with no ordering of its own (flags, event indices).
    @inlinable @inline(__always)
    static func storeRelaxed(_ p: UnsafeMutableRawPointer, _ value: UInt16) {
        word(p).pointee.store(value.littleEndian, ordering: .relaxed)
    }

    /// A full barrier (smp_mb): orders an earlier store before a later load — needed between
    /// publishing an index and reading the other side's event index or flags.
    @inlinable @inline(__always)
    static func fullFence() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    /// Plain little-endian loads and stores of data the other side does not write concurrently
    /// (descriptors once published, used elements before they are published). Unaligned-safe.
    @inlinable @inline(__always)
    static func loadLE16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inlinable @inline(__always)
    static func loadLE32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inlinable @inline(__always)
    static func loadLE64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inlinable @inline(__always)
    static func storeLE16(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt16) {
        p.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inlinable @inline(__always)
    static func storeLE32(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt32) {
        p.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inlinable @inline(__always)
    static func storeLE64(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt64) {
        p.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt64.self)
    }
}
