// Whitepaper §5.4.3, the second handshake message (92 bytes):
//
//   type := 0x2 (1 byte) | reserved := 0^3 (3 bytes) | sender := I_r (4 bytes) | receiver := I_i (4 bytes)
//   | ephemeral (32 bytes) | empty := AEAD(κ, 0, ε, H_r) (0 + 16 bytes) | mac1 (16 bytes) | mac2 (16 bytes)

import Crypto
import Wire

/// The handshake response message.
public struct HandshakeResponse: Equatable, Sendable {
    public static let size = WireGuardConstants.messageResponseSize
    static let senderOffset = 4
    static let receiverOffset = 8
    static let ephemeralOffset = 12
    static let emptyOffset = 44
    static let mac1Offset = 60
    static let mac2Offset = 76

    public var sender: UInt32
    public var receiver: UInt32
    public var ephemeral: PublicKey
    public var encryptedNothing: [UInt8]
    public var mac1: [UInt8]
    public var mac2: [UInt8]

    /// Parses exactly 92 bytes of type 2.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count == Self.size else { throw WireError.badLength }
        guard MessageType(of: bytes) == .handshakeResponse else { throw WireError.unsupported("message type") }
        sender = bytes.le32(Self.senderOffset)
        receiver = bytes.le32(Self.receiverOffset)
        ephemeral = PublicKey(bytes: bytes.slice(from: Self.ephemeralOffset))!
        encryptedNothing = Array(bytes[Self.emptyOffset..<Self.emptyOffset + 16])
        mac1 = Array(bytes[Self.mac1Offset..<Self.mac1Offset + 16])
        mac2 = Array(bytes[Self.mac2Offset..<Self.mac2Offset + 16])
    }

    public init(sender: UInt32, receiver: UInt32, ephemeral: PublicKey, encryptedNothing: [UInt8],
                mac1: [UInt8] = .init(repeating: 0, count: 16), mac2: [UInt8] = .init(repeating: 0, count: 16)) {
        self.sender = sender; self.receiver = receiver; self.ephemeral = ephemeral
        self.encryptedNothing = encryptedNothing; self.mac1 = mac1; self.mac2 = mac2
    }

    /// Writes the 92 bytes to the front of `buffer`; returns 92.
    @discardableResult
    public func write(to buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        try buffer.requireSpace(Self.size)
        precondition(encryptedNothing.count == 16 && mac1.count == 16 && mac2.count == 16)
        buffer.setLE32(0, MessageType.handshakeResponse.rawValue)
        buffer.setLE32(Self.senderOffset, sender)
        buffer.setLE32(Self.receiverOffset, receiver)
        ephemeral.write(to: buffer, at: Self.ephemeralOffset)
        for (i, b) in encryptedNothing.enumerated() { buffer[Self.emptyOffset + i] = b }
        for (i, b) in mac1.enumerated() { buffer[Self.mac1Offset + i] = b }
        for (i, b) in mac2.enumerated() { buffer[Self.mac2Offset + i] = b }
        return Self.size
    }

    /// The 92 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.size)
        _ = out.withUnsafeMutableBytes { try? write(to: $0) }
        return out
    }
}
