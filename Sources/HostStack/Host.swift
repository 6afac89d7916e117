// A small sans-IO IPv4 host: the guest a simulated VM runs, and the peer tests talk to.
//
// The driver hands it frames (`receive`) and the time (`poll`), asks when it next needs the
// time (`nextDeadline`), and takes the frames it produced (`drainOutgoing` / `takeOutgoing`).
// Everything else — ARP, DHCP, ping, UDP — is reached through the action methods, and observed
// through the state properties, `events` and `counters`. The host never reads a clock, never
// touches a file descriptor, and draws randomness only from the generator it was given.

import Basics
import Wire

/// A simulated IPv4 host on one Ethernet interface.
public final class Host {
    /// For reports.
    public let name: String
    /// The interface's hardware address.
    public let mac: MACAddress
    public let configuration: HostConfiguration

    // MARK: State for assertions and reports

    /// The interface address and prefix in use; nil while unconfigured (or still probing).
    public internal(set) var address: IPv4Network?
    /// The default gateway, if any.
    public internal(set) var gateway: IPv4Address?
    /// DNS servers (from DHCP option 6, or as configured).
    public internal(set) var dnsServers: [IPv4Address] = []
    /// Where `address` came from.
    public internal(set) var addressSource: AddressSource?
    /// Notable happenings, oldest first (at most `configuration.eventLimit`).
    public internal(set) var events: [HostEvent] = []
    /// Frame, drop and protocol counters.
    public internal(set) var counters = HostCounters()

    /// The DHCP client's state.
    public var dhcpState: DHCPClientState { dhcp.state }
    /// The DHCP lease in use (BOUND, RENEWING or REBINDING).
    public var lease: DHCPClientLease? { dhcp.state.holdsAddress ? dhcp.lease : nil }
    /// The address being probed (RFC 5227) before use, if any.
    public var probingAddress: IPv4Address? { pendingAddress?.network.address }

    // MARK: Machinery (module-internal: the protocol files extend Host)

    /// An address waiting for its RFC 5227 probe to finish.
    struct PendingAddress {
        var network: IPv4Network
        var gateway: IPv4Address?
        var dnsServers: [IPv4Address]
        var source: AddressSource
    }

    var arp: HostARPCache
    var conflictDetection: AddressConflictDetection?
    var dhcp: DHCPClient
    var pendingAddress: PendingAddress?
    var pings: [PingSession] = []
    var floods: [UDPFloodSender] = []
    /// Keyed by port; looked up, never iterated.
    var floodReceivers: [UInt16: UDPFloodReceiverStats] = [:]
    var echoPorts: Set<UInt16> = []
    var inboxes: [UInt16: [UDPDatagram]] = [:]
    var outgoing = OutgoingFrames()
    var reassembly = IPv4Reassembly()
    /// TCP connections and listeners (HostTCP).
    var tcp: TCPHostState
    /// For ping identifiers, flood stream ids, IP identification and ephemeral ports.
    var random: SeededRandom
    var nextIdentification: UInt16
    var nextEphemeralPort: UInt16
    /// IPv6 (HostIPv6): idle until `startIPv6`.
    var v6: HostIPv6State

    /// A host with no address. `random` is split per component by stable names, so the same seed
    /// gives the same frames.
    public init(name: String, mac: MACAddress, random: SeededRandom, configuration: HostConfiguration = HostConfiguration()) {
        self.name = name
        self.mac = mac
        self.configuration = configuration
        var r = random
        let dhcpRandom = r.split("dhcp")
        let acdRandom = r.split("acd")
        arp = HostARPCache(configuration: configuration.arp)
        conflictDetection = configuration.addressConflictDetection.map {
            AddressConflictDetection(configuration: $0, random: acdRandom)
        }
        dhcp = DHCPClient(mac: mac, configuration: configuration.dhcp,
                          checksAddresses: configuration.addressConflictDetection?.probes ?? false,
                          random: dhcpRandom)
        var own = r.split("host")
        tcp = TCPHostState(random: r.split("tcp"))
        nextIdentification = UInt16(truncatingIfNeeded: own.next())
        // Linux's ephemeral range, 32768–60999.
        nextEphemeralPort = 32768 + UInt16(own.next() % 28232)
        self.random = own
        // Split last, so the IPv4 components draw exactly what they drew before IPv6 existed.
        v6 = HostIPv6State(configuration: configuration.ipv6, random: r.split("ipv6"))
    }

    // MARK: Driver interface

    /// Handles one Ethernet frame from the link (without FCS). Malformed frames are counted and
    /// dropped; nothing traps.
    public func receive(_ frame: UnsafeRawBufferPointer, now: Instant) {
        counters.framesReceived += 1
        counters.bytesReceived += frame.count
        let ethernet: EthernetHeader
        do { ethernet = try EthernetHeader(parsing: frame) } catch { countDrop(error); return }
        guard ethernet.source != mac else { counters.ownFrames += 1; return }
        guard ethernet.destination == mac || ethernet.destination.isBroadcast
                || (ethernet.etherType == .ipv6 && acceptsIPv6Multicast(ethernet.destination))
        else { counters.notForUs += 1; return }
        guard ethernet.vlan == nil else { counters.unsupported += 1; return }
        switch ethernet.etherType {
        case .arp: receiveARP(frame.slice(from: ethernet.headerLength), now: now)
        case .ipv4: receiveIPv4(frame, now: now)
        case .ipv6 where v6.started: receiveIPv6(frame, now: now)
        default: counters.unsupported += 1
        }
    }

    /// `receive` for a frame held in an array.
    public func receive(_ frame: [UInt8], now: Instant) {
        frame.withUnsafeBytes { receive($0, now: now) }
    }

