// The bridge's WAN side, sans-IO: the last router interface, where the default route points.
// Traffic not for a local subnet leaves here — masqueraded by the NAT (`router.nat: true`) or
// routed as it is — and what arrives here is translated back and handed to the router.
//
// Three kinds (docs/config.md), on two interface media (docs/architecture.md, "Interface media"):
// - wireguard: a point-to-point interface. The router hands over bare IP packets; a
//   WireGuardDevice with one peer (AllowedIPs 0.0.0.0/0 unless `allowed-ips:` says otherwise), or more
//   (`peers:`, each behind its AllowedIPs: longest prefix wins), encrypts them in place, in the room the
//   router leaves around them, and they leave as UDP datagrams through `sendDatagram`. Coming in,
//   a datagram is decrypted in place and its packet goes to the router where it lies.
// - udp: a point-to-point interface; IP packets in plain UDP datagrams to the endpoint, both ways.
// - tap: an Ethernet uplink. The router's WAN interface has its own MAC and address and ARPs for
//   the gateway like on any segment; frames leave through `transmitFrame`. (Oathgate wrote IP
//   packets to its L2 TAP; here the uplink sees proper frames.)
//
// On the point-to-point kinds there is no link layer at all: no MAC, no ARP, no gateway address;
// the default route names the WAN interface, and its other end is every next hop. The router does
// TTL, checksums, MTU (fragmentation needed) and ICMP errors for the WAN as for any interface.
//
// Copies on the per-packet path: going out, none in the WAN when the router's packet has the room
// (the router copies a guest's frame once into its own buffer, which has it); otherwise one, into
// `outbound`. Coming in, none: WireGuard decrypts in place and the router writes the Ethernet
// header into the 16 bytes the transport header leaves free (a plain UDP packet has no room
// before it: the router copies it once).
//
// Choices, stated once:
// - Packets from the router's own WAN address (echo replies, ICMP errors) are not translated.
// - Inbound ICMP echo requests to the WAN address go to the router (it answers); any other
//   inbound packet with NAT on must match a mapping.
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
    /// The router's MAC on a tap WAN; nil on the point-to-point kinds, which have no link layer.
    public let mac: MACAddress?
    /// Masquerading, when `router.nat` is on.
    public let nat: NAT?
    /// The WireGuard device of a wireguard WAN.
    public let tunnel: WireGuardDevice?
    /// Where datagrams go (udp), or went first (wireguard: the device follows the peer as it roams).
    public private(set) var endpoint: SocketAddressV4?
    public internal(set) var counters = WANCounters()
    /// The peers of a wireguard WAN that have a persistent keepalive (and an endpoint): they are greeted
    /// with a handshake when the WAN starts, as `wg` does.
    let handshakesAtStart: [PeerID]

    /// Sends one UDP datagram to an endpoint (wireguard, udp). The bytes are valid only during the
    /// call. Set by `Bridge.connect` (the driver's `BridgeOutputs.sendWANDatagram`).
    var sendDatagram: (UnsafeRawBufferPointer, SocketAddressV4) -> Void = { _, _ in }
    /// Transmits one Ethernet frame on the uplink (tap). The bytes are valid only during the call.
    /// Set by `Bridge.connect` (the driver's `BridgeOutputs.transmitWANFrame`).
    var transmitFrame: (UnsafeRawBufferPointer) -> Void = { _ in }

    /// Outbound copies (a packet without the room to encrypt in place; a TAP frame to masquerade):
    /// a packet at offset 16 (WireGuard's header room) with room for padding and tag.
    let outbound: UnsafeMutableRawBufferPointer

    /// Room WireGuard needs before a packet: its transport header.
    static let headroom = 16
    /// Room WireGuard needs after a packet: padding to a multiple of 16 and the tag.
    static let tailroom = WireGuardConstants.paddingMultiple - 1 + WireGuardConstants.tagSize
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
                allowedIPs: w.allowedIPs, persistentKeepalive: w.persistentKeepalive))
            guard let first = added else { throw .wan("the WireGuard peer's public key is our own") }
            var greeted = w.persistentKeepalive != nil ? [first] : []
            // More peers (`peers:`), each behind its own AllowedIPs.
            for p in w.peers {
                guard let key = PublicKey(p.publicKey) else { throw .wan("the WireGuard keys must be 32 bytes") }
                let psk = try p.presharedKey.map { bytes throws(EngineError) in
                    guard let k = SecretKey(bytes) else { throw .wan("the WireGuard pre-shared key must be 32 bytes") }
                    return k
                }
                guard let id = device.addPeer(PeerConfiguration(publicKey: key, presharedKey: psk, endpoint: p.endpoint,
                                                                allowedIPs: p.allowedIPs,
                                                                persistentKeepalive: p.persistentKeepalive)) else {
                    throw .wan("WireGuard peer \(key) is listed twice, or is our own key")
                }
                if p.persistentKeepalive != nil, p.endpoint != nil { greeted.append(id) }
            }
            tunnel = device
            handshakesAtStart = greeted
        case .udp(let u):
            kind = .udp
            address = u.ipv4 ?? UDPWANConfig.linkLocal
            endpoint = setup.endpoint ?? u.endpoint.socketAddress
            tunnel = nil
            handshakesAtStart = []
        case .tap(let t):
            kind = .tap
            address = t.ipv4
            endpoint = nil
            tunnel = nil
            handshakesAtStart = []
        }
        if case .tap(let t) = config { mac = t.mac } else { mac = nil }
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
    }

    deinit { outbound.deallocate() }

    /// Where a udp WAN sends (and accepts datagrams from) from now on: a name resolved again, a
    /// peer that moved. (A wireguard WAN takes its endpoint at start and then follows the peer.)
    public func setEndpoint(_ endpoint: SocketAddressV4) {
        self.endpoint = endpoint
    }

    /// Replaces WireGuard's wall clock (for handshake timestamps), e.g. after the real-time clock was stepped.
    public func setWallClock(_ clock: WallClock) {
        tunnel?.setWallClock(clock)
    }

    /// Brings the uplink up once the driver has connected the outputs (`Bridge.start`). A
    /// WireGuard WAN with `keepalive:` handshakes at once (as `wg` does when it comes up), so that
    /// a peer behind NAT hears from us before we have traffic for it.
    public func start(now: Instant) {
        guard let tunnel else { return }
        for peer in handshakesAtStart where tunnel.status(of: peer).endpoint != nil {
            tunnel.initiateHandshake(with: peer, now: now)
        }
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

    /// Sends whatever WireGuard queued: handshake messages, keepalives, packets that waited for a session
    /// (the driver calls it after changing the device, e.g. through the UAPI).
    public func flushTunnel() {
        guard let tunnel else { return }
        for d in tunnel.takeOutgoing() { send(d) }
    }

    func send(_ d: OutgoingDatagram) {
        d.bytes.withUnsafeBytes { emit($0, to: d.endpoint) }
    }
}
