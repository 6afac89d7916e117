// Whitepaper §5.4.2–§5.4.5: the handshake, Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s written out for WireGuard's
// fixed messages (as wireguard-go's noise-protocol.go does). Tests check it byte for byte against the generic
// Noise `HandshakeState` with the same keys, prologue IDENTIFIER and payloads.

import Basics
import Crypto

/// One peer's handshake state (wireguard-go's `Handshake`).
final class Handshake {
    enum State: Equatable { case zeroed, initiationCreated, initiationConsumed, responseCreated, responseConsumed }

    var state = State.zeroed
    /// H — the running transcript hash.
    var hash = PublicKey.zero
    /// C — the chaining key.
    let chainKey = SecretKey()
    var localEphemeral: KeyPair?
    var remoteEphemeral = PublicKey.zero
    var localIndex: UInt32 = 0
    var remoteIndex: UInt32 = 0
    let remoteStatic: PublicKey
    /// Q — the optional pre-shared key (zero when none, §5.2).
    let presharedKey: SecretKey
    /// DH(S_priv, S_pub^peer), computed once; nil when it is all zero (the peer's key is unusable).
    let precomputedStaticStatic: SecretKey?
    /// The greatest TAI64N accepted from this peer (replay protection, §5.1).
    var lastTimestamp: TAI64N?
    var lastInitiationConsumption: Instant?
    var lastSentHandshake: Instant?

    init(localStatic: KeyPair, remoteStatic: PublicKey, presharedKey: SecretKey?) {
        self.remoteStatic = remoteStatic
        self.presharedKey = presharedKey?.copy() ?? SecretKey()
        precomputedStaticStatic = X25519.sharedSecret(privateKey: localStatic.privateKey, publicKey: remoteStatic)
    }

    /// Forgets the session in progress (keys wiped; the replay timestamp is kept).
    func clear() {
        state = .zeroed
        hash = .zero
        chainKey.wipe()
        localEphemeral = nil
        remoteEphemeral = .zero
        localIndex = 0
    }
}

/// The initiator's fields recovered from a handshake initiation before its peer is known.
struct OpenedInitiation {
    let initiatorStatic: PublicKey
    let hash: PublicKey
    let chainKey: SecretKey
    let ephemeral: PublicKey
    let sender: UInt32
    let encryptedTimestamp: [UInt8]
}

/// The IKpsk2 handshake over WireGuard's message structs.
enum NoiseIK {
    /// C_i := HASH(CONSTRUCTION).
    static let initialChainKey: [UInt8] = BLAKE2s.hash(Array(WireGuardConstants.construction.utf8))
    /// H_i := HASH(C_i || IDENTIFIER).
    static let initialHash: PublicKey = PublicKey(BLAKE2s.hash(initialChainKey + Array(WireGuardConstants.identifier.utf8)))!

    /// HASH(h || data).
    static func mixHash(_ h: PublicKey, _ data: [UInt8]) -> PublicKey {
        var state = BLAKE2s()
        h.withUnsafeBytes { state.update($0) }
        state.update(data)
        return PublicKey(state.finalize())!
    }

    /// C := KDF1(C, data), in place.
    static func mixKey(_ ck: SecretKey, _ data: [UInt8]) {
        data.withUnsafeBytes { HKDF.kdf1(key: ck, input: $0, ck) }
    }

    /// (C, κ) := KDF2(C, DH(priv, pub)); false when the DH result is zero.
    static func mixDH(_ ck: SecretKey, _ priv: SecretKey, _ pub: PublicKey, key: SecretKey?) -> Bool {
        guard let shared = X25519.sharedSecret(privateKey: priv, publicKey: pub) else { return false }
        shared.withUnsafeBytes { s in
            if let key { HKDF.kdf2(key: ck, input: s, ck, key) } else { HKDF.kdf1(key: ck, input: s, ck) }
        }
        return true
    }

