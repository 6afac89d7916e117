// Why the mesh dropped a datagram — each reason counted separately; certificate rejections are counted again
// by their own reason (CertificateError). Raw values index the counters: append, never renumber.

import Basics

/// A reason a mesh handshake message or transport message was not accepted. No session is created for any.
public enum MeshDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Not of the exact size its type requires.
    case badSize
    /// A type this handshaker does not handle.
    case unknownMessageType
    /// mac1 does not verify: dropped before any Diffie–Hellman.
    case badMAC1
    /// Under load and mac2 missing or stale: answered with a cookie reply (64 bytes, smaller than the request).
    case cookieRequired
    /// A cookie reply that does not open against our last mac1.
    case badCookieReply
    /// The Noise message does not authenticate (wrong keys, wrong psk, altered bytes).
    case handshakeDecryptFailed
    /// The decrypted payload is not a well-formed timestamp and chain (or its padding is not zero).
    case payloadMalformed
    /// The certificate chain was refused (the reason is counted in `certificateRejections`).
    case certificateRejected
    /// The certificate's key is not the Noise static key the peer proved it holds.
    case keyMismatch
    /// The initiation's TAI64N is not newer than the last one accepted from that key (a replay).
    case staleTimestamp
    /// A second initiation from the same key within 20 ms.
    case handshakeFlood
    /// A response or cookie reply for an index with no initiation outstanding.
    case unknownIndex
    /// A transport message counter seen before, too old, or past Reject-After-Messages.
    case replayedCounter
    /// A transport message that does not authenticate.
    case decryptFailed
    /// A transport message for a session past Reject-After-Time, or closed by a revocation.
    case expiredSession
    /// A decrypted packet whose inner source is not covered by the sender's certificate.
    case disallowedSource
    /// A decrypted packet that is not IPv4.
    case invalidPacket
    /// Under load, a source over its handshake rate (20 a second, burst 5; WireGuard's HandshakeRateLimiter):
    /// dropped before any Diffie–Hellman although its mac2 was valid.
    case handshakeRateLimited
    /// A relay envelope for another node arrived at a node without the relay capability (in its certificate and
    /// its configuration): not forwarded.
    case relayRefused
    /// A relay envelope that is too short, has reserved bits set, or wraps another envelope.
    case relayMalformed
    /// A relay envelope whose hop limit ran out (a routing loop cannot circulate it forever).
    case relayHopLimit
    /// A relay envelope claiming a source other than the hop it came from, from a hop that is not a relay.
    case relaySpoofed
    /// No node owns the packet's destination, or no path (direct or relayed) leads to it.
    case noRoute
    /// A packet waiting for a session was dropped: the queue was full, or the handshake gave up
    /// (Rekey-Attempt-Time).
    case stagedOverflow
    /// A plaintext of a kind this node does not know (not IPv4, not a relay, routing or probe message).
    case unknownPlaintext
    /// A flooded revocation list that does not parse, or is not signed by a trusted root.
    case badRevocationList

    public var description: String {
        switch self {
        case .badSize: "bad size"
        case .unknownMessageType: "unknown message type"
        case .badMAC1: "bad mac1"
        case .cookieRequired: "cookie required (under load)"
        case .badCookieReply: "bad cookie reply"
        case .handshakeDecryptFailed: "handshake did not authenticate"
        case .payloadMalformed: "malformed handshake payload"
        case .certificateRejected: "certificate rejected"
        case .keyMismatch: "certificate key is not the Noise static key"
        case .staleTimestamp: "stale timestamp (replayed initiation)"
        case .handshakeFlood: "handshake flood"
        case .unknownIndex: "unknown receiver index"
        case .replayedCounter: "replayed or out-of-window counter"
        case .decryptFailed: "transport did not authenticate"
        case .expiredSession: "expired or closed session"
        case .disallowedSource: "inner source not in the sender's certificate"
        case .invalidPacket: "invalid IPv4 packet"
        case .handshakeRateLimited: "handshake rate limited (per source, under load)"
        case .relayRefused: "relay request to a node that does not relay"
        case .relayMalformed: "malformed relay envelope"
        case .relayHopLimit: "relay hop limit exceeded"
        case .relaySpoofed: "relay envelope with a spoofed source"
        case .noRoute: "no route to the destination"
        case .stagedOverflow: "queued packet dropped (queue full or handshake gave up)"
        case .unknownPlaintext: "unknown plaintext kind"
        case .badRevocationList: "revocation list malformed or not signed by a root"
        }
    }
}

/// The handshaker's counters. Fixed storage: counting allocates nothing.
public struct MeshCounters: Sendable, Equatable {
    public internal(set) var drops = ReasonCounts<MeshDropReason>()
    public internal(set) var certificateRejections = ReasonCounts<CertificateError>()
    /// Initiations whose Noise message was opened (Diffie–Hellman done): what a mac1 flood must not raise.
    public internal(set) var initiationsOpened: UInt64 = 0
    public internal(set) var initiationsSent: UInt64 = 0
    public internal(set) var responsesSent: UInt64 = 0
    public internal(set) var cookieRepliesSent: UInt64 = 0
    public internal(set) var sessionsEstablished: UInt64 = 0
    public internal(set) var sessionsClosedByRevocation: UInt64 = 0

    mutating func count(_ reason: MeshDropReason) { drops.count(reason) }
    mutating func count(_ rejection: CertificateError) {
        drops.count(.certificateRejected)
        certificateRejections.count(rejection)
    }

    /// One line for status output (allocates).
    public var summary: String {
        var parts = drops.nonzero.map { "\($0.reason) \($0.count)" }
        parts += certificateRejections.nonzero.map { "certificate \($0.reason) \($0.count)" }
        return "sessions \(sessionsEstablished), initiations sent \(initiationsSent) opened \(initiationsOpened), "
            + "responses \(responsesSent), cookie replies \(cookieRepliesSent), drops \(drops.total)"
            + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
    }
}
