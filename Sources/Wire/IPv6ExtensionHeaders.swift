// IPv6 extension headers (RFC 8200 §4): the chain between the fixed header and the upper layer,
// walked with limits on how many headers and how many octets it may take, so a hostile chain
// costs bounded work and never a trap.
//
// Generic layout (RFC 8200 §4.3–4.6, RFC 6564):   Next Header(1) Hdr Ext Len(1) ...
//   length = (Hdr Ext Len + 1) × 8.  Authentication Header (RFC 4302 §2.2): (Payload Len + 2) × 4.
// Fragment header (RFC 8200 §4.5): Next Header(1) Reserved(1) Fragment Offset(13 bits) Res(2) M(1)
//   Identification(4) — always 8 octets.

/// The Fragment header (RFC 8200 §4.5).
public struct IPv6FragmentHeader: Hashable, Sendable {
    public static let length = 8

    /// The type of the fragmentable part's first header (the same in every fragment).
    public var nextHeader: IPProtocol
    /// "The offset, in 8-octet units, of the data following this header, relative to the start of
    /// the Fragmentable Part of the original packet." 13 bits.
    public var fragmentOffset: UInt16
    /// M flag: "1 = more fragments; 0 = last fragment."
    public var moreFragments: Bool
    public var identification: UInt32

    @inlinable public init(nextHeader: IPProtocol, fragmentOffset: UInt16, moreFragments: Bool, identification: UInt32) {
        self.nextHeader = nextHeader; self.fragmentOffset = fragmentOffset & 0x1FFF
        self.moreFragments = moreFragments; self.identification = identification
    }

    /// The offset in octets.
    @inlinable public var byteOffset: Int { Int(fragmentOffset) * 8 }
    /// An atomic fragment: offset 0 and no more fragments, the whole packet in one (RFC 6946).
    @inlinable public var isAtomic: Bool { fragmentOffset == 0 && !moreFragments }

    /// Parses the 8 octets at the start of `bytes`.
    @inlinable public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        try bytes.require(Self.length)
        nextHeader = IPProtocol(rawValue: bytes.u8(0))
        let offsetFlags = bytes.u16(2)
        fragmentOffset = offsetFlags >> 3
        moreFragments = offsetFlags & 1 != 0
        identification = bytes.u32(4)
    }

    /// Writes the 8 octets (reserved fields zero); returns 8.
    @inlinable public func emit(into bytes: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        try bytes.requireSpace(Self.length)
        bytes.setU8(0, nextHeader.rawValue)
        bytes.setU8(1, 0)
        bytes.setU16(2, (fragmentOffset & 0x1FFF) << 3 | (moreFragments ? 1 : 0))
        bytes.setU32(4, identification)
        return Self.length
    }
}

/// How much of an extension header chain a walk accepts. RFC 8200 sets no bound; RFC 7112 requires
/// the whole chain in the first fragment and RFC 8504 §5.3 lets nodes limit it. Past either limit
/// the packet is rejected (`WireError.malformed`), a drop the caller counts.
public struct IPv6ExtensionHeaderLimits: Hashable, Sendable {
    /// The most extension headers in one chain.
    public var maximumHeaders: Int
    /// The most octets the extension headers may take together.
    public var maximumBytes: Int

    @inlinable public init(maximumHeaders: Int = 8, maximumBytes: Int = 512) {
        self.maximumHeaders = maximumHeaders; self.maximumBytes = maximumBytes
    }
    public static let `default` = IPv6ExtensionHeaderLimits()
}

/// An option in a Hop-by-Hop or Destination Options header that the walk does not know and
/// whose action bits (RFC 8200 §4.2: the two high-order bits) say not to skip it.
public struct IPv6UnrecognizedOption: Hashable, Sendable {
    /// The option type octet.
    public var type: UInt8
    /// Where the option type lies, from the start of the IPv6 header (the Parameter Problem
    /// pointer, RFC 4443 §3.4 code 2).
    public var offset: Int

    @inlinable public init(type: UInt8, offset: Int) { self.type = type; self.offset = offset }

    /// The action bits: 1 discard, 2 discard and send Parameter Problem, 3 as 2 unless the
    /// destination was multicast (RFC 8200 §4.2). 0 is never reported.
    @inlinable public var action: UInt8 { type >> 6 }
}

