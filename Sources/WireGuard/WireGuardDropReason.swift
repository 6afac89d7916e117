// Why the device dropped a datagram or packet — each reason counted separately.

import Basics

/// A reason a datagram (from the network) or packet (from the tunnel) was not passed on.
public enum WireGuardDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Shorter than four bytes, or a type byte/reserved bytes WireGuard does not define.
    case unknownMessageType
    /// A handshake message not of its exact size, or a transport message under 32 bytes.
    case badSize
    /// §5.4.4: mac1 does not verify (wrong responder key, or garbage).
    case badMAC1
    /// §5.4.7: under load and mac2 missing or stale; answered with a cookie reply.
    case cookieRequired
    /// A cookie reply that does not decrypt against our last mac1.
    case badCookieReply
    /// An initiation or response whose AEAD fields do not open (wrong keys or pre-shared key).
    case handshakeDecryptFailed
    /// An initiation from a static key that is not a configured peer.
    case unknownPeer
    /// §5.1: an initiation whose TAI64N is not newer than the last one accepted from that peer.
    case staleHandshake
    /// An initiation less than 20 ms after the previous one from the same peer (wireguard-go's flood guard).
    case handshakeFlood
    /// A response for which no initiation is outstanding.
    case unexpectedResponse
    /// A receiver index this device did not hand out (or has since retired).
    case unknownIndex
    /// §6.2: a transport message for a session older than Reject-After-Time.
    case expiredKeypair
    /// A transport message whose authentication tag does not verify.
    case decryptFailed
    /// §5.4.6: a counter already seen, behind the window, or past Reject-After-Messages.
    case replayedCounter
    /// A decrypted packet whose source is not in the sending peer's allowed IPs.
    case disallowedSource
    /// A decrypted or outgoing packet that is not a well-formed IPv4 packet.
    case invalidPacket
    /// An outgoing packet whose destination no peer's allowed IPs cover.
    case noRoute
    /// A datagram for a peer whose endpoint is unknown.
    case noEndpoint
    /// The caller's buffer cannot hold header, padding and tag.
    case noSpace
    /// The staged queue was full; its oldest packet was dropped.
    case stagedQueueFull
    /// Staged packets discarded after the handshake failed for Rekey-Attempt-Time, or keys were zeroed.
    case handshakeTimedOut
    /// Under load, a source over its handshake rate (20 a second, burst 5): dropped before any
    /// Diffie-Hellman although its mac2 was valid (wireguard-go's ratelimiter).
    case handshakeRateLimited
    /// A handshake to send or answer while the interface has no private key (a UAPI device before
    /// `private_key=` is set, as wireguard-go's zero key).
    case noPrivateKey

    public var description: String {
        switch self {
        case .unknownMessageType: "unknown message type"
        case .badSize: "bad size"
        case .badMAC1: "bad mac1"
        case .cookieRequired: "cookie required (under load)"
        case .badCookieReply: "bad cookie reply"
        case .handshakeDecryptFailed: "handshake did not authenticate"
        case .unknownPeer: "unknown peer"
        case .staleHandshake: "stale handshake (replayed timestamp)"
        case .handshakeFlood: "handshake flood"
        case .unexpectedResponse: "unexpected response"
        case .unknownIndex: "unknown receiver index"
        case .expiredKeypair: "expired keypair"
        case .decryptFailed: "transport did not authenticate"
        case .replayedCounter: "replayed or out-of-window counter"
        case .disallowedSource: "source not in allowed IPs"
        case .invalidPacket: "invalid IPv4 packet"
        case .noRoute: "no route (allowed IPs)"
        case .noEndpoint: "no endpoint"
        case .noSpace: "no buffer space"
        case .stagedQueueFull: "staged queue full"
        case .handshakeTimedOut: "handshake timed out"
        case .handshakeRateLimited: "handshake rate limited (per source, under load)"
        case .noPrivateKey: "no private key"
        }
    }
}

/// Device counters. Fixed storage: counting a drop allocates nothing.
public struct WireGuardCounters: Sendable, Equatable {
    /// Drops by reason.
    public internal(set) var drops = ReasonCounts<WireGuardDropReason>()
    /// Transport messages accepted (data and keepalives).
    public internal(set) var transportReceived: UInt64 = 0
    /// Transport messages sent (data and keepalives).
    public internal(set) var transportSent: UInt64 = 0
    public internal(set) var initiationsSent: UInt64 = 0
    public internal(set) var responsesSent: UInt64 = 0
    public internal(set) var cookieRepliesSent: UInt64 = 0
    /// Sessions derived (either side).
    public internal(set) var sessionsDerived: UInt64 = 0

    mutating func count(_ reason: WireGuardDropReason) { drops.count(reason) }

    /// One line for status output: handshake and transport counts, drops by reason (allocates).
    public var summary: String {
        var reasons: [String] = []
        for (reason, count) in drops.nonzero { reasons.append("\(reason) \(count)") }
        return "sessions derived \(sessionsDerived), initiations sent \(initiationsSent), responses sent \(responsesSent), "
            + "cookie replies sent \(cookieRepliesSent), transport sent \(transportSent) received \(transportReceived), "
            + "drops \(drops.total)\(reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")")"
    }
}
