// Mesh nodes in a scenario file (docs/scenarios.md, "Mesh scenarios"): nodes of `kind: mesh` joined by plain
// underlay links, a timeline of pings and failures, and expectations on reachability, paths, routes, convergence
// and control traffic. Parsed by MeshScenarioParser.swift, run on the sim backend by MeshScenarioRun.swift over
// MeshSimulation.swift (the real MeshNode engines with Babel routing, on virtual time). This file is the model only.
import Basics

/// The mesh part of a scenario: every node of the file is a mesh node.
public struct MeshScenario: Sendable {
    /// The most mesh nodes a file may have (each gets an underlay address 192.0.2.(i+1) and an overlay address
    /// 10.99.1.(10+i)).
    public static let maximumNodes = 240

    public struct Node: Sendable, Equatable {
        public var name: String
        /// Forwards for others (its certificate gets the relay capability).
        public var relay: Bool
        public var location: ScenarioLocation
    }

    /// A plain underlay link between two mesh nodes: UDP datagrams between their endpoints take `delay` and are
    /// lost with probability `loss`; datagrams between unlinked nodes vanish.
    public struct Link: Sendable, Equatable {
        public var a: Int
        public var b: Int
        public var name: String
        public var delay: Duration
        public var loss: Double
        public var up: Bool
        public var location: ScenarioLocation
    }

    public enum Action: Sendable, Equatable {
        /// `count` echo requests from `from` to `to`'s overlay address, one every `interval`.
        case ping(from: Int, to: Int, count: Int, interval: Duration)
        /// Every ordered pair pinged every `interval` until it answers, for at most `within`.
        case pingAll(within: Duration, interval: Duration)
        /// The link stops carrying datagrams; with `signal` both ends are told at once (interface down).
        case linkDown(link: Int, signal: Bool)
        case linkUp(link: Int)
        case impair(link: Int, delay: Duration?, loss: Double?)
        /// Every link between `nodes` and the other nodes stops carrying datagrams, until `heal`.
        case partition(nodes: [Int], signal: Bool)
        case heal
        /// The node's engine is thrown away (sessions, routes, counters), it is silent for `down`, then starts anew.
        case restart(node: Int, down: Duration)
        /// The root revokes the node's key; the signed list is handed to `via`, which floods it.
        case revoke(node: Int, via: Int)

        public var verb: String {
            switch self {
            case .ping: "ping"
            case .pingAll: "ping-all"
            case .linkDown: "link-down"
            case .linkUp: "link-up"
            case .impair: "impair"
            case .partition: "partition"
            case .heal: "heal"
            case .restart: "restart"
            case .revoke: "revoke"
            }
        }
    }

    public struct Entry: Sendable, Equatable {
        public var at: Duration
        public var action: Action
        /// The `as:` name.
        public var name: String?
        public var location: ScenarioLocation
    }

    /// A result of a named action that an expectation can check.
    public enum Metric: String, Sendable, CaseIterable {
        // ping
        case received, loss, outage
        case rttAvg = "rtt.avg"
        case rttMax = "rtt.max"
        // ping-all
        case answered, converged
        // revoke
        case cutOff = "cut-off"

        public var unit: ValueUnit {
            switch self {
            case .received, .answered: .count
            case .loss: .fraction
            case .outage, .rttAvg, .rttMax, .converged, .cutOff: .duration
            }
        }

        static func metrics(for action: Action) -> [Metric] {
            switch action {
            case .ping: [.received, .loss, .outage, .rttAvg, .rttMax]
            case .pingAll: [.answered, .converged]
            case .revoke: [.cutOff]
            default: []
            }
        }
    }

    /// What a path expectation wants.
    public enum PathShape: Sendable, Equatable, CustomStringConvertible {
        case direct
        case relayed(via: Int?)
        case unreachable

        public var description: String {
            switch self {
            case .direct: "direct"
            case .relayed(nil): "relayed"
            case .relayed(let v?): "relayed via #\(v)"
            case .unreachable: "unreachable"
            }
        }
    }

    public enum Check: Sendable, Equatable {
        case action(name: String, checks: [(Metric, Condition)])
        /// How `from` reaches `to` at `at` (the end of the run when nil).
        case path(from: Int, to: Int, shape: PathShape, at: Duration?)
        /// Whether `node` has a route to `to`'s overlay address at `at`.
        case route(node: Int, to: Int, present: Bool, at: Duration?)
        /// The busiest node's UDP bytes per second on the wire between `from` and `until` (the end when nil).
        case controlTraffic(Condition, from: Duration, until: Duration?)
        /// Ordered pairs whose next hops loop, summed over samples every `every`.
        case loops(Condition, every: Duration)
        /// How often `node`'s next hop toward `to` changes after `from` (sampled every `every`), and the shortest
        /// time between two changes.
        case routeChanges(node: Int, to: Int, count: Condition?, gap: Condition?, from: Duration, every: Duration)

        public static func == (x: Check, y: Check) -> Bool {
            switch (x, y) {
            case (.action(let a, let c), .action(let b, let d)):
                a == b && c.count == d.count && zip(c, d).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            case (.path(let a, let b, let c, let d), .path(let e, let f, let g, let h)): a == e && b == f && c == g && d == h
            case (.route(let a, let b, let c, let d), .route(let e, let f, let g, let h)): a == e && b == f && c == g && d == h
            case (.controlTraffic(let a, let b, let c), .controlTraffic(let d, let e, let f)): a == d && b == e && c == f
            case (.loops(let a, let b), .loops(let c, let d)): a == c && b == d
            case (.routeChanges(let a, let b, let c, let d, let e, let f), .routeChanges(let g, let h, let i, let j, let k, let l)):
                a == g && b == h && c == i && d == j && e == k && f == l
            default: false
            }
        }
    }

    public struct Expectation: Sendable, Equatable {
        public var index: Int
        public var name: String
        public var check: Check
        public var location: ScenarioLocation
    }

    public var nodes: [Node] = []
    public var links: [Link] = []
    public var timeline: [Entry] = []
    public var expectations: [Expectation] = []

    public func node(named name: String) -> Int? { nodes.firstIndex { $0.name == name } }
}
