// The WireGuard interface as a sans-IO state machine: datagrams and IP packets in, datagrams and IP packets out.
// Time comes in as `now` (monotonic, for timers) and as a `WallClock` (for TAI64N timestamps only); randomness
// as the caller's `RandomSource`s. The device reads no clock and picks no random generator itself.
//
// Hot path: `receive(datagram:count:from:now:)` decrypts a transport message in place; `send(packet:…)` encrypts
// in place into the caller's buffer (packet at offset 16, room for padding and tag). Neither allocates when a
// session exists. Everything else (handshake messages, cookie replies, keepalives, packets that waited for a
// handshake) goes to an outbox the driver drains with `takeOutgoing()` or the array-based conveniences.

import Basics
import Crypto
import Wire

/// Limits that tests may shrink; the defaults are the whitepaper's (§6.1).
public struct WireGuardLimits: Sendable {
    public var rekeyAfterMessages: UInt64
    public var rejectAfterMessages: UInt64
    /// §6.2 Rekey-After-Time: the initiator starts a new handshake when it sends on a session this
    /// old. Shorter than the whitepaper's 120 s only to force rekeys (tests, short-lived sessions).
    public var rekeyAfterTime: Duration

    public init(rekeyAfterMessages: UInt64 = WireGuardConstants.rekeyAfterMessages,
                rejectAfterMessages: UInt64 = WireGuardConstants.rejectAfterMessages,
                rekeyAfterTime: Duration = WireGuardConstants.rekeyAfterTime) {
        self.rekeyAfterMessages = rekeyAfterMessages; self.rejectAfterMessages = rejectAfterMessages
        self.rekeyAfterTime = rekeyAfterTime
    }
}

/// The interface's own settings (the `[Interface]` section of wg.conf, less the socket).
public struct DeviceConfiguration: Sendable {
    public var privateKey: SecretKey
    public var limits: WireGuardLimits
    /// Tunnel MTU; padding never grows a packet past it (nil: always pad to a multiple of 16).
    public var mtu: Int?
    /// Handshake messages per second (with valid mac1) above which the device counts as under load (§5.3).
    public var underLoadThreshold: Int

    public init(privateKey: SecretKey, limits: WireGuardLimits = .init(), mtu: Int? = nil, underLoadThreshold: Int = 64) {
        self.privateKey = privateKey; self.limits = limits; self.mtu = mtu; self.underLoadThreshold = underLoadThreshold
    }
}

extension RandomSource {
    /// A fresh Curve25519 key pair drawn from this source (four `next()` calls).
    mutating func keyPair() -> KeyPair { KeyPair.deterministic(using: &self) }
}

/// A datagram the device wants sent.
public struct OutgoingDatagram: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case handshakeInitiation, handshakeResponse, cookieReply, transportData, keepalive }
    public var kind: Kind
    /// The peer it concerns (nil for cookie replies to unknown senders).
    public var peer: PeerID?
    public var endpoint: SocketAddressV4
    public var bytes: [UInt8]
    public var description: String { "\(kind) \(bytes.count)B → \(endpoint)" }
}

/// What became of one received datagram.
public enum ReceiveResult: Sendable, Equatable {
    /// An IP packet for the tunnel: bytes `packet` of the caller's buffer, decrypted in place, from `peer`.
    case deliver(peer: PeerID, packet: Range<Int>)
    /// An authenticated keepalive (an empty transport message).
    case keepalive(peer: PeerID)
    /// A handshake or cookie message was consumed; any answer is in the outbox.
    case handshake(peer: PeerID?)
    /// Dropped, and counted under `reason`.
    case dropped(WireGuardDropReason)
}

/// What became of one packet from the tunnel.
public enum SendResult: Sendable, Equatable {
    /// `0..<count` of the caller's buffer is now a transport message for `endpoint`.
    case transmit(peer: PeerID, endpoint: SocketAddressV4, count: Int)
    /// Held until a session exists; a handshake may have been started (see the outbox).
    case queued(peer: PeerID)
    /// Dropped, and counted under `reason`.
    case dropped(WireGuardDropReason)
}

/// A decrypted IP packet, in the array-based API.
public struct DeliveredPacket: Sendable, Equatable {
    public var peer: PeerID
    public var packet: [UInt8]
}

