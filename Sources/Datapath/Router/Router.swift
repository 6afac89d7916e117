// An IPv4 router, sans-IO (RFC 1812): frames (Ethernet interfaces) or bare IP packets
// (point-to-point interfaces) in on an interface with the time; frames and packets out through a
// caller's `RouterOutput`. ARP, ICMP echo and errors, forwarding with TTL and MTU.
//
// Choices, stated once:
// - Each interface has a medium (docs/architecture.md, "Interface media"): Ethernet (MACs, ARP)
//   or point-to-point (bare IP packets, no ARP: every next hop there is the other end). A frame
//   handed in on a point-to-point interface, or a packet on an Ethernet one, is dropped (counted).
// - Ethernet interfaces are untagged: 802.1Q-tagged frames are dropped (counted).
// - A datagram larger than the outgoing MTU is fragmented if DF is clear (RFC 791 §3.2,
//   RFC 1812 §4.2.2.7; RouterFragmentation.swift), and dropped with ICMP fragmentation-needed if
//   DF is set. Fragments pass through (and are cut again if still too large); fragments
//   addressed to the router are dropped (no reassembly).
// - ICMP errors and echo replies go back out of the arrival interface, from that interface's
//   address: on Ethernet to the link-layer source of the offending frame (the previous hop), on
//   a point-to-point interface to its other end.
// - No redirects when forwarding back out of the arrival interface (hairpin).
// - Copies: a read-only input is copied once into the router's buffer (with room around it); a
//   writable one is forwarded in place. A packet from a point-to-point interface with less than
//   14 bytes before it is copied once when it leaves on Ethernet. Packets handed to a
//   point-to-point interface carry their room, so a tunnel encrypts them where they lie.
import Basics
import Wire

/// An IPv4 router over Ethernet and point-to-point interfaces. One owner, one thread.
public final class Router {
    /// The configuration in force (static routes replaced by a reload: Router+Reconfigure.swift).
    public var configuration: RouterConfiguration { currentConfiguration }
    /// Changed only whole (docs/performance.md, exclusivity checks), like `table`.
    var currentConfiguration: RouterConfiguration
    /// Interfaces, by index (the `on interface:` of every call).
    public let interfaces: [RouterInterface]
    public internal(set) var counters = RouterCounters()

    /// Read per packet; replaced whole by `replaceStaticRoutes` (Router+Reconfigure.swift).
    var table: RoutingTable
    var cache: ARPCache
    let waiting: ARPWaitQueue
    var limiter: ICMPRateLimiter
    /// Frames and packets the router builds (ARP, ICMP, UDP) are written here, one at a time,
    /// `packetHeadroom` bytes in.
    let scratch: UnsafeMutableRawBufferPointer
    /// Copy of a read-only input (see `receive(_:on:now:output:)` for raw buffers), also
    /// `packetHeadroom` bytes in.
    let inputCopy: UnsafeMutableRawBufferPointer
    /// Identification for datagrams the router originates.
    var nextIdentification: UInt16 = 1

    /// Largest frame taken: Ethernet with a tag plus a maximal IPv4 datagram.
    public static let maximumFrameLength = EthernetHeader.taggedLength + 65535
    /// Room left before every packet the router builds or copies, for a link or tunnel header
    /// (an Ethernet header; WireGuard's 16-byte transport header; an outer IP/UDP header).
    public static let packetHeadroom = 64
    /// Room left after it, for a tunnel trailer (WireGuard's padding and 16-byte tag).
    public static let packetTailroom = 64
    static let bufferLength = packetHeadroom + maximumFrameLength + packetTailroom

    /// RFC 1812 §4.3.2.3: an ICMP error "SHOULD contain as much of the original datagram as
    /// possible without the length of the ICMP datagram exceeding 576 bytes".
    static let maximumICMPErrorLength = 576

    public init(_ configuration: RouterConfiguration) throws(RouterConfigurationError) {
        try configuration.validate()
        currentConfiguration = configuration
        interfaces = configuration.interfaces
        table = RoutingTable(configuration)
        let arp = configuration.arp
        cache = ARPCache(capacity: arp.cacheCapacity, lifetime: arp.cacheLifetime)
        waiting = ARPWaitQueue(maxResolutions: arp.maxPendingResolutions, perDestination: arp.queuePerDestination,
                               total: arp.queueTotal, maxDatagram: configuration.interfaces.map(\.mtu).max()!)
        limiter = ICMPRateLimiter(perSecond: configuration.icmpErrorsPerSecond, burst: configuration.icmpErrorBurst)
        scratch = .allocate(byteCount: Self.bufferLength, alignment: 16)
        inputCopy = .allocate(byteCount: Self.bufferLength, alignment: 16)
    }

