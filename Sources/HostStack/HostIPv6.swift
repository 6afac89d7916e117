// The host's IPv6 (RFC 8200) on one Ethernet link: its addresses (a link-local address from the
// MAC's modified EUI-64 interface id, RFC 4291 App. A; SLAAC addresses from router advertisements,
// RFC 4862 §5.5.3; static ones), duplicate address detection (RFC 4862 §5.4), neighbour discovery
// (RFC 4861: answering NS with NA, resolving neighbours, RS on start, RA processing with the MTU and
// RDNSS (RFC 8106) options), and ICMPv6 echo (RFC 4443 §4) — the server and `ping6`.
//
// Nothing here runs until `startIPv6` or `addIPv6Address`: a host that is never asked for IPv6
// counts IPv6 frames as `unsupported` and sends none, as before.

import Basics
import Wire

/// Where an IPv6 address came from.
public enum IPv6AddressOrigin: Sendable {
    // No raw values: `==` on a raw-valued enum goes through RawRepresentable's generic `==`,
    // which allocates in debug builds on the per-packet paths.
    case linkLocal, slaac, `static`
}

/// RFC 4862 §2's address states (plus `duplicate`: DAD failed, the address is not used).
public enum IPv6AddressState: Sendable {
    case tentative, preferred, deprecated, duplicate
}

/// One address of the host's interface.
public struct HostIPv6Address: Equatable, Sendable, CustomStringConvertible {
    public var network: IPv6Network
    public var origin: IPv6AddressOrigin
    public var state: IPv6AddressState
    /// End of the preferred lifetime (nil: infinite).
    public var preferredUntil: Instant?
    /// End of the valid lifetime (nil: infinite).
    public var validUntil: Instant?
    /// DAD probes sent so far, and when the next one (or the end of DAD) is due.
    var probesSent = 0
    var dadAt: Instant?

    public var address: IPv6Address { network.address }
    /// Usable as a source and answered for (RFC 4862 §5.5.4: deprecated addresses still work).
    public var isUsable: Bool { state == .preferred || state == .deprecated }
    public var description: String { "\(network) \(origin) \(state)" }
}

/// What the host's IPv6 counted. Every dropped IPv6 packet is counted under one reason.
public struct HostIPv6Counters: Equatable, Sendable {
    public var packetsReceived = 0
    /// Failed to parse (truncated, bad checksum, NDP validity checks of RFC 4861 §6.1/§7.1).
    public var malformed = 0
    /// For an address or group the host does not have.
    public var notForUs = 0
    /// Upper layers and ICMPv6 types this host does not handle (UDP/TCP over IPv6, MLD, Redirect).
    public var unsupported = 0
    public var neighborSolicitationsReceived = 0
    public var neighborSolicitationsSent = 0
    public var neighborAdvertisementsReceived = 0
    public var neighborAdvertisementsSent = 0
    /// DAD probes (NS from ::) sent.
    public var dadProbesSent = 0
    /// Addresses found duplicate by DAD (RFC 4862 §5.4.5): not used.
    public var duplicateAddresses = 0
    /// NAs claiming one of our usable addresses from another MAC (logged, not acted on).
    public var addressConflicts = 0
    public var routerSolicitationsSent = 0
    public var routerAdvertisementsReceived = 0
    /// RA options not taken (prefix without A flag or not /64, link-local prefix, preferred >
    /// valid lifetime, MTU out of range).
    public var routerAdvertisementOptionsIgnored = 0
    public var echoRequestsReceived = 0
    public var echoRepliesSent = 0
    public var echoRequestsSent = 0
    public var echoRepliesReceived = 0
    public var unmatchedEchoReplies = 0
    public var neighborResolutionFailures = 0
    /// Packets dropped waiting for neighbour resolution (queue full or resolution failed).
    public var neighborQueueDrops = 0
    /// No usable source, no on-link prefix and no default router.
    public var noRoute = 0
    public var tooBig = 0

    public init() {}

