// Big-endian field access on raw buffers. Callers check the length once, up front; these
// helpers then read and write without further bounds checks in release builds (and trap in
// debug builds if a caller got the arithmetic wrong).

extension UnsafeRawBufferPointer {
    @inlinable @inline(__always) public func u8(_ offset: Int) -> UInt8 {
        self[offset]
    }
    @inlinable @inline(__always) public func u16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }
    @inlinable @inline(__always) public func u32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
    /// Throws `WireError.truncated` unless at least `count` bytes are present.
    @inlinable public func require(_ count: Int) throws(WireError) {
        if self.count < count { throw WireError.truncated(needed: count, have: self.count) }
    }
}

extension UnsafeMutableRawBufferPointer {
    @inlinable @inline(__always) public func u8(_ offset: Int) -> UInt8 { self[offset] }
    @inlinable @inline(__always) public func u16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }
    @inlinable @inline(__always) public func u32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
    @inlinable @inline(__always) public func setU8(_ offset: Int, _ v: UInt8) { self[offset] = v }
    @inlinable @inline(__always) public func setU16(_ offset: Int, _ v: UInt16) {
        self[offset] = UInt8(truncatingIfNeeded: v >> 8); self[offset + 1] = UInt8(truncatingIfNeeded: v)
    }
    @inlinable @inline(__always) public func setU32(_ offset: Int, _ v: UInt32) {
        self[offset] = UInt8(truncatingIfNeeded: v >> 24); self[offset + 1] = UInt8(truncatingIfNeeded: v >> 16)
        self[offset + 2] = UInt8(truncatingIfNeeded: v >> 8); self[offset + 3] = UInt8(truncatingIfNeeded: v)
    }
    /// Throws `WireError.noSpace` unless at least `count` bytes are available to emit into.
    @inlinable public func requireSpace(_ count: Int) throws(WireError) {
        if self.count < count { throw WireError.noSpace(needed: count, have: self.count) }
    }
}

// Sub-buffers: a header's payload as its own zero-based buffer, for the next layer's parser.

extension UnsafeRawBufferPointer {
    /// The bytes in `range`, as a buffer whose indices start at 0. The range must lie inside `self`.
    @inlinable @inline(__always) public func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
    /// The bytes from `offset` to the end, as a buffer whose indices start at 0.
    @inlinable @inline(__always) public func slice(from offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[offset..<count])
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The bytes in `range`, as a buffer whose indices start at 0. The range must lie inside `self`.
    @inlinable @inline(__always) public func slice(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: self[range])
    }
    /// The bytes from `offset` to the end, as a buffer whose indices start at 0.
    @inlinable @inline(__always) public func slice(from offset: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: self[offset..<count])
    }
    /// Copies `source` to `offset` (regions may overlap, as with memmove). The caller checked space.
    @inlinable @inline(__always) public func copyBytes(_ source: UnsafeRawBufferPointer, at offset: Int) {
        guard source.count > 0, let from = source.baseAddress, let to = baseAddress else { return }
        (to + offset).copyMemory(from: from, byteCount: source.count)
    }
}