/// The chain of extension headers of one packet, walked from the fixed header's Next Header to
/// the upper layer.
public struct IPv6ExtensionHeaders: Hashable, Sendable {
    /// The header type that ends the chain: the upper layer (TCP, UDP, ICMPv6, ESP, ...),
    /// `noNextHeader`, or any value this walk does not know as an extension header. For a later
    /// fragment (`isLaterFragment`) it is the Fragment header's Next Header and nothing of it follows.
    public var upperLayer: IPProtocol
    /// Where the upper layer starts, from the start of the IPv6 header.
    public var upperLayerOffset: Int
    /// Where the Next Header field that named `upperLayer` lies, from the start of the IPv6
    /// header (6 without extension headers): the pointer of a Parameter Problem about an
    /// unrecognized Next Header (RFC 4443 §3.4 code 1).
    public var nextHeaderFieldOffset: Int
    /// Extension headers walked.
    public var count: Int
    /// Octets they take together.
    public var byteCount: Int { upperLayerOffset - IPv6Constants.headerLength }
    /// Whether a Hop-by-Hop Options header is present (always first, RFC 8200 §4.1).
    public var hasHopByHopOptions: Bool
    /// The Routing header's type and segments left, when one is present (the first one).
    public var routingType: UInt8?
    public var segmentsLeft: UInt8?
    /// The Fragment header, when present, and where it lies.
    public var fragment: IPv6FragmentHeader?
    public var fragmentHeaderOffset: Int?
    /// The first option in a Hop-by-Hop or Destination Options header that must not be skipped
    /// (see `IPv6UnrecognizedOption`); nil if every option is known or skippable.
    public var unrecognizedOption: IPv6UnrecognizedOption?

    /// True when a Fragment header with a nonzero offset ends the walk: what follows is data from
    /// the middle of the original packet, not a header.
    @inlinable public var isLaterFragment: Bool { (fragment?.fragmentOffset ?? 0) != 0 }
    /// True when the chain ends at an upper layer Sluice parses (TCP, UDP, ICMPv6) whose header
    /// starts at `upperLayerOffset` — not in a later fragment.
    @inlinable public var hasParsableUpperLayer: Bool {
        !isLaterFragment && (upperLayer == .tcp || upperLayer == .udp || upperLayer == .icmpv6)
    }

    /// Whether `type` is an extension header this walk steps over (RFC 8200 §4.1 and IANA's
    /// "IPv6 Extension Header Types"; ESP ends the walk because its contents are encrypted).
    @inlinable public static func isExtensionHeader(_ type: IPProtocol) -> Bool {
        switch type.rawValue {
        case 0, 43, 44, 51, 60, 135, 139, 140: true
        default: false
        }
    }

    /// Option types the walk knows (RFC 8200 §4.2 Pad1/PadN, RFC 2711 Router Alert, RFC 2675 Jumbo Payload).
    @usableFromInline static func isKnownOption(_ type: UInt8) -> Bool {
        type == 0 || type == 1 || type == 5 || type == 0xC2
    }