    /// Every counter by name, in declaration order (for reports).
    public var fields: [(name: String, value: Int)] {
        [("packetsReceived", packetsReceived), ("malformed", malformed), ("notForUs", notForUs), ("unsupported", unsupported),
         ("neighborSolicitationsReceived", neighborSolicitationsReceived), ("neighborSolicitationsSent", neighborSolicitationsSent),
         ("neighborAdvertisementsReceived", neighborAdvertisementsReceived), ("neighborAdvertisementsSent", neighborAdvertisementsSent),
         ("dadProbesSent", dadProbesSent), ("duplicateAddresses", duplicateAddresses), ("addressConflicts", addressConflicts),
         ("routerSolicitationsSent", routerSolicitationsSent), ("routerAdvertisementsReceived", routerAdvertisementsReceived),
         ("routerAdvertisementOptionsIgnored", routerAdvertisementOptionsIgnored),
         ("echoRequestsReceived", echoRequestsReceived), ("echoRepliesSent", echoRepliesSent),
         ("echoRequestsSent", echoRequestsSent), ("echoRepliesReceived", echoRepliesReceived),
         ("unmatchedEchoReplies", unmatchedEchoReplies),
         ("neighborResolutionFailures", neighborResolutionFailures), ("neighborQueueDrops", neighborQueueDrops),
         ("noRoute", noRoute), ("tooBig", tooBig)]
    }
}

/// The host's IPv6 state (module-internal; `Host` exposes it through properties).
struct HostIPv6State {
    var configuration: HostIPv6Configuration
    var random: SeededRandom
    var started = false
    var addresses: [HostIPv6Address] = []
    var neighbors: HostNeighborTable
    var counters = HostIPv6Counters()
    var defaultRouter: IPv6Address?
    var defaultRouterUntil: Instant?
    var mtu: Int?
    var hopLimit: UInt8
    var dnsServers: [IPv6Address] = []
    var dnsUntil: Instant?
    var solicitationsSent = 0
    var solicitAt: Instant?

    init(configuration: HostIPv6Configuration, random: SeededRandom) {
        self.configuration = configuration
        self.random = random
        neighbors = HostNeighborTable(configuration: configuration)
        hopLimit = configuration.hopLimit
    }

    /// A seeded delay in [0, bound).
    mutating func jitter(below bound: Duration) -> Duration {
        let ns = bound.nanosecondsClamped
        guard ns > 0 else { return .zero }
        return .nanoseconds(Int64(random.next() % UInt64(ns)))
    }
}

extension Duration {
    /// Seconds from a 32-bit lifetime field; nil for 0xFFFFFFFF (infinity, RFC 4861 §4.6.2).
    static func lifetime(_ seconds: UInt32) -> Duration? {
        seconds == UInt32.max ? nil : .seconds(Int64(seconds))
    }
}

extension Host {
    // MARK: Public state

    /// The interface's IPv6 addresses, in the order they were added (link-local first).
    public var ipv6Addresses: [HostIPv6Address] { v6.addresses }
    /// IPv6 counters (kept apart from `counters` so IPv4-only reports do not change).
    public var ipv6Counters: HostIPv6Counters { v6.counters }
    /// The default router learned from RAs, if its lifetime runs.
    public var ipv6DefaultRouter: IPv6Address? { v6.defaultRouter }
    /// The link MTU from an RA's MTU option, if any.
    public var ipv6LinkMTU: Int? { v6.mtu }
    /// DNS servers from RDNSS options (RFC 8106).
    public var ipv6DNSServers: [IPv6Address] { v6.dnsServers }
    /// Whether the host speaks IPv6.
    public var ipv6Started: Bool { v6.started }
    /// The link-local address, once DAD has passed.
    public var ipv6LinkLocal: IPv6Address? {
        // Plain loops on the per-packet paths: unspecialized `first(where:)` allocates in debug builds.
        let addresses = v6.addresses
        var i = 0
        while i < addresses.count {
            if addresses[i].origin == .linkLocal, addresses[i].isUsable { return addresses[i].address }
            i += 1
        }
        return nil
    }
    /// The first usable address that is not link-local (SLAAC or static), if any.
    public var ipv6GlobalAddress: IPv6Address? {
        v6.addresses.first { $0.origin != .linkLocal && $0.isUsable }?.address
    }

