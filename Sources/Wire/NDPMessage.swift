// Neighbor Discovery for IPv6 (RFC 4861 §4): Router Solicitation and Advertisement, Neighbor
// Solicitation and Advertisement, Redirect, on the ICMPv6 header, with their options (§4.6) and
// the RDNSS option (RFC 8106 §5.1). Parsing applies the validity checks of §6.1.1, §6.1.2,
// §7.1.1, §7.1.2 and §8.1 that need only the message and its IPv6 header; a message that fails
// them is to be "silently discarded" — the caller counts the drop.
//
//   RS:  type code cksum | reserved(4)                                               | options
//   RA:  type code cksum | hop limit(1) M O H Prf(2) P(1) res(2) | lifetime(2) | reachable(4) retrans(4) | options
//   NS:  type code cksum | reserved(4)                           | target(16)                         | options
//   NA:  type code cksum | R S O reserved(29 bits)               | target(16)                         | options
//   Redirect: type code cksum | reserved(4) | target(16) | destination(16)                          | options
//   option: type(1) length(1, in 8-octet units, never 0) data

/// NDP constants (RFC 4861 §10, §6.2.1).
public enum NDPConstants {
    /// "The IP Hop Limit field has a value of 255, i.e., the packet could not possibly have been
    /// forwarded by a router" (§6.1.1 and every other validity list).
    public static let hopLimit: UInt8 = 255
    /// The most options a walk accepts. A 1500-octet RA holds at most 182 options of 8 octets;
    /// real ones carry a handful. Past this the message is rejected.
    public static let maximumOptions = 64
}

/// An NDP option type (IANA "IPv6 Neighbor Discovery Option Formats").
public struct NDPOptionType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let sourceLinkLayerAddress = NDPOptionType(rawValue: 1)
    public static let targetLinkLayerAddress = NDPOptionType(rawValue: 2)
    public static let prefixInformation = NDPOptionType(rawValue: 3)
    public static let redirectedHeader = NDPOptionType(rawValue: 4)
    public static let mtu = NDPOptionType(rawValue: 5)
    /// Recursive DNS Server (RFC 8106 §5.1).
    public static let recursiveDNSServer = NDPOptionType(rawValue: 25)
    /// DNS Search List (RFC 8106 §5.2); kept as an unknown option.
    public static let dnsSearchList = NDPOptionType(rawValue: 31)
}

/// The Prefix Information option's fields (RFC 4861 §4.6.2).
public struct NDPPrefixInformation: Hashable, Sendable {
    /// "The number of leading bits in the Prefix that are valid", 0...128.
    public var prefixLength: UInt8
    /// L: "the prefix can be used for on-link determination".
    public var onLink: Bool
    /// A: "this prefix can be used for stateless address configuration" (RFC 4862).
    public var autonomous: Bool
    /// Seconds; 0xFFFFFFFF is infinity.
    public var validLifetime: UInt32
    public var preferredLifetime: UInt32
    public var prefix: IPv6Address

    @inlinable public init(prefix: IPv6Address, prefixLength: UInt8, onLink: Bool = true, autonomous: Bool = true,
                           validLifetime: UInt32, preferredLifetime: UInt32) {
        self.prefix = prefix; self.prefixLength = prefixLength; self.onLink = onLink; self.autonomous = autonomous
        self.validLifetime = validLifetime; self.preferredLifetime = preferredLifetime
    }

    /// The prefix as a network, or nil for a prefix length above 128.
    public var network: IPv6Network? { IPv6Network(address: prefix, prefixLength: Int(prefixLength)) }
}

/// One NDP option, decoded.
public enum NDPOption: Hashable, Sendable {
    /// Source link-layer address (§4.6.1) — an Ethernet MAC (RFC 2464 §8: length 1).
    case sourceLinkLayerAddress(MACAddress)
    /// Target link-layer address (§4.6.1).
    case targetLinkLayerAddress(MACAddress)
    case prefixInformation(NDPPrefixInformation)
    /// Redirected header (§4.6.3): as much of the redirected packet as fits, from its IPv6 header
    /// on. Emitting pads it with zeros to a multiple of 8 octets.
    case redirectedHeader([UInt8])
    /// MTU (§4.6.4).
    case mtu(UInt32)
    /// Recursive DNS servers (RFC 8106 §5.1): a lifetime in seconds and at least one address.
    case recursiveDNSServers(lifetime: UInt32, servers: [IPv6Address])
    /// Any other option: its type and the octets after type and length (RFC 4861 §4.6:
    /// "silently ignore any options they do not recognize").
    case unknown(type: UInt8, data: [UInt8])

