// WireGuard's constants under the whitepaper's names ("WireGuard: Next Generation Kernel Network Tunnel",
// J. A. Donenfeld, revision e2da747), with the section that defines each. wireguard-go's device/constants.go
// and noise-protocol.go use the same values.

import Basics

/// Protocol constants (whitepaper §5.4 and §6.1).
public enum WireGuardConstants {
    // MARK: §5.4 — names and labels

    /// §5.4: CONSTRUCTION, the Noise protocol name.
    public static let construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
    /// §5.4: IDENTIFIER, mixed in as the Noise prologue.
    public static let identifier = "WireGuard v1 zx2c4 Jason@zx2c4.com"
    /// §5.4: LABEL-MAC1.
    public static let labelMAC1 = "mac1----"
    /// §5.4: LABEL-COOKIE.
    public static let labelCookie = "cookie--"

    // MARK: §5.4.2–§5.4.7 — message types and sizes

    /// §5.4.2: handshake initiation, type 1, 148 bytes.
    public static let messageInitiationType: UInt8 = 1
    /// §5.4.3: handshake response, type 2, 92 bytes.
    public static let messageResponseType: UInt8 = 2
    /// §5.4.7: cookie reply, type 3, 64 bytes.
    public static let messageCookieReplyType: UInt8 = 3
    /// §5.4.6: transport data, type 4.
    public static let messageTransportType: UInt8 = 4

    public static let messageInitiationSize = 148
    public static let messageResponseSize = 92
    public static let messageCookieReplySize = 64
    /// §5.4.6: type (1) + reserved (3) + receiver (4) + counter (8).
    public static let messageTransportHeaderSize = 16
    /// §5.4.6: the Poly1305 tag after the encrypted packet.
    public static let tagSize = 16
    /// A keepalive: a transport message with an empty packet (§6.5), header + tag.
    public static let messageKeepaliveSize = messageTransportHeaderSize + tagSize
    /// §5.4.6: "the packet is padded ... to a multiple of 16 bytes".
    public static let paddingMultiple = 16
    /// §5.4.4: mac1 and mac2 are 16-byte keyed BLAKE2s.
    public static let macSize = 16
    /// §5.4.7: the cookie reply's random nonce (XChaCha20-Poly1305).
    public static let cookieNonceSize = 24

    // MARK: §6.1 — timers and limits

    /// §6.1 Rekey-After-Messages: 2^60 messages.
    public static let rekeyAfterMessages: UInt64 = 1 << 60
    /// §6.1 Reject-After-Messages: 2^64 − 2^13 − 1 messages.
    public static let rejectAfterMessages: UInt64 = UInt64.max - (1 << 13)
    /// §6.1 Rekey-After-Time: 120 seconds.
    public static let rekeyAfterTime: Duration = .seconds(120)
    /// §6.1 Reject-After-Time: 180 seconds.
    public static let rejectAfterTime: Duration = .seconds(180)
    /// §6.1 Rekey-Attempt-Time: 90 seconds.
    public static let rekeyAttemptTime: Duration = .seconds(90)
    /// §6.1 Rekey-Timeout: 5 seconds.
    public static let rekeyTimeout: Duration = .seconds(5)
    /// §6.1 Keepalive-Timeout: 10 seconds.
    public static let keepaliveTimeout: Duration = .seconds(10)
    /// §6.4: "a random amount of jitter ... up to 333 milliseconds" added to Rekey-Timeout (wireguard-go: 0…333).
    public static let rekeyTimeoutJitterMaxMilliseconds: UInt64 = 334
    /// §6.4: retransmissions stop after Rekey-Attempt-Time, i.e. 90 / 5 = 18 attempts.
    public static let maxTimerHandshakes = 18
    /// §5.4.7: the cookie secret Rm "changes every two minutes"; a cookie is valid as long.
    public static let cookieRefreshTime: Duration = .seconds(120)
    /// §6.3 / §6.4: keys are zeroed after 3 × Reject-After-Time with no new session.
    public static let zeroKeyMaterialAfter: Duration = .seconds(540)

    // MARK: implementation constants (wireguard-go)

    /// wireguard-go HandshakeInitationRate: at most one initiation per peer consumed every 20 ms.
    public static let handshakeInitiationRate: Duration = .milliseconds(20)
    /// wireguard-go UnderLoadAfterTime: how long the device stays "under load" once it was.
    public static let underLoadAfterTime: Duration = .seconds(1)
    /// wireguard-go QueueStagedSize: packets held per peer while a handshake is under way.
    public static let queueStagedSize = 128
}