    // MARK: Starting

    /// Turns IPv6 on: forms the link-local address (fe80::/64 + modified EUI-64 of the MAC) and
    /// starts DAD on it, and, if `autoconfigures`, schedules router solicitations. Idempotent.
    public func startIPv6(now: Instant) {
        guard !v6.started else { return }
        v6.started = true
        let delay = v6.jitter(below: v6.configuration.maxRtrSolicitationDelay)
        let linkLocal = IPv6Network(address: .linkLocal(mac: mac), prefixLength: 64)!
        // RFC 4862 §5.4.2: the first DAD probe after interface initialization waits a random delay.
        addAddress(linkLocal, origin: .linkLocal, preferred: nil, valid: nil, firstProbeAt: now + delay, now: now)
        if v6.configuration.autoconfigures, v6.configuration.maxRtrSolicitations > 0 {
            // RFC 4861 §6.3.7: "delay the transmission for a random amount of time between 0 and
            // MAX_RTR_SOLICITATION_DELAY".
            v6.solicitAt = now + v6.jitter(below: v6.configuration.maxRtrSolicitationDelay)
        }
    }

    /// Adds a static address (after DAD), starting IPv6 first if needed.
    public func addIPv6Address(_ network: IPv6Network, now: Instant) {
        startIPv6(now: now)
        guard !v6.addresses.contains(where: { $0.address == network.address }) else { return }
        addAddress(network, origin: .static, preferred: nil, valid: nil, firstProbeAt: now, now: now)
    }

    /// The MAC the neighbour table holds for `address`, if fresh at `now`.
    public func neighborEntry(for address: IPv6Address, now: Instant) -> MACAddress? {
        v6.neighbors.lookup(address, now: now)
    }

    private func addAddress(_ network: IPv6Network, origin: IPv6AddressOrigin, preferred: Instant?, valid: Instant?,
                            firstProbeAt: Instant, now: Instant) {
        let dad = v6.configuration.dupAddrDetectTransmits > 0
        v6.addresses.append(HostIPv6Address(network: network, origin: origin, state: dad ? .tentative : .preferred,
                                            preferredUntil: preferred, validUntil: valid, probesSent: 0,
                                            dadAt: dad ? firstProbeAt : nil))
        if dad, firstProbeAt <= now { pollDAD(now: now) }
    }

    // MARK: Timers

    func pollIPv6(now: Instant) {
        guard v6.started else { return }
        pollDAD(now: now)
        pollLifetimes(now: now)
        if let at = v6.solicitAt, at <= now { sendRouterSolicitation(now: now) }
        let (retry, failed) = v6.neighbors.poll(now: now)
        for target in retry { sendNeighborSolicitation(for: target, now: now) }
        for (_, dropped) in failed {
            v6.counters.neighborResolutionFailures += 1
            v6.counters.neighborQueueDrops += dropped
        }
    }

    func nextIPv6Deadline() -> Instant? {
        guard v6.started else { return nil }
        var earliest = Instant.earliest(v6.solicitAt, v6.neighbors.nextDeadline())
        earliest = Instant.earliest(earliest, v6.defaultRouterUntil)
        earliest = Instant.earliest(earliest, v6.dnsUntil)
        for a in v6.addresses where a.state != .duplicate {
            earliest = Instant.earliest(earliest, a.dadAt)
            if a.state != .deprecated { earliest = Instant.earliest(earliest, a.preferredUntil) }
            earliest = Instant.earliest(earliest, a.validUntil)
        }
        return earliest
    }

