// Links of a scenario: a cable between a host and a bridge segment, or between segments of two
// bridges, with impairments per direction (delay, jitter, loss, duplicate, reorder, corrupt,
// rate, queue, MTU) in the manner of Linux netem, drawn from the run's seed.

/// A link between two endpoints. `forward` is the direction from the first endpoint of
/// `between:` to the second, `reverse` the other.
public struct ScenarioLink: Sendable {
    /// Its position in `links:`, which timeline actions may use to name it.
    public var index: Int
    public var name: String?
    public var a: LinkEndpoint
    public var b: LinkEndpoint
    /// Impairments of frames travelling from `a` to `b`.
    public var forward: LinkImpairments
    /// Impairments of frames travelling from `b` to `a`.
    public var reverse: LinkImpairments
    /// Whether the link carries frames when the run starts (`up: false` starts it cut).
    public var initiallyUp: Bool = true
    public var location: ScenarioLocation

    public init(index: Int, name: String?, a: LinkEndpoint, b: LinkEndpoint,
                forward: LinkImpairments = .none, reverse: LinkImpairments = .none, location: ScenarioLocation) {
        self.index = index; self.name = name; self.a = a; self.b = b
        self.forward = forward; self.reverse = reverse; self.location = location
    }

    /// "uplink" or "links[0] (vm1–br0.lan)", for messages and reports.
    public var displayName: String { name ?? "links[\(index)] (\(a)–\(b))" }
}

/// One end of a link: a host (whose only NIC it is), a bridge segment, or a bridge's WAN uplink.
public enum LinkEndpoint: Equatable, Hashable, Sendable, CustomStringConvertible {
    case host(String)
    case bridge(BridgeSegment)
    /// The WAN of the bridge named (`br0.wan`): the link carries its datagrams (wireguard, udp,
    /// framed in IPv4/UDP between the bridges' underlay addresses) or its frames (tap).
    case wan(String)

    /// The node at this end.
    public var node: String {
        switch self {
        case .host(let n): n
        case .bridge(let s): s.bridge
        case .wan(let b): b
        }
    }

    public var description: String {
        switch self {
        case .host(let n): n
        case .bridge(let s): s.description
        case .wan(let b): "\(b).wan"
        }
    }
}

/// Which direction(s) of a link an `impair` action changes.
public enum ImpairDirection: String, Sendable, CaseIterable {
    /// First endpoint of `between:` to the second.
    case forward
    /// Second endpoint to the first.
    case reverse
    case both
}

/// What a link does to the frames crossing it in one direction. The defaults are a perfect wire.
public struct LinkImpairments: Equatable, Sendable {
    /// Added to every frame's transit time.
    public var delay: Duration = .zero
    /// Each frame's delay varies uniformly by up to ± this (never below zero).
    public var jitter: Duration = .zero
    public var loss: LossModel = .none
    /// Probability a frame is sent twice.
    public var duplicate: Double = 0
    /// Probability a frame is held back (by 10ms) so that frames sent after it arrive first.
    public var reorder: Double = 0
    /// Probability one random bit of a frame is flipped.
    public var corrupt: Double = 0
    /// Serialisation rate in bits per second; nil is unlimited.
    public var rate: Double?
    /// Frames the link holds waiting for the rate limit; more are dropped. nil: 1000 (Linux's txqueuelen).
    public var queue: Int?
    /// Largest frame payload (bytes after the Ethernet header) the link carries; larger ones are dropped.
    public var mtu: Int?

    /// A perfect wire.
    public static let none = LinkImpairments()

    public init() {}

    /// Whether this is a perfect wire.
    public var isIdeal: Bool { self == .none }

    /// "delay 5ms jitter 1ms loss 2% rate 100mbit", as tc-netem would print it; "none" for a perfect wire.
    public var summary: String {
        var parts: [String] = []
        if delay != .zero { parts.append("delay \(Format.duration(delay))") }
        if jitter != .zero { parts.append("jitter \(Format.duration(jitter))") }
        switch loss {
        case .none: break
        case .random(let p): parts.append("loss \(Format.percent(p))")
        case .gilbertElliott(let g): parts.append("loss gemodel p \(Format.percent(g.p)) r \(Format.percent(g.r)) h \(Format.percent(g.h)) k \(Format.percent(g.k))")
        }
        if duplicate > 0 { parts.append("duplicate \(Format.percent(duplicate))") }
        if reorder > 0 { parts.append("reorder \(Format.percent(reorder))") }
        if corrupt > 0 { parts.append("corrupt \(Format.percent(corrupt))") }
        if let rate { parts.append("rate \(Format.bitRate(rate))") }
        if let queue { parts.append("limit \(queue)") }
        if let mtu { parts.append("mtu \(mtu)") }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }
}

/// How frames are lost.
public enum LossModel: Equatable, Sendable {
    case none
    /// Each frame independently, with this probability.
    case random(Double)
    /// Bursty loss from a two-state Markov chain.
    case gilbertElliott(GilbertElliott)
}

/// The Gilbert–Elliott loss model: a Good and a Bad state, a transition chance per frame each
/// way, and a chance of a frame getting through in each state. Named as in the literature (and
/// netem's `loss gemodel p r 1-h 1-k`).
public struct GilbertElliott: Equatable, Sendable {
    /// Probability of moving Good → Bad, per frame.
    public var p: Double
    /// Probability of moving Bad → Good, per frame.
    public var r: Double
    /// Probability a frame gets through in the Bad state (default 0: every frame is lost).
    public var h: Double = 0
    /// Probability a frame gets through in the Good state (default 1: none is lost).
    public var k: Double = 1

    public init(p: Double, r: Double, h: Double = 0, k: Double = 1) { self.p = p; self.r = r; self.h = h; self.k = k }

    /// The long-run loss fraction: π_B·(1−h) + π_G·(1−k), with π_B = p/(p+r).
    public var meanLoss: Double {
        guard p + r > 0 else { return 1 - k }
        let bad = p / (p + r)
        return bad * (1 - h) + (1 - bad) * (1 - k)
    }
}

/// A partial set of impairments: the fields written in a link's section, its `forward:` or
/// `reverse:`, or an `impair` action. Unset fields keep what they were.
public struct ImpairmentPatch: Equatable, Sendable {
    public var delay: Duration?
    public var jitter: Duration?
    public var loss: LossModel?
    public var duplicate: Double?
    public var reorder: Double?
    public var corrupt: Double?
    /// `.some(nil)` sets the rate back to unlimited.
    public var rate: Double??
    public var queue: Int??
    public var mtu: Int??

    public init() {}

    /// `base` with the fields this patch sets replaced.
    public func applied(to base: LinkImpairments) -> LinkImpairments {
        var r = base
        if let delay { r.delay = delay }
        if let jitter { r.jitter = jitter }
        if let loss { r.loss = loss }
        if let duplicate { r.duplicate = duplicate }
        if let reorder { r.reorder = reorder }
        if let corrupt { r.corrupt = corrupt }
        if let rate { r.rate = rate }
        if let queue { r.queue = queue }
        if let mtu { r.mtu = mtu }
        return r
    }

    /// Whether it changes nothing.
    public var isEmpty: Bool { self == ImpairmentPatch() }
}
