// The join exchange's wire forms, numbers and drop reasons (docs/mesh.md, "Joining"). A node without a certificate
// joins through an admission node with a Noise IKpsk2 handshake whose psk is an invite secret:
//
//   join initiation (type 0x13, 1024 bytes) — the mesh initiation's layout (HandshakePayload.swift) with payload
//       TAI64N(12) | invite id(16) | proof(32) | name length(1) name | zero padding to 888
//     proof = keyed BLAKE2s-256(key: invite secret, "sluice mesh join proof" | joiner static | joiner ephemeral):
//     the admission node checks the secret before it answers (IKpsk2 alone mixes the psk only into message 2)
//   join response (type 0x14, 1024 bytes) — the mesh response's layout, payload all zeros
//
// then WireGuard transport messages (type 4) on the join session, plaintext kinds:
//
//   0x91 poll        joiner → admission: kind, 0, 0, 0 (every second until answered with a certificate)
//   0x92 status      admission → joiner: kind, status (1 waiting for approval, 2 refused), 0, 0
//   0x93 certificate admission → joiner: kind, 0, count(1…2), 0, { length(2) certificate } × count, length(2) root

import Basics
import Crypto

/// The join's numbers.
public enum MeshJoinConstants {
    public static let initiationType: UInt32 = 0x13
    public static let responseType: UInt32 = 0x14
    public static let pollKind: UInt8 = 0x91
    public static let statusKind: UInt8 = 0x92
    public static let certificateKind: UInt8 = 0x93
    public static let statusWaiting: UInt8 = 1
    public static let statusRefused: UInt8 = 2
    /// The join handshake's prologue: a join can never be taken for a member handshake, nor the reverse.
    public static let prologue = Array("sluice mesh join v1".utf8)
    static let proofLabel = Array("sluice mesh join proof".utf8)
    public static let proofLength = 32
    /// Join sessions an admission node keeps at once (waiting for proof or approval); more are refused.
    public static let maxJoins = 64
    /// A join whose secret was shown but which never proved it over the session is forgotten after this long.
    public static let unconfirmedTimeout: Duration = .seconds(30)
    /// The joiner polls this often, and sends a new initiation when no response came for `retryAfter`.
    public static let pollInterval: Duration = .seconds(1)
    public static let retryAfter: Duration = .seconds(5)
    /// The joiner starts a fresh join handshake (same invite, same key) when its session is this old: approval can
    /// take longer than one WireGuard session lives.
    public static let sessionRenewAfter: Duration = .seconds(120)
}

/// Why a join message was dropped. Raw values index the counters: append, never renumber.
public enum MeshJoinDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    case badSize
    case unknownMessageType
    /// mac1 does not verify: dropped before any Diffie–Hellman.
    case badMAC1
    /// Under load without a fresh cookie: answered with a 64-byte cookie reply.
    case cookieRequired
    case handshakeRateLimited
    /// The Noise message does not authenticate.
    case handshakeDecryptFailed
    case payloadMalformed
    /// No invite with that id.
    case unknownInvite
    case expiredInvite
    /// The invite was already used by another key.
    case usedInvite
    /// The proof of the invite secret does not verify (a wrong secret): no state, no reply.
    case badInviteProof
    /// The requested name is not the one the invite gives.
    case nameMismatch
    /// A join initiation not newer than the last from that key (a replay).
    case staleTimestamp
    /// A second join initiation from the same key within 20 ms.
    case handshakeFlood
    /// The table of join sessions is full.
    case tooManyJoins
    case unknownIndex
    case decryptFailed
    case replayedCounter
    case expiredSession
    /// A plaintext on a join session that is not a poll (or, at the joiner, not a status or certificate).
    case unknownPlaintext
    /// At the joiner: the certificate sent back does not validate under the token's root, or is not for its key.
    case certificateRejected
    /// At the joiner: a cookie reply that does not open.
    case badCookieReply

    public var description: String {
        switch self {
        case .badSize: "bad size"
        case .unknownMessageType: "unknown message type"
        case .badMAC1: "bad mac1"
        case .cookieRequired: "cookie required (under load)"
        case .handshakeRateLimited: "handshake rate limited"
        case .handshakeDecryptFailed: "join handshake did not authenticate"
        case .payloadMalformed: "malformed join payload"
        case .unknownInvite: "unknown invite"
        case .expiredInvite: "expired invite"
        case .usedInvite: "invite already used"
        case .badInviteProof: "wrong invite secret"
        case .nameMismatch: "requested name is not the invite's"
        case .staleTimestamp: "stale timestamp (replayed join)"
        case .handshakeFlood: "join flood"
        case .tooManyJoins: "too many joins in progress"
        case .unknownIndex: "unknown receiver index"
        case .decryptFailed: "transport did not authenticate"
        case .replayedCounter: "replayed or out-of-window counter"
        case .expiredSession: "expired join session"
        case .unknownPlaintext: "unknown plaintext kind"
        case .certificateRejected: "certificate rejected"
        case .badCookieReply: "bad cookie reply"
        }
    }
}