    /// RFC 4862 §5.4.2: DupAddrDetectTransmits NS from :: to the solicited-node group, one
    /// RetransTimer apart; RetransTimer after the last with no answer, the address is used.
    private func pollDAD(now: Instant) {
        for i in v6.addresses.indices {
            guard v6.addresses[i].state == .tentative, let at = v6.addresses[i].dadAt, at <= now else { continue }
            if v6.addresses[i].probesSent >= v6.configuration.dupAddrDetectTransmits {
                v6.addresses[i].state = (v6.addresses[i].preferredUntil.map { $0 <= now } ?? false) ? .deprecated : .preferred
                v6.addresses[i].dadAt = nil
            } else {
                let target = v6.addresses[i].address
                v6.addresses[i].probesSent += 1
                v6.addresses[i].dadAt = now + v6.configuration.retransTimer
                let sent = sendNDP(source: .unspecified, destination: target.solicitedNodeMulticast,
                                   to: target.solicitedNodeMulticast.multicastMAC,
                                   message: .neighborSolicitation(NDPNeighborSolicitation(target: target)))
                if sent { v6.counters.dadProbesSent += 1 }
            }
        }
    }

    private func pollLifetimes(now: Instant) {
        for i in v6.addresses.indices {
            if v6.addresses[i].state == .preferred, let p = v6.addresses[i].preferredUntil, p <= now {
                v6.addresses[i].state = .deprecated
            }
        }
        v6.addresses.removeAll { a in a.validUntil.map { $0 <= now } ?? false }
        if let until = v6.defaultRouterUntil, until <= now { v6.defaultRouter = nil; v6.defaultRouterUntil = nil }
        if let until = v6.dnsUntil, until <= now { v6.dnsServers = []; v6.dnsUntil = nil }
    }

    /// RFC 4861 §6.3.7: from the link-local address once usable (with our link-layer address),
    /// else from :: without it; up to MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL apart.
    private func sendRouterSolicitation(now: Instant) {
        v6.solicitationsSent += 1
        v6.solicitAt = v6.solicitationsSent < v6.configuration.maxRtrSolicitations
            ? now + v6.configuration.rtrSolicitationInterval : nil
        let source = ipv6LinkLocal ?? .unspecified
        let options: [NDPOption] = source.isUnspecified ? [] : [.sourceLinkLayerAddress(mac)]
        if sendNDP(source: source, destination: .allRouters, to: IPv6Address.allRouters.multicastMAC,
                   message: .routerSolicitation(NDPRouterSolicitation(options: options))) {
            v6.counters.routerSolicitationsSent += 1
        }
    }

    // MARK: Receive

    /// Whether an Ethernet multicast frame may carry IPv6 for us (the IPv6 layer filters by group).
    func acceptsIPv6Multicast(_ destination: MACAddress) -> Bool { v6.started && destination.isMulticast }

