// WireGuard's message fields are little-endian (Wire's helpers are big-endian, for IP headers).

extension UnsafeRawBufferPointer {
    @inlinable @inline(__always) func le32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inlinable @inline(__always) func le64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inlinable @inline(__always) func le32(_ offset: Int) -> UInt32 { UnsafeRawBufferPointer(self).le32(offset) }
    @inlinable @inline(__always) func le64(_ offset: Int) -> UInt64 { UnsafeRawBufferPointer(self).le64(offset) }
    @inlinable @inline(__always) func setLE32(_ offset: Int, _ v: UInt32) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inlinable @inline(__always) func setLE64(_ offset: Int, _ v: UInt64) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt64.self)
    }
}