    /// Octets on the wire (a multiple of 8).
    public var encodedLength: Int {
        switch self {
        case .sourceLinkLayerAddress, .targetLinkLayerAddress, .mtu: 8
        case .prefixInformation: 32
        case .redirectedHeader(let bytes): 8 + (bytes.count + 7) / 8 * 8
        case .recursiveDNSServers(_, let servers): 8 + 16 * servers.count
        case .unknown(_, let data): (2 + data.count + 7) / 8 * 8
        }
    }

    /// Reads the option that starts `bytes` (exactly its `length × 8` octets).
    init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        let type = NDPOptionType(rawValue: bytes.u8(0))
        let units = Int(bytes.u8(1))
        switch type {
        case .sourceLinkLayerAddress, .targetLinkLayerAddress:
            guard units == 1 else { throw WireError.malformed("NDP link-layer address option length \(units), not 1") }
            let mac = MACAddress(bytes, at: 2)
            self = type == .sourceLinkLayerAddress ? .sourceLinkLayerAddress(mac) : .targetLinkLayerAddress(mac)
        case .prefixInformation:
            // §4.6.2: "Length 4".
            guard units == 4 else { throw WireError.malformed("NDP prefix information option length \(units), not 4") }
            let prefixLength = bytes.u8(2)
            guard prefixLength <= 128 else { throw WireError.malformed("NDP prefix length \(prefixLength)") }
            let flags = bytes.u8(3)
            self = .prefixInformation(NDPPrefixInformation(
                prefix: IPv6Address(bytes, at: 16), prefixLength: prefixLength, onLink: flags & 0x80 != 0,
                autonomous: flags & 0x40 != 0, validLifetime: bytes.u32(4), preferredLifetime: bytes.u32(8)))
        case .redirectedHeader:
            self = .redirectedHeader(Array(bytes.slice(from: 8)))
        case .mtu:
            guard units == 1 else { throw WireError.malformed("NDP MTU option length \(units), not 1") }
            self = .mtu(bytes.u32(4))
        case .recursiveDNSServer:
            // RFC 8106 §5.1: "The minimum value is 3 if one IPv6 address is contained";
            // each further address adds 2.
            guard units >= 3, units % 2 == 1 else { throw WireError.malformed("NDP RDNSS option length \(units)") }
            let servers = stride(from: 8, to: units * 8, by: 16).map { IPv6Address(bytes, at: $0) }
            self = .recursiveDNSServers(lifetime: bytes.u32(4), servers: servers)
        default:
            self = .unknown(type: type.rawValue, data: Array(bytes.slice(from: 2)))
        }
    }

    /// Writes the option at `offset` (the caller checked `encodedLength` octets of space).
    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(WireError) {
        let length = encodedLength
        guard length / 8 <= 255 else { throw WireError.badLength }
        let out = buffer.slice(offset..<offset + length)
        out.initializeMemory(as: UInt8.self, repeating: 0)
        out.setU8(1, UInt8(length / 8))
        switch self {
        case .sourceLinkLayerAddress(let mac):
            out.setU8(0, NDPOptionType.sourceLinkLayerAddress.rawValue); mac.write(to: out, at: 2)
        case .targetLinkLayerAddress(let mac):
            out.setU8(0, NDPOptionType.targetLinkLayerAddress.rawValue); mac.write(to: out, at: 2)
        case .prefixInformation(let p):
            guard p.prefixLength <= 128 else { throw WireError.malformed("NDP prefix length \(p.prefixLength)") }
            out.setU8(0, NDPOptionType.prefixInformation.rawValue)
            out.setU8(2, p.prefixLength)
            out.setU8(3, (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0))
            out.setU32(4, p.validLifetime); out.setU32(8, p.preferredLifetime)
            p.prefix.write(to: out, at: 16)
        case .redirectedHeader(let bytes):
            out.setU8(0, NDPOptionType.redirectedHeader.rawValue)
            bytes.withUnsafeBytes { out.copyBytes($0, at: 8) }
        case .mtu(let mtu):
            out.setU8(0, NDPOptionType.mtu.rawValue); out.setU32(4, mtu)
        case .recursiveDNSServers(let lifetime, let servers):
            guard !servers.isEmpty else { throw WireError.malformed("NDP RDNSS option without servers") }
            out.setU8(0, NDPOptionType.recursiveDNSServer.rawValue); out.setU32(4, lifetime)
            for (i, s) in servers.enumerated() { s.write(to: out, at: 8 + 16 * i) }
        case .unknown(let type, let data):
            out.setU8(0, type)
            data.withUnsafeBytes { out.copyBytes($0, at: 2) }
        }
    }

    /// Walks the options area `bytes` (RFC 4861 §4.6): every option has a nonzero length ("Nodes
    /// MUST silently discard an ND packet that contains an option with length zero") and lies
    /// inside the area; at most `NDPConstants.maximumOptions` of them.
    static func parseAll(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [NDPOption] {
        var options: [NDPOption] = []
        var i = 0
        while i < bytes.count {
            guard i + 2 <= bytes.count else { throw WireError.truncated(needed: i + 2, have: bytes.count) }
            let units = Int(bytes.u8(i + 1))
            guard units > 0 else { throw WireError.malformed("NDP option with length zero") }
            guard i + units * 8 <= bytes.count else { throw WireError.truncated(needed: i + units * 8, have: bytes.count) }
            guard options.count < NDPConstants.maximumOptions else {
                throw WireError.malformed("more than \(NDPConstants.maximumOptions) NDP options")
            }
            options.append(try NDPOption(parsing: bytes.slice(i..<i + units * 8)))
            i += units * 8
        }
        return options
    }
}

