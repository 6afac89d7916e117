// Expectations of a scenario: checks on the results of named actions, on captured frames (BPF
// counts, absence, order, request/response latency) and on decoded DHCP fields. Evaluated after
// the run by ExpectationEvaluator; each becomes one test case in the JUnit report.
import Wire

/// One item of `expect:`.
public struct ScenarioExpectation: Sendable {
    public enum Kind: Sendable {
        case action(ActionExpectation)
        case capture(CaptureExpectation)
        case dhcp(DHCPMessageExpectation)
    }

    /// Its position in `expect:`.
    public var index: Int
    /// The `name:` written, or one made from the check ("p1: received ≥ 15").
    public var name: String
    public var kind: Kind
    public var location: ScenarioLocation

    public init(index: Int, name: String, kind: Kind, location: ScenarioLocation) {
        self.index = index; self.name = name; self.kind = kind; self.location = location
    }
}

// MARK: Conditions

/// A comparison operator as written (`ge: 15`).
public enum ComparisonOperator: String, Sendable, CaseIterable {
    case eq, ne, lt, le, gt, ge

    /// "≥", for messages.
    public var symbol: String {
        switch self {
        case .eq: "="
        case .ne: "≠"
        case .lt: "<"
        case .le: "≤"
        case .gt: ">"
        case .ge: "≥"
        }
    }

    /// Whether `actual <op> expected`.
    public func holds(_ actual: Double, _ expected: Double) -> Bool {
        switch self {
        case .eq: actual == expected
        case .ne: actual != expected
        case .lt: actual < expected
        case .le: actual <= expected
        case .gt: actual > expected
        case .ge: actual >= expected
        }
    }
}

/// What a measured value is, which decides how bounds are written and printed.
public enum ValueUnit: String, Sendable {
    /// A whole number of things (frames, probes).
    case count
    /// 0…1, written as "5%" or "0.05".
    case fraction
    /// Nanoseconds, written "20ms".
    case duration
    /// Bits per second, written "90mbit".
    case bitRate
    case address
    case addressList
    case bool
}

/// `<op> value`, the value in the unit's base (nanoseconds, bits per second, a fraction).
public struct Comparison: Equatable, Sendable {
    public var op: ComparisonOperator
    public var value: Double
    public init(_ op: ComparisonOperator, _ value: Double) { self.op = op; self.value = value }
}

/// A set of IPv4 addresses: ranges ("10.0.0.100-10.0.0.120"), prefixes ("10.0.0.0/24") or single
/// addresses, as written.
public struct AddressSet: Equatable, Sendable, CustomStringConvertible {
    public var ranges: [ClosedRange<UInt32>]
    /// As written, for messages.
    public var text: String

    public init(ranges: [ClosedRange<UInt32>], text: String) { self.ranges = ranges; self.text = text }

    public func contains(_ a: IPv4Address) -> Bool { ranges.contains { $0.contains(a.rawValue) } }

    public var description: String { text }
}

/// A condition on one measured value.
public enum Condition: Equatable, Sendable {
    /// Every comparison holds (numbers, durations, rates, fractions).
    case compare([Comparison])
    /// A boolean value equals this.
    case isTrue(Bool)
    /// An address equals this one.
    case equalsAddress(IPv4Address)
    /// An address lies in the set.
    case within(AddressSet)
    /// An address list equals this one, in order.
    case equalsList([IPv4Address])
    /// An address list contains this address.
    case contains(IPv4Address)
}

// MARK: Action results

/// A measured value of an action's result that an expectation can check.
public enum ActionMetric: String, Sendable, CaseIterable {
    // ping and udp
    case sent, received, loss, duplicates
    // ping
    case errors, late
    case rttMin = "rtt.min", rttAvg = "rtt.avg", rttMax = "rtt.max", rttMdev = "rtt.mdev"
    // dhcp
    case bound, lease, leaseTime = "lease-time", router, dns, time
    // udp
    case lost, reordered, throughput
    case latencyMin = "latency.min", latencyAvg = "latency.avg", latencyMax = "latency.max"
    // tcp
    case retransmissions, completed
    // replay
    case frames

    /// The metrics an action of `kind` has, in documentation order.
    public static func metrics(for kind: ActionKind) -> [ActionMetric] {
        switch kind {
        case .ping: [.sent, .received, .loss, .duplicates, .errors, .late, .rttMin, .rttAvg, .rttMax, .rttMdev]
        case .dhcp: [.bound, .lease, .leaseTime, .router, .dns, .time]
        case .udp: [.sent, .received, .lost, .loss, .duplicates, .reordered, .throughput, .latencyMin, .latencyAvg, .latencyMax]
        case .tcp: [.throughput, .retransmissions, .rttMin, .rttAvg, .rttMax, .completed, .time]
        case .replay: [.frames]
        case .release, .linkDown, .linkUp, .impair: []
        }
    }

    public var unit: ValueUnit {
        switch self {
        case .sent, .received, .duplicates, .errors, .late, .lost, .reordered, .frames, .retransmissions: .count
        case .loss: .fraction
        case .rttMin, .rttAvg, .rttMax, .rttMdev, .leaseTime, .time, .latencyMin, .latencyAvg, .latencyMax: .duration
        case .throughput: .bitRate
        case .bound, .completed: .bool
        case .lease, .router: .address
        case .dns: .addressList
        }
    }
}

