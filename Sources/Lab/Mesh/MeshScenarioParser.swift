// Parsing a scenario whose nodes are mesh nodes (docs/scenarios.md, "Mesh scenarios"). ScenarioParser hands the
// whole file here as soon as one node has `kind: mesh`: nodes, links, timeline and expect are then read with the
// mesh's vocabulary. Every error is located and carries a fix; every number is range-checked.
import Basics
import YAMLSchema

extension ScenarioParser {
    static let meshNodeKeys = ["kind", "count", "relay"]
    static let meshLinkKeys = ["between", "name", "delay", "loss", "up"]
    static let meshExpectKeys = ["action", "name", "path", "route", "control-traffic", "loops", "route-changes", "count", "gap", "is",
                                 "present", "at", "from", "until", "every"]
    static let maximumMeshDelay = Duration.seconds(10)

    /// True when some node of `nodes:` is `kind: mesh`.
    static func hasMeshNodes(_ nodes: YAMLValue) -> Bool {
        guard case .mapping(let m) = nodes.node else { return false }
        for (_, v) in m {
            if ScenarioValues.peek(YAMLValue(node: v, path: "", file: ""), "kind").flatMap({ try? $0.string() }) == "mesh" { return true }
        }
        return false
    }

    /// Parses nodes, links, timeline and expect of a mesh scenario into `scenario.mesh`.
    mutating func parseMesh(_ top: YAMLMapping) {
        var mesh = MeshScenario()
        for backend in scenario.backends where backend != .sim {
            let at = top["backends"] ?? root
            record(at.error("mesh nodes run on the sim backend only, not on \(backend.rawValue)",
                            fix: "write backends: [sim] (on real hosts the agent is `sluice mesh up`, docs/mesh.md)"))
        }
        for key in ["captures"] where top[key] != nil {
            record(top[key]!.error("a mesh scenario writes no captures yet",
                                   fix: "remove captures:; check paths, routes and traffic with expect: instead"))
        }
        do { try parseMeshNodes(top.required("nodes"), into: &mesh) } catch { record(error); return }
        do { if let v = top["links"] { try parseMeshLinks(v, into: &mesh) } } catch { record(error) }
        do { if let v = top["timeline"] { try parseMeshTimeline(v, into: &mesh) } } catch { record(error) }
        do { if let v = top["expect"] { try parseMeshExpectations(v, into: &mesh) } } catch { record(error) }
        scenario.mesh = mesh
    }

    // MARK: Nodes

    mutating func parseMeshNodes(_ v: YAMLValue, into mesh: inout MeshScenario) throws(ConfigError) {
        let m = try v.mapping(allowed: Self.nodeNames(of: v), recording: &errors)
        var seen: [String: ScenarioLocation] = [:]
        for (name, nodeValue) in m.values {
            do throws(ConfigError) {
                guard ScenarioValues.isIdentifier(name) else {
                    throw nodeValue.error("'\(name)' is not a node name", fix: "use letters, digits, - and _")
                }
                let n = try nodeValue.mapping(allowed: Self.meshNodeKeys)
                let kind = try n.required("kind", example: "mesh").string()
                guard kind == "mesh" else {
                    throw (n["kind"] ?? nodeValue).error("'\(name)' is a \(kind); a scenario with mesh nodes has only mesh nodes",
                                                         fix: "write kind: mesh, or put the bridges and hosts in another scenario file")
                }
                let relay = try n["relay"]?.bool() ?? true
                var names: [String] = [name]
                if let c = n["count"] {
                    let count = try c.int(in: 1...MeshScenario.maximumNodes)
                    names = (0..<count).map { "\(name)\($0)" }
                }
                for x in names {
                    if let other = seen[x] {
                        throw nodeValue.error("a second mesh node is named '\(x)' (the first is at \(other))",
                                              fix: "rename one of them (count: N names its nodes \(name)0 … \(name)N-1)")
                    }
                    seen[x] = ScenarioLocation(nodeValue)
                    mesh.nodes.append(.init(name: x, relay: relay, location: ScenarioLocation(nodeValue)))
                }
            } catch { record(error) }
        }
        guard !mesh.nodes.isEmpty else { throw v.error("no mesh nodes", fix: "add e.g. n: { kind: mesh, count: 8 }") }
        guard mesh.nodes.count <= MeshScenario.maximumNodes else {
            throw v.error("\(mesh.nodes.count) mesh nodes, more than \(MeshScenario.maximumNodes)",
                          fix: "use at most \(MeshScenario.maximumNodes) (each needs its own underlay and overlay address)")
        }
    }