/// Router Solicitation (RFC 4861 §4.1).
public struct NDPRouterSolicitation: Hashable, Sendable {
    public var options: [NDPOption]
    public init(options: [NDPOption] = []) { self.options = options }
}

/// Router Advertisement (RFC 4861 §4.2; router preference RFC 4191 §2.2).
public struct NDPRouterAdvertisement: Hashable, Sendable {
    /// "The default value that should be placed in the Hop Count field of the IP header for
    /// outgoing IP packets"; 0 means unspecified.
    public var currentHopLimit: UInt8
    /// M: addresses are available via DHCPv6.
    public var managedAddressConfiguration: Bool
    /// O: other configuration information is available via DHCPv6.
    public var otherConfiguration: Bool
    /// Default router preference, 2 bits (RFC 4191): 01 high, 00 medium, 11 low, 10 reserved.
    public var routerPreference: UInt8
    /// Seconds as a default router; 0: not a default router.
    public var routerLifetime: UInt16
    /// Milliseconds; 0 means unspecified.
    public var reachableTime: UInt32
    /// Milliseconds between retransmitted NS; 0 means unspecified.
    public var retransmitTimer: UInt32
    public var options: [NDPOption]

    public init(currentHopLimit: UInt8 = IPv6Constants.defaultHopLimit, managedAddressConfiguration: Bool = false,
                otherConfiguration: Bool = false, routerPreference: UInt8 = 0, routerLifetime: UInt16,
                reachableTime: UInt32 = 0, retransmitTimer: UInt32 = 0, options: [NDPOption] = []) {
        self.currentHopLimit = currentHopLimit; self.managedAddressConfiguration = managedAddressConfiguration
        self.otherConfiguration = otherConfiguration; self.routerPreference = routerPreference & 3
        self.routerLifetime = routerLifetime; self.reachableTime = reachableTime
        self.retransmitTimer = retransmitTimer; self.options = options
    }
}

/// Neighbor Solicitation (RFC 4861 §4.3).
public struct NDPNeighborSolicitation: Hashable, Sendable {
    /// "The IP address of the target of the solicitation. It MUST NOT be a multicast address."
    public var target: IPv6Address
    public var options: [NDPOption]
    public init(target: IPv6Address, options: [NDPOption] = []) { self.target = target; self.options = options }
}

/// Neighbor Advertisement (RFC 4861 §4.4).
public struct NDPNeighborAdvertisement: Hashable, Sendable {
    /// R: the sender is a router.
    public var router: Bool
    /// S: sent in response to a Neighbor Solicitation.
    public var solicited: Bool
    /// O: override an existing cache entry.
    public var override: Bool
    public var target: IPv6Address
    public var options: [NDPOption]
    public init(router: Bool = false, solicited: Bool, override: Bool, target: IPv6Address, options: [NDPOption] = []) {
        self.router = router; self.solicited = solicited; self.override = override
        self.target = target; self.options = options
    }
}

/// Redirect (RFC 4861 §4.5).
public struct NDPRedirect: Hashable, Sendable {
    /// The better first hop (a router's link-local address, or the destination itself when on-link).
    public var target: IPv6Address
    /// The destination that is redirected.
    public var destination: IPv6Address
    public var options: [NDPOption]
    public init(target: IPv6Address, destination: IPv6Address, options: [NDPOption] = []) {
        self.target = target; self.destination = destination; self.options = options
    }
}

