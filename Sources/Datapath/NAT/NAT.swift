// An IPv4 masquerading NAT (network address and port translation), sans-IO: packets in with the
// time, rewritten in place, and a verdict out. It sits between the router and the uplink; every
// internal source is translated to one external address.
//
// Behaviour, against the NAT behaviour RFCs (4787 UDP, 5382 TCP, 5508 ICMP):
// - Endpoint-independent mapping (4787 REQ-1, 5382 REQ-1): one external port per internal
//   address and port, whatever the destination. No port overloading (4787 REQ-3).
// - Port preservation when the internal port lies in `portRange` and is free, else a port of the
//   same parity (4787 REQ-4), chosen deterministically (REQ-11); see `NATPortPool`.
// - Filtering: address-dependent by default (4787 REQ-8, 5382 REQ-3, the "more stringent" of the
//   two recommended); endpoint-independent and address-and-port-dependent on request.
// - Timers per session (see `NATTable`); outbound and inbound traffic both refresh (4787 REQ-6).
// - TCP: sessions open with a SYN; unsolicited inbound SYNs are dropped silently, never answered
//   (5382 REQ-4 "MUST NOT respond ... for at least 6 seconds"; REQ-4a allows silence for good).
//   The simultaneous-open hold of REQ-4 is not kept: an inbound SYN before the outbound one is
//   dropped, and the peer's retransmission gets through.
// - ICMP: echo and timestamp queries get their identifier translated (5508 REQ-1); errors about a
//   translated packet have the quoted header translated back, both ways (5508 REQ-4, REQ-5), and
//   never end a mapping (4787 REQ-12).
// - Hairpinning (4787 REQ-9; 5382 asks the same for TCP): an internal packet to the external address and a
//   mapped port goes back inside, from the sender's external address and port.
// - Fragments: first fragments are translated as whole datagrams; later ones outbound get the
//   external address; later ones inbound follow their first fragment (`NATFragmentTable`) and
//   are dropped (counted) if it has not been seen — 4787 REQ-14 only for in-order arrival.
//   Tiny first fragments and TCP fragments at offset 1 are dropped (RFC 1858 §3, `tinyFragment`).
//   No reassembly (docs/architecture.md, "Fragmentation").
// - Full tables drop new sessions (counted); nothing is evicted, so behaviour never depends on
//   who else is using the NAT beyond "is there room".
import Basics
import Wire

/// An IPv4 NAPT for one external address. One owner, one thread.
public final class NAT {
    /// The configuration in force (internal networks changed by a reload: NAT+Reconfigure.swift).
    public var configuration: NATConfiguration { currentConfiguration }
    /// Read per packet; changed only whole (docs/performance.md, exclusivity checks).
    var currentConfiguration: NATConfiguration
    @exclusivity(unchecked) public internal(set) var counters = NATCounters()
    let table: NATTable
    var fragments = NATFragmentTable(capacity: NATConstants.fragmentTableCapacity, lifetime: NATConstants.fragmentLifetime)
    let external: UInt32

    /// A NAT with empty tables. `random` (if given) randomises where port searches start and keys
    /// the table hashes; without it, allocation is next-fit and fully predictable.
    public init(_ configuration: NATConfiguration, random: SeededRandom? = nil) throws(NATConfigurationError) {
        try configuration.validate()
        currentConfiguration = configuration
        external = configuration.externalAddress.rawValue
        var seed: UInt64 = 0x736C_7569_6365_4E41   // "sluiceNA"
        var portRandom: SeededRandom?
        if var random {
            seed = random.next()
            portRandom = random.split("nat-ports")
        }
        let ports = NATPortPool(range: configuration.portRange, random: portRandom)
        table = NATTable(capacity: configuration.capacity, timeouts: configuration.timeouts,
                         trackPermits: configuration.filtering == .addressDependent, ports: ports, seed: seed)
    }

    // MARK: Translation

    /// Translates an IPv4 packet (no link-layer header) going from the internal network to the
    /// uplink: its source becomes the external address and a mapped port, creating the mapping
    /// and session if needed. Bytes past the IPv4 total length are left alone.
    public func translateOutbound(_ packet: UnsafeMutableRawBufferPointer, now: Instant) -> NATVerdict {
        if table.hasDue(now: now) { expire(now: now) }
        let ip: IPv4Header
        do { ip = try IPv4Header(parsing: UnsafeRawBufferPointer(packet)) } catch { return drop(.malformed) }
        let datagram = packet.slice(0..<Int(ip.totalLength))
        guard isInternal(ip.source) else { return drop(.notInternal) }
        let verdict = outbound(datagram, ip, now: now)
        guard verdict == .translated, ip.destination.rawValue == external else { return verdict }
        // RFC 4787 REQ-9: "A NAT MUST support 'Hairpinning'." REQ-9a: its behaviour "MUST be
        // 'External source IP address and port'" — which the outbound half just wrote.
        let turned: IPv4Header
        do { turned = try IPv4Header(parsing: UnsafeRawBufferPointer(datagram)) } catch { return drop(.malformed) }
        let back = inbound(datagram, turned, now: now)
        guard back == .translated else { return back }
        counters.hairpinned &+= 1
        return .hairpinned
    }

