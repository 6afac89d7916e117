// Whitepaper §5.4: every message starts with a one-byte type and three reserved zero bytes; wireguard-go reads
// the four bytes as one little-endian word, so non-zero reserved bytes make an unknown type.

import Wire

/// The four WireGuard message types.
public enum MessageType: UInt32, Sendable {
    case handshakeInitiation = 1
    case handshakeResponse = 2
    case cookieReply = 3
    case transportData = 4

    /// The type of the datagram in `bytes`; nil if shorter than four bytes or unknown.
    @inlinable public init?(of bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 4 else { return nil }
        self.init(rawValue: bytes.le32(0))
    }
}
