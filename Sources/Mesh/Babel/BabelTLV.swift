// Babel TLVs (RFC 8966 §4.3–4.6) and the Timestamp sub-TLV (RFC 9616 §3.1): parsed from a bounds-checked raw
// buffer, emitted into caller memory. Parsing never traps: every read is checked against the TLV's own length.
//
//   every TLV except Pad1:  type (1) | length (1) | value (length octets)   — Pad1 is a single zero octet
//   Hello      (4): reserved/flags (2) | seqno (2) | interval (2, cs)                      | sub-TLVs
//   IHU        (5): AE (1) | reserved (1) | rxcost (2) | interval (2, cs) | address (AE)   | sub-TLVs
//   Router-Id  (6): reserved (2) | router-id (8)                                           | sub-TLVs
//   Next Hop   (7): AE (1) | reserved (1) | next hop (AE)                                  | sub-TLVs
//   Update     (8): AE | flags | plen | omitted | interval (2) | seqno (2) | metric (2) | prefix | sub-TLVs
//   Route Req. (9): AE | plen | prefix                                                     | sub-TLVs
//   Seqno Req.(10): AE | plen | seqno (2) | hop count | reserved | router-id (8) | prefix  | sub-TLVs
//   Ack-Req    (2): reserved (2) | opaque (2) | interval (2);   Ack (3): opaque (2)
//   Timestamp sub-TLV (3): in a Hello, transmit time (4); in an IHU, origin (4) | receive (4) — microseconds.

/// Why bytes were not a Babel packet or TLV. Small and `Equatable` so tests name the exact failure.
public enum BabelWireError: Error, Equatable, Sendable {
    /// A length runs past the bytes given (the packet body or the TLV framing).
    case truncated
    /// A TLV's length is too short for its type's fields, or leaves bytes its fields cannot account for.
    case badLength
    case badMagic
    case badVersion
    /// An address encoding this TLV does not allow (or an unknown one).
    case badAddressEncoding
    /// A prefix length beyond the address size, or an Omitted count beyond the prefix.
    case badPrefixLength
    /// Omitted octets with no earlier prefix of that encoding in the packet (§4.6.9).
    case noDefaultPrefix
    /// An all-zeros or all-ones router-id (§4.6.7).
    case invalidRouterID
    /// A sub-TLV of a mandatory type this implementation does not know (§4.4): the TLV is ignored.
    case mandatorySubTLV
}

/// An address as an IHU or Next Hop TLV carries it.
public struct BabelAddress: Equatable, Sendable {
    public var encoding: BabelWire.AddressEncoding
    /// 0, 4, 16 or 8 octets, per the encoding.
    public var bytes: [UInt8]
    public init?(encoding: BabelWire.AddressEncoding, bytes: [UInt8]) {
        guard bytes.count == Self.length(encoding) else { return nil }
        self.encoding = encoding; self.bytes = bytes
    }
    static func length(_ e: BabelWire.AddressEncoding) -> Int {
        switch e { case .wildcard: 0; case .ipv4: 4; case .ipv6: 16; case .linkLocalIPv6: 8 }
    }
}

/// Hello (§4.6.5) with its optional transmit timestamp (RFC 9616 §3.1).
public struct BabelHello: Equatable, Sendable {
    public var flags: UInt16
    public var seqno: UInt16
    /// Centiseconds until the next Hello; 0 = none scheduled.
    public var interval: UInt16
    public var timestamp: UInt32?
    public init(flags: UInt16 = BabelWire.helloUnicastFlag, seqno: UInt16, interval: UInt16, timestamp: UInt32? = nil) {
        self.flags = flags; self.seqno = seqno; self.interval = interval; self.timestamp = timestamp
    }
}

/// IHU (§4.6.6) with its optional origin/receive timestamps (RFC 9616 §3.1).
public struct BabelIHU: Equatable, Sendable {
    public var rxcost: UInt16
    public var interval: UInt16
    /// The neighbour's address; the wildcard on unicast (§4.6.6).
    public var address: BabelAddress
    public var origin: UInt32?
    public var receive: UInt32?
    public init(rxcost: UInt16, interval: UInt16, address: BabelAddress = BabelAddress(encoding: .wildcard, bytes: [])!,
                origin: UInt32? = nil, receive: UInt32? = nil) {
        self.rxcost = rxcost; self.interval = interval; self.address = address; self.origin = origin; self.receive = receive
    }
}

