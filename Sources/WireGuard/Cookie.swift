// Whitepaper §5.4.4 (cookie MACs) and §5.4.7 (under load: cookie reply), after wireguard-go's cookie.go.
//
//   msg.mac1 := MAC(HASH(LABEL-MAC1 || S_m'^pub), msg_α)
//   if L_m = ε or L_m is older than 120 seconds: msg.mac2 := 0^16, else msg.mac2 := MAC(L_m, msg_β)
//   τ := MAC(R_m, A_m);  msg.cookie := XAEAD(HASH(LABEL-COOKIE || S_m^pub), msg.nonce, τ, M)
//
// MAC(key, input) is keyed BLAKE2s with a 16-byte output.

import Basics
import Crypto
import Wire

/// MAC(key, input): keyed BLAKE2s-128.
func mac16(key: [UInt8], _ input: UnsafeRawBufferPointer) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: WireGuardConstants.macSize)
    key.withUnsafeBytes { k in out.withUnsafeMutableBytes { BLAKE2s.hash(input, outputLength: 16, key: k, into: $0) } }
    return out
}

/// HASH(label || key).
func labelledKey(_ label: String, _ key: PublicKey) -> [UInt8] { BLAKE2s.hash(Array(label.utf8) + key.bytes) }

/// The responder side: checks MACs on arriving handshake messages and answers with cookies under load.
/// Public for the mesh handshake (Sources/Mesh), whose messages end in mac1 and mac2 the same way.
public struct CookieChecker {
    let mac1Key: [UInt8]
    let cookieEncryptionKey: SecretKey
    /// R_m, the secret cookies are derived from; replaced every two minutes.
    let secret = SecretKey()
    var secretSet: Instant?

    public init(localPublicKey: PublicKey) {
        mac1Key = labelledKey(WireGuardConstants.labelMAC1, localPublicKey)
        cookieEncryptionKey = SecretKey(labelledKey(WireGuardConstants.labelCookie, localPublicKey))!
    }

    /// True when the message's mac1 (the 16 bytes before the last 16) is right.
    public func checkMAC1(_ message: UnsafeRawBufferPointer) -> Bool {
        let macEnd = message.count - 16, macStart = macEnd - 16
        let expected = mac16(key: mac1Key, message.slice(0..<macStart))
        return expected.withUnsafeBytes { Sodium.constantTimeEqual($0, message.slice(macStart..<macEnd)) }
    }

    /// τ := MAC(R_m, A_m).
    private func cookie(for source: SocketAddressV4) -> [UInt8] {
        secret.withUnsafeBytes { s in source.cookieBytes.withUnsafeBytes { a in
            var out = [UInt8](repeating: 0, count: 16)
            out.withUnsafeMutableBytes { BLAKE2s.hash(a, outputLength: 16, key: s, into: $0) }
            return out
        } }
    }

    /// True when mac2 (the last 16 bytes) is MAC(τ, msg_β) for a cookie this device could have issued.
    public func checkMAC2(_ message: UnsafeRawBufferPointer, source: SocketAddressV4, now: Instant) -> Bool {
        guard let secretSet, now - secretSet <= WireGuardConstants.cookieRefreshTime else { return false }
        let start = message.count - 16
        let expected = mac16(key: cookie(for: source), message.slice(0..<start))
        return expected.withUnsafeBytes { Sodium.constantTimeEqual($0, message.slice(start..<message.count)) }
    }

    /// A cookie reply to `message` (an initiation or response) from `source`. `fill` supplies random bytes
    /// for a new secret (every two minutes) and the nonce.
    public mutating func makeReply(to message: UnsafeRawBufferPointer, source: SocketAddressV4, now: Instant,
                            fill: (UnsafeMutableRawBufferPointer) -> Void) -> CookieReply {
        if secretSet == nil || now - secretSet! > WireGuardConstants.cookieRefreshTime {
            secret.withUnsafeMutableBytes { fill($0) }
            secretSet = now
        }
        var nonce = [UInt8](repeating: 0, count: WireGuardConstants.cookieNonceSize)
        nonce.withUnsafeMutableBytes { fill($0) }
        let tau = cookie(for: source)
        let macEnd = message.count - 16, macStart = macEnd - 16
        var encrypted = [UInt8](repeating: 0, count: 32)
        // "M is the mac1 value of the message being replied to."
        nonce.withUnsafeBytes { n in tau.withUnsafeBytes { t in encrypted.withUnsafeMutableBytes { o in
            _ = XChaCha20Poly1305.seal(key: cookieEncryptionKey, nonce: n, plaintext: t,
                                       additionalData: message.slice(macStart..<macEnd), into: o)
        } } }
        return CookieReply(receiver: message.le32(4), nonce: nonce, encryptedCookie: encrypted)
    }
}

/// The initiator side, per peer: stamps mac1/mac2 on outgoing handshake messages and stores received cookies.
public struct CookieGenerator {
    let mac1Key: [UInt8]
    let cookieEncryptionKey: SecretKey
    /// L_m, the last cookie received, and when.
    var cookie: [UInt8]? = nil
    var cookieSet: Instant? = nil
    /// The mac1 of the last handshake message sent — the additional data of a cookie reply to it.
    var lastMAC1: [UInt8]? = nil

    public init(remotePublicKey: PublicKey) {
        mac1Key = labelledKey(WireGuardConstants.labelMAC1, remotePublicKey)
        cookieEncryptionKey = SecretKey(labelledKey(WireGuardConstants.labelCookie, remotePublicKey))!
    }

    /// Writes mac1 and mac2 into the last 32 bytes of `message`.
    public mutating func addMACs(_ message: UnsafeMutableRawBufferPointer, now: Instant) {
        let macEnd = message.count - 16, macStart = macEnd - 16
        let mac1 = mac16(key: mac1Key, UnsafeRawBufferPointer(message.slice(0..<macStart)))
        for i in 0..<16 { message[macStart + i] = mac1[i] }
        lastMAC1 = mac1
        guard let cookie, let cookieSet, now - cookieSet <= WireGuardConstants.cookieRefreshTime else {
            for i in 0..<16 { message[macEnd + i] = 0 }
            return
        }
        let mac2 = mac16(key: cookie, UnsafeRawBufferPointer(message.slice(0..<macEnd)))
        for i in 0..<16 { message[macEnd + i] = mac2[i] }
    }

    /// Decrypts and stores the cookie of `reply`; false if it does not authenticate against our last mac1.
    public mutating func consume(_ reply: CookieReply, now: Instant) -> Bool {
        guard let lastMAC1 else { return false }
        var tau = [UInt8](repeating: 0, count: 16)
        let n = reply.nonce.withUnsafeBytes { nonce in reply.encryptedCookie.withUnsafeBytes { c in
            lastMAC1.withUnsafeBytes { ad in tau.withUnsafeMutableBytes { o in
                XChaCha20Poly1305.open(key: cookieEncryptionKey, nonce: nonce, ciphertext: c, additionalData: ad, into: o)
            } } } }
        guard n == 16 else { return false }
        cookie = tau
        cookieSet = now
        return true
    }
}
