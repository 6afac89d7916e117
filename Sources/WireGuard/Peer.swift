// A configured peer and its state (wireguard-go peer.go): handshake, keypairs, cookie, endpoint, staged packets.

import Basics
import Crypto
import Wire

/// A peer's number inside one device (its position in configuration order).
public struct PeerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: PeerID, b: PeerID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "peer\(rawValue)" }
}

/// How a peer is configured (the `[Peer]` section of wg.conf).
public struct PeerConfiguration: Sendable {
    public var publicKey: PublicKey
    /// §5.2: the optional pre-shared key Q (zero when absent).
    public var presharedKey: SecretKey?
    /// Where to send until the peer roams.
    public var endpoint: SocketAddressV4?
    /// Networks the peer may use as sources, and that are routed to it.
    public var allowedIPs: [IPv4Network]
    /// Persistent keepalive interval (wg's PersistentKeepalive); nil to disable.
    public var persistentKeepalive: Duration?

    public init(publicKey: PublicKey, presharedKey: SecretKey? = nil, endpoint: SocketAddressV4? = nil,
                allowedIPs: [IPv4Network] = [], persistentKeepalive: Duration? = nil) {
        self.publicKey = publicKey; self.presharedKey = presharedKey; self.endpoint = endpoint
        self.allowedIPs = allowedIPs; self.persistentKeepalive = persistentKeepalive
    }
}

/// A snapshot of a peer, for status displays and tests.
public struct PeerStatus: Sendable, Equatable {
    public var publicKey: PublicKey
    public var endpoint: SocketAddressV4?
    /// When the last handshake completed.
    public var lastHandshake: Instant?
    /// True when a current session exists (keys not zeroed).
    public var hasSession: Bool
    /// Sessions held: current, previous and next slots that are filled.
    public var keypairCount: Int
    public var receivedBytes: UInt64
    public var sentBytes: UInt64
    public var stagedPackets: Int
    public var allowedIPs: [IPv4Network]
}

/// The timers of §6 as deadlines (wireguard-go timers.go); nil means not pending.
struct PeerTimers {
    var retransmitHandshake: Instant?
    var sendKeepalive: Instant?
    var newHandshake: Instant?
    var zeroKeyMaterial: Instant?
    var persistentKeepalive: Instant?
    var handshakeAttempts = 0
    var needAnotherKeepalive = false
    var sentLastMinuteHandshake = false

    var earliest: Instant? {
        [retransmitHandshake, sendKeepalive, newHandshake, zeroKeyMaterial, persistentKeepalive].compactMap { $0 }.min()
    }
}

/// One peer's mutable state. A final class with a single owner (the device).
final class Peer {
    let id: PeerID
    let publicKey: PublicKey
    /// Replaced (sessions forgotten) when the device's private key changes.
    var handshake: Handshake
    /// Set when the peer was removed; its slot waits for the next `addPeer`.
    var isRemoved = false
    var cookieGenerator: CookieGenerator
    var keypairs = Keypairs()
    var endpoint: SocketAddressV4?
    var persistentKeepalive: Duration?
    /// Packets waiting for a session (oldest first), at most `queueStagedSize`.
    /// Read per packet (`isEmpty`, on send); changed only through `changeStaged`.
    private(set) var staged: [[UInt8]] = []
    var timers = PeerTimers()
    var lastHandshake: Instant?
    var receivedBytes: UInt64 = 0
    var sentBytes: UInt64 = 0

    /// Changes the staged queue out of place: it is taken (leaving an empty array, which allocates nothing),
    /// changed, and stored back. No access to `staged` then spans a call, so the optimizer can drop the dynamic
    /// exclusivity check on send's per-packet `staged.isEmpty`.
    @inline(__always)
    func changeStaged<R>(_ change: (inout [[UInt8]]) -> R) -> R {
        var queue = staged
        staged = []
        defer { staged = queue }
        return change(&queue)
    }

    init(id: PeerID, configuration: PeerConfiguration, localStatic: KeyPair) {
        self.id = id
        publicKey = configuration.publicKey
        handshake = Handshake(localStatic: localStatic, remoteStatic: configuration.publicKey,
                              presharedKey: configuration.presharedKey)
        cookieGenerator = CookieGenerator(remotePublicKey: configuration.publicKey)
        endpoint = configuration.endpoint
        persistentKeepalive = configuration.persistentKeepalive
    }
}