/// Everything one call produced, in the array-based API (tests, simulations, cold paths).
public struct WireGuardActions: Sendable, Equatable {
    public var delivered: [DeliveredPacket] = []
    public var datagrams: [OutgoingDatagram] = []
    public var dropped: [WireGuardDropReason] = []
    public var keepalivesReceived = 0
    public init() {}
}

/// A WireGuard interface: static identity, peers, sessions and timers. No sockets, clocks or TUN.
public final class WireGuardDevice {
    /// Our static public key (changes only with `setPrivateKey`).
    public internal(set) var publicKey: PublicKey
    /// Our static key pair. Read by handshakes only, never per transport packet.
    var identity: KeyPair
    /// False while the interface has no private key (`setPrivateKey(nil)`, a zero UAPI `private_key`): no
    /// handshake is sent or answered, as wireguard-go does with a zero key.
    public internal(set) var hasPrivateKey = true
    /// The settings the device was created with (`privateKey` is the first key; see `setPrivateKey`).
    public let configuration: DeviceConfiguration
    /// Peers by number. Read per packet; changed only by replacing the whole array (see `addPeer`).
    var peers: [Peer] = []
    var peerByKey: [PublicKey: Int] = [:]
    /// Every peer's allowed IPs. Read per packet (twice); changed only by replacing the whole table.
    var routes = AllowedIPs()
    /// The routing table: which peer each network belongs to.
    public var allowedIPs: AllowedIPs { routes }

    enum IndexEntry {
        case handshake(peer: Int)
        case keypair(peer: Int, Keypair)
        var peer: Int {
            switch self { case .handshake(let p), .keypair(let p, _): p }
        }
    }
    /// Receiver indices we handed out (whitepaper §5.4.2 "I_i ... randomly generated").
    var indexTable = IndexTable()
    var cookieChecker: CookieChecker
    /// Receiver indices and timer jitter.
    var random: any RandomSource
    /// Ephemeral keys, cookie secrets and cookie nonces.
    var keySource: any RandomSource
    var outbox: [OutgoingDatagram] = []
    /// Everything counted, as of now.
    public var counters: WireGuardCounters {
        var c = otherCounters
        c.transportSent = transportSent
        c.transportReceived = transportReceived
        return c
    }
    /// The two per-packet counts are plain integers of the device, apart from the rest: no access to them spans a
    /// call, so the optimizer can prove them free of conflicts and drop their dynamic exclusivity checks.
    var transportSent: UInt64 = 0
    var transportReceived: UInt64 = 0
    /// The other counters (drops, handshake messages, sessions).
    var otherCounters = WireGuardCounters()

    /// Forces "under load" on (true) or off (false); nil leaves it to the handshake rate.
    public var underLoadOverride: Bool?
    var loadWindowStart = Instant.zero
    var loadWindowCount = 0
    var underLoadUntil: Instant?
    /// Under load: handshake messages per source address (`HandshakeRateLimiter`).
    var rateLimiter = HandshakeRateLimiter()

    /// Where TAI64N timestamps are read.
    public private(set) var wallClock: WallClock

    /// A device with `configuration`. `random` drives indices and timer jitter; `keySource` ephemeral keys and
    /// cookie secrets (a real driver passes the system's CSPRNG for both; simulations seeded ones). Handshake
    /// timestamps are read from `wallClock`.
    public init(configuration: DeviceConfiguration, random: some RandomSource, keySource: some RandomSource,
                wallClock: WallClock) {
        self.configuration = configuration
        identity = KeyPair(privateKey: configuration.privateKey)
        publicKey = identity.publicKey
        cookieChecker = CookieChecker(localPublicKey: identity.publicKey)
        self.random = random
        self.keySource = keySource
        self.wallClock = wallClock
    }

    // MARK: Configuration

    /// Adds a peer; its allowed IPs take over any network already routed elsewhere. Adding a public key twice
    /// (or our own) returns nil.
    @discardableResult
    public func addPeer(_ configuration: PeerConfiguration) -> PeerID? {
        guard peerByKey[configuration.publicKey] == nil, configuration.publicKey != publicKey else { return nil }
        // A removed peer's slot is reused, so adding and removing peers forever does not grow the device.
        let slot = peers.firstIndex(where: \.isRemoved) ?? peers.count
        let id = PeerID(rawValue: slot)
        // `peers` and `routes` are built aside and stored whole: no access to them then spans a call, so the
        // optimizer can drop the dynamic exclusivity checks on the per-packet reads.
        var newPeers = peers, newRoutes = routes
        let peer = Peer(id: id, configuration: configuration, localStatic: identity)
        if slot == newPeers.count { newPeers.append(peer) } else { newPeers[slot] = peer }
        for network in configuration.allowedIPs { newRoutes.insert(network, peer: id.rawValue) }
        peers = newPeers
        routes = newRoutes
        peerByKey[configuration.publicKey] = id.rawValue
        return id
    }

