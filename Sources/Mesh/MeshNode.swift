// The node engine (docs/mesh.md, "Node engine" and "Relays"): one mesh node as a sans-IO state machine. Inputs are a
// datagram from an endpoint, an inner IPv4 packet from the local TUN or stack, and `tick`; outputs are datagrams to
// endpoints, inner packets to deliver, and `nextDeadline`. Handshakes go through MeshHandshaker; data is WireGuard's
// transport through each session's Keypair (counters, replay window, Rekey-/Reject-After limits, unchanged).
//
// Every peer has one end-to-end session, whatever the path. A path is direct (the peer's endpoint) or relayed: the
// end-to-end datagram, sealed with the end-to-end session, rides in a relay envelope (RelayEnvelope.swift) inside
// the hop session with the relay, so a relay never sees plaintext. The relay is routing's next hop
// (MeshRouting.swift); when the direct path silently stops carrying data, `alternateHop` gives one before routing
// has noticed, and probes bring the direct path back.

import Basics
import Crypto
import Wire
import WireGuard

/// What the engine asks its driver to do.
public enum MeshNodeAction: Equatable {
    /// Send `bytes` as one UDP datagram to `to`.
    case send([UInt8], to: SocketAddressV4)
    /// Deliver the inner IPv4 packet to the local TUN or stack.
    case deliver([UInt8])
}

/// How a peer is reached right now.
public enum MeshPath: Equatable, Sendable, CustomStringConvertible {
    case direct(SocketAddressV4)
    case relayed(via: PublicKey)
    case unreachable

    public var description: String {
        switch self {
        case .direct(let e): "direct \(e)"
        case .relayed(let via): "relayed via \(via.base64.prefix(8))"
        case .unreachable: "unreachable"
        }
    }
}

/// One peer as `MeshNode.peerStatus` shows it.
public struct MeshPeerStatus: Equatable, Sendable {
    public var key: PublicKey
    public var name: String
    public var endpoint: SocketAddressV4?
    public var path: MeshPath
    public var hasSession: Bool
    /// True while the direct path is declared down (and probed).
    public var directPathDown: Bool
    public var lastDirectReceive: Instant?
    public var stagedPackets: Int
}

/// The engine's counters beside the handshaker's (drops by reason are all in `MeshHandshaker.counters`).
public struct MeshNodeCounters: Sendable, Equatable {
    public internal(set) var packetsSent: UInt64 = 0
    public internal(set) var packetsDelivered: UInt64 = 0
    /// Envelopes this node forwarded for others.
    public internal(set) var relayed: UInt64 = 0
    public internal(set) var keepalivesSent: UInt64 = 0
    public internal(set) var probesSent: UInt64 = 0
    /// Direct paths declared down, and brought back.
    public internal(set) var failovers: UInt64 = 0
    public internal(set) var failbacks: UInt64 = 0
}

/// One peer's state inside the engine. A final class with one owner (the node).
final class MeshPeerState {
    let key: PublicKey
    var name: String
    var endpoint: SocketAddressV4?
    var addresses: [OverlayNetwork]
    var prefixes: [OverlayNetwork]
    /// The session data is sealed with; `next` is a responder's session until the peer uses it (WireGuard's slots).
    var current: MeshSession?
    var next: MeshSession?
    /// First initiation of the handshake under way, and when to retransmit it (Rekey-Timeout).
    var handshakeStarted: Instant?
    var retransmitAt: Instant?
    var lastInitiation: Instant?
    /// Inner plaintexts waiting for the end-to-end session, and hop plaintexts (envelopes) waiting for a hop session.
    var staged: [[UInt8]] = []
    var stagedHop: [[UInt8]] = []
    /// When to send a keepalive (data received, nothing sent since).
    var keepaliveAt: Instant?
    /// §6.5: data sent and nothing authenticated back for Keepalive-Timeout + Rekey-Timeout: handshake anew (the
    /// peer may have restarted, or dropped the session).
    var newHandshakeAt: Instant?
    /// Failure detection of the direct path: the first data sent on it since the last authenticated receive on it.
    var unansweredSince: Instant?
    var directDown = false
    var nextProbeAt: Instant?
    var probeNonce: UInt64 = 0
    var lastDirectReceive: Instant?

