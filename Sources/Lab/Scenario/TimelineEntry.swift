// The timeline of a scenario: actions at fixed times (`at: 5s`) or after another action finishes
// (`after: p1 + 2s`). Each action may be named with `as:` so that expectations and later
// entries can refer to it.
import Wire

/// One line of the timeline.
public struct TimelineEntry: Sendable {
    /// Its position in `timeline:`.
    public var index: Int
    /// The `as:` name; results of named actions can be checked by expectations.
    public var name: String?
    public var trigger: Trigger
    public var action: TimelineAction
    public var location: ScenarioLocation

    public init(index: Int, name: String?, trigger: Trigger, action: TimelineAction, location: ScenarioLocation) {
        self.index = index; self.name = name; self.trigger = trigger; self.action = action; self.location = location
    }

    /// "p1" or "timeline[3] (ping)", for messages and reports.
    public var displayName: String { name ?? "timeline[\(index)] (\(action.kind.rawValue))" }

    /// "at 5s: ping vm1 → srv, 20 × 200ms, 56 bytes" (the reports' action column).
    func summary(links: [ScenarioLink]) -> String {
        let when = trigger.description
        switch action {
        case .dhcp(let n): return "\(when): dhcp on \(n)"
        case .release(let n): return "\(when): release on \(n)"
        case .ping(let p): return "\(when): ping \(p.node) → \(p.to), \(p.count) × \(Format.duration(p.interval)), \(p.size) bytes"
        case .udp(let u): return "\(when): udp \(u.node) → \(u.to):\(u.port), \(u.rate), \(u.size) bytes, \(Format.duration(u.duration))"
        case .tcp(let t): return "\(when): tcp \(t.node) → \(t.to):\(t.port), \(t.amount), \(t.streams) stream(s)\(t.reverse ? ", reverse" : ""), \(t.congestion.rawValue)"
        case .linkDown(let l): return "\(when): link-down \(links[l].displayName)"
        case .linkUp(let l): return "\(when): link-up \(links[l].displayName)"
        case .impair(let a): return "\(when): impair \(links[a.link].displayName) (\(a.direction.rawValue))"
        case .replay(let r): return "\(when): replay \(r.pcap) into \(r.into)"
        }
    }
}

/// When an entry starts.
public enum Trigger: Equatable, Sendable, CustomStringConvertible {
    /// At this time after the run starts.
    case at(Duration)
    /// This long after the entry named `entry` finished (a ping's last probe resolved, a flood's
    /// last datagram sent, a lease bound, a replay done; link actions finish at once).
    case after(entry: String, delay: Duration)

    public var description: String {
        switch self {
        case .at(let d): "at \(Format.duration(d))"
        case .after(let e, let d): d == .zero ? "after \(e)" : "after \(e) + \(Format.duration(d))"
        }
    }
}

/// What kind of action an entry performs (the `do:` value).
public enum ActionKind: String, Sendable, CaseIterable {
    case dhcp
    case release
    case ping
    case udp
    case tcp
    case linkDown = "link-down"
    case linkUp = "link-up"
    case impair
    case replay
}

/// What an entry does.
public enum TimelineAction: Sendable {
    /// Start the host's DHCP client (DISCOVER, or INIT-REBOOT with a remembered lease).
    case dhcp(node: String)
    /// Release the host's lease (DHCPRELEASE) and stop its client.
    case release(node: String)
    case ping(PingAction)
    case udp(UDPFlowAction)
    case tcp(TCPFlowAction)
    case linkDown(link: Int)
    case linkUp(link: Int)
    case impair(ImpairAction)
    case replay(ReplayAction)

    public var kind: ActionKind {
        switch self {
        case .dhcp: .dhcp
        case .release: .release
        case .ping: .ping
        case .udp: .udp
        case .tcp: .tcp
        case .linkDown: .linkDown
        case .linkUp: .linkUp
        case .impair: .impair
        case .replay: .replay
        }
    }

    /// The host performing the action, if one does.
    public var node: String? {
        switch self {
        case .dhcp(let n), .release(let n): n
        case .ping(let p): p.node
        case .udp(let u): u.node
        case .tcp(let t): t.node
        case .replay, .linkDown, .linkUp, .impair: nil
        }
    }
}

/// Where traffic goes: a node (its address when the action starts) or a fixed address.
public enum TrafficTarget: Equatable, Sendable, CustomStringConvertible {
    /// A host's current address, or a bridge's router address on `segment` (nil: the segment
    /// the sender is attached to, else the bridge's first).
    case node(String, segment: String?)
    case address(IPv4Address)

    public var description: String {
        switch self {
        case .node(let n, let s): s.map { "\(n).\($0)" } ?? n
        case .address(let a): a.description
        }
    }
}

/// `do: ping` — ping(8) from a host.
public struct PingAction: Equatable, Sendable {
    public var node: String
    public var to: TrafficTarget
    public var count = 4
    public var interval: Duration = .seconds(1)
    /// ICMP data bytes (ping -s).
    public var size = 56
    /// IP TTL of the requests; nil uses the host's (64).
    public var ttl: Int?
    /// How long each probe waits for its reply.
    public var timeout: Duration = .seconds(1)
    /// `family: ipv6`: ping the target host's IPv6 address (its SLAAC/static one if the sender has
    /// a route to it, else its link-local), with ICMPv6; `ttl` is then the hop limit.
    public var ipv6 = false

