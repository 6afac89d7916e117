// A pool of fixed-size packet buffers carved out of one slab allocated up front (docs/performance.md).
//
// Layout of one slot (bufferSize bytes, slots 64-byte aligned):
//
//   | headroom ............ | frame bytes ............ | tailroom ............ |
//   0                       start                      start+length            bufferSize
//
// `allocate()` hands out a slot with `start == headroom` and `length == 0`. `prepend` moves the
// start towards 0 (adding an encapsulation header), `trimFront` moves it forwards (removing one),
// `append` and `setLength` move the end. The pool never allocates after `init`: the slab, the slot
// states and the free list are fixed-size raw allocations; the free list is a LIFO stack, so the
// most recently released (cache-warm) buffer is reused first, and the order is deterministic.
//
// The pool is a final class with a single owner (the engine's reactor); it is not Sendable.
// See PacketBuffer.swift for the ownership rule of the handles it issues.

import Wire

/// Fixed-size packet buffers with headroom, preallocated; `allocate()` returns nil when exhausted.
public final class PacketPool {
    /// How many buffers the pool holds.
    public let count: Int
    /// Total bytes of each buffer, headroom included.
    public let bufferSize: Int
    /// Bytes left in front of the frame when a buffer is allocated.
    public let headroom: Int

    @usableFromInline struct SlotState {
        @usableFromInline var start: Int
        @usableFromInline var length: Int
        @usableFromInline var generation: UInt32
        @usableFromInline var inUse: Bool
    }

    @usableFromInline let stride: Int
    @usableFromInline let slab: UnsafeMutableRawPointer
    @usableFromInline let slots: UnsafeMutablePointer<SlotState>
    @usableFromInline let freeList: UnsafeMutablePointer<UInt32>
    @usableFromInline var freeCount: Int

    /// Slot alignment: a cache line, so frames in neighbouring slots never share one.
    static let alignment = 64

    /// Preallocates `count` buffers of `bufferSize` bytes each, `headroom` of which precede the frame.
    /// For jumbo frames pass `bufferSize: 65536 + headroom`.
    public init(count: Int, bufferSize: Int = 2048, headroom: Int = PacketHeadroom.default) {
        precondition(count > 0 && count <= Int(UInt32.max), "PacketPool: count must be in 1...UInt32.max")
        precondition(headroom >= 0 && headroom < bufferSize, "PacketPool: headroom must be smaller than bufferSize")
        self.count = count
        self.bufferSize = bufferSize
        self.headroom = headroom
        stride = (bufferSize + Self.alignment - 1) / Self.alignment * Self.alignment
        slab = UnsafeMutableRawPointer.allocate(byteCount: stride * count, alignment: Self.alignment)
        slots = .allocate(capacity: count)
        slots.initialize(repeating: SlotState(start: headroom, length: 0, generation: 0, inUse: false), count: count)
        freeList = .allocate(capacity: count)
        // Slot 0 on top of the stack: a fresh pool hands out 0, 1, 2, …
        for i in 0..<count { freeList[i] = UInt32(count - 1 - i) }
        freeCount = count
    }

    deinit {
        slab.deallocate()
        slots.deinitialize(count: count)
        slots.deallocate()
        freeList.deallocate()
    }

    /// Buffers currently free.
    @inlinable public var available: Int { freeCount }
    /// Buffers currently handed out.
    @inlinable public var inUse: Int { count - freeCount }
    /// Largest frame a buffer holds when nothing is prepended: `bufferSize - headroom`.
    @inlinable public var frameCapacity: Int { bufferSize - headroom }

    /// A free buffer (start at `headroom`, length 0), or nil when the pool is exhausted — the
    /// caller counts the drop (`PortDropReason.poolExhausted`).
    @inlinable public func allocate() -> PacketBuffer? {
        guard freeCount > 0 else { return nil }
        freeCount &-= 1
        let slot = freeList[freeCount]
        let state = slots.advanced(by: Int(slot))
        state.pointee.start = headroom
        state.pointee.length = 0
        state.pointee.inUse = true
        return PacketBuffer(slot: slot, generation: state.pointee.generation)
    }

    /// Gives `buffer` back to the pool. Every copy of the handle becomes stale.
    @inlinable public func release(_ buffer: PacketBuffer) {
        let state = checked(buffer)
        state.pointee.inUse = false
        state.pointee.generation &+= 1
        freeList[freeCount] = buffer.slot
        freeCount &+= 1
    }