    init(_ p: MeshPeer) {
        key = p.key; name = p.name; endpoint = p.endpoint; addresses = p.addresses; prefixes = p.prefixes
    }

    /// The address routing is asked about for this peer.
    var routingAddress: IPv4Address? {
        (addresses.first { $0.family == 4 } ?? prefixes.first { $0.family == 4 })?.ipv4
    }
}

/// One mesh node.
public final class MeshNode<Routing: MeshRouting> {
    public let handshaker: MeshHandshaker
    public var routing: Routing
    public internal(set) var configuration: MeshNodeConfiguration
    public internal(set) var counters = MeshNodeCounters()
    var peers: [PublicKey: MeshPeerState] = [:]
    /// Peers in the order they were added: every walk over peers is deterministic.
    var order: [PublicKey] = []
    var out: [MeshNodeAction] = []
    var now = Instant.zero

    /// Relayed handshake messages have no UDP source; the handshaker's cookie and rate-limit checks see this one.
    public static var relayedSource: SocketAddressV4 { SocketAddressV4(address: .any, port: 0) }

    public init(handshaker: MeshHandshaker, configuration: MeshNodeConfiguration, routing: Routing) {
        self.handshaker = handshaker; self.configuration = configuration; self.routing = routing
        for p in configuration.peers where p.key != handshaker.identity.staticKey.publicKey { addPeer(p) }
    }

    var localKey: PublicKey { handshaker.identity.staticKey.publicKey }

    /// True when this node forwards for others: configured to and its certificate allows it.
    public var isRelay: Bool {
        configuration.relay && handshaker.identity.chain.first?.fields.capabilities.contains(.relay) == true
    }

    @discardableResult
    func addPeer(_ p: MeshPeer) -> MeshPeerState {
        if let s = peers[p.key] { return s }
        let s = MeshPeerState(p)
        peers[p.key] = s
        order.append(p.key)
        ownership = nil
        return s
    }

    // MARK: Status

    /// How `peer` is reached now.
    public func path(to peer: PublicKey) -> MeshPath {
        guard let p = peers[peer] else { return .unreachable }
        switch route(to: p) {
        case .direct(let e): return .direct(e)
        case .via(let r): return .relayed(via: r.key)
        case .none: return .unreachable
        }
    }

    /// A snapshot of every peer, in configuration order (for `status`).
    public var peerStatus: [MeshPeerStatus] {
        order.map { key in
            let p = peers[key]!
            return MeshPeerStatus(key: key, name: p.name, endpoint: p.endpoint, path: path(to: key),
                                  hasSession: usable(p.current) != nil, directPathDown: p.directDown,
                                  lastDirectReceive: p.lastDirectReceive, stagedPackets: p.staged.count + p.stagedHop.count)
        }
    }

    /// True when an end-to-end session with `peer` can send.
    public func hasSession(with peer: PublicKey) -> Bool {
        guard let p = peers[peer] else { return false }
        return usable(p.current) != nil
    }

    /// The session data to `peer` is sealed with (for tests and status).
    public func currentSession(with peer: PublicKey) -> MeshSession? { peers[peer]?.current }

    // MARK: Inputs

    /// An inner IPv4 packet from the local TUN or stack.
    public func send(packet: [UInt8], now: Instant) -> [MeshNodeAction] {
        self.now = now
        guard packet.count >= 20, packet.count <= RelayEnvelope.maxDatagram - 64, packet[0] >> 4 == 4 else {
            handshaker.countDrop(.invalidPacket)
            return take()
        }
        let destination = IPv4Address(rawValue: UInt32(packet[16]) << 24 | UInt32(packet[17]) << 16
                                      | UInt32(packet[18]) << 8 | UInt32(packet[19]))
        guard let peer = owner(of: destination) else {
            handshaker.countDrop(.noRoute)
            return take()
        }
        counters.packetsSent &+= 1
        sendEndToEnd(packet, to: peer, isData: true)
        return take()
    }

    /// Dials a node known only by its endpoint (Noise XX, MeshHandshakerXX.swift): it becomes a peer when its
    /// certificate validates. Repeat after Rekey-Timeout if no session came.
    public func dial(endpoint: SocketAddressV4, now: Instant) -> [MeshNodeAction] {
        self.now = now
        if let m = handshaker.initiateXX(now: now) { out.append(.send(m, to: endpoint)) }
        return take()
    }

