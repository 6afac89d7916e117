// The bridge's WAN side, sans-IO: the last router interface, where the default route points.
// Traffic not for a local subnet leaves here — masqueraded by the NAT (`router.nat: true`) or
// routed as it is — and what arrives here is translated back and handed to the router.
//
// Three kinds (docs/config.md):
// - wireguard: IP packets (no Ethernet) are encrypted by a WireGuardDevice with one peer
//   (AllowedIPs 0.0.0.0/0) and leave as UDP datagrams through `sendDatagram`.
// - udp: IP packets in plain UDP datagrams to the endpoint, both ways.
// - tap: an Ethernet uplink. The router's WAN interface has its own MAC and address and ARPs for
//   the gateway like on any segment; frames leave through `transmitFrame`. (Oathgate wrote IP
//   packets to its L2 TAP; here the uplink sees proper frames.)
//
// The router speaks Ethernet on every interface. On the point-to-point kinds the WAN plays the
// far end of that Ethernet: it answers every ARP request of the router with a made-up peer MAC
// (`peerMAC`), strips the Ethernet header on the way out and adds one on the way in. The router
// keeps doing TTL, checksums, MTU (fragmentation needed) and ICMP errors for the WAN as for any
// interface.
//
// Choices, stated once:
// - Packets from the router's own WAN address (echo replies, ICMP errors) are not translated.
// - Inbound ICMP echo requests to the WAN address go to the router (it answers); any other
//   inbound packet with NAT on must match a mapping.
// - A proxy-ARP reply is not fed to the router from inside the router's own call (the router is
//   not re-entrant); the bridge drains them after each router call (`nextProxyARPFrame`).
import Basics
import Crypto
import Datapath
import Wire
import WireGuard

/// Which kind of uplink a WAN is.
public enum WANKind: String, Sendable {
    case wireguard, udp, tap
}

/// What a driver or simulator supplies when a bridge with a WAN starts.
public struct WANSetup: Sendable {
    /// The peer's endpoint, resolved by the driver; nil takes the config's when its host is an
    /// IPv4 literal.
    public var endpoint: SocketAddressV4?
    /// WireGuard's indices, jitter, ephemeral keys and cookie secrets and the NAT's port choice
    /// come from here: the system's CSPRNG (HostIO's `SystemRandom`) for a real bridge, a
    /// `SeededRandom` in simulations and tests. A bridge with a WAN refuses to start without one.
    public var random: (any RandomSource)?
    /// Where WireGuard reads its handshake timestamps (`WallClock.system(at:)` for a real bridge).
    public var wallClock: WallClock

    public init(endpoint: SocketAddressV4? = nil, random: (any RandomSource)? = nil, wallClock: WallClock = .monotonic) {
        self.endpoint = endpoint; self.random = random; self.wallClock = wallClock
    }
}

/// The bridge's WAN side. One owner, one thread (the bridge's).
public final class WAN {
    public let kind: WANKind
    /// The router interface the WAN is (the last one, after the configured segments).
    public let interface: Int
    /// The router's address and prefix on the WAN; the NAT's external address.
    public let address: IPv4Network
    /// The router's MAC on the WAN.
    public let mac: MACAddress
    /// The made-up MAC of the far end of a point-to-point WAN (wireguard, udp).
    public let peerMAC: MACAddress
    /// Masquerading, when `router.nat` is on.
    public let nat: NAT?
    /// The WireGuard device of a wireguard WAN.
    public let tunnel: WireGuardDevice?
    /// Where datagrams go (udp), or went first (wireguard: the device follows the peer as it roams).
    public private(set) var endpoint: SocketAddressV4?
    public internal(set) var counters = WANCounters()
    /// A wireguard WAN with a persistent keepalive handshakes when started, as `wg` does.
    let handshakesAtStart: Bool

    /// Sends one UDP datagram to an endpoint (wireguard, udp). The bytes are valid only during the call.
    public var sendDatagram: (UnsafeRawBufferPointer, SocketAddressV4) -> Void = { _, _ in }
    /// Transmits one Ethernet frame on the uplink (tap). The bytes are valid only during the call.
    public var transmitFrame: (UnsafeRawBufferPointer) -> Void = { _ in }

    /// Outbound work: a packet at offset 16 (WireGuard's header room) with room for padding and tag.
    let outbound: UnsafeMutableRawBufferPointer
    /// Inbound copies (plain UDP): a packet at offset 14, behind room for its Ethernet header.
    let inbound: UnsafeMutableRawBufferPointer
    /// ARP replies owed to the router, oldest first, from `proxyHead` on.
    var proxyReplies: [ARPPacket] = []
    var proxyHead = 0
    let arpFrame: UnsafeMutableRawBufferPointer

    /// Room before a packet in `outbound`: WireGuard's transport header.
    static let headroom = 16
    /// Largest IPv4 datagram.
    static let maximumPacket = 65535