    /// The peer with `publicKey`.
    public func peer(for publicKey: PublicKey) -> PeerID? { peerByKey[publicKey].map(PeerID.init) }

    /// All peers, by number (a removed peer's number is reused by the next peer added).
    public var peerIDs: [PeerID] { peers.filter { !$0.isRemoved }.map(\.id) }

    /// A snapshot of `peer`.
    public func status(of peer: PeerID) -> PeerStatus {
        let p = peers[peer.rawValue]
        let slots = [p.keypairs.current, p.keypairs.previous, p.keypairs.next].compactMap { $0 }.count
        return PeerStatus(publicKey: p.publicKey, endpoint: p.endpoint, lastHandshake: p.lastHandshake,
                          hasSession: p.keypairs.current != nil, keypairCount: slots,
                          receivedBytes: p.receivedBytes, sentBytes: p.sentBytes, stagedPackets: p.staged.count,
                          allowedIPs: routes.networks(of: peer.rawValue))
    }

    /// Replaces the wall clock (a driver re-reads the real-time clock now and then, in case it was stepped).
    public func setWallClock(_ clock: WallClock) {
        wallClock = clock
    }

    func timestamp(now: Instant) -> TAI64N {
        TAI64N(unixNanoseconds: wallClock.unixNanoseconds(at: now)).whitened
    }

    // MARK: Outputs

    /// Removes and returns the datagrams waiting to be sent.
    public func takeOutgoing() -> [OutgoingDatagram] {
        guard !outbox.isEmpty else { return [] }
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// Queues `bytes` for `peer`'s endpoint (counted as `noEndpoint` when it has none).
    func emit(_ bytes: [UInt8], kind: OutgoingDatagram.Kind, peer: Peer) {
        guard let endpoint = peer.endpoint else { otherCounters.count(.noEndpoint); return }
        peer.sentBytes &+= UInt64(bytes.count)
        outbox.append(OutgoingDatagram(kind: kind, peer: peer.id, endpoint: endpoint, bytes: bytes))
    }

    /// Points receiver `index` at `entry` (nil: retires it). The table is taken out (an empty placeholder, which
    /// allocates nothing, stands in), changed in place and put back, so no access to `indexTable` spans a call and
    /// the per-packet lookup needs no dynamic exclusivity check — and nothing is copied.
    func setIndex(_ index: UInt32, to entry: IndexEntry?) {
        var table = indexTable
        indexTable = .placeholder
        table[index] = entry
        indexTable = table
    }

    /// A fresh random receiver index for `entry` (never zero, never in use).
    func newIndex(_ entry: IndexEntry) -> UInt32 {
        while true {
            let index = UInt32(truncatingIfNeeded: random.next())
            if index != 0, indexTable[index] == nil {
                setIndex(index, to: entry)
                return index
            }
        }
    }

    /// Retires a keypair: its index stops resolving and its keys are wiped.
    func deleteKeypair(_ keypair: Keypair?) {
        guard let keypair else { return }
        if case .keypair(_, let k)? = indexTable[keypair.localIndex], k === keypair {
            setIndex(keypair.localIndex, to: nil)
        }
        keypair.wipe()
    }

    /// Jitter for Rekey-Timeout: 0…333 ms from the caller's random source.
    func jitter() -> Duration {
        .milliseconds(Int64(random.next() % WireGuardConstants.rekeyTimeoutJitterMaxMilliseconds))
    }

    // MARK: Load

    /// Whether the device is under load now (§5.3): forced, or handshake messages arriving faster than the threshold.
    public func isUnderLoad(now: Instant) -> Bool {
        if let underLoadOverride { return underLoadOverride }
        if let until = underLoadUntil, now < until { return true }
        return false
    }

    func noteHandshakeMessage(now: Instant) {
        if now - loadWindowStart >= .seconds(1) { loadWindowStart = now; loadWindowCount = 0 }
        loadWindowCount += 1
        if loadWindowCount > configuration.underLoadThreshold {
            underLoadUntil = now + WireGuardConstants.underLoadAfterTime
        }
    }
}