/// One neighbour discovery message.
public enum NDPMessage: Hashable, Sendable {
    case routerSolicitation(NDPRouterSolicitation)
    case routerAdvertisement(NDPRouterAdvertisement)
    case neighborSolicitation(NDPNeighborSolicitation)
    case neighborAdvertisement(NDPNeighborAdvertisement)
    case redirect(NDPRedirect)

    /// Whether `type` is one of the five NDP message types.
    @inlinable public static func isNDP(_ type: ICMPv6Type) -> Bool { (133...137).contains(type.rawValue) }

    public var type: ICMPv6Type {
        switch self {
        case .routerSolicitation: .routerSolicitation
        case .routerAdvertisement: .routerAdvertisement
        case .neighborSolicitation: .neighborSolicitation
        case .neighborAdvertisement: .neighborAdvertisement
        case .redirect: .redirect
        }
    }

    public var options: [NDPOption] {
        switch self {
        case .routerSolicitation(let m): m.options
        case .routerAdvertisement(let m): m.options
        case .neighborSolicitation(let m): m.options
        case .neighborAdvertisement(let m): m.options
        case .redirect(let m): m.options
        }
    }

    /// The fixed part after the 4-octet type/code/checksum, i.e. where options start minus 4.
    @usableFromInline static func fixedLength(_ type: ICMPv6Type) -> Int {
        switch type {
        case .routerSolicitation: 8
        case .routerAdvertisement: 16
        case .neighborSolicitation, .neighborAdvertisement: 24
        default: 40                                     // redirect
        }
    }

    /// The source link-layer address option, if present.
    public var sourceLinkLayerAddress: MACAddress? {
        for case .sourceLinkLayerAddress(let mac) in options { return mac }
        return nil
    }
    /// The target link-layer address option, if present.
    public var targetLinkLayerAddress: MACAddress? {
        for case .targetLinkLayerAddress(let mac) in options { return mac }
        return nil
    }

    /// Parses the ICMPv6 message that fills `message`, carried by the packet whose fixed header is
    /// `ip`, and applies RFC 4861's validity checks. Throws `unsupported` for other ICMPv6 types.
    public init(parsing message: UnsafeRawBufferPointer, ip: IPv6Header) throws(WireError) {
        let icmp = try ICMPv6Message(parsing: message, source: ip.source, destination: ip.destination)
        guard Self.isNDP(icmp.type) else { throw WireError.unsupported("ICMPv6 type \(icmp.type.rawValue)") }
        guard ip.hopLimit == NDPConstants.hopLimit else { throw WireError.malformed("NDP hop limit \(ip.hopLimit), not 255") }
        guard icmp.code == 0 else { throw WireError.malformed("NDP code \(icmp.code)") }
        let fixed = Self.fixedLength(icmp.type)
        try message.require(fixed)
        let options = try NDPOption.parseAll(message.slice(from: fixed))
        let hasSourceLinkLayer = options.contains { if case .sourceLinkLayerAddress = $0 { true } else { false } }
        switch icmp.type {
        case .routerSolicitation:
            // §6.1.1: "If the IP source address is the unspecified address, there is no source
            // link-layer address option in the message."
            if ip.source.isUnspecified, hasSourceLinkLayer { throw WireError.malformed("RS from :: with a link-layer address") }
            self = .routerSolicitation(NDPRouterSolicitation(options: options))
        case .routerAdvertisement:
            // §6.1.2: "IP Source Address is a link-local address."
            guard ip.source.isLinkLocal else { throw WireError.malformed("RA from a non-link-local address") }
            let flags = message.u8(5)
            self = .routerAdvertisement(NDPRouterAdvertisement(
                currentHopLimit: message.u8(4), managedAddressConfiguration: flags & 0x80 != 0,
                otherConfiguration: flags & 0x40 != 0, routerPreference: (flags >> 3) & 3,
                routerLifetime: message.u16(6), reachableTime: message.u32(8), retransmitTimer: message.u32(12),
                options: options))
        case .neighborSolicitation:
            let target = IPv6Address(message, at: 8)
            // §7.1.1: "Target Address is not a multicast address."
            guard !target.isMulticast else { throw WireError.malformed("NS for a multicast target") }
            if ip.source.isUnspecified {
                // "the IP destination address is a solicited-node multicast address" and "there
                // is no source link-layer address option".
                guard ip.destination.isSolicitedNodeMulticast else { throw WireError.malformed("DAD NS not to a solicited-node address") }
                guard !hasSourceLinkLayer else { throw WireError.malformed("NS from :: with a link-layer address") }
            }
            self = .neighborSolicitation(NDPNeighborSolicitation(target: target, options: options))
        case .neighborAdvertisement:
            let flags = message.u8(4)
            let target = IPv6Address(message, at: 8)
            // §7.1.2: "Target Address is not a multicast address." "If the IP Destination Address
            // is a multicast address the Solicited flag is zero."
            guard !target.isMulticast else { throw WireError.malformed("NA for a multicast target") }
            if ip.destination.isMulticast, flags & 0x40 != 0 { throw WireError.malformed("solicited NA to a multicast address") }
            self = .neighborAdvertisement(NDPNeighborAdvertisement(
                router: flags & 0x80 != 0, solicited: flags & 0x40 != 0, override: flags & 0x20 != 0,
                target: target, options: options))
        default:
            let target = IPv6Address(message, at: 8)
            let destination = IPv6Address(message, at: 24)
            // §8.1: "IP Source Address is a link-local address." "The ICMP Destination Address
            // field in the redirect message does not contain a multicast address." "The ICMP
            // Target Address is either a link-local address ... or the same as the ICMP
            // Destination Address."
            guard ip.source.isLinkLocal else { throw WireError.malformed("Redirect from a non-link-local address") }
            guard !destination.isMulticast else { throw WireError.malformed("Redirect for a multicast destination") }
            guard target.isLinkLocal || target == destination else { throw WireError.malformed("Redirect to a non-link-local target") }
            self = .redirect(NDPRedirect(target: target, destination: destination, options: options))
        }
    }

