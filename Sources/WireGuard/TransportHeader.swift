// Whitepaper §5.4.6, transport data messages:
//
//   type := 0x4 (1 byte) | reserved := 0^3 (3 bytes) | receiver := I_m' (4 bytes) | counter := N_m (8 bytes)
//   | packet := AEAD(T_m^send, N_m, P, ε) (||P|| + 16 bytes)
//
// The header is read and written in place; the packet is encrypted and decrypted in the same buffer.

import Wire

/// The 16-byte header of a transport data message.
public struct TransportHeader: Equatable, Sendable {
    public static let size = WireGuardConstants.messageTransportHeaderSize
    public var receiver: UInt32
    public var counter: UInt64

    @inlinable public init(receiver: UInt32, counter: UInt64) { self.receiver = receiver; self.counter = counter }

    /// Parses the header of a transport message of at least 32 bytes (a keepalive is 32).
    @inlinable public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= WireGuardConstants.messageKeepaliveSize else {
            throw WireError.truncated(needed: WireGuardConstants.messageKeepaliveSize, have: bytes.count)
        }
        guard MessageType(of: bytes) == .transportData else { throw WireError.unsupported("message type") }
        receiver = bytes.le32(4)
        counter = bytes.le64(8)
    }

    /// Writes the 16 bytes to the front of `buffer`.
    @inlinable public func write(to buffer: UnsafeMutableRawBufferPointer) {
        buffer.setLE32(0, MessageType.transportData.rawValue)
        buffer.setLE32(4, receiver)
        buffer.setLE64(8, counter)
    }

    /// §5.4.6: the packet is zero-padded to a multiple of 16 bytes (wireguard-go: never beyond the MTU).
    @inlinable public static func paddedLength(_ length: Int, mtu: Int? = nil) -> Int {
        let m = WireGuardConstants.paddingMultiple
        guard let mtu, mtu > 0 else { return (length + m - 1) / m * m }
        var last = length
        if last > mtu { last %= mtu }
        let padded = min((last + m - 1) / m * m, mtu)
        return length + (padded - last)
    }
}
