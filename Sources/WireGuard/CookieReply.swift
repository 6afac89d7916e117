// Whitepaper §5.4.7, the cookie reply message (64 bytes):
//
//   type := 0x3 (1 byte) | reserved := 0^3 (3 bytes) | receiver := I_m (4 bytes) | nonce := ρ^24 (24 bytes)
//   | cookie := XAEAD(HASH(LABEL-COOKIE || S_m^pub), nonce, τ, M) (16 + 16 bytes)

import Wire

/// The cookie reply message.
public struct CookieReply: Equatable, Sendable {
    public static let size = WireGuardConstants.messageCookieReplySize
    static let receiverOffset = 4
    static let nonceOffset = 8
    static let cookieOffset = 32

    public var receiver: UInt32
    public var nonce: [UInt8]
    public var encryptedCookie: [UInt8]

    /// Parses exactly 64 bytes of type 3.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count == Self.size else { throw WireError.badLength }
        guard MessageType(of: bytes) == .cookieReply else { throw WireError.unsupported("message type") }
        receiver = bytes.le32(Self.receiverOffset)
        nonce = Array(bytes[Self.nonceOffset..<Self.cookieOffset])
        encryptedCookie = Array(bytes[Self.cookieOffset..<Self.size])
    }

    public init(receiver: UInt32, nonce: [UInt8], encryptedCookie: [UInt8]) {
        self.receiver = receiver; self.nonce = nonce; self.encryptedCookie = encryptedCookie
    }

    /// Writes the 64 bytes to the front of `buffer`; returns 64.
    @discardableResult
    public func write(to buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        try buffer.requireSpace(Self.size)
        precondition(nonce.count == 24 && encryptedCookie.count == 32)
        buffer.setLE32(0, MessageType.cookieReply.rawValue)
        buffer.setLE32(Self.receiverOffset, receiver)
        for (i, b) in nonce.enumerated() { buffer[Self.nonceOffset + i] = b }
        for (i, b) in encryptedCookie.enumerated() { buffer[Self.cookieOffset + i] = b }
        return Self.size
    }

    /// The 64 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.size)
        _ = out.withUnsafeMutableBytes { try? write(to: $0) }
        return out
    }
}