    deinit {
        scratch.deallocate()
        inputCopy.deallocate()
    }

    // MARK: Input

    /// Handles a frame that arrived on Ethernet interface `interface`. The router may rewrite
    /// `frame` in place and pass it straight to `output` (forwarding copies nothing). Returns what
    /// became of it.
    @discardableResult
    public func receive<O: RouterOutput>(
        _ frame: UnsafeMutableRawBufferPointer, on interface: Int, now: Instant, output: inout O
    ) -> RouterDisposition {
        receiveFrame(in: frame, at: 0, count: frame.count, on: interface, now: now, output: &output)
    }

    /// As `receive(_:on:now:output:)` for a read-only frame: copies it first.
    @discardableResult
    public func receive<O: RouterOutput>(
        _ frame: UnsafeRawBufferPointer, on interface: Int, now: Instant, output: inout O
    ) -> RouterDisposition {
        let h = Self.packetHeadroom
        guard frame.count <= Self.maximumFrameLength else {
            counters.framesReceived &+= 1
            return drop(.frameTooLong)
        }
        inputCopy.copyBytes(frame, at: h)
        return receiveFrame(in: inputCopy, at: h, count: frame.count, on: interface, now: now, output: &output)
    }

    /// Handles an IP packet that arrived on point-to-point interface `interface`. The router may
    /// rewrite the packet and its room in place and pass it straight on: with 14 bytes of
    /// headroom, forwarding onto Ethernet writes the frame's header there and copies nothing.
    @discardableResult
    public func receive<O: RouterOutput>(
        packet: PointToPointPacket, on interface: Int, now: Instant, output: inout O
    ) -> RouterDisposition {
        counters.framesReceived &+= 1
        guard interfaces.indices.contains(interface) else { return drop(.unknownInterface) }
        guard interfaces[interface].isPointToPoint else { return drop(.wrongMedium) }
        guard packet.count <= Self.maximumFrameLength else { return drop(.frameTooLong) }
        let arrival = Arrival(interface: interface, mac: .zero, linkBroadcast: false)
        return receiveIPv4(packet, arrival: arrival, now: now, output: &output)
    }

    /// As `receive(packet:on:now:output:)` for a read-only packet: copies it first.
    @discardableResult
    public func receive<O: RouterOutput>(
        packet: UnsafeRawBufferPointer, on interface: Int, now: Instant, output: inout O
    ) -> RouterDisposition {
        let h = Self.packetHeadroom
        guard packet.count <= Self.maximumFrameLength else {
            counters.framesReceived &+= 1
            return drop(.frameTooLong)
        }
        inputCopy.copyBytes(packet, at: h)
        return receive(packet: PointToPointPacket(buffer: inputCopy, range: h..<(h + packet.count)), on: interface,
                       now: now, output: &output)
    }

    /// A frame at `buffer[start ..< start + count]`; the bytes around it are the router's to use.
    func receiveFrame<O: RouterOutput>(
        in buffer: UnsafeMutableRawBufferPointer, at start: Int, count: Int, on interface: Int, now: Instant, output: inout O
    ) -> RouterDisposition {
        counters.framesReceived &+= 1
        guard interfaces.indices.contains(interface) else { return drop(.unknownInterface) }
        guard count <= Self.maximumFrameLength else { return drop(.frameTooLong) }
        guard case .ethernet(let localMAC) = interfaces[interface].medium else { return drop(.wrongMedium) }
        let frame = buffer.slice(start..<(start + count))
        let ethernet: EthernetHeader
        do { ethernet = try EthernetHeader(parsing: UnsafeRawBufferPointer(frame)) } catch { return drop(.ethernetTruncated) }
        guard ethernet.destination == localMAC || ethernet.destination.isBroadcast else { return drop(.notForUs) }
        guard ethernet.vlan == nil else { return drop(.vlanTagged) }
        let e = EthernetHeader.untaggedLength
        switch ethernet.etherType {
        case .ipv4:
            let arrival = Arrival(interface: interface, mac: ethernet.source, linkBroadcast: ethernet.destination.isBroadcast)
            return receiveIPv4(PointToPointPacket(buffer: buffer, range: (start + e)..<(start + count)), arrival: arrival,
                               now: now, output: &output)
        case .arp:
            return receiveARP(UnsafeRawBufferPointer(frame.slice(from: e)), on: interface, mac: localMAC, now: now, output: &output)
        default:
            return drop(.unsupportedEtherType)
        }
    }

    // MARK: Timers

    /// When `poll` next has work (an ARP retry or give-up), or nil.
    public func nextDeadline() -> Instant? { waiting.nextDeadline }