    /// Handles an Ethernet frame carrying IPv6.
    func receiveIPv6(_ frame: UnsafeRawBufferPointer, now: Instant) {
        v6.counters.packetsReceived += 1
        let parsed: IPv6Frame.Parsed
        do { parsed = try IPv6Frame.parse(frame) } catch {
            if case .unsupported = error { v6.counters.unsupported += 1 } else { v6.counters.malformed += 1 }
            return
        }
        let ip = parsed.ip
        let destination = ip.destination
        var unicast = false, tentativeTarget = false, group = destination == .allNodes
        let addresses = v6.addresses
        var i = 0
        while i < addresses.count {  // index loop: `for in` allocates per call in debug builds
            let a = addresses[i]
            i += 1
            if destination.isMulticast {
                if a.state != .duplicate, a.address.solicitedNodeMulticast == destination { group = true }
            } else if a.address == destination {
                unicast = a.isUsable
                tentativeTarget = a.state == .tentative
            }
        }
        // RFC 4862 §5.4: a tentative address takes no packets but DAD's own NDP.
        guard unicast || group || tentativeTarget else { v6.counters.notForUs += 1; return }
        guard parsed.extensions.upperLayer == .icmpv6, !parsed.extensions.isLaterFragment else {
            v6.counters.unsupported += 1; return
        }
        let payload = frame.slice(parsed.upperLayerRange)
        guard payload.count >= ICMPv6Constants.headerLength else { v6.counters.malformed += 1; return }
        let type = ICMPv6Type(rawValue: payload.u8(0))
        if NDPMessage.isNDP(type) {
            let message: NDPMessage
            do { message = try NDPMessage(parsing: payload, ip: ip) } catch {
                if case .unsupported = error { v6.counters.unsupported += 1 } else { v6.counters.malformed += 1 }
                return
            }
            receiveNDP(message, ip: ip, ethernetSource: parsed.ethernet.source, now: now)
            return
        }
        guard !tentativeTarget else { v6.counters.notForUs += 1; return }
        let icmp: ICMPv6Message
        do { icmp = try ICMPv6Message(parsing: payload, source: ip.source, destination: ip.destination) } catch {
            v6.counters.malformed += 1; return
        }
        switch icmp.type {
        case .echoRequest:
            v6.counters.echoRequestsReceived += 1
            // Like the IPv4 side, only requests to our own unicast address are answered.
            guard unicast, configuration.answersEchoRequests, !ip.source.isMulticast, !ip.source.isUnspecified else { return }
            let reply = ICMPv6Message.echoReply(identifier: icmp.identifier, sequenceNumber: icmp.sequenceNumber)
            let data = payload.slice(from: ICMPv6Constants.headerLength)
            let header = IPv6Header(source: destination, destination: ip.source, nextHeader: .icmpv6,
                                    payloadLength: 0, hopLimit: v6.hopLimit)
            let sent = sendIPv6(to: ip.source, packetLength: IPv6Constants.headerLength + payload.count, now: now) { out, ethernet throws(WireError) in
                try IPv6Frame.emitICMPv6(into: out, ethernet: ethernet, ip: header, icmp: reply, data: data)
            }
            if sent { v6.counters.echoRepliesSent += 1 }
        case .echoReply:
            v6.counters.echoRepliesReceived += 1
            guard let i = pings.lastIndex(where: { !$0.result.isFinished && $0.result.targetIPv6 == ip.source && $0.result.identifier == icmp.identifier })
                    ?? pings.lastIndex(where: { $0.result.targetIPv6 == ip.source && $0.result.identifier == icmp.identifier })
            else { v6.counters.unmatchedEchoReplies += 1; return }
            pings[i].reply(sequence: icmp.sequenceNumber, now: now)
        default:
            v6.counters.unsupported += 1
        }
    }

    private func receiveNDP(_ message: NDPMessage, ip: IPv6Header, ethernetSource: MACAddress, now: Instant) {
        switch message {
        case .neighborSolicitation(let ns):
            v6.counters.neighborSolicitationsReceived += 1
            guard let i = v6.addresses.firstIndex(where: { $0.address == ns.target }) else { v6.counters.notForUs += 1; return }
            let own = v6.addresses[i]
            if own.state == .tentative {
                // RFC 4862 §5.4.3: an NS from :: for our tentative address is another node's
                // DAD — the address is a duplicate. (An NS from elsewhere is ignored.)
                if ip.source.isUnspecified { markDuplicate(i) }
                return
            }
            guard own.isUsable else { return }
            // RFC 4861 §7.2.3: learn the solicitor's link-layer address; answer with an NA.
            if !ip.source.isUnspecified, let sll = message.sourceLinkLayerAddress, sll.isUnicast {
                for frame in v6.neighbors.update(ip.source, mac: sll, now: now) { emitFrame(frame) }
            }
            let solicited = !ip.source.isUnspecified
            let destination = solicited ? ip.source : IPv6Address.allNodes
            let na = NDPNeighborAdvertisement(router: false, solicited: solicited, override: true, target: ns.target,
                                              options: [.targetLinkLayerAddress(mac)])
            let destinationMAC = solicited ? (message.sourceLinkLayerAddress ?? ethernetSource) : IPv6Address.allNodes.multicastMAC
            if sendNDP(source: ns.target, destination: destination, to: destinationMAC, message: .neighborAdvertisement(na)) {
                v6.counters.neighborAdvertisementsSent += 1
            }
        case .neighborAdvertisement(let na):
            v6.counters.neighborAdvertisementsReceived += 1
            if let i = v6.addresses.firstIndex(where: { $0.address == na.target }) {
                // RFC 4862 §5.4.4: an NA for a tentative address — duplicate. For a usable one,
                // another node claims it: logged only (§5.4.4 leaves the reaction open).
                if v6.addresses[i].state == .tentative { markDuplicate(i) }
                else if v6.addresses[i].isUsable, message.targetLinkLayerAddress != mac { v6.counters.addressConflicts += 1 }
                return
            }
            guard let tll = message.targetLinkLayerAddress ?? (ip.destination.isMulticast ? nil : ethernetSource),
                  tll.isUnicast, v6.neighbors.knows(na.target) else { return }
            for frame in v6.neighbors.update(na.target, mac: tll, now: now) { emitFrame(frame) }
        case .routerAdvertisement(let ra):
            v6.counters.routerAdvertisementsReceived += 1
            guard v6.configuration.autoconfigures else { return }
            receiveRouterAdvertisement(ra, from: ip.source, linkLayer: message.sourceLinkLayerAddress, now: now)
        case .routerSolicitation, .redirect:
            v6.counters.unsupported += 1  // hosts ignore RSs (§6.2.6 is for routers); no redirects here
        }
    }

