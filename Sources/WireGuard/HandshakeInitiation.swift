// Whitepaper §5.4.2, the first handshake message (148 bytes):
//
//   type := 0x1 (1 byte) | reserved := 0^3 (3 bytes) | sender := I_i (4 bytes) | ephemeral (32 bytes)
//   | static := AEAD(κ, 0, S_i^pub, H_i) (32 + 16 bytes) | timestamp := AEAD(κ, 0, TAI64N(), H_i) (12 + 16 bytes)
//   | mac1 (16 bytes) | mac2 (16 bytes)

import Crypto
import Wire

/// The handshake initiation message.
public struct HandshakeInitiation: Equatable, Sendable {
    public static let size = WireGuardConstants.messageInitiationSize
    static let senderOffset = 4
    static let ephemeralOffset = 8
    static let staticOffset = 40
    static let staticSize = 32 + 16
    static let timestampOffset = 88
    static let timestampSize = 12 + 16
    static let mac1Offset = 116
    static let mac2Offset = 132

    public var sender: UInt32
    public var ephemeral: PublicKey
    public var encryptedStatic: [UInt8]
    public var encryptedTimestamp: [UInt8]
    public var mac1: [UInt8]
    public var mac2: [UInt8]

    /// Parses exactly 148 bytes of type 1.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count == Self.size else { throw WireError.badLength }
        guard MessageType(of: bytes) == .handshakeInitiation else { throw WireError.unsupported("message type") }
        sender = bytes.le32(Self.senderOffset)
        ephemeral = PublicKey(bytes: bytes.slice(from: Self.ephemeralOffset))!
        encryptedStatic = Array(bytes[Self.staticOffset..<Self.staticOffset + Self.staticSize])
        encryptedTimestamp = Array(bytes[Self.timestampOffset..<Self.timestampOffset + Self.timestampSize])
        mac1 = Array(bytes[Self.mac1Offset..<Self.mac1Offset + 16])
        mac2 = Array(bytes[Self.mac2Offset..<Self.mac2Offset + 16])
    }

    public init(sender: UInt32, ephemeral: PublicKey, encryptedStatic: [UInt8], encryptedTimestamp: [UInt8],
                mac1: [UInt8] = .init(repeating: 0, count: 16), mac2: [UInt8] = .init(repeating: 0, count: 16)) {
        self.sender = sender; self.ephemeral = ephemeral
        self.encryptedStatic = encryptedStatic; self.encryptedTimestamp = encryptedTimestamp
        self.mac1 = mac1; self.mac2 = mac2
    }

    /// Writes the 148 bytes to the front of `buffer`; returns 148.
    @discardableResult
    public func write(to buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        try buffer.requireSpace(Self.size)
        precondition(encryptedStatic.count == Self.staticSize && encryptedTimestamp.count == Self.timestampSize
            && mac1.count == 16 && mac2.count == 16)
        buffer.setLE32(0, MessageType.handshakeInitiation.rawValue)
        buffer.setLE32(Self.senderOffset, sender)
        ephemeral.write(to: buffer, at: Self.ephemeralOffset)
        for (i, b) in encryptedStatic.enumerated() { buffer[Self.staticOffset + i] = b }
        for (i, b) in encryptedTimestamp.enumerated() { buffer[Self.timestampOffset + i] = b }
        for (i, b) in mac1.enumerated() { buffer[Self.mac1Offset + i] = b }
        for (i, b) in mac2.enumerated() { buffer[Self.mac2Offset + i] = b }
        return Self.size
    }

    /// The 148 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.size)
        _ = out.withUnsafeMutableBytes { try? write(to: $0) }
        return out
    }
}
