// Noise rev 34 §5.3: the HandshakeState object — runs a handshake pattern, message by message.

import Crypto

/// A Noise handshake in progress (one side of it). A final class: it owns secrets and has one owner.
public final class HandshakeState {
    /// The full protocol name, e.g. "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".
    public let protocolName: String
    public let pattern: HandshakePattern
    /// True for the party that sends the first message.
    public let isInitiator: Bool

    var symmetric: SymmetricState
    /// s, e (local key pairs) and rs, re (remote public keys).
    var s: KeyPair?
    var e: KeyPair?
    public private(set) var remoteStatic: PublicKey?
    public private(set) var remoteEphemeral: PublicKey?
    var psks: [SecretKey]
    var messageIndex = 0
    /// Chooses an ephemeral key pair when the "e" token finds none preset.
    let generateEphemeral: (() -> KeyPair)?

    /// "Initialize(handshake_pattern, initiator, prologue, s, e, rs, re)". `protocolName` must be
    /// `Noise_<pattern>_25519_ChaChaPoly_BLAKE2s`. A preset `localEphemeral` is used by the first "e" token
    /// (for test vectors); otherwise `generateEphemeral` is called — the caller chooses where ephemeral keys come
    /// from (a handshake that needs one and has neither fails with `missingKey("e")`).
    public init(protocolName: String, initiator: Bool, prologue: [UInt8] = [],
                localStatic: KeyPair? = nil, localEphemeral: KeyPair? = nil,
                remoteStatic: PublicKey? = nil, remoteEphemeral: PublicKey? = nil,
                presharedKeys: [SecretKey] = [],
                generateEphemeral: (() -> KeyPair)? = nil) throws(NoiseError) {
        let parts = protocolName.split(separator: "_", maxSplits: 2)
        guard parts.count == 3, parts[0] == "Noise", parts[2] == NoiseSuite.name,
              let pattern = HandshakePattern.named(String(parts[1])) else {
            throw .unsupportedProtocol(protocolName)
        }
        guard presharedKeys.count == pattern.pskCount else { throw .missingKey("psk") }
        self.protocolName = protocolName
        self.pattern = pattern
        self.isInitiator = initiator
        self.s = localStatic
        self.e = localEphemeral
        self.remoteStatic = remoteStatic
        self.remoteEphemeral = remoteEphemeral
        self.psks = presharedKeys
        self.generateEphemeral = generateEphemeral
        symmetric = SymmetricState(protocolName: protocolName)
        // "Calls MixHash(prologue)."
        symmetric.mixHash(prologue)
        // "Calls MixHash() once for each public key listed in the pre-messages from handshake_pattern, with
        // the specified public key as input ... If both initiator and responder have pre-messages, the
        // initiator's public keys are hashed first."
        try mixPreMessage(pattern.initiatorPreMessage, ours: initiator)
        try mixPreMessage(pattern.responderPreMessage, ours: !initiator)
    }

    private func mixPreMessage(_ tokens: [HandshakePattern.Token], ours: Bool) throws(NoiseError) {
        for token in tokens {
            let key: PublicKey?
            switch token {
            case .s: key = ours ? s?.publicKey : remoteStatic
            case .e: key = ours ? e?.publicKey : remoteEphemeral
            default: key = nil
            }
            guard let key else { throw .missingKey("pre-message \(token)") }
            symmetric.mixHash(key.bytes)
            // §9.2: "In a PSK handshake, all of these calls are followed by MixKey(e.public_key)."
            if token == .e, pattern.isPSK { key.withUnsafeBytes { symmetric.mixKey($0) } }
        }
    }

    /// True once every message pattern has been processed.
    public var isFinished: Bool { messageIndex >= pattern.messages.count }

    /// True when it is this party's turn to write the next handshake message.
    public var isMyTurn: Bool { !isFinished && (messageIndex % 2 == 0) == isInitiator }

    /// h — the handshake hash, for channel binding (§11.2).
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// "WriteMessage(payload, message_buffer)": the next handshake message carrying `payload`.
    public func writeMessage(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        guard isMyTurn else { throw .outOfTurn }
        var out: [UInt8] = []
        for token in pattern.messages[messageIndex] {
            switch token {
            case .e:
                // "Sets e (which must be empty) to GENERATE_KEYPAIR(). Appends e.public_key to the buffer.
                // Calls MixHash(e.public_key)."
                guard let pair = e ?? generateEphemeral?() else { throw .missingKey("e") }
                e = pair
                out += pair.publicKey.bytes
                symmetric.mixHash(pair.publicKey.bytes)
                if pattern.isPSK { pair.publicKey.withUnsafeBytes { symmetric.mixKey($0) } }
            case .s:
                // "Appends EncryptAndHash(s.public_key) to the buffer."
                guard let s else { throw .missingKey("s") }
                out += try symmetric.encryptAndHash(s.publicKey.bytes)
            case .ee, .es, .se, .ss:
                try mixDH(token)
            case .psk:
                try mixPSK()
            }
        }
        // "Appends EncryptAndHash(payload) to the buffer."
        out += try symmetric.encryptAndHash(payload)
        guard out.count <= NoiseSuite.maxMessageLength else { throw .tooLong }
        messageIndex += 1
        return out
    }