    private func markDuplicate(_ i: Int) {
        v6.addresses[i].state = .duplicate
        v6.addresses[i].dadAt = nil
        v6.counters.duplicateAddresses += 1
    }

    /// RFC 4861 §6.3.4 and RFC 4862 §5.5.3.
    private func receiveRouterAdvertisement(_ ra: NDPRouterAdvertisement, from router: IPv6Address,
                                            linkLayer: MACAddress?, now: Instant) {
        v6.solicitAt = nil  // §6.3.7: stop soliciting once an RA arrived
        if let linkLayer, linkLayer.isUnicast {
            for frame in v6.neighbors.update(router, mac: linkLayer, now: now) { emitFrame(frame) }
        }
        if ra.currentHopLimit != 0 { v6.hopLimit = ra.currentHopLimit }
        if ra.routerLifetime == 0 {
            if v6.defaultRouter == router { v6.defaultRouter = nil; v6.defaultRouterUntil = nil }
        } else {
            v6.defaultRouter = router
            v6.defaultRouterUntil = now + .seconds(Int64(ra.routerLifetime))
        }
        for option in ra.options {
            switch option {
            case .mtu(let value):
                // §6.3.4: "If the MTU option is present, hosts SHOULD copy the option's value
                // into LinkMTU so long as the value is greater than or equal to the minimum link
                // MTU [IPv6] and does not exceed the maximum LinkMTU value".
                if value >= UInt32(IPv6Constants.minimumMTU), value <= UInt32(configuration.mtu) { v6.mtu = Int(value) }
                else { v6.counters.routerAdvertisementOptionsIgnored += 1 }
            case .recursiveDNSServers(let lifetime, let servers):
                if lifetime == 0 { v6.dnsServers = []; v6.dnsUntil = nil; continue }
                v6.dnsServers = Array(servers.prefix(3))
                v6.dnsUntil = Duration.lifetime(lifetime).map { now + $0 }
            case .prefixInformation(let info):
                applyPrefix(info, now: now)
            default:
                continue
            }
        }
    }

    /// RFC 4862 §5.5.3.
    private func applyPrefix(_ info: NDPPrefixInformation, now: Instant) {
        // (a) A flag, (b) not link-local, (c) preferred ≤ valid; and a /64 for an EUI-64 id.
        guard info.autonomous, !info.prefix.isLinkLocal, info.preferredLifetime <= info.validLifetime,
              let network = info.network, network.prefixLength == 64,
              let address = IPv6Network(address: network.prefix, prefixLength: 64)?
                .address(interfaceIdentifier: IPv6Address.interfaceIdentifier(eui48: mac))
        else { v6.counters.routerAdvertisementOptionsIgnored += 1; return }
        let valid = Duration.lifetime(info.validLifetime).map { now + $0 }
        let preferred = Duration.lifetime(info.preferredLifetime).map { now + $0 }
        if let i = v6.addresses.firstIndex(where: { $0.address == address }) {
            guard v6.addresses[i].origin == .slaac else { return }
            // (e): the two-hour rule against a forged short valid lifetime.
            let twoHours = Duration.seconds(7200)
            let remaining = v6.addresses[i].validUntil.map { $0 > now ? $0 - now : .zero }
            if valid == nil || info.validLifetime > 7200 || (remaining.map { Duration.seconds(Int64(info.validLifetime)) > $0 } ?? false) {
                v6.addresses[i].validUntil = valid
            } else if remaining.map({ $0 > twoHours }) ?? true {
                v6.addresses[i].validUntil = now + twoHours
            }
            v6.addresses[i].preferredUntil = preferred
            if v6.addresses[i].state == .deprecated, info.preferredLifetime > 0 { v6.addresses[i].state = .preferred }
            return
        }
        // (d): a new prefix with a valid lifetime of zero is ignored.
        guard info.validLifetime > 0, let slaac = IPv6Network(address: address, prefixLength: 64) else { return }
        addAddress(slaac, origin: .slaac, preferred: preferred, valid: valid, firstProbeAt: now, now: now)
    }