    /// Runs every timer due at `now`: ARP retries, RFC 5227 probes, DHCP, ping and flood sends, TCP.
    public func poll(now: Instant) {
        let (retry, failed) = arp.poll(now: now)
        for address in retry { sendARPRequest(for: address, now: now) }
        for (address, dropped) in failed {
            counters.arpResolutionFailures += 1
            counters.arpQueueDrops += dropped
            log(.arpResolutionFailed(address, droppedDatagrams: dropped), now)
        }
        if let actions = conflictDetection?.poll(now: now) { perform(actions, now: now) }
        perform(dhcp.poll(now: now), now: now)
        pollPings(now: now)
        pollFloods(now: now)
        pollTCP(now: now)
        pollIPv6(now: now)
    }

    /// The earliest instant at which `poll` has work; nil when idle.
    public func nextDeadline() -> Instant? {
        // No nested function capturing `earliest`: unoptimized builds would box it on every call.
        var earliest = Instant.earliest(arp.nextDeadline(), conflictDetection?.deadline)
        earliest = Instant.earliest(earliest, dhcp.deadline)
        for session in pings where !session.result.isFinished { earliest = Instant.earliest(earliest, session.nextDeadline()) }
        for flood in floods { earliest = Instant.earliest(earliest, flood.nextDeadline()) }
        earliest = Instant.earliest(earliest, nextIPv6Deadline())
        return Instant.earliest(earliest, nextTCPDeadline())
    }

    /// Whether frames are waiting to be taken.
    public var hasOutgoing: Bool { !outgoing.isEmpty }

    /// Calls `body` with each frame to put on the link, in order, and forgets them. The buffer is
    /// valid only during the call. Allocates nothing in steady state.
    public func drainOutgoing(_ body: (UnsafeRawBufferPointer) -> Void) {
        outgoing.drain(body)
    }

    /// The frames to put on the link, in order, as arrays (allocates; for tests and simple drivers).
    public func takeOutgoing() -> [[UInt8]] {
        var frames: [[UInt8]] = []
        frames.reserveCapacity(outgoing.count)
        outgoing.drain { frames.append(Array($0)) }
        return frames
    }

    // MARK: Addressing

    /// Configures a static address (probing it first if RFC 5227 is configured). Stops DHCP.
    public func configureStatic(address network: IPv4Network, gateway: IPv4Address? = nil,
                                dnsServers: [IPv4Address] = [], now: Instant) {
        if dhcp.state != .stopped { perform(dhcp.stop(now: now), now: now) }
        removeAddress(now: now)
        claim(PendingAddress(network: network, gateway: gateway, dnsServers: dnsServers, source: .static), now: now)
    }

    /// Drops the address (and any probe under way). Does not tell a DHCP server: see `releaseDHCP`.
    public func removeAddress(now: Instant) {
        if pendingAddress != nil { pendingAddress = nil; conflictDetection?.cancel() }
        unconfigure(now: now)
    }

    /// The MAC the ARP cache holds for `address`, if fresh at `now`.
    public func arpEntry(for address: IPv4Address, now: Instant) -> MACAddress? {
        arp.lookup(address, now: now)
    }

    /// Starts using `pending` — after an RFC 5227 probe if configured.
    func claim(_ pending: PendingAddress, now: Instant) {
        guard var acd = conflictDetection else { apply(pending, now: now); return }
        pendingAddress = pending
        log(.addressProbing(pending.network.address), now)
        let actions = acd.startProbing(pending.network.address, now: now)
        conflictDetection = acd
        perform(actions, now: now)
    }

    /// Configures `pending` now, and announces it if RFC 5227 is configured.
    func apply(_ pending: PendingAddress, now: Instant) {
        if let old = address, old != pending.network { unconfigure(now: now) }
        pendingAddress = nil
        address = pending.network
        gateway = pending.gateway
        dnsServers = pending.dnsServers
        addressSource = pending.source
        log(.addressConfigured(pending.network, pending.source), now)
        if var acd = conflictDetection {
            let actions = acd.startAnnouncing(pending.network.address, now: now)
            conflictDetection = acd
            perform(actions, now: now)
        }
    }

    func unconfigure(now: Instant) {
        guard let old = address else { return }
        address = nil; gateway = nil; dnsServers = []; addressSource = nil
        conflictDetection?.cancel()
        log(.addressRemoved(old), now)
    }

    // MARK: Shared helpers

    func log(_ kind: HostEvent.Kind, _ now: Instant) {
        guard events.count < configuration.eventLimit else { counters.eventsDropped += 1; return }
        events.append(HostEvent(time: now, kind: kind))
    }

    /// Counts a frame the parsers rejected: under `unsupported` if it is well-formed but of a
    /// kind this host does not speak (another ARP hardware type, IP version), else `malformed`.
    func countDrop(_ error: WireError) {
        if case .unsupported = error { counters.unsupported += 1 } else { counters.malformed += 1 }
    }

    /// Writes a frame of at most `maximumLength` bytes straight into the outgoing queue.
    @discardableResult
    func emitFrame(maximumLength: Int, _ body: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) -> Bool {
        do {
            let n = try outgoing.emit(maximumLength: maximumLength, body)
            counters.framesSent += 1
            counters.bytesSent += n
            return true
        } catch {
            return false
        }
    }

    /// Queues a complete frame (one that waited for ARP).
    func emitFrame(_ frame: [UInt8]) {
        outgoing.append(frame)
        counters.framesSent += 1
        counters.bytesSent += frame.count
    }

    /// A fresh ephemeral UDP port.
    func ephemeralPort() -> UInt16 {
        let port = nextEphemeralPort
        nextEphemeralPort = port >= 60999 ? 32768 : port + 1
        return port
    }
}
