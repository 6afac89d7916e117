// The two directions of translation for TCP, UDP and ICMP queries.
import Basics
import Wire

/// ICMP query types whose identifier the NAT maps (RFC 5508 §3.1 "ICMP Query" messages: the
/// echo and timestamp requests carry an identifier their replies return).
enum NATICMPQuery {
    @inline(__always) static func isRequest(_ type: UInt8) -> Bool {
        type == ICMPv4Type.echoRequest.rawValue || type == ICMPv4Type.timestamp.rawValue
    }
    @inline(__always) static func isReply(_ type: UInt8) -> Bool {
        type == ICMPv4Type.echoReply.rawValue || type == ICMPv4Type.timestampReply.rawValue
    }
    /// Errors that quote a datagram the NAT can match: destination unreachable, time exceeded,
    /// parameter problem. (Source quench is deprecated, RFC 6633; redirects from beyond the NAT
    /// are not the internal hosts' business.)
    @inline(__always) static func isTranslatedError(_ type: UInt8) -> Bool {
        type == ICMPv4Type.destinationUnreachable.rawValue || type == ICMPv4Type.timeExceeded.rawValue
            || type == ICMPv4Type.parameterProblem.rawValue
    }
}

/// The transport fields a translation keys on.
struct NATFlowHeader {
    var proto: NATProtocol
    var sourcePort: UInt16
    var destinationPort: UInt16
    var tcpFlags: TCPFlags
    /// ICMP type (0 for TCP and UDP).
    var icmpType: UInt8
}

extension NAT {
    /// Reads the transport header of `datagram` after a check of its length, or returns why not.
    @inline(__always)
    func flowHeader(_ datagram: UnsafeMutableRawBufferPointer, _ ip: IPv4Header) throws(NATDropReason) -> NATFlowHeader {
        // A later fragment has no transport header to translate by (the callers route those).
        guard ip.fragmentOffset == 0 else { throw .fragment }
        let t = ip.headerLength
        let length = datagram.count - t
        let whole = !ip.moreFragments
        // RFC 1858 §3.1: a first fragment must hold the whole transport header, or a later one
        // could supply the ports or flags the translation never saw.
        let short: NATDropReason = whole ? .malformed : .tinyFragment
        switch ip.protocol {
        case .udp:
            guard length >= UDPConstants.headerLength else { throw short }
            // RFC 768: "Length is the length in octets of this user datagram including this
            // header and the data" — checked when the whole datagram is here.
            let udpLength = Int(datagram.u16(t + 4))
            if whole, udpLength < UDPConstants.headerLength || udpLength > length { throw .malformed }
            return NATFlowHeader(proto: .udp, sourcePort: datagram.u16(t), destinationPort: datagram.u16(t + 2),
                                 tcpFlags: [], icmpType: 0)
        case .tcp:
            guard length >= TCPConstants.minimumHeaderLength else { throw short }
            // RFC 9293 §3.1: Data Offset, "the number of 32-bit words in the TCP header".
            let offset = Int(datagram.u8(t + 12) >> 4) * 4
            if offset < TCPConstants.minimumHeaderLength || (whole && offset > length) { throw .malformed }
            return NATFlowHeader(proto: .tcp, sourcePort: datagram.u16(t), destinationPort: datagram.u16(t + 2),
                                 tcpFlags: TCPFlags(rawValue: datagram.u8(t + 13)), icmpType: 0)
        case .icmp:
            guard length >= ICMPv4Constants.headerLength else { throw short }
            let id = datagram.u16(t + 4)
            return NATFlowHeader(proto: .icmp, sourcePort: id, destinationPort: id, tcpFlags: [],
                                 icmpType: datagram.u8(t))
        default:
            throw .unsupportedProtocol
        }
    }

    /// The state a new session starts in.
    @inline(__always) static func initialState(_ proto: NATProtocol) -> NATSessionState {
        switch proto { case .udp: .udp; case .icmp: .icmpQuery; case .tcp: .tcpOpening }
    }

    // MARK: Outbound

    func outbound(_ datagram: UnsafeMutableRawBufferPointer, _ ip: IPv4Header, now: Instant) -> NATVerdict {
        if ip.fragmentOffset != 0 {
            if Self.isOverlappingTCPFragment(ip) { return drop(.tinyFragment) }
            // A later fragment: no ports, and its source can only become the external address.
            var changes = ChecksumAdjustment()
            NATRewrite.rewriteAddress(datagram, .source, to: external, changes: &changes)
            counters.outboundTranslated &+= 1
            return .translated
        }
        let flow: NATFlowHeader
        do { flow = try flowHeader(datagram, ip) } catch { return drop(error) }
        var remotePort = flow.destinationPort
        if flow.proto == .icmp {
            if NATICMPQuery.isTranslatedError(flow.icmpType) { return outboundError(datagram, ip) }
            // Replies going out answer queries that never came in (inbound queries are not
            // forwarded); other types are not translated.
            if NATICMPQuery.isReply(flow.icmpType) { return drop(.noMapping) }
            guard NATICMPQuery.isRequest(flow.icmpType) else { return drop(.unsupportedProtocol) }
            remotePort = 0
        }
        let source = ip.source.rawValue, remote = ip.destination.rawValue
        var m = table.mapping(flow.proto, internal: source, port: flow.sourcePort)
        var s = m == NATTable.none ? NATTable.none : table.session(m, remote: remote, port: remotePort)
        if s == NATTable.none {
            // RFC 5382: a TCP session begins with a SYN; anything else has no session to join.
            if flow.proto == .tcp, !NATTCPTracking.opens(flow.tcpFlags) { return drop(.notSYN) }
            guard !table.isFull else { return drop(.tableFull) }
            if m == NATTable.none {
                guard let port = table.ports.choose(flow.proto, preferring: flow.sourcePort) else { return drop(.portExhausted) }
                m = table.addMapping(flow.proto, internal: source, port: flow.sourcePort, external: port)
                counters.mappingsCreated &+= 1
            }
            s = table.addSession(m, remote: remote, port: remotePort, state: Self.initialState(flow.proto), syns: 0, now: now)
            counters.sessionsCreated &+= 1
        }
        refresh(s, flow: flow, outbound: true, now: now)
        var changes = ChecksumAdjustment()
        NATRewrite.rewrite(datagram, headerLength: ip.headerLength, transportLength: datagram.count - ip.headerLength,
                           protocol: flow.proto, .source, address: external, port: table.mappings[Int(m)].externalPort,
                           changes: &changes)
        counters.outboundTranslated &+= 1
        return .translated
    }