    // MARK: Send

    /// The source for a packet to `destination` (RFC 6724, reduced): link-local for link-local
    /// and multicast destinations, else a usable address in the destination's prefix, else any
    /// usable global one, else the link-local.
    func ipv6Source(for destination: IPv6Address) -> IPv6Address? {
        let linkLocal = ipv6LinkLocal
        if destination.isLinkLocal || destination.isMulticast { return linkLocal }
        // One pass, no filtered copy: nothing allocated per packet.
        var inPrefix: IPv6Address?, preferred: IPv6Address?, usable: IPv6Address?
        let addresses = v6.addresses
        var i = 0
        while i < addresses.count {
            let a = addresses[i]
            i += 1
            guard a.origin != .linkLocal, a.isUsable else { continue }
            if inPrefix == nil, a.state == .preferred, a.network.contains(destination) { inPrefix = a.address }
            if preferred == nil, a.state == .preferred { preferred = a.address }
            if usable == nil { usable = a.address }
        }
        return inPrefix ?? preferred ?? usable ?? linkLocal
    }

    /// Whether the host has a route to `destination` now (on-link, or a default router).
    public func ipv6Reaches(_ destination: IPv6Address) -> Bool { ipv6NextHop(destination) != nil }

    /// The neighbour a packet to `destination` goes to: itself when on-link (link-local, or in
    /// one of our prefixes), else the default router.
    func ipv6NextHop(_ destination: IPv6Address) -> IPv6Address? {
        if destination.isLinkLocal { return destination }
        let addresses = v6.addresses
        var i = 0
        while i < addresses.count {
            if addresses[i].isUsable, addresses[i].origin != .linkLocal, addresses[i].network.contains(destination) { return destination }
            i += 1
        }
        return v6.defaultRouter
    }

    /// Routes a packet of `packetLength` bytes and lets `build` write the frame (Ethernet header
    /// given). Without a known neighbour MAC it waits for resolution. False if not sent.
    @discardableResult
    func sendIPv6(to destination: IPv6Address, packetLength: Int, now: Instant,
                  build: (UnsafeMutableRawBufferPointer, EthernetHeader) throws(WireError) -> Int) -> Bool {
        guard packetLength <= min(v6.mtu ?? configuration.mtu, configuration.mtu) else { v6.counters.tooBig += 1; return false }
        let length = EthernetHeader.untaggedLength + packetLength
        let neighborMAC: MACAddress
        if destination.isMulticast {
            neighborMAC = destination.multicastMAC
        } else {
            guard let next = ipv6NextHop(destination) else { v6.counters.noRoute += 1; return false }
            if let known = v6.neighbors.lookup(next, now: now) {
                neighborMAC = known
            } else {
                var frame = [UInt8](repeating: 0, count: length)
                let ethernet = EthernetHeader(destination: .zero, source: mac, etherType: .ipv6)
                let written: Int? = frame.withUnsafeMutableBytes { buffer in
                    do throws(WireError) { return try build(buffer, ethernet) } catch { return nil }
                }
                guard let written else { return false }
                frame.removeLast(length - written)
                let (started, dropped) = v6.neighbors.enqueue(frame, for: next, now: now)
                if dropped { v6.counters.neighborQueueDrops += 1 }
                if started { sendNeighborSolicitation(for: next, now: now) }
                return true
            }
        }
        let ethernet = EthernetHeader(destination: neighborMAC, source: mac, etherType: .ipv6)
        return emitFrame(maximumLength: length) { frame throws(WireError) in try build(frame, ethernet) }
    }