/// Update (§4.6.9). A nil prefix is AE 0: a retraction of every route from the sender.
public struct BabelUpdate: Equatable, Sendable {
    public var flags: UInt8
    public var prefix: BabelPrefix?
    /// Centiseconds until the next scheduled update for this prefix.
    public var interval: UInt16
    public var seqno: UInt16
    public var metric: UInt16
    public init(flags: UInt8 = 0, prefix: BabelPrefix?, interval: UInt16, seqno: UInt16, metric: UInt16) {
        self.flags = flags; self.prefix = prefix; self.interval = interval; self.seqno = seqno; self.metric = metric
    }
    /// §4.6.9: with the router-id flag, the router-id is the last eight octets of an IPv6 prefix.
    public var routerIDFromPrefix: RouterID? {
        guard flags & BabelWire.updateRouterIDFlag != 0, let p = prefix, p.family == 6 else { return nil }
        return RouterID(rawValue: p.low)
    }
}

/// Seqno Request (§4.6.11).
public struct BabelSeqnoRequest: Equatable, Sendable {
    public var prefix: BabelPrefix
    public var seqno: UInt16
    public var hopCount: UInt8
    public var routerID: RouterID
    public init(prefix: BabelPrefix, seqno: UInt16, hopCount: UInt8, routerID: RouterID) {
        self.prefix = prefix; self.seqno = seqno; self.hopCount = hopCount; self.routerID = routerID
    }
}

/// One TLV of the subset. Unknown types are skipped by the packet parser (§4.3) and never reach here.
public enum BabelTLV: Equatable, Sendable {
    case pad1
    /// PadN with this many value octets (all zero when emitted; any value accepted, §4.6.2).
    case padN(Int)
    case ackRequest(opaque: UInt16, interval: UInt16)
    case ack(opaque: UInt16)
    case hello(BabelHello)
    case ihu(BabelIHU)
    case routerID(RouterID)
    case nextHop(BabelAddress)
    case update(BabelUpdate)
    /// nil: the wildcard request (the full table).
    case routeRequest(BabelPrefix?)
    case seqnoRequest(BabelSeqnoRequest)
}

/// Parser state a packet carries from TLV to TLV (§4.5): the default prefixes Omitted octets are copied from.
public struct BabelParseContext: Sendable {
    var defaultIPv4: BabelPrefix?
    var defaultIPv6: BabelPrefix?
    public init() {}
}

/// Big-endian reads within `[offset, end)`; an overrun throws `error` (never traps).
struct BabelReader {
    let buffer: UnsafeRawBufferPointer
    var offset: Int
    let end: Int
    let error: BabelWireError

    init(_ buffer: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil, error: BabelWireError = .badLength) {
        self.buffer = buffer; offset = start; self.end = min(end ?? buffer.count, buffer.count); self.error = error
    }
    var remaining: Int { end - offset }
    mutating func u8() throws(BabelWireError) -> UInt8 {
        guard remaining >= 1 else { throw error }
        defer { offset += 1 }
        return buffer[offset]
    }
    mutating func u16() throws(BabelWireError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }
    mutating func u32() throws(BabelWireError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }
    mutating func u64() throws(BabelWireError) -> UInt64 { UInt64(try u32()) << 32 | UInt64(try u32()) }
    mutating func bytes(_ n: Int) throws(BabelWireError) -> [UInt8] {
        guard n >= 0, remaining >= n else { throw error }
        defer { offset += n }
        return Array(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + n]))
    }
    mutating func skip(_ n: Int) throws(BabelWireError) {
        guard n >= 0, remaining >= n else { throw error }
        offset += n
    }
}

/// Big-endian writes; the caller has checked the room (`BabelTLV.encodedLength`).
struct BabelWriter {
    let buffer: UnsafeMutableRawBufferPointer
    var offset: Int
    mutating func u8(_ v: UInt8) { buffer[offset] = v; offset += 1 }
    mutating func u16(_ v: UInt16) { u8(UInt8(v >> 8)); u8(UInt8(truncatingIfNeeded: v)) }
    mutating func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(truncatingIfNeeded: v)) }
    mutating func u64(_ v: UInt64) { u32(UInt32(v >> 32)); u32(UInt32(truncatingIfNeeded: v)) }
    mutating func bytes(_ b: [UInt8]) { for x in b { u8(x) } }
    mutating func prefixBytes(_ p: BabelPrefix) { for i in 0..<p.significantBytes { u8(p.byte(i)) } }
}