/// `{ action: p1, received: { ge: 15 }, rtt.avg: { le: 20ms } }`.
public struct ActionExpectation: Sendable {
    /// The `as:` name of the timeline entry.
    public var action: String
    public var actionKind: ActionKind
    public var checks: [MetricCheck]

    public init(action: String, actionKind: ActionKind, checks: [MetricCheck]) {
        self.action = action; self.actionKind = actionKind; self.checks = checks
    }
}

/// One metric and its condition.
public struct MetricCheck: Sendable {
    public var metric: ActionMetric
    public var condition: Condition
    public var location: ScenarioLocation

    public init(metric: ActionMetric, condition: Condition, location: ScenarioLocation) {
        self.metric = metric; self.condition = condition; self.location = location
    }
}

// MARK: Captures

/// Only frames captured in [from, until) are considered.
public struct TimeWindow: Equatable, Sendable {
    public var from: Duration?
    public var until: Duration?
    public init(from: Duration? = nil, until: Duration? = nil) { self.from = from; self.until = until }

    public static let everything = TimeWindow()

    /// Whether a frame captured `elapsed` after the start falls inside.
    public func contains(_ elapsed: Duration) -> Bool {
        (from.map { elapsed >= $0 } ?? true) && (until.map { elapsed < $0 } ?? true)
    }
}

/// `{ capture: lan, filter: "udp port 67", count: { ge: 4 } }` and its siblings.
public struct CaptureExpectation: Sendable {
    public var capture: String
    /// Applied first; the check sees only matching frames. nil: every frame.
    public var filter: String?
    public var window: TimeWindow
    public var check: CaptureCheck

    public init(capture: String, filter: String?, window: TimeWindow = .everything, check: CaptureCheck) {
        self.capture = capture; self.filter = filter; self.window = window; self.check = check
    }
}

/// What is checked about the (filtered) frames of a capture.
public enum CaptureCheck: Sendable {
    /// How many frames there are.
    case count([Comparison])
    /// That there are none.
    case absent
    /// That frames matching each filter occur in this order (other frames may come between).
    case sequence([String])
    /// Time from each request to its response.
    case latency(LatencyCheck)
}

/// How a request frame is paired with its response.
public enum PairingKey: String, Sendable, CaseIterable {
    /// ICMP echo identifier and sequence number.
    case icmpSequence = "icmp-seq"
    /// DHCP transaction id ('xid').
    case dhcpTransaction = "dhcp-xid"
}

/// `latency: { request: "icmp[icmptype] = 8", response: "icmp[icmptype] = 0", pair-by: icmp-seq, le: 50ms }`.
public struct LatencyCheck: Sendable {
    public var request: String
    public var response: String
    public var pairBy: PairingKey
    /// Every pair's latency must satisfy these (nanoseconds).
    public var bounds: [Comparison]
    /// The number of pairs must satisfy these (default: at least one).
    public var pairs: [Comparison]

    public init(request: String, response: String, pairBy: PairingKey, bounds: [Comparison], pairs: [Comparison]) {
        self.request = request; self.response = response; self.pairBy = pairBy; self.bounds = bounds; self.pairs = pairs
    }
}

// MARK: DHCP fields

/// A field of a DHCP message, decoded by Wire's parser.
public enum DHCPField: String, Sendable, CaseIterable {
    case yiaddr, ciaddr, siaddr, giaddr
    case leaseTime = "lease-time", renewalTime = "renewal-time", rebindingTime = "rebinding-time"
    /// The first router of option 3.
    case router
    /// Option 6, in order.
    case dns
    case serverID = "server-id"
    case subnetMask = "subnet-mask"

    public var unit: ValueUnit {
        switch self {
        case .yiaddr, .ciaddr, .siaddr, .giaddr, .router, .serverID, .subnetMask: .address
        case .leaseTime, .renewalTime, .rebindingTime: .duration
        case .dns: .addressList
        }
    }
}

/// `dhcp: { capture: lan, message: ack, field: yiaddr, in: 10.0.0.100-10.0.0.120 }` and
/// `dhcp: { capture: lan, message: discover, count: { eq: 5 } }`: the DHCP messages of one type in
/// a capture (from or for `client`, if given), decoded with Wire's parser. `count` bounds how many
/// there are; `field` requires every one of them to have the field meet its condition, and at
/// least one to exist (unless `count` allows none).
public struct DHCPMessageExpectation: Sendable {
    public var capture: String
    public var message: DHCPMessageType
    /// Only messages whose 'chaddr' is this host's MAC.
    public var client: String?
    public var clientMAC: MACAddress?
    /// Narrows the frames before decoding.
    public var filter: String?
    public var window: TimeWindow
    /// How many such messages there must be.
    public var count: [Comparison]?
    /// A field every such message must have meet a condition.
    public var field: DHCPFieldCheck?

    public init(capture: String, message: DHCPMessageType, client: String? = nil, clientMAC: MACAddress? = nil,
                filter: String? = nil, window: TimeWindow = .everything, count: [Comparison]? = nil, field: DHCPFieldCheck? = nil) {
        self.capture = capture; self.message = message; self.client = client; self.clientMAC = clientMAC
        self.filter = filter; self.window = window; self.count = count; self.field = field
    }
}

/// A decoded DHCP field and the condition on it.
public struct DHCPFieldCheck: Sendable {
    public var field: DHCPField
    public var condition: Condition
    public init(_ field: DHCPField, _ condition: Condition) { self.field = field; self.condition = condition }
}