    /// Translates an IPv4 packet (no link-layer header) that arrived from the uplink: if it is
    /// for the external address and a mapping admits it, its destination becomes the internal
    /// endpoint. Bytes past the IPv4 total length are left alone.
    public func translateInbound(_ packet: UnsafeMutableRawBufferPointer, now: Instant) -> NATVerdict {
        if table.hasDue(now: now) { expire(now: now) }
        let ip: IPv4Header
        do { ip = try IPv4Header(parsing: UnsafeRawBufferPointer(packet)) } catch { return drop(.malformed) }
        return inbound(packet.slice(0..<Int(ip.totalLength)), ip, now: now)
    }

    // MARK: Timers

    /// Forgets every session idle past its timeout at `now`, and mappings left without sessions.
    /// (Translation does this too, so a late call changes no verdict.) Returns sessions forgotten.
    @discardableResult
    public func expire(now: Instant) -> Int {
        let removed = table.expire(now: now)
        counters.sessionsExpired &+= UInt64(removed.sessions)
        counters.mappingsExpired &+= UInt64(removed.mappings)
        return removed.sessions
    }

    /// When the next session times out, or nil if there are none.
    public func nextDeadline() -> Instant? { table.nextDeadline() }

    // MARK: Reports

    /// Mappings held now (including timed-out ones not yet expired).
    public var mappingCount: Int { table.mappingCount }
    /// Sessions held now (including timed-out ones not yet expired).
    public var sessionCount: Int { table.sessionCount }
    /// Free external ports (or identifiers) left for `proto`.
    public func availablePorts(_ proto: NATProtocol) -> Int { table.ports.availableCount(proto) }

    /// Every mapping, sorted by protocol, internal address and internal port (allocates; for reports).
    public func mappings() -> [NATMapping] {
        var expires = [Instant](repeating: .zero, count: table.capacity)
        for (s, session) in table.sessions.enumerated() where session.mapping != NATTable.none {
            expires[Int(session.mapping)] = max(expires[Int(session.mapping)], table.deadline(Int32(s)))
        }
        return table.mappings.indices.compactMap { m in
            table.mappings[m].sessions > 0 ? report(mapping: m, expires: expires[m]) : nil
        }.sorted { ($0.protocol, $0.internalAddress, $0.internalPort) < ($1.protocol, $1.internalAddress, $1.internalPort) }
    }

    /// The mapping of an internal endpoint, if any.
    public func mapping(_ proto: NATProtocol, internalAddress: IPv4Address, internalPort: UInt16) -> NATMapping? {
        let m = table.mapping(proto, internal: internalAddress.rawValue, port: internalPort)
        guard m != NATTable.none else { return nil }
        var expires = Instant.zero
        for (s, session) in table.sessions.enumerated() where session.mapping == m {
            expires = max(expires, table.deadline(Int32(s)))
        }
        return report(mapping: Int(m), expires: expires)
    }

    private func report(mapping m: Int, expires: Instant) -> NATMapping {
        let e = table.mappings[m]
        return NATMapping(protocol: e.proto, internalAddress: IPv4Address(rawValue: e.internalAddress),
                          internalPort: e.internalPort, externalAddress: configuration.externalAddress,
                          externalPort: e.externalPort, sessionCount: Int(e.sessions), expires: expires)
    }

    /// Every session, sorted by protocol, internal endpoint and remote endpoint (allocates; for reports).
    public func sessions() -> [NATSession] {
        table.sessions.indices.compactMap { s -> NATSession? in
            let e = table.sessions[s]
            guard e.mapping != NATTable.none else { return nil }
            let m = table.mappings[Int(e.mapping)]
            return NATSession(protocol: m.proto, internalAddress: IPv4Address(rawValue: m.internalAddress),
                              internalPort: m.internalPort, externalPort: m.externalPort,
                              remoteAddress: IPv4Address(rawValue: e.remoteAddress), remotePort: e.remotePort,
                              state: e.state, expires: table.deadline(Int32(s)))
        }.sorted {
            ($0.protocol, $0.internalAddress, $0.internalPort, $0.remoteAddress, $0.remotePort)
                < ($1.protocol, $1.internalAddress, $1.internalPort, $1.remoteAddress, $1.remotePort)
        }
    }

    // MARK: Helpers

    @inline(__always) func drop(_ reason: NATDropReason) -> NATVerdict {
        counters.drops[reason] &+= 1
        return .drop(reason)
    }

    /// Sources the NAT translates: not the external address, not a martian, and inside
    /// `internalNetworks` when that is given.
    @inline(__always) func isInternal(_ a: IPv4Address) -> Bool {
        guard a.rawValue != external, !a.isUnspecified, !a.isMulticast, !a.isLimitedBroadcast, !a.isLoopback else { return false }
        let networks = configuration.internalNetworks
        if networks.isEmpty { return true }
        for n in networks where n.contains(a) { return true }
        return false
    }
}