    // MARK: Inbound

    func inbound(_ datagram: UnsafeMutableRawBufferPointer, _ ip: IPv4Header, now: Instant) -> NATVerdict {
        guard ip.destination.rawValue == external else { return drop(.notExternal) }
        if ip.fragmentOffset != 0 { return inboundLaterFragment(datagram, ip, now: now) }
        let flow: NATFlowHeader
        do { flow = try flowHeader(datagram, ip) } catch { return drop(error) }
        var remotePort = flow.sourcePort
        if flow.proto == .icmp {
            if NATICMPQuery.isTranslatedError(flow.icmpType) { return inboundError(datagram, ip, now: now) }
            // Queries from outside are for the NAT's host, not for anyone behind it.
            if NATICMPQuery.isRequest(flow.icmpType) { return drop(.noMapping) }
            guard NATICMPQuery.isReply(flow.icmpType) else { return drop(.unsupportedProtocol) }
            remotePort = 0
        }
        let m = table.ports.owner(flow.proto, flow.destinationPort)
        if m == NATPortPool.expired { return drop(.expired) }
        if m < 0 { return drop(.noMapping) }
        let remote = ip.source.rawValue
        var s = table.session(m, remote: remote, port: remotePort)
        if s == NATTable.none {
            // RFC 4787 §5 / REQ-8: the filtering behaviour decides who else may come in.
            let admitted: Bool
            switch configuration.filtering {
            case _ where flow.proto == .icmp: admitted = false   // replies only to queries sent
            case .endpointIndependent: admitted = true
            case .addressDependent: admitted = table.hasPermit(m, remote: remote)
            case .addressAndPortDependent: admitted = false
            }
            guard admitted else { return drop(.filtered) }
            if flow.proto == .tcp, !NATTCPTracking.opens(flow.tcpFlags) { return drop(.notSYN) }
            guard !table.isFull else { return drop(.tableFull) }
            s = table.addSession(m, remote: remote, port: remotePort, state: Self.initialState(flow.proto), syns: 0, now: now)
            counters.sessionsCreated &+= 1
        }
        refresh(s, flow: flow, outbound: false, now: now)
        let mapping = table.mappings[Int(m)]
        var changes = ChecksumAdjustment()
        NATRewrite.rewrite(datagram, headerLength: ip.headerLength, transportLength: datagram.count - ip.headerLength,
                           protocol: flow.proto, .destination, address: mapping.internalAddress, port: mapping.internalPort,
                           changes: &changes)
        if ip.moreFragments { rememberFirstFragment(ip, internalAddress: mapping.internalAddress, now: now) }
        counters.inboundTranslated &+= 1
        return .translated
    }

    // MARK: Fragments

    /// Notes where the rest of a fragmented inbound datagram goes.
    func rememberFirstFragment(_ ip: IPv4Header, internalAddress: UInt32, now: Instant) {
        fragments.record(remote: ip.source.rawValue, identification: ip.identification, proto: ip.protocol.rawValue,
                         internalAddress: internalAddress, now: now)
    }

    /// A later fragment of an inbound datagram: to wherever its first fragment went.
    func inboundLaterFragment(_ datagram: UnsafeMutableRawBufferPointer, _ ip: IPv4Header, now: Instant) -> NATVerdict {
        if Self.isOverlappingTCPFragment(ip) { return drop(.tinyFragment) }
        guard let address = fragments.internalAddress(remote: ip.source.rawValue, identification: ip.identification,
                                                      proto: ip.protocol.rawValue, now: now) else { return drop(.fragment) }
        var changes = ChecksumAdjustment()
        NATRewrite.rewriteAddress(datagram, .destination, to: address, changes: &changes)
        counters.inboundTranslated &+= 1
        return .translated
    }

    /// RFC 1858 §3.2: "if FO=1 and PROTOCOL=TCP then drop packet" — a fragment at offset 8
    /// would overwrite the flags of the first fragment's TCP header at reassembly.
    @inline(__always) static func isOverlappingTCPFragment(_ ip: IPv4Header) -> Bool {
        ip.fragmentOffset == 1 && ip.protocol == .tcp
    }

    /// RFC 4787 REQ-6: "The NAT mapping Refresh Direction MUST have a 'NAT Outbound refresh
    /// behavior' of 'True'." REQ-6a: inbound refresh "MAY" be true; here it is (a reply keeps a
    /// conversation alive either way). TCP moves between its timers on SYN, FIN and RST.
    @inline(__always) func refresh(_ s: Int32, flow: NATFlowHeader, outbound: Bool, now: Instant) {
        let session = table.sessions[Int(s)]
        var state = session.state, syns = session.syns
        if flow.proto == .tcp {
            (state, syns) = NATTCPTracking.next(state, syns: syns, flags: flow.tcpFlags, outbound: outbound)
        }
        table.refresh(s, state: state, syns: syns, now: now)
    }
}