    func meshNode(_ v: YAMLValue, in mesh: MeshScenario) throws(ConfigError) -> Int {
        let name = try v.string()
        guard let i = mesh.node(named: name) else {
            throw v.error("no mesh node is named '\(name)'",
                          fix: "\(didYouMeanName(name, in: mesh.nodes.map(\.name)))use one of the nodes: \(mesh.nodes.prefix(8).map(\.name).joined(separator: ", "))\(mesh.nodes.count > 8 ? ", …" : "")")
        }
        return i
    }

    // MARK: Links

    mutating func parseMeshLinks(_ v: YAMLValue, into mesh: inout MeshScenario) throws(ConfigError) {
        var pairs: Set<[Int]> = []
        for item in try v.list() {
            do throws(ConfigError) {
                let m = try item.mapping(allowed: Self.meshLinkKeys)
                let between = try m.required("between", example: "[a, b] (or all)")
                var delay = Duration.milliseconds(5)
                if let d = m["delay"] {
                    delay = try d.duration()
                    guard delay <= Self.maximumMeshDelay else {
                        throw d.error("a delay of \(Format.duration(delay)) is too long", fix: "use at most 10s")
                    }
                }
                let loss = try m["loss"]?.fraction() ?? 0
                let up = try m["up"]?.bool() ?? true
                var list: [(Int, Int)] = []
                if case .scalar = between.node {
                    guard try between.string() == "all" else {
                        throw between.error("between: takes two node names or all", fix: "write between: [a, b] or between: all")
                    }
                    guard m["name"] == nil else {
                        throw m["name"]!.error("between: all makes many links; they cannot share one name",
                                               fix: "remove name:, or write the links one by one")
                    }
                    for a in 0..<mesh.nodes.count { for b in (a + 1)..<mesh.nodes.count where !pairs.contains([a, b]) { list.append((a, b)) } }
                } else {
                    let ends = try between.list()
                    guard ends.count == 2 else { throw between.error("a link joins two nodes, found \(ends.count)", fix: "write between: [a, b]") }
                    let a = try meshNode(ends[0], in: mesh), b = try meshNode(ends[1], in: mesh)
                    guard a != b else { throw between.error("a link from '\(mesh.nodes[a].name)' to itself", fix: "name two different nodes") }
                    guard !pairs.contains([min(a, b), max(a, b)]) else {
                        throw between.error("'\(mesh.nodes[a].name)' and '\(mesh.nodes[b].name)' are linked twice", fix: "keep one of the links")
                    }
                    list.append((min(a, b), max(a, b)))
                }
                var name: String?
                if let n = m["name"] {
                    name = try ScenarioValues.identifier(n, what: "link name")
                    guard !mesh.links.contains(where: { $0.name == name }) else {
                        throw n.error("a second link is named '\(name!)'", fix: "give each link its own name")
                    }
                }
                for (a, b) in list {
                    pairs.insert([a, b])
                    mesh.links.append(.init(a: a, b: b, name: name ?? "\(mesh.nodes[a].name)-\(mesh.nodes[b].name)", delay: delay,
                                            loss: loss, up: up, location: ScenarioLocation(item)))
                }
            } catch { record(error) }
        }
    }

    func meshLink(_ v: YAMLValue, in mesh: MeshScenario) throws(ConfigError) -> Int {
        let s = try v.string()
        if let i = Int(s) {
            guard i >= 0, i < mesh.links.count else {
                throw v.error("there is no link \(i)", fix: "links are numbered 0 to \(mesh.links.count - 1) in file order, or use a link's name")
            }
            return i
        }
        guard let i = mesh.links.firstIndex(where: { $0.name == s }) else {
            throw v.error("no link is named '\(s)'",
                          fix: "\(didYouMeanName(s, in: mesh.links.map(\.name)))name it with name: in links:, or write the pair's default name a-b")
        }
        return i
    }

    // MARK: Timeline