    /// A multicast NS for `target` (RFC 4861 §7.2.2), with our link-layer address.
    func sendNeighborSolicitation(for target: IPv6Address, now: Instant) {
        guard let source = ipv6Source(for: target) else { return }
        let group = target.solicitedNodeMulticast
        if sendNDP(source: source, destination: group, to: group.multicastMAC,
                   message: .neighborSolicitation(NDPNeighborSolicitation(target: target, options: [.sourceLinkLayerAddress(mac)]))) {
            v6.counters.neighborSolicitationsSent += 1
        }
    }

    @discardableResult
    func sendNDP(source: IPv6Address, destination: IPv6Address, to mac: MACAddress, message: NDPMessage) -> Bool {
        let ethernet = EthernetHeader(destination: mac, source: self.mac, etherType: .ipv6)
        let length = EthernetHeader.untaggedLength + IPv6Constants.headerLength + message.encodedLength
        return emitFrame(maximumLength: length) { frame throws(WireError) in
            try IPv6Frame.emitNDP(into: frame, ethernet: ethernet, source: source, destination: destination, message: message)
        }
    }

    // MARK: ping6

    /// Starts a ping session to an IPv6 address: like `ping`, with ICMPv6 echo (RFC 4443 §4.1).
    /// `hopLimit` overrides the hop limit.
    @discardableResult
    public func ping6(_ target: IPv6Address, count: Int = 4, interval: Duration = .seconds(1), size: Int = 56,
                      timeout: Duration = .seconds(1), hopLimit: UInt8? = nil, now: Instant) -> PingID {
        let n = min(max(count, 1), Int(UInt16.max))
        var identifier: UInt16
        repeat {
            identifier = UInt16(truncatingIfNeeded: random.next() >> 48)
        } while pings.contains { !$0.result.isFinished && $0.result.identifier == identifier }
        let probes = (0..<n).map { PingProbe(sequence: UInt16(truncatingIfNeeded: $0 + 1)) }
        var result = PingResult(target: .any, identifier: identifier, count: n, size: max(size, 0),
                                timeToLive: hopLimit ?? v6.hopLimit, probes: probes)
        result.targetIPv6 = target
        pings.append(PingSession(result: result, interval: interval, timeout: timeout, start: now))
        let id = PingID(rawValue: pings.count - 1)
        pollPings(now: now)
        return id
    }

    func sendEchoRequest6(session: PingResult, target: IPv6Address, index: Int, now: Instant) -> Bool {
        guard v6.started, let source = ipv6Source(for: target) else { v6.counters.noRoute += 1; return false }
        let probe = session.probes[index]
        let icmp = ICMPv6Message.echoRequest(identifier: session.identifier, sequenceNumber: probe.sequence)
        let header = IPv6Header(source: source, destination: target, nextHeader: .icmpv6, payloadLength: 0,
                                hopLimit: session.timeToLive)
        let size = session.size
        let packetLength = IPv6Constants.headerLength + ICMPv6Constants.headerLength + size
        let sent = sendIPv6(to: target, packetLength: packetLength, now: now) { frame, ethernet throws(WireError) in
            let dataOffset = ethernet.headerLength + IPv6Constants.headerLength + ICMPv6Constants.headerLength
            try frame.requireSpace(dataOffset + size)
            for j in 0..<size { frame[dataOffset + j] = UInt8(truncatingIfNeeded: j + 8) }
            return try IPv6Frame.emitICMPv6(into: frame, ethernet: ethernet, ip: header, icmp: icmp,
                                            data: UnsafeRawBufferPointer(frame.slice(dataOffset..<dataOffset + size)))
        }
        if sent { v6.counters.echoRequestsSent += 1 }
        return sent
    }
}