    public init(node: String, to: TrafficTarget) { self.node = node; self.to = to }
}

/// How fast a UDP flow sends.
public enum FlowRate: Equatable, Sendable, CustomStringConvertible {
    /// UDP payload bits per second (iperf3 -b).
    case bitsPerSecond(Double)
    case packetsPerSecond(Double)

    public var description: String {
        switch self {
        case .bitsPerSecond(let b): Format.bitRate(b)
        case .packetsPerSecond(let p): "\(Format.number(p))pps"
        }
    }
}

/// `do: udp` — a sequence-numbered UDP flow (like iperf3 -u) from a host; the target host counts
/// what arrives on `port`.
public struct UDPFlowAction: Equatable, Sendable {
    public var node: String
    public var to: TrafficTarget
    public var port: Int = 5001
    public var rate: FlowRate = .bitsPerSecond(1_000_000)
    /// UDP payload bytes per datagram (at least 24, the flow header).
    public var size = 1472
    public var duration: Duration = .seconds(10)

    public init(node: String, to: TrafficTarget) { self.node = node; self.to = to }
}

/// How much a TCP flow moves: a byte count (iperf3 -n) or for a time (iperf3 -t).
public enum TCPFlowAmount: Equatable, Sendable, CustomStringConvertible {
    case bytes(UInt64)
    case duration(Duration)

    public var description: String {
        switch self {
        case .bytes(let b): "\(b) bytes"
        case .duration(let d): "for \(Format.duration(d))"
        }
    }
}

/// The congestion control a TCP flow asks for (iperf3 -C cubic | reno).
public enum TCPFlowCongestion: String, Equatable, Sendable, CaseIterable {
    case cubic
    case newreno
}

/// `do: tcp` — a bulk TCP transfer (like iperf3) between two hosts of the scenario: `streams`
/// parallel connections from `node` to a listener the target host runs on `port` (or the other
/// way round with `reverse`).
public struct TCPFlowAction: Equatable, Sendable {
    public var node: String
    public var to: TrafficTarget
    /// The listening port on the target; unless written, 5201 plus the entry's index, so flows never share one.
    public var port: Int
    public var amount: TCPFlowAmount = .duration(.seconds(10))
    public var streams = 1
    /// The target sends to `node` (iperf3 -R): the connections are still opened by `node`.
    public var reverse = false
    public var congestion: TCPFlowCongestion = .cubic

    public init(node: String, to: TrafficTarget, port: Int) { self.node = node; self.to = to; self.port = port }
}

/// `do: impair` — change a link's impairments from now on.
public struct ImpairAction: Equatable, Sendable {
    public var link: Int
    public var direction: ImpairDirection = .both
    public var patch: ImpairmentPatch

    public init(link: Int, direction: ImpairDirection = .both, patch: ImpairmentPatch) {
        self.link = link; self.direction = direction; self.patch = patch
    }
}

/// Where replayed frames enter.
public enum ReplayTarget: Equatable, Sendable, CustomStringConvertible {
    /// Into a bridge segment's switch, as if from a port of its own.
    case bridge(BridgeSegment)
    /// Straight into a host's NIC.
    case host(String)
    /// Into a bridge's WAN receive path (`brB.wan`): each frame's UDP payload as a datagram from
    /// the WAN's peer (WireGuard/UDP WANs), or the frame itself from the uplink (TAP WANs).
    case wan(String)

    public var description: String {
        switch self {
        case .bridge(let s): s.description
        case .host(let h): h
        case .wan(let b): "\(b).wan"
        }
    }
}

/// How fast a replay goes.
public enum ReplaySpeed: Equatable, Sendable {
    /// The capture's own gaps divided by this (1: as captured; 2: twice as fast).
    case multiplier(Double)
    /// Back to back, as fast as the target takes them (tcpreplay --topspeed).
    case topSpeed
}

/// `do: replay` — play a pcap's frames into a segment or a host.
public struct ReplayAction: Equatable, Sendable {
    /// The pcap as written in the file.
    public var pcap: String
    /// The pcap's path resolved against the scenario file's directory.
    public var path: String
    public var into: ReplayTarget
    public var speed: ReplaySpeed = .multiplier(1)
    /// How many times the capture is played.
    public var loop = 1
    /// Idle gaps longer than this play as this long (nil: every gap as captured, a scenario's
    /// default); `sluice replay` defaults to `defaultMaxGap`, so a capture spanning months plays
    /// in bounded time.
    public var maxGap: Duration?
    /// Which side of a split capture this entry plays, and how its frames are rewritten.
    public var rewrite = ReplayRewrite()

    public init(pcap: String, path: String, into: ReplayTarget) { self.pcap = pcap; self.path = path; self.into = into }

    /// Speed factors a replay accepts (`speed:`, `--speed`): a thousandth to a million times the
    /// captured pace (1e-12 made a capture's span overflow the clock).
    public static let speedRange: ClosedRange<Double> = 0.001...1_000_000
    public static let speedRangeText = "0.001...1000000"
    /// `sluice replay`'s default longest idle gap (`--max-gap`).
    public static let defaultMaxGap: Duration = .seconds(1)
}