    /// The frame's current bytes (`length` of them, from `start`).
    @inlinable public func bytes(of buffer: PacketBuffer) -> UnsafeMutableRawBufferPointer {
        let state = checked(buffer).pointee
        return UnsafeMutableRawBufferPointer(start: base(buffer.slot) + state.start, count: state.length)
    }

    /// The frame's current length.
    @inlinable public func length(of buffer: PacketBuffer) -> Int { checked(buffer).pointee.length }

    /// Bytes free in front of the frame.
    @inlinable public func headroom(of buffer: PacketBuffer) -> Int { checked(buffer).pointee.start }

    /// Bytes free behind the frame.
    @inlinable public func tailroom(of buffer: PacketBuffer) -> Int {
        let state = checked(buffer).pointee
        return bufferSize - state.start - state.length
    }

    /// Grows the frame by `count` bytes at the front (an encapsulation header) and returns those
    /// new bytes for the caller to fill. Throws `noSpace` when the headroom is too small.
    @inlinable @discardableResult
    public func prepend(_ count: Int, to buffer: PacketBuffer) throws(WireError) -> UnsafeMutableRawBufferPointer {
        let state = checked(buffer)
        guard count >= 0, count <= state.pointee.start else {
            throw WireError.noSpace(needed: count, have: state.pointee.start)
        }
        state.pointee.start -= count
        state.pointee.length += count
        return UnsafeMutableRawBufferPointer(start: base(buffer.slot) + state.pointee.start, count: count)
    }

    /// Removes `count` bytes from the front of the frame (a decapsulated header).
    /// Throws `truncated` when the frame is shorter than that.
    @inlinable public func trimFront(_ count: Int, of buffer: PacketBuffer) throws(WireError) {
        let state = checked(buffer)
        guard count >= 0, count <= state.pointee.length else {
            throw WireError.truncated(needed: count, have: state.pointee.length)
        }
        state.pointee.start += count
        state.pointee.length -= count
    }

    /// Grows the frame by `count` bytes at the end and returns those new bytes for the caller to fill.
    /// Throws `noSpace` when the tailroom is too small.
    @inlinable @discardableResult
    public func append(count: Int, to buffer: PacketBuffer) throws(WireError) -> UnsafeMutableRawBufferPointer {
        let state = checked(buffer)
        let end = state.pointee.start + state.pointee.length
        guard count >= 0, count <= bufferSize - end else {
            throw WireError.noSpace(needed: count, have: bufferSize - end)
        }
        state.pointee.length += count
        return UnsafeMutableRawBufferPointer(start: base(buffer.slot) + end, count: count)
    }

    /// Copies `source` onto the end of the frame. Throws `noSpace` (copying nothing) when it does not fit.
    @inlinable public func append(copying source: UnsafeRawBufferPointer, to buffer: PacketBuffer) throws(WireError) {
        let tail = try append(count: source.count, to: buffer)
        if let from = source.baseAddress, let to = tail.baseAddress { to.copyMemory(from: from, byteCount: source.count) }
    }

    /// Sets the frame's length, keeping its start — e.g. after a device wrote `length` bytes into
    /// `bytes(of:)` extended by `setLength(maximum)`. Throws `noSpace` beyond the buffer's end.
    @inlinable public func setLength(_ length: Int, of buffer: PacketBuffer) throws(WireError) {
        let state = checked(buffer)
        let room = bufferSize - state.pointee.start
        guard length >= 0, length <= room else { throw WireError.noSpace(needed: length, have: room) }
        state.pointee.length = length
    }

    /// Whether `buffer` is a live handle from this pool (not yet released).
    @inlinable public func isLive(_ buffer: PacketBuffer) -> Bool {
        Int(buffer.slot) < count && slots[Int(buffer.slot)].inUse && slots[Int(buffer.slot)].generation == buffer.generation
    }

    @inlinable func base(_ slot: UInt32) -> UnsafeMutableRawPointer { slab + Int(slot) &* stride }

    /// The slot state of a live handle; traps on a stale or foreign handle (an ownership bug, never input).
    @inlinable func checked(_ buffer: PacketBuffer) -> UnsafeMutablePointer<SlotState> {
        precondition(isLive(buffer), "PacketPool: stale or foreign PacketBuffer \(buffer)")
        return slots.advanced(by: Int(buffer.slot))
    }
}