    static func meshEntryKeys(_ verb: String) -> [String]? {
        let common = ["at", "do", "as"]
        switch verb {
        case "ping": return common + ["node", "to", "count", "interval"]
        case "ping-all": return common + ["within", "interval"]
        case "link-down": return common + ["link", "signal"]
        case "link-up": return common + ["link"]
        case "impair": return common + ["link", "delay", "loss"]
        case "partition": return common + ["nodes", "signal"]
        case "heal": return common
        case "restart": return common + ["node", "down"]
        case "revoke": return common + ["node", "via"]
        default: return nil
        }
    }

    mutating func parseMeshTimeline(_ v: YAMLValue, into mesh: inout MeshScenario) throws(ConfigError) {
        for item in try v.list() {
            do throws(ConfigError) {
                guard let doValue = ScenarioValues.peek(item, "do") else {
                    throw item.error("a timeline entry without do:", fix: "write e.g. { at: 5s, do: ping, node: a, to: b }")
                }
                let verbValue = try doValue.string()
                let verbs = ["ping", "ping-all", "link-down", "link-up", "impair", "partition", "heal", "restart", "revoke"]
                guard let keys = Self.meshEntryKeys(verbValue) else {
                    throw (ScenarioValues.peek(item, "do") ?? item).error("unknown mesh action '\(verbValue)'",
                                                                        fix: "\(didYouMeanName(verbValue, in: verbs))use one of: \(verbs.joined(separator: ", "))")
                }
                let m = try item.mapping(allowed: keys)
                let atValue = try m.required("at", example: "5s")
                let at = try atValue.duration()
                guard at <= scenario.duration else {
                    throw atValue.error("at \(Format.duration(at)) is after the run ends (\(Format.duration(scenario.duration)))",
                                        fix: "move it earlier, or make duration: longer")
                }
                let action: MeshScenario.Action
                switch verbValue {
                case "ping":
                    let from = try meshNode(m.required("node"), in: mesh), to = try meshNode(m.required("to"), in: mesh)
                    guard from != to else { throw item.error("a node pinging itself", fix: "name another node in to:") }
                    let interval = try m["interval"].map { x throws(ConfigError) in try Self.meshInterval(x) } ?? .seconds(1)
                    action = .ping(from: from, to: to, count: try m["count"]?.int(in: 1...100_000) ?? 10, interval: interval)
                case "ping-all":
                    let within = try m["within"]?.duration() ?? .seconds(30)
                    guard within > .zero, within <= .seconds(3600) else { throw m["within"]!.error("within: must be 1ms … 1h", fix: "write e.g. within: 30s") }
                    let interval = try m["interval"].map { x throws(ConfigError) in try Self.meshInterval(x) } ?? .seconds(1)
                    action = .pingAll(within: within, interval: interval)
                case "link-down":
                    action = .linkDown(link: try meshLink(m.required("link"), in: mesh), signal: try m["signal"]?.bool() ?? false)
                case "link-up":
                    action = .linkUp(link: try meshLink(m.required("link"), in: mesh))
                case "impair":
                    let link = try meshLink(m.required("link"), in: mesh)
                    var delay: Duration?
                    if let d = m["delay"] {
                        delay = try d.duration()
                        guard delay! <= Self.maximumMeshDelay else { throw d.error("a delay longer than 10s", fix: "use at most 10s") }
                    }
                    let loss = try m["loss"]?.fraction()
                    guard delay != nil || loss != nil else { throw item.error("impair: changes nothing", fix: "add delay: or loss:") }
                    action = .impair(link: link, delay: delay, loss: loss)
                case "partition":
                    let list = try m.required("nodes", example: "[a, b]").list()
                    var nodes: [Int] = []
                    for x in list {
                        let i = try meshNode(x, in: mesh)
                        guard !nodes.contains(i) else { throw x.error("'\(mesh.nodes[i].name)' is listed twice", fix: "list it once") }
                        nodes.append(i)
                    }
                    guard !nodes.isEmpty, nodes.count < mesh.nodes.count else {
                        throw m["nodes"]!.error("a partition splits the mesh in two non-empty sides", fix: "list some nodes, not none or all")
                    }
                    action = .partition(nodes: nodes, signal: try m["signal"]?.bool() ?? false)
                case "heal":
                    action = .heal
                case "restart":
                    let down = try m["down"]?.duration() ?? .zero
                    guard down <= .seconds(3600) else { throw m["down"]!.error("down: longer than 1h", fix: "use at most 1h") }
                    action = .restart(node: try meshNode(m.required("node"), in: mesh), down: down)
                default:  // revoke
                    let node = try meshNode(m.required("node"), in: mesh)
                    let via = try m["via"].map { x throws(ConfigError) in try meshNode(x, in: mesh) } ?? (node == 0 ? 1 : 0)
                    guard via != node, via < mesh.nodes.count else {
                        throw (m["via"] ?? item).error("the revocation must reach another node first", fix: "name another node in via:")
                    }
                    action = .revoke(node: node, via: via)
                }
                var name: String?
                if let a = m["as"] {
                    name = try ScenarioValues.identifier(a, what: "action name")
                    guard !mesh.timeline.contains(where: { $0.name == name }) else {
                        throw a.error("a second action is named '\(name!)'", fix: "give each action its own as: name")
                    }
                }
                mesh.timeline.append(.init(at: at, action: action, name: name, location: ScenarioLocation(item)))
            } catch { record(error) }
        }
    }

