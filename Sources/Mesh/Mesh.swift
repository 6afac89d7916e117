// Room: Mesh — layer 3. The mesh's identity and session handshake (docs/mesh.md): Ed25519 certificates from an
// offline root through optional organization CAs to nodes, revocation lists, and a Noise IKpsk2 handshake with the
// certificate chain inside its encrypted payloads, whose keys become a WireGuard transport session. Sans-IO: bytes,
// `now` and a wall-clock value in; bytes, sessions and counted drops out. No clock, no socket, no system randomness.

import Basics

/// The mesh's fixed numbers, in one place (docs/mesh.md lists them).
public enum MeshConstants {
    // MARK: message types (the first four bytes, little-endian, as WireGuard's)

    /// Mesh handshake initiation. WireGuard's 1–4 stay valid on the same port; the mesh's are 0x11–0x12.
    public static let initiationType: UInt32 = 0x11
    /// Mesh handshake response.
    public static let responseType: UInt32 = 0x12
    /// Noise XX for a peer whose static key is unknown (MeshHandshakerXX.swift): message 1, 2 and 3.
    public static let xxInitiationType: UInt32 = 0x15
    public static let xxResponseType: UInt32 = 0x16
    public static let xxConfirmationType: UInt32 = 0x17
    /// Cookie replies and transport data reuse WireGuard's types 3 and 4 and formats unchanged: both are addressed
    /// by a receiver index, and indices are unique per port across WireGuard and mesh sessions.
    public static let cookieReplyType: UInt32 = 3
    public static let transportType: UInt32 = 4

    // MARK: message sizes

    /// Every initiation is padded to this size, so the response (never larger) cannot amplify. 1024 bytes keep a
    /// relayed initiation (two transport headers more) under IPv6's minimum MTU of 1280.
    public static let initiationSize = 1024
    /// The response: the same size as the initiation, never larger.
    public static let responseSize = 1024
    /// An encoded certificate, signature included, is at most this long, so a chain of two always fits a payload.
    public static let maxCertificateSize = 400
    /// A chain carries the node's certificate and at most one organization CA's.
    public static let maxChainLength = 2

    // MARK: Noise

    /// The handshake pattern: IKpsk2 (the psk is all zeros for a member handshake, an invite secret for a join).
    public static let protocolName = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
    /// Mixed in as the Noise prologue: a mesh handshake can never be mistaken for WireGuard's.
    public static let prologue = Array("sluice mesh v1".utf8)

    // MARK: time

    /// Clock skew allowed when checking validity periods: ±60 s.
    public static let allowedSkewSeconds: Int64 = 60
    /// Expiry is warned this far ahead (or a third of the certificate's lifetime, when that is shorter).
    public static let expiryWarningSeconds: Int64 = 30 * 86_400
    /// wireguard-go's flood guard: one initiation per peer consumed every 20 ms.
    public static let initiationRate: Duration = .milliseconds(20)
    /// Handshake messages (with a good mac1) per second above which the responder asks for cookies.
    public static let underLoadThreshold = 64
    /// How long the responder stays under load once it was (wireguard-go UnderLoadAfterTime).
    public static let underLoadAfter: Duration = .seconds(1)
}
