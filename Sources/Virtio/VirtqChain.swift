// A descriptor chain, resolved — OASIS virtio 1.2 §2.7.5, §2.7.13.1 ("A buffer consists of zero or
// more device-readable physically-contiguous elements followed by zero or more physically-contiguous
// device-writable elements").
//
// Popping a chain copies each descriptor once out of guest memory, checks it, and records its buffer
// as segments (pointer + length) in this scratch, which is allocated once and reused for every chain:
// no allocation per frame, and no second read of descriptors the guest could have changed meanwhile.

/// `length` bytes of a buffer at `pointer`, inside guest memory.
public struct VirtqSegment {
    public var pointer: UnsafeMutableRawPointer
    public var length: Int

    @inlinable public init(pointer: UnsafeMutableRawPointer, length: Int) {
        self.pointer = pointer
        self.length = length
    }
}

/// Scratch space for one popped chain: its head and its readable then writable segments.
/// Valid until the next pop into it; the segments point into guest memory.
public struct VirtqChain: ~Copyable {
    @usableFromInline let storage: UnsafeMutablePointer<VirtqSegment>
    /// Most segments a chain may have here; a longer chain breaks the queue (`.tooManySegments`).
    public let capacity: Int
    @usableFromInline var _head: UInt16 = 0
    @usableFromInline var _count: Int = 0
    @usableFromInline var _readableCount: Int = 0
    @usableFromInline var _readableLength: Int = 0
    @usableFromInline var _writableLength: Int = 0

    /// QEMU and libvhost-user accept at most 1024 segments per chain (VIRTQUEUE_MAX_SIZE).
    public static let defaultCapacity = 1024

    /// Scratch for chains of up to `capacity` segments (allocated here, once).
    public init(capacity: Int = VirtqChain.defaultCapacity) {
        precondition(capacity > 0, "a chain needs room for at least one segment")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// The descriptor index the used ring must report for this chain.
    @inlinable public var head: UInt16 { _head }
    /// Bytes the device may read, in order.
    @inlinable public var readableLength: Int { _readableLength }
    /// Bytes the device may write, in order.
    @inlinable public var writableLength: Int { _writableLength }
    /// Device-readable segments, in order.
    @inlinable public var readableSegments: UnsafeBufferPointer<VirtqSegment> {
        UnsafeBufferPointer(start: storage, count: _readableCount)
    }
    /// Device-writable segments, in order.
    @inlinable public var writableSegments: UnsafeBufferPointer<VirtqSegment> {
        UnsafeBufferPointer(start: storage + _readableCount, count: _count - _readableCount)
    }

    @inlinable
    mutating func reset(head: UInt16) {
        _head = head
        _count = 0
        _readableCount = 0
        _readableLength = 0
        _writableLength = 0
    }

    /// Appends a segment; false when the scratch is full. Readable segments must all come first
    /// (the queue checks that before calling).
    @inlinable
    mutating func append(_ pointer: UnsafeMutableRawPointer, length: Int, writable: Bool) -> Bool {
        guard _count < capacity else { return false }
        storage[_count] = VirtqSegment(pointer: pointer, length: length)
        _count &+= 1
        if writable {
            _writableLength &+= length
        } else {
            _readableCount &+= 1
            _readableLength &+= length
        }
        return true
    }

    /// The readable bytes `[offset, offset + count)` as one view, if they lie in a single segment.
    @inlinable
    public func readableContiguous(from offset: Int, count: Int) -> UnsafeRawBufferPointer? {
        var skip = offset
        for segment in readableSegments {
            if skip < segment.length {
                guard count <= segment.length - skip else { return nil }
                return UnsafeRawBufferPointer(start: segment.pointer + skip, count: count)
            }
            skip -= segment.length
        }
        return count == 0 ? UnsafeRawBufferPointer(start: nil, count: 0) : nil
    }

    /// Copies readable bytes from `offset` on into `buffer`; returns the number copied.
    @inlinable
    public func gatherReadable(into buffer: UnsafeMutableRawBufferPointer, from offset: Int) -> Int {
        var skip = offset
        var copied = 0
        for segment in readableSegments {
            if copied == buffer.count { break }
            if skip >= segment.length { skip -= segment.length; continue }
            let n = min(segment.length - skip, buffer.count - copied)
            (buffer.baseAddress! + copied).copyMemory(from: segment.pointer + skip, byteCount: n)
            copied += n
            skip = 0
        }
        return copied
    }

    /// Copies `bytes` into the writable space starting `offset` bytes in; returns the number copied
    /// (less than `bytes.count` when the writable space runs out).
    @inlinable
    public func scatterWritable(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int {
        var skip = offset
        var copied = 0
        for segment in writableSegments {
            if copied == bytes.count { break }
            if skip >= segment.length { skip -= segment.length; continue }
            let n = min(segment.length - skip, bytes.count - copied)
            (segment.pointer + skip).copyMemory(from: bytes.baseAddress! + copied, byteCount: n)
            copied += n
            skip = 0
        }
        return copied
    }

    /// The address of writable byte `offset`, or nil past the end.
    @inlinable
    public func writableByte(at offset: Int) -> UnsafeMutableRawPointer? {
        var skip = offset
        for segment in writableSegments {
            if skip < segment.length { return segment.pointer + skip }
            skip -= segment.length
        }
        return nil
    }
}