    static func meshInterval(_ v: YAMLValue) throws(ConfigError) -> Duration {
        let d = try v.duration()
        guard d >= .milliseconds(1), d <= .seconds(60) else { throw v.error("the interval must be 1ms … 60s", fix: "write e.g. interval: 100ms") }
        return d
    }

    // MARK: Expectations

    mutating func parseMeshExpectations(_ v: YAMLValue, into mesh: inout MeshScenario) throws(ConfigError) {
        for (index, item) in try v.list().enumerated() {
            do throws(ConfigError) {
                let m = try item.mapping(allowed: Self.meshExpectKeys + MeshScenario.Metric.allCases.map(\.rawValue))
                func when(_ key: String) throws(ConfigError) -> Duration? {
                    guard let x = m[key] else { return nil }
                    let d = try x.duration()
                    guard d <= scenario.duration else {
                        throw x.error("\(key): \(Format.duration(d)) is after the run ends", fix: "use a time within duration: \(Format.duration(scenario.duration))")
                    }
                    return d
                }
                func only(_ allowed: [String], for what: String) throws(ConfigError) {
                    for k in m.keys where !allowed.contains(k) {
                        throw item.error("\(k): does not apply to a \(what) expectation", fix: "allowed here: \(allowed.joined(separator: ", "))")
                    }
                }
                let check: MeshScenario.Check
                var generated: String
                if let a = m["action"] {
                    let actionName = try a.string()
                    guard let entry = mesh.timeline.first(where: { $0.name == actionName }) else {
                        throw a.error("no timeline entry is named '\(actionName)'",
                                      fix: "name the timeline entry with as: \(actionName)")
                    }
                    let metrics = MeshScenario.Metric.metrics(for: entry.action)
                    guard !metrics.isEmpty else {
                        throw a.error("'\(actionName)' is a \(entry.action.verb) action, which has no results to check",
                                      fix: "check paths, routes or a ping's outage instead")
                    }
                    let checkItem = try item.mapping(allowed: ["action", "name"] + metrics.map(\.rawValue))
                    var checks: [(MeshScenario.Metric, Condition)] = []
                    for metric in metrics {
                        if let x = checkItem[metric.rawValue] { checks.append((metric, try ScenarioValues.condition(x, unit: metric.unit))) }
                    }
                    guard !checks.isEmpty else {
                        throw item.error("nothing to check for '\(actionName)'",
                                         fix: "add one of: \(metrics.map(\.rawValue).joined(separator: ", ")), e.g. \(metrics[0].rawValue): \(Self.example(metrics[0].unit))")
                    }
                    check = .action(name: actionName, checks: checks)
                    generated = "\(actionName): " + checks.map { "\($0.0.rawValue) \(ScenarioValues.describe($0.1, unit: $0.0.unit))" }.joined(separator: ", ")
                } else if let p = m["path"] {
                    try only(["path", "is", "at", "name"], for: "path")
                    let pm = try p.mapping(allowed: ["from", "to"])
                    let from = try meshNode(pm.required("from"), in: mesh), to = try meshNode(pm.required("to"), in: mesh)
                    guard from != to else { throw p.error("from: and to: are the same node", fix: "name two different nodes") }
                    let isValue = try m.required("is", example: "direct (or relayed, relayed via <node>, unreachable)")
                    let text = try isValue.string()
                    let words = text.split(separator: " ").map(String.init)
                    let shape: MeshScenario.PathShape
                    switch words.first {
                    case "direct" where words.count == 1: shape = .direct
                    case "unreachable" where words.count == 1: shape = .unreachable
                    case "relayed" where words.count == 1: shape = .relayed(via: nil)
                    case "relayed" where words.count == 3 && words[1] == "via":
                        guard let r = mesh.node(named: words[2]) else {
                            throw isValue.error("no mesh node is named '\(words[2])'", fix: "\(didYouMeanName(words[2], in: mesh.nodes.map(\.name)))name a mesh node after via")
                        }
                        shape = .relayed(via: r)
                    default:
                        throw isValue.error("'\(text)' is not a path", fix: "write direct, relayed, relayed via <node> or unreachable")
                    }
                    let at = try when("at")
                    check = .path(from: from, to: to, shape: shape, at: at)
                    generated = "path \(mesh.nodes[from].name) → \(mesh.nodes[to].name) is \(text)" + (at.map { " at \(Format.duration($0))" } ?? "")
                } else if let r = m["route"] {
                    try only(["route", "present", "at", "name"], for: "route")
                    let rm = try r.mapping(allowed: ["node", "to"])
                    let node = try meshNode(rm.required("node"), in: mesh), to = try meshNode(rm.required("to"), in: mesh)
                    guard node != to else { throw r.error("node: and to: are the same node", fix: "name two different nodes") }
                    let present = try m["present"]?.bool() ?? true
                    let at = try when("at")
                    check = .route(node: node, to: to, present: present, at: at)
                    generated = "\(mesh.nodes[node].name) has \(present ? "a" : "no") route to \(mesh.nodes[to].name)" + (at.map { " at \(Format.duration($0))" } ?? "")
                } else if let c = m["control-traffic"] {
                    try only(["control-traffic", "from", "until", "name"], for: "control-traffic")
                    let condition = try ScenarioValues.condition(c, unit: .count)
                    let from = try when("from") ?? .zero, until = try when("until")
                    if let until, until <= from { throw m["until"]!.error("until: is not after from:", fix: "make the window at least 1s long") }
                    check = .controlTraffic(condition, from: from, until: until)
                    generated = "control traffic per node (B/s) \(ScenarioValues.describe(condition, unit: .count))"
                } else if let l = m["loops"] {
                    try only(["loops", "every", "name"], for: "loops")
                    let every = try m["every"].map { x throws(ConfigError) in try Self.meshInterval(x) } ?? .milliseconds(500)
                    let condition = try ScenarioValues.condition(l, unit: .count)
                    check = .loops(condition, every: every)
                    generated = "routing loops \(ScenarioValues.describe(condition, unit: .count))"
                } else if let r = m["route-changes"] {
                    try only(["route-changes", "count", "gap", "from", "every", "name"], for: "route-changes")
                    let rm = try r.mapping(allowed: ["node", "to"])
                    let node = try meshNode(rm.required("node"), in: mesh), to = try meshNode(rm.required("to"), in: mesh)
                    guard node != to else { throw r.error("node: and to: are the same node", fix: "name two different nodes") }
                    let count = try m["count"].map { x throws(ConfigError) in try ScenarioValues.condition(x, unit: .count) }
                    let gap = try m["gap"].map { x throws(ConfigError) in try ScenarioValues.condition(x, unit: .duration) }
                    guard count != nil || gap != nil else {
                        throw item.error("nothing to check for route-changes", fix: "add count: { le: 10 } and/or gap: { ge: 60s }")
                    }
                    let every = try m["every"].map { x throws(ConfigError) in try Self.meshInterval(x) } ?? .milliseconds(100)
                    check = .routeChanges(node: node, to: to, count: count, gap: gap, from: try when("from") ?? .zero, every: every)
                    generated = "route changes \(mesh.nodes[node].name) → \(mesh.nodes[to].name)"
                        + (count.map { " count \(ScenarioValues.describe($0, unit: .count))" } ?? "")
                        + (gap.map { " gap \(ScenarioValues.describe($0, unit: .duration))" } ?? "")
                } else {
                    throw item.error("a mesh expectation checks an action, a path, a route, route-changes, control-traffic or loops",
                                     fix: "write e.g. { path: { from: a, to: b }, is: direct } or { action: p, received: { ge: 9 } }")
                }
                mesh.expectations.append(.init(index: index, name: try m["name"]?.string() ?? generated, check: check, location: ScenarioLocation(item)))
            } catch { record(error) }
        }
    }
}
