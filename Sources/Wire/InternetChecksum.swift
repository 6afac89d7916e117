// The Internet checksum (RFC 1071) and its incremental update (RFC 1624, eqn. 3).

/// A running one's-complement sum of 16-bit big-endian words.
public struct InternetChecksum: Sendable {
    @usableFromInline var sum: UInt64 = 0

    @inlinable public init() {}

    /// Adds `bytes`; an odd trailing byte is padded with zero, as RFC 1071 says. Feed odd-length
    /// pieces only last.
    @inlinable public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return }
        // RFC 1071 §2 (B), byte order independence: sum the bytes as native-order words, fold,
        // and swap the 16-bit result to big-endian once. Eight bytes per load: both 32-bit halves
        // go into a 64-bit accumulator (each ≤ 2^32, so 2^31 loads cannot carry out of it).
        var native: UInt64 = 0
        var i = 0
        while i + 8 <= n {
            let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            native &+= (w & 0xFFFF_FFFF) &+ (w >> 32)
            i += 8
        }
        if i + 4 <= n { native &+= UInt64(base.loadUnaligned(fromByteOffset: i, as: UInt32.self)); i += 4 }
        if i + 2 <= n { native &+= UInt64(base.loadUnaligned(fromByteOffset: i, as: UInt16.self)); i += 2 }
        // An odd last byte is the high (first) byte of a big-endian word padded with zero.
        if i < n { native &+= UInt64(UInt16(bigEndian: UInt16(bytes[i]) << 8)) }
        while native >> 16 != 0 { native = (native & 0xFFFF) &+ (native >> 16) }
        sum &+= UInt64(UInt16(bigEndian: UInt16(truncatingIfNeeded: native)))
    }

    @inlinable public mutating func add(_ word: UInt16) { sum &+= UInt64(word) }
    @inlinable public mutating func add(_ word: UInt32) { sum &+= UInt64(word) }

    /// The folded, complemented checksum to put in the header.
    @inlinable public var value: UInt16 {
        var s = sum
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        return ~UInt16(truncatingIfNeeded: s)
    }

    /// The checksum of `bytes` alone.
    @inlinable public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var c = InternetChecksum(); c.add(bytes); return c.value
    }

    /// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') when a 16-bit field changes from `old` to `new`.
    @inlinable public static func update(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        var s = UInt32(~checksum) + UInt32(~old) + UInt32(new)
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        return ~UInt16(truncatingIfNeeded: s)
    }

    /// As `update(_:old:new:)` for a 32-bit field (an address), word by word.
    @inlinable public static func update(_ checksum: UInt16, old: UInt32, new: UInt32) -> UInt16 {
        let c = update(checksum, old: UInt16(truncatingIfNeeded: old >> 16), new: UInt16(truncatingIfNeeded: new >> 16))
        return update(c, old: UInt16(truncatingIfNeeded: old), new: UInt16(truncatingIfNeeded: new))
    }
}

extension InternetChecksum {
    /// Adds the IPv4 pseudo-header that UDP (RFC 768) and TCP (RFC 9293 §3.1) checksums cover:
    /// source address, destination address, zero, protocol, and the UDP/TCP length.
    @inlinable public mutating func addPseudoHeader(
        source: IPv4Address, destination: IPv4Address, protocol: IPProtocol, length: Int
    ) {
        add(source.rawValue)
        add(destination.rawValue)
        add(UInt16(`protocol`.rawValue))
        add(UInt16(truncatingIfNeeded: length))
    }
}
