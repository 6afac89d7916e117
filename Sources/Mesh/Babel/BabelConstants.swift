// Babel's numbers in one place: the wire constants of RFC 8966 §4 and RFC 9616 §3, and the timers and costs this
// subset runs with (docs/mesh.md, "Routing", says why each value was chosen).

import Basics

/// Wire constants of RFC 8966 (Babel) and RFC 9616 (timestamps), under the RFCs' names.
public enum BabelWire {
    /// §4.2: the first octet of every Babel packet.
    public static let magic: UInt8 = 42
    /// §4.2: the version this implementation speaks.
    public static let version: UInt8 = 2
    /// §4.2: magic, version, body length.
    public static let headerLength = 4
    /// §2.1: the infinite metric (a retraction).
    public static let infinity: UInt16 = 0xFFFF

    /// §4.3 TLV types.
    public enum TLVType: UInt8, Sendable {
        case pad1 = 0, padN = 1, ackRequest = 2, ack = 3, hello = 4, ihu = 5, routerID = 6, nextHop = 7
        case update = 8, routeRequest = 9, seqnoRequest = 10
    }

    /// §4.4 sub-TLV types; RFC 9616 §3.1 assigns 3 to Timestamp. Types 128 and above are mandatory (§4.4): a TLV
    /// carrying an unknown one is ignored as a whole.
    public enum SubTLVType: UInt8, Sendable {
        case pad1 = 0, padN = 1, diversity = 2, timestamp = 3
    }
    public static let mandatorySubTLVBit: UInt8 = 0x80

    /// §4.1.5 address encodings.
    public enum AddressEncoding: UInt8, Sendable {
        case wildcard = 0, ipv4 = 1, ipv6 = 2, linkLocalIPv6 = 3
    }

    /// §4.6.5: the U flag of a unicast Hello.
    public static let helloUnicastFlag: UInt16 = 0x8000
    /// §4.6.9 Update flags: set the default prefix; take the router-id from the prefix.
    public static let updatePrefixFlag: UInt8 = 0x80
    public static let updateRouterIDFlag: UInt8 = 0x40
}

/// The timers and costs of one router. The defaults are what the mesh runs with; tests shrink or disable them.
public struct BabelConfiguration: Sendable, Equatable {
    /// Unicast Hello to every neighbour this often. Two missed Hellos mark the link down (2-out-of-3, RFC 8966
    /// Appendix A.1), so a silent failure is noticed 1.5 + 1 intervals after the last Hello heard: 2.5 s, which
    /// leaves a second of the mesh's 3.5 s reroute budget for the seqno request and update round.
    public var helloInterval: Duration = .seconds(1)
    /// An IHU (with RFC 9616 timestamps, hence one RTT sample) rides with every third Hello.
    public var ihuInterval: Duration = .seconds(3)
    /// Full route table to every neighbour this often (triggered updates carry changes at once). 16 s keeps a
    /// 64-node full mesh under 16 kB/s of control traffic per node.
    public var updateInterval: Duration = .seconds(16)
    /// Maximum Babel packet (header and body) this router emits; fits a mesh session's inner MTU.
    public var maxPacketSize: Int = 1200
    /// A leaf announces only the prefixes it originates, never routes learned from neighbours: a mesh node that does
    /// not relay must not become anyone's next hop toward a third node.
    public var leaf: Bool = false

    /// RFC 8966 Appendix A.2.2: the cost of a lossless link in the ETX formula.
    public var nominalCost: UInt16 = 256
    /// RFC 9616 §4: below rttMin no penalty; above rttMax the full penalty; linear in between.
    public var rttMin: Duration = .milliseconds(10)
    public var rttMax: Duration = .milliseconds(120)
    public var maxRTTPenalty: UInt16 = 256
    /// RFC 9616 §4.1 smoothing: smoothed = smoothed·α + sample·(1−α), α in thousandths.
    public var rttDecayPerMille: UInt64 = 836

    /// Hysteresis: a feasible route replaces a still-usable selected route at once only when it is better by at
    /// least this much (one lossless hop, or more than any RTT swing on one link can move)…
    public var immediateSwitchGain: UInt16 = 256
    /// …otherwise it must be better by this margin, and the prefix must not have switched this way within
    /// `switchHoldDown`: an RTT swing between two paths switches at most once per hold-down.
    public var switchMargin: UInt16 = 16
    public var switchHoldDown: Duration = .seconds(60)

    /// RFC 8966 §3.8.2.1: seqno requests start with this hop count; an unanswered one is resent this often.
    public var requestHopCount: UInt8 = 64
    public var requestResendInterval: Duration = .seconds(1)
    /// A forwarded seqno request is not forwarded again for the same (prefix, router-id, seqno) within this.
    public var requestDuplicateWindow: Duration = .seconds(2)
    /// §3.2.5: source-table entries unused this long are dropped.
    public var sourceGCTime: Duration = .seconds(180)
    /// At most this many routes (all prefixes, all neighbours) are held; updates for new routes beyond it are
    /// dropped and counted, so a neighbour announcing millions of prefixes its certificate allows cannot exhaust
    /// memory.
    public var maxRoutes: Int = 65_536
    /// Route expiry, stale neighbours and requests are swept this often.
    public var sweepInterval: Duration = .seconds(1)

    public init() {}

    /// An interval in the centiseconds Babel TLVs carry, clamped to UInt16.
    static func centiseconds(_ d: Duration) -> UInt16 {
        UInt16(clamping: max(0, d.nanosecondsClamped / 10_000_000))
    }

    /// Route hold time for an update carrying `interval` centiseconds: 3.5 intervals (§3.5.3), at least a second.
    static func routeHold(interval: UInt16) -> Duration {
        .milliseconds(max(1000, Int64(interval) * 35))
    }
}

/// A Babel router-id (RFC 8966 §3.1): 8 octets, neither all zeros nor all ones.
public struct RouterID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The first eight octets of a node's 32-byte X25519 public key (a constant flipped if they are all zeros or
    /// all ones), so a node can map a router-id back to the certificate of that key.
    public init(publicKey: [UInt8]) {
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(i < publicKey.count ? publicKey[i] : 0) }
        if v == 0 || v == .max { v ^= 0x5A5A_5A5A_5A5A_5A5A }
        rawValue = v
    }

    /// §4.6.7: all zeros and all ones are not router-ids.
    public var isValid: Bool { rawValue != 0 && rawValue != .max }

    public static func < (a: RouterID, b: RouterID) -> Bool { a.rawValue < b.rawValue }
    public var description: String {
        let hex = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// A neighbour as the node names it: a small index the mesh node assigns to each peer session.
public struct NeighbourID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: NeighbourID, b: NeighbourID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "n\(rawValue)" }
}

/// RFC 8966 §3.2.1: seqnos compare modulo 2^16.
enum Seqno {
    /// True when `a` is newer than `b`: 0 < (a − b) mod 2^16 < 2^15.
    static func isNewer(_ a: UInt16, than b: UInt16) -> Bool {
        let d = a &- b
        return d != 0 && d < 0x8000
    }
}
