// An IPv4 router, sans-IO (RFC 1812): frames in on an interface with the time, frames out
// through a caller's `RouterOutput`. ARP, ICMP echo and errors, forwarding with TTL and MTU.
//
// Choices, stated once:
// - Interfaces are untagged: 802.1Q-tagged frames are dropped (counted).
// - No fragmentation: a datagram larger than the outgoing MTU is dropped, with ICMP
//   fragmentation-needed if DF is set and silently (counted) otherwise. Fragments pass through;
//   fragments addressed to the router are dropped (no reassembly).
// - ICMP errors and echo replies go back out of the arrival interface to the link-layer source
//   of the offending frame (the previous hop), from that interface's address.
// - No redirects when forwarding back out of the arrival interface (hairpin).
import Basics
import Wire

/// An IPv4 router over one or more Ethernet interfaces. One owner, one thread.
public final class Router {
    public let configuration: RouterConfiguration
    /// Interfaces, by index (the `on interface:` of every call).
    public let interfaces: [RouterInterface]
    public internal(set) var counters = RouterCounters()

    let table: RoutingTable
    var cache: ARPCache
    let waiting: ARPWaitQueue
    var limiter: ICMPRateLimiter
    /// Frames the router builds (ARP, ICMP, UDP) are written here, one at a time.
    let scratch: UnsafeMutableRawBufferPointer
    /// Copy of a read-only input frame (see `receive(_:on:now:output:)` for raw buffers).
    let inputCopy: UnsafeMutableRawBufferPointer
    /// Identification for datagrams the router originates.
    var nextIdentification: UInt16 = 1

    /// Largest frame taken: Ethernet with a tag plus a maximal IPv4 datagram.
    public static let maximumFrameLength = EthernetHeader.taggedLength + 65535

    /// RFC 1812 §4.3.2.3: an ICMP error "SHOULD contain as much of the original datagram as
    /// possible without the length of the ICMP datagram exceeding 576 bytes".
    static let maximumICMPErrorLength = 576

    public init(_ configuration: RouterConfiguration) throws(RouterConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        interfaces = configuration.interfaces
        table = RoutingTable(configuration)
        let arp = configuration.arp
        cache = ARPCache(capacity: arp.cacheCapacity, lifetime: arp.cacheLifetime)
        waiting = ARPWaitQueue(maxResolutions: arp.maxPendingResolutions, perDestination: arp.queuePerDestination,
                               total: arp.queueTotal, maxDatagram: configuration.interfaces.map(\.mtu).max()!)
        limiter = ICMPRateLimiter(perSecond: configuration.icmpErrorsPerSecond, burst: configuration.icmpErrorBurst)
        scratch = .allocate(byteCount: Self.maximumFrameLength, alignment: 8)
        inputCopy = .allocate(byteCount: Self.maximumFrameLength, alignment: 8)
    }

    deinit {
        scratch.deallocate()
        inputCopy.deallocate()
    }

    // MARK: Input

    /// Handles a frame that arrived on `interface`. The router may rewrite `frame` in place and
    /// pass it straight to `output` (forwarding copies nothing). Returns what became of it.
    @discardableResult
    public func receive<O: RouterOutput>(
        _ frame: UnsafeMutableRawBufferPointer, on interface: Int, now: Instant, output: inout O
    ) -> RouterDisposition {
        counters.framesReceived &+= 1
        guard interfaces.indices.contains(interface) else { return drop(.unknownInterface) }
        guard frame.count <= Self.maximumFrameLength else { return drop(.frameTooLong) }
        let ethernet: EthernetHeader
        do { ethernet = try EthernetHeader(parsing: UnsafeRawBufferPointer(frame)) } catch { return drop(.ethernetTruncated) }
        let local = interfaces[interface]
        guard ethernet.destination == local.mac || ethernet.destination.isBroadcast else { return drop(.notForUs) }
        guard ethernet.vlan == nil else { return drop(.vlanTagged) }
        switch ethernet.etherType {
        case .ipv4:
            return receiveIPv4(frame, ethernet: ethernet, on: interface, now: now, output: &output)
        case .arp:
            return receiveARP(UnsafeRawBufferPointer(frame.slice(from: EthernetHeader.untaggedLength)),
                              on: interface, now: now, output: &output)
        default:
            return drop(.unsupportedEtherType)
        }
    }

    /// As `receive(_:on:now:output:)` for a read-only frame: copies it first.
    @discardableResult
    public func receive<O: RouterOutput>(
        _ frame: UnsafeRawBufferPointer, on interface: Int, now: Instant, output: inout O
    ) -> RouterDisposition {
        guard frame.count <= inputCopy.count else {
            counters.framesReceived &+= 1
            return drop(.frameTooLong)
        }
        inputCopy.copyBytes(frame, at: 0)
        return receive(inputCopy.slice(0..<frame.count), on: interface, now: now, output: &output)
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
    /// 255.255.255.255). For the DHCP server and other local services.
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
        let n = try IPv4Frame.emitUDP(
            into: scratch, ethernet: EthernetHeader(destination: mac, source: local.mac, etherType: .ipv4), ip: ip,
            udp: UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort), payload: payload)
        output.send(UnsafeRawBufferPointer(scratch.slice(0..<n)), on: interface)
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
        interfaces.contains { $0.network.broadcastAddress == address }
    }
}

extension IPv4Address {
    /// 240.0.0.0/4, "reserved for future use" (RFC 1112 §4; RFC 1812 §4.2.2.11 (d)).
    @inlinable var isReservedClassE: Bool { rawValue >> 28 == 0xF && rawValue != 0xFFFF_FFFF }
    /// RFC 1812 §5.3.7: a router "SHOULD NOT forward" packets whose source is not a host address.
    @inlinable var isMartianSource: Bool { isMulticast || isLimitedBroadcast || isLoopback || isReservedClassE }
}