/// Counted drops and events of one side of the join.
public struct MeshJoinCounters: Sendable, Equatable {
    public internal(set) var drops = ReasonCounts<MeshJoinDropReason>()
    /// Join initiations whose Noise message was opened (Diffie–Hellman done): what a mac1 flood must not raise.
    public internal(set) var initiationsOpened: UInt64 = 0
    public internal(set) var responsesSent: UInt64 = 0
    public internal(set) var cookieRepliesSent: UInt64 = 0
    public internal(set) var invitesConsumed: UInt64 = 0
    public internal(set) var approved: UInt64 = 0
    public internal(set) var refused: UInt64 = 0
    public internal(set) var certificatesSent: UInt64 = 0

    mutating func count(_ r: MeshJoinDropReason) { drops.count(r) }
}

/// The join initiation's payload.
struct JoinPayload: Equatable {
    var timestamp: TAI64N
    var inviteID: [UInt8]
    var proof: [UInt8]
    var name: String

    static func proof(secret: SecretKey, joiner: PublicKey, ephemeral: PublicKey) -> [UInt8] {
        secret.withUnsafeBytes { key in
            BLAKE2s.hash(MeshJoinConstants.proofLabel + joiner.bytes + ephemeral.bytes,
                         outputLength: MeshJoinConstants.proofLength, key: Array(key))
        }
    }

    func encode() -> [UInt8]? {
        guard name.utf8.count <= CertificateFields.maxNameLength else { return nil }
        var w = ByteWriter()
        w.append(timestamp.bytes)
        w.append(inviteID)
        w.append(proof)
        w.u8(UInt8(name.utf8.count)); w.append(Array(name.utf8))
        let length = MeshMessageLayout.initiationPayloadLength
        return w.bytes + [UInt8](repeating: 0, count: length - w.bytes.count)
    }

    static func decode(_ bytes: [UInt8]) -> JoinPayload? {
        var r = ByteReader(bytes)
        guard let t = try? r.take(TAI64N.length), let timestamp = t.withUnsafeBytes({ TAI64N(bytes: $0) }),
              let id = try? r.take(MeshInvite.idLength), let proof = try? r.take(MeshJoinConstants.proofLength),
              let n = try? r.u8(), let nameBytes = try? r.take(Int(n)), let rest = try? r.take(r.remaining),
              rest.allSatisfy({ $0 == 0 }) else { return nil }
        let name = String(decoding: nameBytes, as: UTF8.self)
        // Empty (take the invite's) or a valid certificate name; the bytes must round-trip (valid UTF-8).
        guard Array(name.utf8) == nameBytes, name.isEmpty || CertificateFields.isName(name) else { return nil }
        return JoinPayload(timestamp: timestamp, inviteID: id, proof: proof, name: name)
    }
}

/// The certificate message (kind 0x93): the node's chain and the root.
struct JoinCertificateMessage: Equatable {
    var chain: [Certificate]
    var root: Certificate

    func encode() -> [UInt8] {
        var w = ByteWriter()
        w.append([MeshJoinConstants.certificateKind, 0, UInt8(chain.count), 0])
        for c in chain + [root] { w.u16(UInt16(c.encoded.count)); w.append(c.encoded) }
        return w.bytes
    }

    /// Parses the plaintext (trailing zero padding allowed); nil when malformed.
    static func decode(_ bytes: ArraySlice<UInt8>) -> JoinCertificateMessage? {
        var r = ByteReader(Array(bytes))
        guard (try? r.u8()) == MeshJoinConstants.certificateKind, (try? r.u8()) == 0, let count = try? r.u8(),
              count >= 1, Int(count) <= MeshConstants.maxChainLength, (try? r.u8()) == 0 else { return nil }
        var certs: [Certificate] = []
        for _ in 0...Int(count) {
            guard let n = try? r.u16(), let b = try? r.take(Int(n)), let c = try? Certificate(parsing: b) else { return nil }
            certs.append(c)
        }
        guard let rest = try? r.take(r.remaining), rest.allSatisfy({ $0 == 0 }) else { return nil }
        return JoinCertificateMessage(chain: Array(certs.dropLast()), root: certs[certs.count - 1])
    }
}