    /// Walks the chain of the packet that starts at `packet[0]` with a valid fixed `header`
    /// (already parsed), within its payload length. Throws if a header runs past the payload, the
    /// chain exceeds `limits`, a Hop-by-Hop header is not first, or an options area is malformed.
    @inlinable public init(
        walking packet: UnsafeRawBufferPointer, header: IPv6Header, limits: IPv6ExtensionHeaderLimits = .default
    ) throws(WireError) {
        let end = min(packet.count, header.totalLength)
        var next = header.nextHeader
        var offset = IPv6Constants.headerLength
        var fieldOffset = 6
        var count = 0
        hasHopByHopOptions = false
        routingType = nil; segmentsLeft = nil
        fragment = nil; fragmentHeaderOffset = nil
        unrecognizedOption = nil
        while Self.isExtensionHeader(next) {
            // RFC 8200 §4.1: "The Hop-by-Hop Options header ... is restricted to appear
            // immediately after an IPv6 header only."
            if next == .hopByHopOptions {
                guard count == 0 else { throw WireError.malformed("Hop-by-Hop Options header not first") }
                hasHopByHopOptions = true
            }
            guard count < limits.maximumHeaders else {
                throw WireError.malformed("more than \(limits.maximumHeaders) IPv6 extension headers")
            }
            guard offset + 2 <= end else { throw WireError.truncated(needed: offset + 2, have: end) }
            let length: Int
            switch next {
            case .ipv6Fragment: length = IPv6FragmentHeader.length
            case .authenticationHeader: length = (Int(packet.u8(offset + 1)) + 2) * 4
            default: length = (Int(packet.u8(offset + 1)) + 1) * 8
            }
            guard offset + length <= end else { throw WireError.truncated(needed: offset + length, have: end) }
            guard offset + length - IPv6Constants.headerLength <= limits.maximumBytes else {
                throw WireError.malformed("IPv6 extension headers longer than \(limits.maximumBytes) octets")
            }
            let body = packet.slice(offset..<offset + length)
            switch next {
            case .hopByHopOptions, .ipv6DestinationOptions:
                let found = try Self.checkOptions(body, at: offset)
                if unrecognizedOption == nil { unrecognizedOption = found }
            case .ipv6Routing:
                if routingType == nil {
                    try body.require(4)
                    routingType = body.u8(2); segmentsLeft = body.u8(3)
                }
            case .ipv6Fragment:
                // RFC 8200 §4.1: each extension header at most once (Destination Options twice);
                // two Fragment headers would make reassembly ambiguous.
                guard fragment == nil else { throw WireError.malformed("two IPv6 Fragment headers") }
                fragment = try IPv6FragmentHeader(parsing: body)
                fragmentHeaderOffset = offset
            default:
                break
            }
            count += 1
            fieldOffset = offset
            next = IPProtocol(rawValue: packet.u8(offset))
            offset += length
            if let f = fragment, f.fragmentOffset != 0 { break }
        }
        self.count = count
        upperLayer = next
        upperLayerOffset = offset
        nextHeaderFieldOffset = fieldOffset
    }

    /// Checks the TLV options of a Hop-by-Hop or Destination Options header (RFC 8200 §4.2):
    /// every option lies inside the header. Returns the first unknown option that must not be
    /// skipped. `base` is the header's offset from the start of the IPv6 header.
    @inlinable static func checkOptions(_ header: UnsafeRawBufferPointer, at base: Int) throws(WireError) -> IPv6UnrecognizedOption? {
        var found: IPv6UnrecognizedOption?
        var i = 2
        while i < header.count {
            let type = header.u8(i)
            if type == 0 { i += 1; continue }                      // Pad1
            guard i + 2 <= header.count else { throw WireError.malformed("IPv6 option type without a length") }
            let next = i + 2 + Int(header.u8(i + 1))
            guard next <= header.count else { throw WireError.malformed("IPv6 option runs past its header") }
            if found == nil, !isKnownOption(type), type >> 6 != 0 {
                found = IPv6UnrecognizedOption(type: type, offset: base + i)
            }
            i = next
        }
        return found
    }
}

/// An IPv6 packet taken apart to its upper layer.
public enum IPv6Packet {
    public struct Parsed: Hashable, Sendable {
        public var header: IPv6Header
        public var extensions: IPv6ExtensionHeaders
        /// The upper-layer bytes in the packet (from `extensions.upperLayerOffset` to the end of
        /// the payload; padding excluded). Its first header is only parsable when
        /// `extensions.hasParsableUpperLayer`.
        public var upperLayerRange: Range<Int>

        @inlinable public init(header: IPv6Header, extensions: IPv6ExtensionHeaders, upperLayerRange: Range<Int>) {
            self.header = header; self.extensions = extensions; self.upperLayerRange = upperLayerRange
        }
    }

    /// Parses the fixed header and walks the extension headers of the packet at `packet[0]`.
    @inlinable public static func parse(
        _ packet: UnsafeRawBufferPointer, limits: IPv6ExtensionHeaderLimits = .default
    ) throws(WireError) -> Parsed {
        let header = try IPv6Header(parsing: packet)
        let extensions = try IPv6ExtensionHeaders(walking: packet, header: header, limits: limits)
        return Parsed(header: header, extensions: extensions,
                      upperLayerRange: extensions.upperLayerOffset..<header.totalLength)
    }
}