    /// Octets of the ICMPv6 message.
    public var encodedLength: Int { Self.fixedLength(type) + options.reduce(0) { $0 + $1.encodedLength } }

    /// Writes the whole ICMPv6 message (checksum over the pseudo-header of `source` →
    /// `destination`); returns its length. The IPv6 header around it must carry hop limit 255
    /// (`IPv6Frame.emitNDP` does).
    public func emit(into message: UnsafeMutableRawBufferPointer, source: IPv6Address, destination: IPv6Address) throws(WireError) -> Int {
        let length = encodedLength
        guard length <= Int(UInt16.max) else { throw WireError.badLength }
        try message.requireSpace(length)
        let fixed = Self.fixedLength(type)
        message.slice(0..<fixed).initializeMemory(as: UInt8.self, repeating: 0)
        var rest: UInt32 = 0
        switch self {
        case .routerSolicitation:
            break
        case .routerAdvertisement(let m):
            rest = UInt32(m.currentHopLimit) << 24
                | UInt32((m.managedAddressConfiguration ? 0x80 : 0) | (m.otherConfiguration ? 0x40 : 0) | (m.routerPreference & 3) << 3) << 16
                | UInt32(m.routerLifetime)
            message.setU32(8, m.reachableTime)
            message.setU32(12, m.retransmitTimer)
        case .neighborSolicitation(let m):
            m.target.write(to: message, at: 8)
        case .neighborAdvertisement(let m):
            rest = UInt32((m.router ? 0x80 : 0) | (m.solicited ? 0x40 : 0) | (m.override ? 0x20 : 0) as UInt8) << 24
            m.target.write(to: message, at: 8)
        case .redirect(let m):
            m.target.write(to: message, at: 8)
            m.destination.write(to: message, at: 24)
        }
        var offset = fixed
        for option in options {
            try option.write(to: message, at: offset)
            offset += option.encodedLength
        }
        return try ICMPv6Message(type: type, code: 0, restOfHeader: rest)
            .emit(into: message, dataLength: length - ICMPv6Constants.headerLength, source: source, destination: destination)
    }
}

extension IPv6Frame {
    /// Writes Ethernet + IPv6 (hop limit 255, as RFC 4861 requires) + an NDP message. Returns the
    /// frame length.
    public static func emitNDP(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, source: IPv6Address,
        destination: IPv6Address, message: NDPMessage
    ) throws(WireError) -> Int {
        var ip = IPv6Header(source: source, destination: destination, nextHeader: .icmpv6, payloadLength: 0,
                            hopLimit: NDPConstants.hopLimit)
        let offset = try emitHeaders(into: frame, ethernet: ethernet, ip: &ip, payloadLength: message.encodedLength)
        _ = try message.emit(into: frame.slice(from: offset), source: source, destination: destination)
        return offset + message.encodedLength
    }
}