    /// "ReadMessage(message, payload_buffer)": processes the next handshake message; returns its payload.
    public func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !isFinished, !isMyTurn else { throw .outOfTurn }
        guard message.count <= NoiseSuite.maxMessageLength else { throw .tooLong }
        var offset = 0
        func take(_ n: Int) throws(NoiseError) -> [UInt8] {
            guard message.count - offset >= n else { throw .truncated }
            defer { offset += n }
            return Array(message[offset..<offset + n])
        }
        for token in pattern.messages[messageIndex] {
            switch token {
            case .e:
                // "Sets re (which must be empty) to the next DHLEN bytes from the message. Calls MixHash(re.public_key)."
                guard remoteEphemeral == nil else { throw .missingKey("re twice") }
                let re = PublicKey(try take(NoiseSuite.dhLength))!
                remoteEphemeral = re
                symmetric.mixHash(re.bytes)
                if pattern.isPSK { re.withUnsafeBytes { symmetric.mixKey($0) } }
            case .s:
                // "Sets temp to the next DHLEN + 16 bytes of the message if HasKey() == True, or to the next
                // DHLEN bytes otherwise. Sets rs (which must be empty) to DecryptAndHash(temp)."
                guard remoteStatic == nil else { throw .missingKey("rs twice") }
                let n = NoiseSuite.dhLength + (symmetric.cipher.hasKey ? NoiseSuite.tagLength : 0)
                remoteStatic = PublicKey(try symmetric.decryptAndHash(try take(n)))!
            case .ee, .es, .se, .ss:
                try mixDH(token)
            case .psk:
                try mixPSK()
            }
        }
        // "Calls DecryptAndHash() on the remaining bytes of the message and stores the output into payload_buffer."
        let payload = try symmetric.decryptAndHash(Array(message[offset...]))
        messageIndex += 1
        return payload
    }

    /// "ee", "es", "se", "ss": MixKey(DH(…)) with the roles the token names (initiator's key first).
    private func mixDH(_ token: HandshakePattern.Token) throws(NoiseError) {
        let local: KeyPair?, remote: PublicKey?
        switch (token, isInitiator) {
        case (.ee, _): (local, remote) = (e, remoteEphemeral)
        case (.ss, _): (local, remote) = (s, remoteStatic)
        // "es": "Calls MixKey(DH(e, rs)) if initiator, MixKey(DH(s, re)) if responder."
        case (.es, true): (local, remote) = (e, remoteStatic)
        case (.es, false): (local, remote) = (s, remoteEphemeral)
        // "se": "Calls MixKey(DH(s, re)) if initiator, MixKey(DH(e, rs)) if responder."
        case (.se, true): (local, remote) = (s, remoteEphemeral)
        default: (local, remote) = (e, remoteStatic)
        }
        guard let local, let remote else { throw .missingKey("\(token)") }
        guard let shared = X25519.sharedSecret(privateKey: local.privateKey, publicKey: remote) else {
            throw .invalidPublicKey
        }
        symmetric.mixKey(shared)
    }

    /// Replaces the pre-shared keys not yet mixed in (the count must match): a responder may choose its key after
    /// reading message 1 — from the initiator's static key or payload — when the pattern mixes it later (IKpsk2).
    public func setPresharedKeys(_ keys: [SecretKey]) throws(NoiseError) {
        guard keys.count == psks.count else { throw .missingKey("psk") }
        psks = keys.map { $0.copy() }
    }

    /// "psk": "Calls MixKeyAndHash(psk)" with the next pre-shared key.
    private func mixPSK() throws(NoiseError) {
        guard !psks.isEmpty else { throw .missingKey("psk") }
        symmetric.mixKeyAndHash(psks.removeFirst())
    }

    /// After the last message: "Split()" — (initiator→responder, responder→initiator) cipher states.
    public func split() throws(NoiseError) -> (initiatorToResponder: CipherState, responderToInitiator: CipherState) {
        guard isFinished else { throw .outOfTurn }
        let (c1, c2) = symmetric.split()
        return (c1, c2)
    }
}