    /// Runs due timers: ARP retries; after the last, host unreachable to the waiting datagrams'
    /// sources. Also forgets expired neighbors.
    public func poll<O: RouterOutput>(now: Instant, output: inout O) {
        for r in waiting.resolutions.indices {
            let resolution = waiting.resolutions[r]
            guard resolution.active, resolution.nextAttempt <= now else { continue }
            if resolution.attempts < configuration.arp.attempts {
                sendARPRequest(for: resolution.target, on: resolution.interface, output: &output)
                waiting.retried(r, nextAttempt: now + configuration.arp.retryInterval)
            } else {
                giveUp(r, now: now, output: &output)
            }
        }
        cache.purgeExpired(now: now)
    }

    /// Number of neighbors currently cached (expired ones included until purged).
    public var arpCacheCount: Int { cache.entries.count }
    /// Datagrams currently waiting for ARP.
    public var arpQueuedCount: Int { waiting.queuedCount }
    /// The cached MAC of a neighbor, if known and fresh at `now`.
    public func neighbor(_ address: IPv4Address, on interface: Int, now: Instant) -> MACAddress? {
        cache.lookup(interface: interface, address: address, now: now)
    }

    // MARK: Local services

    /// Sends a UDP datagram from interface `interface`'s address and `sourcePort` to
    /// `destination`:`destinationPort` at link address `mac` (use `.broadcast` with
    /// 255.255.255.255; ignored on a point-to-point interface). For the DHCP server and other
    /// local services.
    public func sendUDP<O: RouterOutput>(
        on interface: Int, sourcePort: UInt16, to destination: IPv4Address, port destinationPort: UInt16,
        mac: MACAddress, payload: UnsafeRawBufferPointer, output: inout O
    ) throws(WireError) {
        guard interfaces.indices.contains(interface) else { throw WireError.malformed("no interface \(interface)") }
        let local = interfaces[interface]
        let datagramLength = IPv4Constants.minimumHeaderLength + UDPConstants.headerLength + payload.count
        guard datagramLength <= local.mtu else { throw WireError.noSpace(needed: datagramLength, have: local.mtu) }
        let ip = IPv4Header(source: local.address, destination: destination, protocol: .udp, payloadLength: 0,
                            identification: takeIdentification())
        let udp = UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort)
        try sendBuilt(on: interface, to: mac, output: &output) { (into, ethernet) throws(WireError) in
            try IPv4Frame.emitUDP(into: into, ethernet: ethernet, ip: ip, udp: udp, payload: payload)
        }
    }

    /// Builds a datagram in `scratch` with `emit(into, ethernet)` — framed to `mac` on an Ethernet
    /// interface (`ethernet` given), bare on a point-to-point one (`ethernet` nil) — and sends it
    /// out of `interface`.
    @inline(__always)
    func sendBuilt<O: RouterOutput>(
        on interface: Int, to mac: MACAddress, output: inout O,
        _ emit: (UnsafeMutableRawBufferPointer, EthernetHeader?) throws(WireError) -> Int
    ) throws(WireError) {
        let h = Self.packetHeadroom
        switch interfaces[interface].medium {
        case .ethernet(let local):
            let n = try emit(scratch.slice(h..<(h + Self.maximumFrameLength)),
                             EthernetHeader(destination: mac, source: local, etherType: .ipv4))
            output.send(UnsafeRawBufferPointer(scratch.slice(h..<(h + n))), on: interface)
        case .pointToPoint:
            let n = try emit(scratch.slice(h..<(h + Self.maximumFrameLength)), nil)
            output.send(packet: PointToPointPacket(buffer: scratch, range: h..<(h + n)), on: interface)
        }
    }

    // MARK: Helpers

    @inline(__always) func drop(_ reason: RouterDropReason) -> RouterDisposition {
        counters.drops[reason] &+= 1
        return .dropped(reason)
    }

    func takeIdentification() -> UInt16 {
        defer { nextIdentification &+= 1 }
        return nextIdentification
    }

    /// True if `address` is the subnet broadcast address of any of the router's networks.
    func isDirectedBroadcast(_ address: IPv4Address) -> Bool {
        interfaces.contains { $0.broadcastAddress == address }
    }
}

extension IPv4Address {
    /// 240.0.0.0/4, "reserved for future use" (RFC 1112 §4; RFC 1812 §4.2.2.11 (d)).
    @inlinable var isReservedClassE: Bool { rawValue >> 28 == 0xF && rawValue != 0xFFFF_FFFF }
    /// RFC 1812 §5.3.7: a router "SHOULD NOT forward" packets whose source is not a host address.
    @inlinable var isMartianSource: Bool { isMulticast || isLimitedBroadcast || isLoopback || isReservedClassE }
}