    /// A UDP datagram from `source`.
    public func receive(datagram: [UInt8], from source: SocketAddressV4, now: Instant) -> [MeshNodeAction] {
        self.now = now
        receiveDatagram(datagram, from: source, hop: nil, origin: nil)
        return take()
    }

    /// Fires the timers due at `now`: handshake retransmission and give-up, keepalives, direct-path failure and
    /// probes, expired sessions, routing's timers.
    public func tick(now: Instant) -> [MeshNodeAction] {
        self.now = now
        handshaker.removeExpired(now: now)
        for key in order {
            let p = peers[key]!
            // Sessions closed elsewhere (expired, revoked, pushed out by newer ones) are forgotten here.
            if let s = p.current, s.isClosed || s.keypair.isExpired(now: now) { p.current = nil; ownership = nil }
            if let s = p.next, s.isClosed || s.keypair.isExpired(now: now) { p.next = nil; ownership = nil }
            if let r = p.retransmitAt, r <= now {
                p.retransmitAt = nil
                if let started = p.handshakeStarted, now - started >= WireGuardConstants.rekeyAttemptTime {
                    // §6.4: after Rekey-Attempt-Time, stop and drop what waited for the session.
                    p.handshakeStarted = nil
                    for _ in 0..<(p.staged.count + p.stagedHop.count) { handshaker.countDrop(.stagedOverflow) }
                    p.staged = []; p.stagedHop = []
                } else {
                    initiate(p, retry: true)
                }
            }
            if let t = p.newHandshakeAt, t <= now {
                p.newHandshakeAt = nil
                initiate(p, retry: false)
            }
            if let k = p.keepaliveAt, k <= now {
                p.keepaliveAt = nil
                counters.keepalivesSent &+= 1
                sendEndToEnd([], to: p, isData: false)
            }
            if !p.directDown, let u = p.unansweredSince, now - u >= configuration.directPathTimeout {
                failDirectPath(p)
            }
            if p.directDown, let t = p.nextProbeAt, t <= now {
                p.nextProbeAt = now + configuration.probeInterval
                probe(p)
            }
        }
        for m in routing.tick(now: now) { sendRouting(m) }
        return take()
    }

    /// The driver learned that the direct path to `endpoint` is gone — the underlay interface toward it went down, or
    /// an ICMP destination-unreachable came back for a datagram sent to it. Every peer at that endpoint fails over at
    /// once, as if the direct-path timeout had passed (traffic takes routing's alternate hop, routing hears that the
    /// neighbour is down, probes bring the path back when it answers again). Returns what to send.
    public func directPathFailed(endpoint: SocketAddressV4, now: Instant) -> [MeshNodeAction] {
        self.now = now
        for key in order {
            let p = peers[key]!
            if !p.directDown, p.endpoint == endpoint { failDirectPath(p) }
        }
        return take()
    }

    /// Declares the direct path to `p` down and moves what waited on it to the new path.
    func failDirectPath(_ p: MeshPeerState) {
        markDirectDown(p)
        // What waited for the hop session on the dead path goes on the new path.
        let waiting = p.stagedHop
        p.stagedHop = []
        for plaintext in waiting {
            if let e = plaintext.withUnsafeBytes({ RelayEnvelope(parsing: $0, range: 0..<plaintext.count) }),
               e.destination != p.key {
                forward(e, excluding: p.key)
            } else {
                handshaker.countDrop(.noRoute)  // for the dead neighbour itself (routing messages)
            }
        }
        // A handshake under way goes again, now on the relayed path.
        if p.handshakeStarted != nil { initiate(p, retry: true) }
    }

    /// When `tick` should next be called.
    public func nextDeadline() -> Instant? {
        var best = routing.nextDeadline()
        func consider(_ t: Instant?) { if let t, best == nil || t < best! { best = t } }
        for key in order {
            let p = peers[key]!
            consider(p.retransmitAt)
            consider(p.keepaliveAt)
            consider(p.newHandshakeAt)
            if !p.directDown, let u = p.unansweredSince { consider(u + configuration.directPathTimeout) }
            if p.directDown { consider(p.nextProbeAt) }
            if let s = p.current ?? p.next { consider(s.keypair.created + WireGuardConstants.rejectAfterTime) }
        }
        return best
    }