    /// A WAN for `config`, being router interface `interface`. `nat` (if given) masquerades.
    init(_ config: WANConfig, interface: Int, nat: NATConfiguration?, setup: WANSetup) throws(EngineError) {
        self.interface = interface
        // Simulations pass a seeded source, a real bridge the system's CSPRNG; the WAN never picks one.
        var random = setup.random
        let noRandom = EngineError.wan("no random source: the driver must supply one (WANSetup.random)")
        switch config {
        case .wireguard(let w):
            kind = .wireguard
            address = w.ipv4
            endpoint = setup.endpoint ?? w.endpoint.flatMap(\.socketAddress)
            guard let key = SecretKey(w.privateKey), let peer = PublicKey(w.peerPublicKey) else {
                throw .wan("the WireGuard keys must be 32 bytes")
            }
            guard random != nil else { throw noRandom }
            let indices = random!.split("wan:wireguard")
            let keys = random!.split("wan:wireguard-keys")
            var limits = WireGuardLimits()
            if let n = w.rekeyAfterMessages { limits.rekeyAfterMessages = min(n, limits.rekeyAfterMessages) }
            if let t = w.rekeyAfterTime { limits.rekeyAfterTime = t }
            var psk: SecretKey?
            if let bytes = w.presharedKey {
                guard let k = SecretKey(bytes) else { throw .wan("the WireGuard pre-shared key must be 32 bytes") }
                psk = k
            }
            let device = WireGuardDevice(configuration: DeviceConfiguration(privateKey: key, limits: limits, mtu: w.mtu),
                                         random: indices, keySource: keys, wallClock: setup.wallClock)
            let added = device.addPeer(PeerConfiguration(
                publicKey: peer, presharedKey: psk, endpoint: endpoint,
                allowedIPs: [IPv4Network(address: .any, prefixLength: 0)!], persistentKeepalive: w.persistentKeepalive))
            guard added != nil else { throw .wan("the WireGuard peer's public key is our own") }
            tunnel = device
            handshakesAtStart = w.persistentKeepalive != nil
        case .udp(let u):
            kind = .udp
            address = u.ipv4 ?? UDPWANConfig.linkLocal
            endpoint = setup.endpoint ?? u.endpoint.socketAddress
            tunnel = nil
            handshakesAtStart = false
        case .tap(let t):
            kind = .tap
            address = t.ipv4
            endpoint = nil
            tunnel = nil
            handshakesAtStart = false
        }
        if case .tap(let t) = config { mac = t.mac } else {
            mac = MACAddress(rawValue: 0x025E_0000_0000 | UInt64(address.address.rawValue))
        }
        // 02:57:41:4e:50:45 ("WANPE", locally administered): never a derived 02:5e:… router MAC.
        peerMAC = MACAddress(rawValue: 0x0257_414E_5045)
        if var n = nat {
            guard random != nil else { throw noRandom }
            n.externalAddress = address.address
            do {
                self.nat = try NAT(n, random: random!.seeded("wan:nat"))
            } catch { throw .wan("NAT: \(error)") }
        } else {
            self.nat = nil
        }
        outbound = .allocate(byteCount: Self.headroom + Self.maximumPacket + WireGuardConstants.paddingMultiple + WireGuardConstants.tagSize,
                             alignment: 16)
        inbound = .allocate(byteCount: EthernetHeader.untaggedLength + Self.maximumPacket, alignment: 16)
        arpFrame = .allocate(byteCount: EthernetHeader.minimumFrameLength, alignment: 16)
        proxyReplies.reserveCapacity(16)
    }

    deinit {
        outbound.deallocate()
        inbound.deallocate()
        arpFrame.deallocate()
    }

    /// Where a udp WAN sends (and accepts datagrams from) from now on: a name resolved again, a
    /// peer that moved. (A wireguard WAN takes its endpoint at start and then follows the peer.)
    public func setEndpoint(_ endpoint: SocketAddressV4) {
        self.endpoint = endpoint
    }

    /// Replaces WireGuard's wall clock (for handshake timestamps), e.g. after the real-time clock was stepped.
    public func setWallClock(_ clock: WallClock) {
        tunnel?.setWallClock(clock)
    }

    /// Brings the uplink up once the driver has wired `sendDatagram` / `transmitFrame`. A
    /// WireGuard WAN with `keepalive:` handshakes at once (as `wg` does when it comes up), so that
    /// a peer behind NAT hears from us before we have traffic for it.
    public func start(now: Instant) {
        guard handshakesAtStart, let tunnel, let peer = tunnel.peerIDs.first, endpoint != nil else { return }
        tunnel.initiateHandshake(with: peer, now: now)
        flushTunnel()
    }

    // MARK: Timers

    /// The earliest of WireGuard's timers and the NAT's session expiry.
    public func nextDeadline() -> Instant? {
        let a = tunnel?.nextDeadline(), b = nat?.nextDeadline()
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }

    /// Runs WireGuard's timers (handshake retries, keepalives, rekeying) and the NAT's expiry.
    public func poll(now: Instant) {
        if let tunnel {
            // poll returns the outbox with what the timers added (handshake retries, keepalives).
            for d in tunnel.poll(now: now) { send(d) }
        }
        nat?.expire(now: now)
    }

    // MARK: Counting

    @inline(never) func drop(_ reason: WANDropReason) {
        counters.drops[reason] &+= 1
    }

    /// Hands a datagram to the driver.
    @inline(__always) func emit(_ bytes: UnsafeRawBufferPointer, to endpoint: SocketAddressV4) {
        counters.txDatagrams &+= 1
        counters.txDatagramBytes &+= UInt64(bytes.count)
        sendDatagram(bytes, endpoint)
    }

    /// Sends whatever WireGuard queued: handshake messages, keepalives, packets that waited for a session.
    func flushTunnel() {
        guard let tunnel else { return }
        for d in tunnel.takeOutgoing() { send(d) }
    }

    func send(_ d: OutgoingDatagram) {
        d.bytes.withUnsafeBytes { emit($0, to: d.endpoint) }
    }
}