extension BabelTLV {
    // MARK: sizes

    /// Octets this TLV occupies on the wire, type and length included.
    public var encodedLength: Int {
        switch self {
        case .pad1: 1
        case .padN(let n): 2 + n
        case .ackRequest: 8
        case .ack: 4
        case .hello(let h): 2 + 6 + (h.timestamp == nil ? 0 : 6)
        case .ihu(let i): 2 + 6 + i.address.bytes.count + (i.origin == nil || i.receive == nil ? 0 : 10)
        case .routerID: 12
        case .nextHop(let a): 4 + a.bytes.count
        case .update(let u): 2 + 10 + (u.prefix?.significantBytes ?? 0)
        case .routeRequest(let p): 4 + (p?.significantBytes ?? 0)
        case .seqnoRequest(let s): 2 + 14 + s.prefix.significantBytes
        }
    }

    static func encoding(_ p: BabelPrefix?) -> UInt8 {
        guard let p else { return BabelWire.AddressEncoding.wildcard.rawValue }
        return p.family == 4 ? BabelWire.AddressEncoding.ipv4.rawValue : BabelWire.AddressEncoding.ipv6.rawValue
    }

    // MARK: emit

    /// Writes the TLV at the start of `buffer`; returns the octets written, or nil (writing nothing) when it does
    /// not fit or cannot be encoded (a PadN value over 255 octets). Never allocates.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let total = encodedLength
        guard total <= buffer.count else { return nil }
        if case .padN(let n) = self, !(0...255).contains(n) { return nil }
        var w = BabelWriter(buffer: buffer, offset: 0)
        func header(_ t: BabelWire.TLVType) { w.u8(t.rawValue); w.u8(UInt8(total - 2)) }
        switch self {
        case .pad1:
            w.u8(BabelWire.TLVType.pad1.rawValue)
        case .padN(let n):
            header(.padN); for _ in 0..<n { w.u8(0) }
        case .ackRequest(let opaque, let interval):
            header(.ackRequest); w.u16(0); w.u16(opaque); w.u16(interval)
        case .ack(let opaque):
            header(.ack); w.u16(opaque)
        case .hello(let h):
            header(.hello); w.u16(h.flags); w.u16(h.seqno); w.u16(h.interval)
            if let t = h.timestamp { w.u8(BabelWire.SubTLVType.timestamp.rawValue); w.u8(4); w.u32(t) }
        case .ihu(let i):
            header(.ihu); w.u8(i.address.encoding.rawValue); w.u8(0); w.u16(i.rxcost); w.u16(i.interval)
            w.bytes(i.address.bytes)
            if let o = i.origin, let r = i.receive {
                w.u8(BabelWire.SubTLVType.timestamp.rawValue); w.u8(8); w.u32(o); w.u32(r)
            }
        case .routerID(let id):
            header(.routerID); w.u16(0); w.u64(id.rawValue)
        case .nextHop(let a):
            header(.nextHop); w.u8(a.encoding.rawValue); w.u8(0); w.bytes(a.bytes)
        case .update(let u):
            header(.update); w.u8(Self.encoding(u.prefix)); w.u8(u.flags); w.u8(u.prefix?.length ?? 0); w.u8(0)
            w.u16(u.interval); w.u16(u.seqno); w.u16(u.metric)
            if let p = u.prefix { w.prefixBytes(p) }
        case .routeRequest(let p):
            header(.routeRequest); w.u8(Self.encoding(p)); w.u8(p?.length ?? 0)
            if let p { w.prefixBytes(p) }
        case .seqnoRequest(let s):
            header(.seqnoRequest); w.u8(Self.encoding(s.prefix)); w.u8(s.prefix.length); w.u16(s.seqno)
            w.u8(s.hopCount); w.u8(0); w.u64(s.routerID.rawValue); w.prefixBytes(s.prefix)
        }
        return w.offset
    }

    /// The TLV as a fresh array (tests, cold paths).
    public var encoded: [UInt8] {
        var out = [UInt8](repeating: 0, count: encodedLength)
        _ = out.withUnsafeMutableBytes { emit(into: $0) }
        return out
    }

    // MARK: parse

    /// Reads the TLV framing at `offset` of `buffer` (up to `end`) and parses it. Advances `offset` past the TLV
    /// when its framing is sound, even when its value then fails to parse (so the caller can skip it). Returns nil
    /// for a TLV type outside the subset (§4.3: silently ignored). Throws `.truncated` when the framing overruns.
    public static func read(_ buffer: UnsafeRawBufferPointer, at offset: inout Int, end: Int,
                            context: inout BabelParseContext) throws(BabelWireError) -> BabelTLV? {
        let end = min(end, buffer.count)
        guard offset < end else { throw .truncated }
        let type = buffer[offset]
        if type == BabelWire.TLVType.pad1.rawValue { offset += 1; return .pad1 }
        guard end - offset >= 2 else { throw .truncated }
        let length = Int(buffer[offset + 1])
        guard end - offset - 2 >= length else { throw .truncated }
        let start = offset + 2
        offset = start + length
        return try parse(type: type, value: UnsafeRawBufferPointer(rebasing: buffer[start..<start + length]), context: &context)
    }

    /// Parses one TLV value (the octets after type and length). nil for a type outside the subset.
    public static func parse(type: UInt8, value: UnsafeRawBufferPointer,
                             context: inout BabelParseContext) throws(BabelWireError) -> BabelTLV? {
        guard let t = BabelWire.TLVType(rawValue: type) else { return nil }
        var r = BabelReader(value)
        switch t {
        case .pad1:
            return .pad1
        case .padN:
            return .padN(value.count)
        case .ackRequest:
            _ = try r.u16()
            let opaque = try r.u16(), interval = try r.u16()
            try subTLVs(&r) { _, _ throws(BabelWireError) in }
            return .ackRequest(opaque: opaque, interval: interval)
        case .ack:
            let opaque = try r.u16()
            try subTLVs(&r) { _, _ throws(BabelWireError) in }
            return .ack(opaque: opaque)
        case .hello:
            var h = BabelHello(flags: try r.u16(), seqno: try r.u16(), interval: try r.u16())
            try subTLVs(&r) { (type, sub: inout BabelReader) throws(BabelWireError) in
                if type == BabelWire.SubTLVType.timestamp.rawValue, sub.remaining == 4 { h.timestamp = try sub.u32() }
            }
            return .hello(h)
        case .ihu:
            guard let ae = BabelWire.AddressEncoding(rawValue: try r.u8()) else { throw .badAddressEncoding }
            _ = try r.u8()
            let rxcost = try r.u16(), interval = try r.u16()
            let address = BabelAddress(encoding: ae, bytes: try r.bytes(BabelAddress.length(ae)))!
            var ihu = BabelIHU(rxcost: rxcost, interval: interval, address: address)
            try subTLVs(&r) { (type, sub: inout BabelReader) throws(BabelWireError) in
                if type == BabelWire.SubTLVType.timestamp.rawValue, sub.remaining == 8 {
                    ihu.origin = try sub.u32(); ihu.receive = try sub.u32()
                }
            }
            return .ihu(ihu)
        case .routerID:
            _ = try r.u16()
            let id = RouterID(rawValue: try r.u64())
            try subTLVs(&r) { _, _ throws(BabelWireError) in }
            guard id.isValid else { throw .invalidRouterID }
            return .routerID(id)
        case .nextHop:
            guard let ae = BabelWire.AddressEncoding(rawValue: try r.u8()), ae != .wildcard else { throw .badAddressEncoding }
            _ = try r.u8()
            let address = BabelAddress(encoding: ae, bytes: try r.bytes(BabelAddress.length(ae)))!
            try subTLVs(&r) { _, _ throws(BabelWireError) in }
            return .nextHop(address)
        case .update:
            let aeByte = try r.u8(), flags = try r.u8(), plen = try r.u8(), omitted = Int(try r.u8())
            let interval = try r.u16(), seqno = try r.u16(), metric = try r.u16()
            guard let ae = BabelWire.AddressEncoding(rawValue: aeByte), ae != .linkLocalIPv6 else { throw .badAddressEncoding }
            var prefix: BabelPrefix?
            if ae == .wildcard {
                // §4.6.9: AE 0 only retracts every route, with plen and omitted zero.
                guard plen == 0, omitted == 0 else { throw .badPrefixLength }
                guard metric == BabelWire.infinity else { throw .badAddressEncoding }
            } else {
                let family: UInt8 = ae == .ipv4 ? 4 : 6
                let size = ae == .ipv4 ? 4 : 16
                guard Int(plen) <= size * 8, omitted <= size else { throw .badPrefixLength }
                let total = (Int(plen) + 7) / 8
                guard omitted <= total else { throw .badPrefixLength }
                var bytes = [UInt8](repeating: 0, count: total)
                if omitted > 0 {
                    guard let d = ae == .ipv4 ? context.defaultIPv4 : context.defaultIPv6 else { throw .noDefaultPrefix }
                    for i in 0..<omitted { bytes[i] = d.byte(i) }
                }
                for i in omitted..<total { bytes[i] = try r.u8() }
                prefix = BabelPrefix(family: family, bytes: bytes, length: plen)
                guard prefix != nil else { throw .badPrefixLength }
            }
            let u = BabelUpdate(flags: flags, prefix: prefix, interval: interval, seqno: seqno, metric: metric)
            if flags & BabelWire.updateRouterIDFlag != 0 {
                guard let id = u.routerIDFromPrefix, id.isValid else { throw .invalidRouterID }
            }
            try subTLVs(&r) { _, _ throws(BabelWireError) in }
            if flags & BabelWire.updatePrefixFlag != 0, let p = prefix {
                if p.family == 4 { context.defaultIPv4 = p } else { context.defaultIPv6 = p }
            }
            return .update(u)
        case .routeRequest:
            let prefix = try prefixField(&r, ae: try r.u8(), plen: try r.u8(), wildcardAllowed: true)
            try subTLVs(&r) { _, _ throws(BabelWireError) in }
            return .routeRequest(prefix)
        case .seqnoRequest:
            let aeByte = try r.u8(), plen = try r.u8(), seqno = try r.u16(), hops = try r.u8()
            _ = try r.u8()
            let id = RouterID(rawValue: try r.u64())
            let prefix = try prefixField(&r, ae: aeByte, plen: plen, wildcardAllowed: false)!
            try subTLVs(&r) { _, _ throws(BabelWireError) in }
            guard id.isValid else { throw .invalidRouterID }
            return .seqnoRequest(BabelSeqnoRequest(prefix: prefix, seqno: seqno, hopCount: hops, routerID: id))
        }
    }

    /// A prefix written in full (no Omitted field): Route and Seqno Requests.
    static func prefixField(_ r: inout BabelReader, ae aeByte: UInt8, plen: UInt8,
                            wildcardAllowed: Bool) throws(BabelWireError) -> BabelPrefix? {
        guard let ae = BabelWire.AddressEncoding(rawValue: aeByte), ae != .linkLocalIPv6 else { throw .badAddressEncoding }
        if ae == .wildcard {
            guard wildcardAllowed else { throw .badAddressEncoding }
            guard plen == 0 else { throw .badPrefixLength }
            return nil
        }
        let size = ae == .ipv4 ? 4 : 16
        guard Int(plen) <= size * 8 else { throw .badPrefixLength }
        let bytes = try r.bytes((Int(plen) + 7) / 8)
        guard let p = BabelPrefix(family: ae == .ipv4 ? 4 : 6, bytes: bytes, length: plen) else { throw .badPrefixLength }
        return p
    }

    /// §4.4: the rest of a TLV is sub-TLVs. Pad1/PadN and unknown non-mandatory ones are skipped; an unknown
    /// mandatory one makes the whole TLV ignored. `visit` sees each known one with a reader over its value.
    static func subTLVs(_ r: inout BabelReader,
                        _ visit: (UInt8, inout BabelReader) throws(BabelWireError) -> Void) throws(BabelWireError) {
        while r.remaining > 0 {
            let type = try r.u8()
            if type == BabelWire.SubTLVType.pad1.rawValue { continue }
            let length = Int(try r.u8())
            guard r.remaining >= length else { throw .badLength }
            var sub = BabelReader(r.buffer, from: r.offset, to: r.offset + length)
            r.offset += length
            if type == BabelWire.SubTLVType.padN.rawValue || type == BabelWire.SubTLVType.diversity.rawValue { continue }
            if type == BabelWire.SubTLVType.timestamp.rawValue { try visit(type, &sub); continue }
            if type & BabelWire.mandatorySubTLVBit != 0 { throw .mandatorySubTLV }
        }
    }
}