    func take() -> [MeshNodeAction] {
        let o = out
        out = []
        return o
    }

    /// New revocations: sessions whose peer chain no longer validates are closed at once (the handshaker wipes
    /// their keys); nothing more is sent or accepted on them. Returns the keys of the peers cut off.
    @discardableResult
    public func updateRevocations(_ revocations: RevocationSet, now: Instant) -> [PublicKey] {
        self.now = now
        let closed = handshaker.updateRevocations(revocations, now: now)
        for key in order {
            let p = peers[key]!
            if p.current?.isClosed == true { p.current = nil }
            if p.next?.isClosed == true { p.next = nil }
        }
        ownership = nil
        var keys: [PublicKey] = []
        for s in closed where !keys.contains(s.peerStatic) { keys.append(s.peerStatic) }
        // Routing hears of the lost neighbours at once (their routes are withdrawn, not left to time out).
        for k in keys { for m in routing.neighbourDown(k, now: now) { sendRouting(m) } }
        return keys
    }

    /// A signed revocation list that arrived out of band (or from a neighbour, `from`): applied when a trusted root
    /// signed it and it is newer than the one held, then the revoked sessions are closed and the list is flooded to
    /// every neighbour with a direct session except `from`. Returns what to send.
    public func receiveRevocationList(_ list: RevocationList, from: PublicKey? = nil, now: Instant) -> [MeshNodeAction] {
        self.now = now
        var set = handshaker.verifier.revocations
        let applied: Bool
        do throws(CertificateError) { applied = try set.apply(list, roots: handshaker.verifier.anchors) } catch {
            handshaker.countDrop(.badRevocationList)
            return take()
        }
        guard applied else { return take() }
        updateRevocations(set, now: now)
        let bytes = list.encoded
        if bytes.count <= Int(UInt16.max) {
            let plaintext = [MeshPlaintextKind.revocation, 0, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
            for key in order where key != from {
                let p = peers[key]!
                if usable(p.current) != nil, p.endpoint != nil, !p.directDown { sendHop(plaintext, to: p) }
            }
        }
        return take()
    }

    // MARK: Paths

    enum Route {
        case direct(SocketAddressV4)
        case via(MeshPeerState)
        case none
    }

    /// The path to `p`: direct when routing says so and the direct path works; otherwise through a relay that is
    /// itself reached directly (hop sessions are never nested). A failed direct path with no relay to take over is
    /// still tried (probes and handshakes may find it back).
    func route(to p: MeshPeerState, excluding: PublicKey? = nil) -> Route {
        // Never back to where it came from (an envelope for its own sender is not forwarded).
        if p.key == excluding { return .none }
        let address = p.routingAddress
        var hop: PublicKey? = address.flatMap { routing.nextHop(for: $0) } ?? p.key
        var fallback: SocketAddressV4?
        if hop == p.key {
            if let e = p.endpoint, !p.directDown { return .direct(e) }
            fallback = p.endpoint
            hop = address.flatMap { routing.alternateHop(for: $0, avoiding: p.key) }
        }
        guard let h = hop, h != p.key, h != excluding, h != localKey, let r = peers[h], r.endpoint != nil,
              !r.directDown else { return fallback.map { .direct($0) } ?? .none }
        return .via(r)
    }

    /// Who owns what: (network, mask, prefix length, peer) for every IPv4 address (as a single address) and prefix
    /// of every peer, configured or from its certificate. Rebuilt when a peer or a session arrives, so the
    /// per-packet lookup allocates nothing.
    struct Ownership {
        var network: UInt32
        var mask: UInt32
        var length: Int
        var peer: MeshPeerState
    }
    var ownership: [Ownership]?

    func buildOwnership() -> [Ownership] {
        var out: [Ownership] = []
        func add(_ n: OverlayNetwork, host: Bool, _ p: MeshPeerState) {
            guard n.family == 4 else { return }
            let length = host ? 32 : Int(n.prefixLength)
            let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
            out.append(Ownership(network: n.ipv4Raw & mask, mask: mask, length: length, peer: p))
        }
        for key in order {
            let p = peers[key]!
            for a in p.addresses { add(a, host: true, p) }
            for n in p.prefixes { add(n, host: false, p) }
            if let cert = (p.current ?? p.next)?.peer.node.fields {
                for a in cert.addresses { add(a, host: true, p) }
                for n in cert.prefixes { add(n, host: false, p) }
            }
        }
        return out
    }

    /// The peer that owns `address`: the longest match over configured addresses and prefixes and those of the
    /// peer's certificate (the first peer in configuration order on a tie).
    func owner(of address: IPv4Address) -> MeshPeerState? {
        if ownership == nil { ownership = buildOwnership() }
        var best: MeshPeerState?
        var bestLength = -1
        for o in ownership! where address.rawValue & o.mask == o.network && o.length > bestLength {
            best = o.peer; bestLength = o.length
        }
        return best
    }

    func usable(_ s: MeshSession?) -> MeshSession? {
        guard let s, !s.isClosed, !s.keypair.isExpired(now: now) else { return nil }
        return s
    }

    // MARK: Sending

    /// Seals `plaintext` (an inner packet or a mesh kind; empty: a keepalive) with the end-to-end session with `p`
    /// and sends it on `p`'s path; without a session it waits while a handshake runs.
    func sendEndToEnd(_ plaintext: [UInt8], to p: MeshPeerState, isData: Bool) {
        guard let s = usable(p.current), let sealed = seal(plaintext, with: s) else {
            if !plaintext.isEmpty { stage(plaintext, in: &p.staged) }
            initiate(p, retry: false)
            return
        }
        p.keepaliveAt = nil
        if isData, p.newHandshakeAt == nil {
            p.newHandshakeAt = now + WireGuardConstants.keepaliveTimeout + WireGuardConstants.rekeyTimeout
        }
        transmit(sealed, to: p, isData: isData)
        if s.keypair.needsRekey(now: now, limits: handshaker.limits) { initiate(p, retry: false) }
    }

    /// Sends a datagram meant for `p` (sealed end to end, or a handshake message) on `p`'s path.
    func transmit(_ datagram: [UInt8], to p: MeshPeerState, isData: Bool) {
        switch route(to: p) {
        case .direct(let e):
            out.append(.send(datagram, to: e))
            if isData, p.unansweredSince == nil { p.unansweredSince = now }
        case .via(let r):
            guard let envelope = RelayEnvelope(hopLimit: configuration.hopLimit, destination: p.key, source: localKey,
                                               datagram: datagram).encode() else {
                handshaker.countDrop(.invalidPacket)
                return
            }
            sendHop(envelope, to: r)
        case .none:
            handshaker.countDrop(.noRoute)
        }
    }

    /// Seals a hop plaintext (an envelope, a routing message) with the session with the neighbour `r`, directly.
    func sendHop(_ plaintext: [UInt8], to r: MeshPeerState) {
        guard let s = usable(r.current), let sealed = seal(plaintext, with: s) else {
            stage(plaintext, in: &r.stagedHop)
            initiate(r, retry: false)
            return
        }
        guard let e = r.endpoint else {
            handshaker.countDrop(.noRoute)
            return
        }
        r.keepaliveAt = nil
        out.append(.send(sealed, to: e))
        if r.unansweredSince == nil { r.unansweredSince = now }
        if s.keypair.needsRekey(now: now, limits: handshaker.limits) { initiate(r, retry: false) }
    }

    func sendRouting(_ m: MeshRoutingMessage) {
        guard let r = peers[m.neighbour], m.bytes.count <= RelayEnvelope.maxDatagram else {
            handshaker.countDrop(.noRoute)
            return
        }
        sendHop([MeshPlaintextKind.routing, 0, UInt8(m.bytes.count >> 8), UInt8(m.bytes.count & 0xFF)] + m.bytes, to: r)
    }

    func stage(_ plaintext: [UInt8], in queue: inout [[UInt8]]) {
        if queue.count >= configuration.stagedLimit {
            queue.removeFirst()
            handshaker.countDrop(.stagedOverflow)
        }
        queue.append(plaintext)
    }

    /// A transport message of `plaintext` sealed with `s`; nil when the session may not send.
    func seal(_ plaintext: [UInt8], with s: MeshSession) -> [UInt8]? {
        let h = TransportHeader.size
        let padded = TransportHeader.paddedLength(plaintext.count, mtu: nil)
        var buffer = [UInt8](repeating: 0, count: h + padded + WireGuardConstants.tagSize)
        buffer.replaceSubrange(h..<(h + plaintext.count), with: plaintext)
        guard let n = buffer.withUnsafeMutableBytes({ handshaker.seal(s, packet: $0, count: plaintext.count, now: now) })
        else { return nil }
        buffer.removeSubrange(n...)
        return buffer
    }

    /// Starts (or retransmits) a handshake with `p`, unless one started less than Rekey-Timeout ago.
    func initiate(_ p: MeshPeerState, retry: Bool) {
        if !retry, let last = p.lastInitiation, p.handshakeStarted != nil,
           now - last < WireGuardConstants.rekeyTimeout { return }
        guard let initiation = handshaker.initiate(to: p.key, now: now) else { return }
        if p.handshakeStarted == nil { p.handshakeStarted = now }
        p.lastInitiation = now
        // §6.4: Rekey-Timeout plus up to 333 ms of jitter, so two nodes dialling each other do not stay in step.
        let jitter = handshaker.nextRandom() % WireGuardConstants.rekeyTimeoutJitterMaxMilliseconds
        p.retransmitAt = now + WireGuardConstants.rekeyTimeout + .milliseconds(Int64(jitter))
        // An unanswered initiation also shows a dead direct path: the handshake then moves to a relay.
        transmit(initiation, to: p, isData: true)
    }

    func probe(_ p: MeshPeerState) {
        guard let e = p.endpoint, let s = usable(p.current) else { return }
        p.probeNonce &+= 1
        var plain: [UInt8] = [MeshPlaintextKind.probe, 0, 0, 0]
        for i in 0..<8 { plain.append(UInt8(truncatingIfNeeded: p.probeNonce >> (56 - 8 * i))) }
        guard let sealed = seal(plain, with: s) else { return }
        counters.probesSent &+= 1
        out.append(.send(sealed, to: e))
    }

    // MARK: Receiving

    /// One datagram: from `source` directly (`hop` nil), or out of an envelope that `hop` delivered, sent by
    /// `origin`.
    func receiveDatagram(_ datagram: [UInt8], from source: SocketAddressV4, hop: MeshPeerState?, origin: PublicKey?) {
        guard datagram.count >= 4 else {
            handshaker.countDrop(.badSize)
            return
        }
        let type = UInt32(datagram[0]) | UInt32(datagram[1]) << 8 | UInt32(datagram[2]) << 16 | UInt32(datagram[3]) << 24
        switch type {
        case MeshConstants.initiationType, MeshConstants.responseType, MeshConstants.cookieReplyType,
             MeshConstants.xxInitiationType, MeshConstants.xxResponseType, MeshConstants.xxConfirmationType:
            receiveHandshake(datagram, from: source, hop: hop, origin: origin)
        case MeshConstants.transportType:
            receiveTransport(datagram, from: source, hop: hop, origin: origin)
        default:
            handshaker.countDrop(.unknownMessageType)
        }
    }

    func receiveHandshake(_ message: [UInt8], from source: SocketAddressV4, hop: MeshPeerState?, origin: PublicKey?) {
        let result = handshaker.receive(message, from: hop == nil ? source : Self.relayedSource, now: now)
        if let reply = result.reply {
            if let hop, let origin {
                // Back the way it came, in an envelope to its origin.
                if let e = RelayEnvelope(hopLimit: configuration.hopLimit, destination: origin, source: localKey,
                                         datagram: reply).encode() { sendHop(e, to: hop) }
            } else {
                out.append(.send(reply, to: source))
            }
        }
        guard let session = result.session else { return }
        if let origin, session.peerStatic != origin {
            // The envelope named another source than the key that handshaked: forget the session.
            handshaker.remove(session)
            handshaker.countDrop(.relaySpoofed)
            return
        }
        let p = peers[session.peerStatic] ?? addPeer(MeshPeer(key: session.peerStatic, name: session.peer.node.fields.name))
        ownership = nil  // the certificate's addresses and prefixes count from now on
        if hop == nil { p.endpoint = source }
        if session.isInitiator {
            p.current = session
            p.handshakeStarted = nil; p.retransmitAt = nil; p.lastInitiation = nil
            if hop == nil {
                directReceive(p)
                for m in routing.neighbourUp(p.key, now: now) { sendRouting(m) }
            }
            flush(p)
            // Confirm the session to the responder (WireGuard: a keepalive when nothing else is waiting).
            if p.keepaliveAt == nil, p.current === session, session.keypair.nextSendCounter == 0 {
                sendEndToEnd([], to: p, isData: false)
            }
        } else {
            if let old = p.next, old !== session, old !== p.current { handshaker.remove(old) }
            p.next = session
        }
    }

    func receiveTransport(_ message: [UInt8], from source: SocketAddressV4, hop: MeshPeerState?, origin: PublicKey?) {
        var buffer = message
        let opened = buffer.withUnsafeMutableBytes { handshaker.openPlaintext(message: $0, count: message.count, now: now) }
        guard case .plaintext(let session, let range) = opened else { return }
        transportOpened(buffer, session: session, range: range, from: source, hop: hop, origin: origin)
    }

    /// A transport message opened: its plaintext at `buffer[range]`, authenticated for `session`.
    func transportOpened(_ buffer: [UInt8], session: MeshSession, range: Range<Int>, from source: SocketAddressV4,
                         hop: MeshPeerState?, origin: PublicKey?) {
        guard let p = peers[session.peerStatic] else {
            handshaker.countDrop(.unknownIndex)
            return
        }
        if let origin, origin != p.key {
            handshaker.countDrop(.relaySpoofed)
            return
        }
        p.newHandshakeAt = nil
        if p.next === session {
            // The peer uses the session it answered: it becomes the one we send with.
            p.current = session
            p.next = nil
            ownership = nil
            p.handshakeStarted = nil; p.retransmitAt = nil; p.lastInitiation = nil
            if hop == nil { for m in routing.neighbourUp(p.key, now: now) { sendRouting(m) } }
            flush(p)
        }
        if hop == nil {
            p.endpoint = source  // roaming: the latest authenticated source
            directReceive(p)
        } else if !p.directDown, p.endpoint != nil, !range.isEmpty,
                  p.lastDirectReceive.map({ now - $0 > configuration.directPathTimeout }) ?? true {
            // The peer chose the relayed path and we heard nothing direct lately: follow it, and probe.
            markDirectDown(p)
        }
        if range.isEmpty { return }  // keepalive
        let kind = buffer[range.lowerBound]
        if kind >> 4 == 4 {
            receiveInner(buffer, range: range, session: session, from: p)
            return
        }
        switch kind {
        case MeshPlaintextKind.relay:
            guard hop == nil, let e = buffer.withUnsafeBytes({ RelayEnvelope(parsing: $0, range: range) }) else {
                handshaker.countDrop(.relayMalformed)
                return
            }
            receiveEnvelope(e, from: p, session: session)
        case MeshPlaintextKind.routing:
            guard hop == nil, range.count >= 4 else { handshaker.countDrop(.unknownPlaintext); return }
            let h = range.lowerBound
            let length = Int(buffer[h + 2]) << 8 | Int(buffer[h + 3])
            guard length <= range.count - 4 else { handshaker.countDrop(.unknownPlaintext); return }
            dataReceived(p)
            for m in routing.receive(Array(buffer[(h + 4)..<(h + 4 + length)]), from: p.key, now: now) { sendRouting(m) }
        case MeshPlaintextKind.revocation:
            guard hop == nil, range.count >= 4 else { handshaker.countDrop(.unknownPlaintext); return }
            let h = range.lowerBound
            let length = Int(buffer[h + 2]) << 8 | Int(buffer[h + 3])
            guard length <= range.count - 4,
                  let list = try? RevocationList(parsing: Array(buffer[(h + 4)..<(h + 4 + length)])) else {
                handshaker.countDrop(.badRevocationList)
                return
            }
            let pending = take()
            let more = receiveRevocationList(list, from: p.key, now: now)
            out = pending + more
        case MeshPlaintextKind.probe:
            guard hop == nil, range.count >= 12, let s = usable(p.current) ?? usable(session) else { return }
            var reply = Array(buffer[range.lowerBound..<(range.lowerBound + 12)])
            reply[0] = MeshPlaintextKind.probeReply
            if let sealed = seal(reply, with: s) { out.append(.send(sealed, to: source)) }
        case MeshPlaintextKind.probeReply:
            break  // its arrival on the direct path was the point (directReceive above)
        default:
            handshaker.countDrop(.unknownPlaintext)
        }
    }

    /// An authenticated packet came straight from `p`'s endpoint: the direct path works.
    func directReceive(_ p: MeshPeerState) {
        p.lastDirectReceive = now
        p.unansweredSince = nil
        if p.directDown {
            p.directDown = false
            p.nextProbeAt = nil
            counters.failbacks &+= 1
            for m in routing.neighbourUp(p.key, now: now) { sendRouting(m) }
        }
    }

    func markDirectDown(_ p: MeshPeerState) {
        p.directDown = true
        p.unansweredSince = nil
        p.nextProbeAt = now
        counters.failovers &+= 1
        for m in routing.neighbourDown(p.key, now: now) { sendRouting(m) }
    }

    /// Data (not a keepalive) arrived from `p`: answer with a keepalive unless something is sent first.
    func dataReceived(_ p: MeshPeerState) {
        if p.keepaliveAt == nil { p.keepaliveAt = now + configuration.keepaliveInterval }
    }

    func receiveInner(_ buffer: [UInt8], range: Range<Int>, session: MeshSession, from p: MeshPeerState) {
        let h = range.lowerBound
        guard range.count >= 20 else { handshaker.countDrop(.invalidPacket); return }
        let total = Int(buffer[h + 2]) << 8 | Int(buffer[h + 3])
        guard total >= 20, total <= range.count else { handshaker.countDrop(.invalidPacket); return }
        let source = IPv4Address(rawValue: UInt32(buffer[h + 12]) << 24 | UInt32(buffer[h + 13]) << 16
                                 | UInt32(buffer[h + 14]) << 8 | UInt32(buffer[h + 15]))
        let authorized = session.peer.node.covers(source: source)
            || p.addresses.contains { $0.family == 4 && $0.ipv4 == source }
            || p.prefixes.contains { $0.family == 4 && $0.contains(source) }
        guard authorized else { handshaker.countDrop(.disallowedSource); return }
        dataReceived(p)
        counters.packetsDelivered &+= 1
        out.append(.deliver(Array(buffer[h..<(h + total)])))
    }

    /// An envelope from the neighbour `hop`: ours to open, or to forward when this node relays.
    func receiveEnvelope(_ e: RelayEnvelope, from hop: MeshPeerState, session: MeshSession) {
        // Only a relay may pass on envelopes from others; anyone may send its own.
        let hopRelays = session.peer.node.fields.capabilities.contains(.relay)
        guard e.source == hop.key || hopRelays else { handshaker.countDrop(.relaySpoofed); return }
        dataReceived(hop)
        if e.destination == localKey {
            guard e.source != localKey else { handshaker.countDrop(.relayMalformed); return }
            receiveDatagram(e.datagram, from: Self.relayedSource, hop: hop, origin: e.source)
            return
        }
        guard isRelay else { handshaker.countDrop(.relayRefused); return }
        guard e.hopLimit > 1 else { handshaker.countDrop(.relayHopLimit); return }
        var next = e
        next.hopLimit -= 1
        forward(next, excluding: hop.key)
    }

    /// Passes an envelope on toward its destination: straight to it in the hop session with it, or to the next
    /// relay — never back to `excluding`, the neighbour it came from.
    func forward(_ e: RelayEnvelope, excluding: PublicKey) {
        guard let d = peers[e.destination], let bytes = e.encode() else { handshaker.countDrop(.noRoute); return }
        switch route(to: d, excluding: excluding) {
        case .direct:
            counters.relayed &+= 1
            sendHop(bytes, to: d)
        case .via(let r):
            counters.relayed &+= 1
            sendHop(bytes, to: r)
        case .none:
            handshaker.countDrop(.noRoute)
        }
    }

    /// A session with `p` became usable: send what waited for it.
    func flush(_ p: MeshPeerState) {
        let waiting = p.staged, waitingHop = p.stagedHop
        p.staged = []; p.stagedHop = []
        for plaintext in waiting { sendEndToEnd(plaintext, to: p, isData: true) }
        for plaintext in waitingHop { sendHop(plaintext, to: p) }
    }
}