    /// AEAD(κ, 0, plaintext, h).
    static func seal(_ key: SecretKey, _ plaintext: [UInt8], _ h: PublicKey) -> [UInt8] {
        var out = plaintext + [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBytes { o in
            h.withUnsafeBytes { ad in
                _ = ChaCha20Poly1305.seal(key: key, counter: 0, buffer: o, plaintextCount: plaintext.count, additionalData: ad)
            }
        }
        return out
    }

    /// AEAD-open(κ, 0, ciphertext, h); nil when it does not authenticate.
    static func open(_ key: SecretKey, _ ciphertext: [UInt8], _ h: PublicKey) -> [UInt8]? {
        var out = ciphertext
        let n = out.withUnsafeMutableBytes { o in
            h.withUnsafeBytes { ad in
                ChaCha20Poly1305.open(key: key, counter: 0, buffer: o, ciphertextCount: ciphertext.count, additionalData: ad)
            }
        }
        return n.map { Array(out.prefix($0)) }
    }

    // MARK: §5.4.2 First message: initiator to responder

    /// Builds the initiation (without MACs) and leaves the handshake in `initiationCreated`.
    static func createInitiation(_ hs: Handshake, localStatic: KeyPair, ephemeral: KeyPair, timestamp: TAI64N,
                                 sender: UInt32) -> HandshakeInitiation? {
        guard let ss = hs.precomputedStaticStatic else { return nil }
        // C_i := HASH(CONSTRUCTION); H_i := HASH(C_i || IDENTIFIER); H_i := HASH(H_i || S_r^pub)
        hs.chainKey.withUnsafeMutableBytes { $0.copyBytes(from: initialChainKey) }
        var h = mixHash(initialHash, hs.remoteStatic.bytes)
        // (E_i^priv, E_i^pub) := DH-GENERATE(); C_i := KDF1(C_i, E_i^pub); msg.ephemeral := E_i^pub;
        // H_i := HASH(H_i || msg.ephemeral)
        mixKey(hs.chainKey, ephemeral.publicKey.bytes)
        h = mixHash(h, ephemeral.publicKey.bytes)
        // (C_i, κ) := KDF2(C_i, DH(E_i^priv, S_r^pub)); msg.static := AEAD(κ, 0, S_i^pub, H_i); H_i := HASH(H_i || msg.static)
        let key = SecretKey()
        guard mixDH(hs.chainKey, ephemeral.privateKey, hs.remoteStatic, key: key) else { return nil }
        let encryptedStatic = seal(key, localStatic.publicKey.bytes, h)
        h = mixHash(h, encryptedStatic)
        // (C_i, κ) := KDF2(C_i, DH(S_i^priv, S_r^pub)); msg.timestamp := AEAD(κ, 0, TAI64N(), H_i);
        // H_i := HASH(H_i || msg.timestamp)
        ss.withUnsafeBytes { HKDF.kdf2(key: hs.chainKey, input: $0, hs.chainKey, key) }
        let encryptedTimestamp = seal(key, timestamp.bytes, h)
        h = mixHash(h, encryptedTimestamp)
        hs.hash = h
        hs.localEphemeral = ephemeral
        hs.localIndex = sender
        hs.state = .initiationCreated
        return HandshakeInitiation(sender: sender, ephemeral: ephemeral.publicKey,
                                   encryptedStatic: encryptedStatic, encryptedTimestamp: encryptedTimestamp)
    }

    /// The responder's first half: recovers the initiator's static key. Nil when `msg.static` does not open.
    static func openInitiation(_ msg: HandshakeInitiation, localStatic: KeyPair) -> OpenedInitiation? {
        var h = mixHash(initialHash, localStatic.publicKey.bytes)
        h = mixHash(h, msg.ephemeral.bytes)
        let ck = SecretKey(initialChainKey)!
        mixKey(ck, msg.ephemeral.bytes)
        let key = SecretKey()
        guard mixDH(ck, localStatic.privateKey, msg.ephemeral, key: key),
              let initiatorStatic = open(key, msg.encryptedStatic, h).flatMap(PublicKey.init) else { return nil }
        h = mixHash(h, msg.encryptedStatic)
        return OpenedInitiation(initiatorStatic: initiatorStatic, hash: h, chainKey: ck, ephemeral: msg.ephemeral,
                                sender: msg.sender, encryptedTimestamp: msg.encryptedTimestamp)
    }

    /// The responder's second half, with the peer found: opens the timestamp. Returns it with the new (H, C),
    /// without touching `hs` — the caller commits only after its replay and flood checks.
    static func finishInitiation(_ opened: OpenedInitiation, _ hs: Handshake) -> (TAI64N, PublicKey, SecretKey)? {
        guard let ss = hs.precomputedStaticStatic else { return nil }
        let ck = opened.chainKey, key = SecretKey()
        ss.withUnsafeBytes { HKDF.kdf2(key: ck, input: $0, ck, key) }
        guard let plain = open(key, opened.encryptedTimestamp, opened.hash),
              let timestamp = plain.withUnsafeBytes({ TAI64N(bytes: $0) }) else { return nil }
        return (timestamp, mixHash(opened.hash, opened.encryptedTimestamp), ck)
    }

    // MARK: §5.4.3 Second message: responder to initiator

    /// Builds the response (without MACs) from a consumed initiation; the handshake becomes `responseCreated`.
    static func createResponse(_ hs: Handshake, ephemeral: KeyPair, sender: UInt32) -> HandshakeResponse? {
        guard hs.state == .initiationConsumed else { return nil }
        // (E_r^priv, E_r^pub) := DH-GENERATE(); C_r := KDF1(C_r, E_r^pub); msg.ephemeral := E_r^pub;
        // H_r := HASH(H_r || msg.ephemeral)
        var h = mixHash(hs.hash, ephemeral.publicKey.bytes)
        mixKey(hs.chainKey, ephemeral.publicKey.bytes)
        // C_r := KDF1(C_r, DH(E_r^priv, E_i^pub)); C_r := KDF1(C_r, DH(E_r^priv, S_i^pub))
        guard mixDH(hs.chainKey, ephemeral.privateKey, hs.remoteEphemeral, key: nil),
              mixDH(hs.chainKey, ephemeral.privateKey, hs.remoteStatic, key: nil) else { return nil }
        // (C_r, τ, κ) := KDF3(C_r, Q); H_r := HASH(H_r || τ); msg.empty := AEAD(κ, 0, ε, H_r); H_r := HASH(H_r || msg.empty)
        let tau = SecretKey(), key = SecretKey()
        hs.presharedKey.withUnsafeBytes { HKDF.kdf3(key: hs.chainKey, input: $0, hs.chainKey, tau, key) }
        h = mixHash(h, tau.withUnsafeBytes { Array($0) })
        let empty = seal(key, [], h)
        h = mixHash(h, empty)
        hs.hash = h
        hs.localEphemeral = ephemeral
        hs.localIndex = sender
        hs.state = .responseCreated
        return HandshakeResponse(sender: sender, receiver: hs.remoteIndex, ephemeral: ephemeral.publicKey,
                                 encryptedNothing: empty)
    }

    /// The initiator consumes the response; on success the handshake becomes `responseConsumed`.
    static func consumeResponse(_ msg: HandshakeResponse, _ hs: Handshake, localStatic: KeyPair) -> Bool {
        guard hs.state == .initiationCreated, let ephemeral = hs.localEphemeral else { return false }
        var h = mixHash(hs.hash, msg.ephemeral.bytes)
        let ck = hs.chainKey.copy()
        mixKey(ck, msg.ephemeral.bytes)
        guard mixDH(ck, ephemeral.privateKey, msg.ephemeral, key: nil),
              mixDH(ck, localStatic.privateKey, msg.ephemeral, key: nil) else { return false }
        let tau = SecretKey(), key = SecretKey()
        hs.presharedKey.withUnsafeBytes { HKDF.kdf3(key: ck, input: $0, ck, tau, key) }
        h = mixHash(h, tau.withUnsafeBytes { Array($0) })
        guard open(key, msg.encryptedNothing, h) != nil else { return false }
        h = mixHash(h, msg.encryptedNothing)
        hs.hash = h
        hs.chainKey.assign(ck)
        hs.remoteIndex = msg.sender
        hs.state = .responseConsumed
        return true
    }

    // MARK: §5.4.5 Transport data key derivation

    /// (T^send, T^recv) := KDF2(C, ε), swapped for the responder. Wipes the handshake. Nil in other states.
    static func deriveTransportKeys(_ hs: Handshake) -> (send: SecretKey, receive: SecretKey, isInitiator: Bool)? {
        let first = SecretKey(), second = SecretKey()
        let isInitiator: Bool
        switch hs.state {
        case .responseConsumed: isInitiator = true
        case .responseCreated: isInitiator = false
        default: return nil
        }
        HKDF.kdf2(key: hs.chainKey, input: UnsafeRawBufferPointer(start: nil, count: 0), first, second)
        // "ε_i = ε_r = C_i = C_r := ε" — the handshake's secrets are erased.
        hs.chainKey.wipe()
        hs.hash = .zero
        hs.localEphemeral = nil
        hs.state = .zeroed
        return isInitiator ? (first, second, true) : (second, first, false)
    }
}
