// Scenario file → Scenario, with every error located to file:line:column, naming the field and
// the fix (docs/architecture.md, Bad input). The format is documented in docs/scenarios.md.
//
// Order of work: top-level scalars, nodes (bridges first need their segment names), links (which
// may attach hosts), captures, the timeline (names, references, `after:` cycles), expectations
// (references to actions and captures, metrics by action kind, filters compiled), and last the
// capability check of every backend the file lists.
//
// Every error is reported, not just the first: each top-level field and each item (a node, link,
// capture, timeline entry, expectation) is parsed on its own, and one that fails is recorded and
// left out while the parser goes on (the first error of an item stops that item). The name of an
// item left out is remembered as broken, and a later reference to it is not reported again: it
// follows from the error already given (`ConfigError.followsFromEarlier`).
import Capture
import Engine
import Foundation
import Wire
import YAMLSchema

/// Every error found in one scenario file, in file order (line, then column; the first is the one
/// `Scenario.load` and `Scenario.parse` throw).
public struct ScenarioFileErrors: Error, Sendable, CustomStringConvertible {
    /// Never empty.
    public var errors: [ConfigError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

extension ConfigError {
    /// Stands for an error that follows from one already reported (a reference to a node, link,
    /// capture or timeline entry that failed to parse); the parser drops it instead of reporting it.
    static let followsFromEarlier = ConfigError(file: "", line: 0, column: 0, message: "(follows from an earlier error)")
}

extension Scenario {
    /// Reads, parses and validates a scenario file; throws the first error (`loadAll` gives them all).
    public static func load(path: String) throws(ConfigError) -> Scenario {
        switch loadAll(path: path) {
        case .success(let s): return s
        case .failure(let f): throw f.errors[0]
        }
    }

    /// Reads, parses and validates a scenario file, with every error it has.
    public static func loadAll(path: String) -> Result<Scenario, ScenarioFileErrors> {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return .failure(ScenarioFileErrors(errors: [ConfigError.unreadableFile(path)]))
        }
        return parseAll(text, file: path)
    }

    /// Parses and validates scenario text; throws the first error (`parseAll` gives them all). `file`
    /// names it in errors; relative paths in it (bridge configs, pcaps to replay) are resolved
    /// against `directory` (default: `file`'s directory).
    public static func parse(_ text: String, file: String, directory: String? = nil) throws(ConfigError) -> Scenario {
        switch parseAll(text, file: file, directory: directory) {
        case .success(let s): return s
        case .failure(let f): throw f.errors[0]
        }
    }

    /// Parses and validates scenario text, with every error it has (see the top of this file).
    public static func parseAll(_ text: String, file: String, directory: String? = nil) -> Result<Scenario, ScenarioFileErrors> {
        let root: YAMLValue
        do { root = try YAMLValue.parse(text, file: file) } catch { return .failure(ScenarioFileErrors(errors: [error])) }
        let dir = directory ?? (file as NSString).deletingLastPathComponent
        var parser = ScenarioParser(file: file, directory: dir.isEmpty ? "." : dir, root: root)
        let scenario = parser.parse()
        guard !parser.errors.isEmpty else { return .success(scenario) }
        let inFileOrder = parser.errors.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
        return .failure(ScenarioFileErrors(errors: inFileOrder))
    }

    /// The scenario files under `paths`: files as given, directories searched (recursively) for
    /// .yml and .yaml files, sorted by path.
    public static func discover(_ paths: [String]) -> [String] {
        var found: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { found.append(path); continue }
            guard isDirectory.boolValue else { found.append(path); continue }
            var inDirectory: [String] = []
            if let walker = fm.enumerator(atPath: path) {
                for case let relative as String in walker where relative.hasSuffix(".yml") || relative.hasSuffix(".yaml") {
                    inDirectory.append((path as NSString).appendingPathComponent(relative))
                }
            }
            found += inDirectory.sorted()
        }
        return found
    }
}

/// A host as written, before its attachment is settled against the links.
private struct PendingHost {
    var name: String
    var value: YAMLValue
    var attach: (segment: BridgeSegment, value: YAMLValue)?
    var mac: MACAddress
    var macIsExplicit: Bool
    var address: HostAddressing
    var mtu: Int?
    var ipv6: HostIPv6Addressing? = nil
}

struct ScenarioParser {
    let file: String
    let directory: String
    let root: YAMLValue
    var scenario: Scenario
    /// Nodes in file order: bridges resolved, hosts pending.
    var bridges: [(name: String, config: BridgeConfig, value: YAMLValue)] = []
    private var hosts: [PendingHost] = []
    /// Indices into `bridges`, `hosts`, the timeline and the expectations by name: every lookup by
    /// name while parsing is a dictionary lookup, so a file with thousands of nodes or tens of
    /// thousands of entries loads in linear time.
    var bridgeIndex: [String: Int] = [:]
    var hostIndex: [String: Int] = [:]
    private var entryIndex: [String: Int] = [:]
    private var expectationIndex: [String: Int] = [:]
    private var nodeOrder: [String] = []
    /// Every error found so far, in order (see the top of this file).
    var errors: [ConfigError] = []
    /// Names of items that failed to parse: nodes, links, captures, timeline entries. A reference
    /// to one of them follows from the error already reported.
    var brokenNodes: Set<String> = []
    var brokenLinks: Set<String> = []
    var brokenCaptures: Set<String> = []
    var brokenEntries: Set<String> = []
    /// Nodes named by a link that failed to parse (so "not linked" would follow from it).
    var nodesOfBrokenLinks: Set<String> = []
    /// Sections (links, captures, timeline) that are broken as a whole (not a list or mapping):
    /// every reference into one follows from that error.
    var brokenSections: Set<String> = []
    /// How many links the file lists, parsed or not (links are referred to by position).
    var linksWritten = 0

    static let topLevelKeys = ["name", "description", "seed", "duration", "backends", "nodes", "links", "captures", "timeline", "expect"]
    static let impairmentKeys = ["delay", "jitter", "loss", "duplicate", "reorder", "corrupt", "rate", "queue", "mtu"]

    init(file: String, directory: String, root: YAMLValue) {
        self.file = file; self.directory = directory; self.root = root
        let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        scenario = Scenario(file: file, name: stem, location: ScenarioLocation(root))
    }

    /// Records `error` unless it follows from one already recorded.
    mutating func record(_ error: ConfigError) {
        if error != .followsFromEarlier { errors.append(error) }
    }

    /// Parses the file; `errors` holds what was wrong (the scenario is only valid when it is empty).
    mutating func parse() -> Scenario {
        let top: YAMLMapping
        do { top = try root.mapping(allowed: Self.topLevelKeys, recording: &errors) } catch { record(error); return scenario }
        do { if let v = top["name"] { scenario.name = try v.string() } } catch { record(error) }
        do { if let v = top["description"] { scenario.description = try v.string() } } catch { record(error) }
        do throws(ConfigError) {
            if let v = top["seed"] {
                let s = try v.scalar()
                guard let seed = UInt64(s.replacingOccurrences(of: "_", with: "")) else {
                    throw v.error("'\(s)' is not a seed", fix: "write a whole number from 0 to 2^64-1, e.g. seed: 7")
                }
                scenario.seed = seed
            }
        } catch { record(error) }
        do throws(ConfigError) {
            if let v = top["duration"] {
                let d = try v.duration()
                guard d > .zero else { throw v.error("the duration must be longer than zero", fix: "write e.g. duration: 30s") }
                scenario.duration = d
            }
        } catch { record(error) }
        do { if let v = top["backends"] { scenario.backends = try parseBackends(v) } } catch { record(error) }

        // Mesh nodes: the whole file is a mesh scenario (Sources/Lab/Mesh/MeshScenarioParser.swift).
        if let nodesValue = top["nodes"], Self.hasMeshNodes(nodesValue) {
            parseMesh(top)
            return scenario
        }
        // Without the nodes, every later section would only report references to nodes that are missing.
        do {
            let nodesValue = try top.required("nodes", example: "{ br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24 } } } }")
            try parseNodes(nodesValue)
        } catch { record(error); return scenario }
        do { if let v = top["links"] { try parseLinks(v) } } catch { record(error); brokenSections.insert("links") }
        checkWANsLinked()
        settleHosts()
        do { if let v = top["captures"] { try parseCaptures(v) } } catch { record(error); brokenSections.insert("captures") }
        do { if let v = top["timeline"] { try parseTimeline(v) } } catch { record(error); brokenSections.insert("timeline") }
        do { if let v = top["expect"] { try parseExpectations(v) } } catch { record(error) }
        checkBackends()
        return scenario
    }

    // MARK: Backends

    func parseBackends(_ v: YAMLValue) throws(ConfigError) -> [LabBackend] {
        let items: [YAMLValue]
        if case .sequence = v.node { items = try v.list() } else { items = [v] }
        var list: [LabBackend] = []
        for item in items {
            let s = try item.string()
            guard let b = LabBackend(rawValue: s) else {
                throw item.error("unknown backend '\(s)'", fix: "use one or more of: \(LabBackend.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard !list.contains(b) else { throw item.error("backend '\(s)' is listed twice", fix: "list it once") }
            list.append(b)
        }
        guard !list.isEmpty else { throw v.error("no backend listed", fix: "write e.g. backends: [sim]") }
        return list
    }

    /// Every feature used must be honoured by every backend listed.
    mutating func checkBackends() {
        for backend in scenario.backends {
            let capabilities = BackendCapabilities.of(backend)
            for use in scenario.features where !capabilities.supports(use.feature) {
                let why = capabilities.reason(use.feature).map { " (\($0))" } ?? ""
                record(use.location.error("\(use.field): the \(backend) backend cannot honour \(use.feature.rawValue)\(why)",
                                         fix: "remove it, or take '\(backend)' out of backends:"))
            }
        }
    }

    mutating func use(_ feature: ScenarioFeature, at v: YAMLValue) {
        scenario.features.append(FeatureUse(feature: feature, location: ScenarioLocation(v), field: v.path))
    }

    // MARK: Nodes

    mutating func parseNodes(_ v: YAMLValue) throws(ConfigError) {
        let m = try v.mapping(allowed: Self.nodeNames(of: v), recording: &errors)
        guard !m.keys.isEmpty else { throw v.error("no nodes", fix: "add at least a bridge and a host") }
        var kinds: [(name: String, kind: String, value: YAMLValue)] = []
        for (name, nodeValue) in m.values {
            do { kinds.append(try nodeKind(name, nodeValue)) } catch { record(error); brokenNodes.insert(name) }
        }
        // Bridges first: a host may attach to a bridge written after it.
        for (name, kind, value) in kinds where kind == "bridge" {
            do { try parseBridge(name: name, value) } catch { record(error); brokenNodes.insert(name) }
        }
        for (name, kind, value) in kinds where kind == "host" {
            do { try parseHost(name: name, value) } catch { record(error); brokenNodes.insert(name) }
        }
    }

    /// A node's name checked and its kind read.
    mutating func nodeKind(_ name: String, _ nodeValue: YAMLValue) throws(ConfigError) -> (name: String, kind: String, value: YAMLValue) {
        guard ScenarioValues.isIdentifier(name) else {
            throw nodeValue.error("'\(name)' is not a valid node name", fix: "use letters, digits, '-' and '_' only (e.g. vm1, br0)")
        }
        guard let kindValue = ScenarioValues.peek(nodeValue, "kind") else {
            if case .mapping = nodeValue.node {} else {
                throw nodeValue.error("expected a mapping describing the node, found \(Self.kindName(nodeValue))",
                                      fix: "write e.g. \(name): { kind: host, attach: br0, address: dhcp }")
            }
            throw nodeValue.error("missing required key 'kind' in \(nodeValue.path)", fix: "add kind: bridge or kind: host")
        }
        nodeOrder.append(name)
        let kind = try kindValue.string()
        guard kind == "bridge" || kind == "host" else {
            throw kindValue.error("unknown node kind '\(kind)'", fix: "use kind: bridge (a Sluice engine) or kind: host")
        }
        return (name, kind, nodeValue)
    }

    /// Every key of the nodes mapping is allowed (they are names); duplicates are still caught.
    static func nodeNames(of v: YAMLValue) -> [String] {
        guard case .mapping(let m) = v.node else { return [] }
        return m.compactMap { k, _ in if case .scalar(let s) = k { return s.string }; return nil }
    }

    static func kindName(_ v: YAMLValue) -> String {
        switch v.node {
        case .scalar: "a value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    mutating func parseBridge(name: String, _ v: YAMLValue) throws(ConfigError) {
        let m = try v.mapping(allowed: ["kind", "config"])
        var config: BridgeConfig
        if let c = m["config"] {
            if case .scalar = c.node {
                let path = resolve(try c.string())
                guard FileManager.default.fileExists(atPath: path) else {
                    throw c.error("no bridge config at \(path)", fix: "give a bridge.yml path relative to the scenario file, or write the config inline")
                }
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw ConfigError.unreadableFile(path)
                }
                config = try BridgeConfig.parse(text, file: path)
            } else {
                config = try BridgeConfig.parse(c)
            }
            try checkScenarioWAN(config, at: c)
        } else {
            config = BridgeConfig()  // a plain L2 switch
        }
        config.name = name
        if !bridges.isEmpty { use(.multipleBridges, at: v) }
        bridgeIndex[name] = bridges.count
        bridges.append((name, config, v))
    }

    mutating func parseHost(name: String, _ v: YAMLValue) throws(ConfigError) {
        let m = try v.mapping(allowed: ["kind", "attach", "mac", "address", "gateway", "mtu", "ipv6"])
        var attach: (BridgeSegment, YAMLValue)?
        if let a = m["attach"] { attach = (try segmentReference(a, role: "attach"), a) }
        var mac = HostNode.derivedMAC(for: name)
        var explicit = false
        if let mv = m["mac"] { mac = try ScenarioValues.mac(mv); explicit = true }
        var address = HostAddressing.dhcp
        if let av = m["address"] {
            switch try av.string() {
            case "dhcp": address = .dhcp
            case "none": address = .none
            default:
                let network = try ScenarioValues.interfaceAddress(av)
                var gateway: IPv4Address?
                if let g = m["gateway"] {
                    let ga = try ScenarioValues.address(g)
                    guard network.contains(ga), ga != network.address else {
                        throw g.error("gateway \(ga) is not another address on \(network)", fix: "use an address inside \(network.networkAddress)/\(network.prefixLength), e.g. the bridge's router address")
                    }
                    gateway = ga
                }
                address = .static(network, gateway: gateway)
                use(.staticAddress, at: av)
            }
        }
        if case .static = address {} else if let g = m["gateway"] {
            throw g.error("gateway: goes with a static address", fix: "remove it (DHCP gives the gateway) or write address: 10.0.0.5/24")
        }
        var mtu: Int?
        if let mv = m["mtu"] { mtu = try mv.int(in: 576...65535); use(.hostMTU, at: mv) }
        let ipv6 = try m["ipv6"].map { (iv) throws(ConfigError) in try ipv6Addressing(iv) }
        hostIndex[name] = hosts.count
        hosts.append(PendingHost(name: name, value: v, attach: attach.map { (segment: $0.0, value: $0.1) },
                                 mac: mac, macIsExplicit: explicit, address: address, mtu: mtu, ipv6: ipv6))
    }

    /// `ipv6: auto` (link-local + SLAAC) or `ipv6: fd00::5/64` (link-local + that address).
    mutating func ipv6Addressing(_ v: YAMLValue) throws(ConfigError) -> HostIPv6Addressing {
        use(.ipv6Hosts, at: v)
        let text = try v.string()
        if text == "auto" { return .auto }
        guard text.contains("/"), let network = IPv6Network(text), !network.address.isMulticast, !network.address.isUnspecified else {
            throw v.error("'\(text)' is not auto or an IPv6 address with a prefix length",
                          fix: "write ipv6: auto (link-local + SLAAC) or ipv6: fd00::5/64")
        }
        return .static(network)
    }

    /// Resolves "br0" (its first segment) or "br0.lan2" to a bridge segment.
    func segmentReference(_ v: YAMLValue, role: String) throws(ConfigError) -> BridgeSegment {
        let s = try v.string()
        let parts = s.split(separator: ".", maxSplits: 1).map(String.init)
        let bridgeName = parts.first ?? ""
        guard let bridge = bridgeIndex[bridgeName].map({ bridges[$0] }) else {
            if brokenNodes.contains(bridgeName) { throw .followsFromEarlier }
            if nodeOrder.contains(bridgeName) || (hostIndex[bridgeName] != nil) {
                throw v.error("\(role): '\(bridgeName)' is a host, not a bridge", fix: "name a bridge node: \(bridgeList())")
            }
            let hint = didYouMeanName(bridgeName, in: bridges.map(\.name))
            throw v.error("\(role): no bridge named '\(bridgeName)'", fix: "\(hint)bridges here: \(bridgeList())")
        }
        let segments = bridge.config.segmentNames
        guard parts.count == 2 else { return BridgeSegment(bridge: bridgeName, segment: segments[0]) }
        guard segments.contains(parts[1]) else {
            throw v.error("bridge '\(bridgeName)' has no segment '\(parts[1])'",
                          fix: "use one of: \(segments.map { "\(bridgeName).\($0)" }.joined(separator: ", "))")
        }
        return BridgeSegment(bridge: bridgeName, segment: parts[1])
    }

    func bridgeList() -> String { bridges.isEmpty ? "(none)" : bridges.map(\.name).joined(separator: ", ") }

    /// "did you mean 'x'? " for the name nearest `word` (YAMLSchema's `didYouMean`), stricter for the
    /// short names of a scenario: within max(1, a third of the word's length).
    func didYouMeanName(_ word: String, in names: [String]) -> String {
        didYouMean(word, in: names, maximumDistance: max(1, word.count / 3))
    }

    // MARK: Links

    mutating func parseLinks(_ v: YAMLValue) throws(ConfigError) {
        let items = try v.list()
        linksWritten = items.count
        for (index, item) in items.enumerated() {
            do { try parseLink(index, item) } catch {
                record(error)
                brokenLinks.insert(String(index))
                if let n = ScenarioValues.peek(item, "name"), let name = try? n.string() { brokenLinks.insert(name) }
                if let b = ScenarioValues.peek(item, "between"), case .sequence(let ends) = b.node {
                    for case .scalar(let end) in ends { nodesOfBrokenLinks.insert(String(end.string.split(separator: ".").first ?? "")) }
                }
            }
        }
    }

    /// Link names in use, to their links' positions in `scenario.links`.
    var linkIndex: [String: Int] = [:]

    mutating func parseLink(_ index: Int, _ item: YAMLValue) throws(ConfigError) {
        let m = try item.mapping(allowed: ["between", "name", "up", "forward", "reverse"] + Self.impairmentKeys)
        let between = try m.required("between", example: "[vm1, br0]")
        let ends = try between.list()
        guard ends.count == 2 else {
            throw between.error("a link has two ends, found \(ends.count)", fix: "write between: [vm1, br0] or between: [br0.lan, br1.lan]")
        }
        let a = try endpoint(ends[0]), b = try endpoint(ends[1])
        switch (a, b) {
        case (.host, .host):
            throw between.error("a link between two hosts", fix: "connect each host to a bridge; hosts reach each other through it")
        case (.bridge(let x), .bridge(let y)):
            guard x.bridge != y.bridge else {
                throw between.error("a link from bridge '\(x.bridge)' to itself", fix: "its router already joins its segments; link two different bridges")
            }
            use(.bridgeToBridgeLink, at: between)
        case (.wan, _), (_, .wan):
            try checkWANLink(a, b, at: between)
            use(.wanLink, at: between)
        default: break
        }
        var name: String?
        if let nv = m["name"] {
            let n = try ScenarioValues.identifier(nv, what: "link")
            if let other = linkIndex[n].map({ scenario.links[$0] }) {
                throw nv.error("link name '\(n)' is used twice (first at \(other.location))", fix: "give each link its own name")
            }
            name = n
        }
        let symmetric = try impairmentPatch(m, at: item)
        var forward = symmetric.applied(to: .none), reverse = forward
        if let f = m["forward"] {
            use(.asymmetricLink, at: f)
            forward = try impairmentPatch(f.mapping(allowed: Self.impairmentKeys), at: f).applied(to: forward)
        }
        if let r = m["reverse"] {
            use(.asymmetricLink, at: r)
            reverse = try impairmentPatch(r.mapping(allowed: Self.impairmentKeys), at: r).applied(to: reverse)
        }
        for (direction, impairments) in [("forward", forward), ("reverse", reverse)] where impairments.queue != nil && impairments.rate == nil {
            let at = m["queue"] ?? m[direction] ?? item
            throw at.error("queue has no effect without a rate (\(direction) direction)",
                           fix: "add a rate (the queue holds frames waiting for it), e.g. rate: 10mbit")
        }
        var link = ScenarioLink(index: index, name: name, a: a, b: b, forward: forward, reverse: reverse, location: ScenarioLocation(item))
        if let u = m["up"] {
            link.initiallyUp = try u.bool()
            if !link.initiallyUp { use(.linkInitiallyDown, at: u) }
        }
        if let name { linkIndex[name] = scenario.links.count }
        scenario.links.append(link)
    }

    func endpoint(_ v: YAMLValue) throws(ConfigError) -> LinkEndpoint {
        let s = try v.string()
        let nodeName = String(s.split(separator: ".", maxSplits: 1).first ?? "")
        if brokenNodes.contains(nodeName) { throw .followsFromEarlier }
        if (hostIndex[nodeName] != nil) {
            guard !s.contains(".") else {
                throw v.error("'\(s)': a host has one NIC and no segments", fix: "write just '\(nodeName)'")
            }
            return .host(nodeName)
        }
        guard (bridgeIndex[nodeName] != nil) else {
            let all = nodeOrder
            let hint = didYouMeanName(nodeName, in: all)
            throw v.error("no node named '\(nodeName)'", fix: "\(hint)nodes here: \(all.joined(separator: ", "))")
        }
        if let wan = wanEndpoint(v) { return wan }
        return .bridge(try segmentReference(v, role: "link end"))
    }

    /// The impairment fields written in `m`, recording each as a feature used.
    mutating func impairmentPatch(_ m: YAMLMapping, at owner: YAMLValue) throws(ConfigError) -> ImpairmentPatch {
        var p = ImpairmentPatch()
        if let v = m["delay"] { p.delay = try v.duration(); use(.linkDelay, at: v) }
        if let v = m["jitter"] { p.jitter = try v.duration(); use(.linkJitter, at: v) }
        if let v = m["loss"] {
            if case .mapping = v.node {
                let g = try v.mapping(allowed: ["p", "r", "h", "k"])
                let model = GilbertElliott(p: try g.required("p", example: "1%").fraction(),
                                           r: try g.required("r", example: "25%").fraction(),
                                           h: try g["h"]?.fraction() ?? 0, k: try g["k"]?.fraction() ?? 1)
                p.loss = .gilbertElliott(model)
                use(.linkGilbertElliottLoss, at: v)
            } else {
                let f = try v.fraction()
                p.loss = f == 0 ? LossModel.none : .random(f)
                use(.linkRandomLoss, at: v)
            }
        }
        if let v = m["duplicate"] { p.duplicate = try v.fraction(); use(.linkDuplicate, at: v) }
        if let v = m["reorder"] { p.reorder = try v.fraction(); use(.linkReorder, at: v) }
        if let v = m["corrupt"] { p.corrupt = try v.fraction(); use(.linkCorrupt, at: v) }
        if let v = m["rate"] {
            let s = try v.scalar().lowercased()
            p.rate = .some(s == "unlimited" ? nil : try ScenarioValues.bitRate(v))
            use(.linkRate, at: v)
        }
        if let v = m["queue"] { p.queue = .some(try v.int(in: 1...1_000_000)); use(.linkQueue, at: v) }
        if let v = m["mtu"] { p.mtu = .some(try v.int(in: 68...65535)); use(.linkMTU, at: v) }
        return p
    }

    /// Settles each host's attachment from `attach:` and the links, and makes the nodes.
    mutating func settleHosts() {
        var settled: [String: HostNode] = [:]  // looked up by name only
        var linksOfHost: [String: [ScenarioLink]] = [:]  // one pass over the links, not one per host
        for link in scenario.links {
            if case .host(let h) = link.a { linksOfHost[h, default: []].append(link) }
            if case .host(let h) = link.b { linksOfHost[h, default: []].append(link) }
        }
        for host in hosts {
            do { settled[host.name] = try settle(host, links: linksOfHost[host.name] ?? []) } catch {
                record(error)
                brokenNodes.insert(host.name)
            }
        }
        // MACs must be unique: hosts among themselves and against the routers' interfaces.
        var seen: [MACAddress: String] = [:]  // the first owner of each
        for bridge in bridges {
            for i in bridge.config.router?.interfaces ?? [] where seen[i.mac] == nil { seen[i.mac] = "\(bridge.name).\(i.name)'s router" }
        }
        for host in hosts {
            guard let mac = settled[host.name]?.mac else { continue }
            if let clash = seen[mac].map({ (mac, $0) }) {
                let at = ScenarioValues.peek(host.value, "mac") ?? host.value
                record(at.error("MAC \(mac) of '\(host.name)' is also \(clash.1)'s",
                                fix: host.macIsExplicit ? "give '\(host.name)' another mac:" : "set mac: explicitly on one of them"))
                continue
            }
            seen[mac] = host.name
        }
        for name in nodeOrder {
            if let b = bridgeIndex[name].map({ bridges[$0] }) {
                scenario.nodes.append(ScenarioNode(name: name, kind: .bridge(b.config), location: ScenarioLocation(b.value)))
            } else if let h = hostIndex[name].map({ hosts[$0] }), let node = settled[name] {
                scenario.nodes.append(ScenarioNode(name: name, kind: .host(node), location: ScenarioLocation(h.value)))
            }
        }
    }

    /// Where `host` is plugged in, from its `attach:` and `links` (those that name it).
    private func settle(_ host: PendingHost, links: [ScenarioLink]) throws(ConfigError) -> HostNode {
        if links.count > 1 {
            throw links[1].location.error("links[\(links[1].index)]: host '\(host.name)' already has a link (\(links[0].displayName) at \(links[0].location)); a host has one NIC",
                                          fix: "remove one of the links, or add another host")
        }
        var attachment = host.attach?.segment
        if let link = links.first {
            guard case .bridge(let far) = (link.a == .host(host.name) ? link.b : link.a) else {
                throw link.location.error("links[\(link.index)]: '\(host.name)' is not linked to a bridge", fix: "link the host to a bridge segment")
            }
            if let given = host.attach, given.segment != far {
                throw link.location.error("links[\(link.index)]: plugs '\(host.name)' into \(far), but its attach: says \(given.segment) (\(given.value.file):\(given.value.line))",
                                          fix: "make them agree, or drop attach: and let the link decide")
            }
            attachment = far
        }
        guard let attachment else {
            if nodesOfBrokenLinks.contains(host.name) { throw .followsFromEarlier }
            throw host.value.error("host '\(host.name)' is not plugged into anything",
                                   fix: "add attach: <bridge> (or <bridge>.<segment>), or a link between it and a bridge")
        }
        return HostNode(attachment: attachment, mac: host.mac, macIsExplicit: host.macIsExplicit,
                        address: host.address, mtu: host.mtu, ipv6: host.ipv6)
    }

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
    }

    // MARK: Captures

    mutating func parseCaptures(_ v: YAMLValue) throws(ConfigError) {
        let m = try v.mapping(allowed: Self.nodeNames(of: v), recording: &errors)
        for (name, value) in m.values {
            do { try parseCapture(name, value) } catch { record(error); brokenCaptures.insert(name) }
        }
    }

    /// Capture names in use, to their positions in `scenario.captures`.
    var captureIndex: [String: Int] = [:]

    mutating func parseCapture(_ name: String, _ value: YAMLValue) throws(ConfigError) {
        guard ScenarioValues.isIdentifier(name) else {
            throw value.error("'\(name)' is not a valid capture name", fix: "use letters, digits, '-' and '_' only (it names the pcap file)")
        }
        let cm = try value.mapping(allowed: ["at", "filter", "ladder"])
        let atValue = try cm.required("at", example: "br0")
        let link = try capturedLink(atValue)
        let at: BridgeSegment
        if let link { at = link.at } else { at = try segmentReference(atValue, role: "at") }
        var filter: String?
        if let f = cm["filter"] { filter = try compiledFilter(f) }
        var capture = ScenarioCapture(name: name, at: at, filter: filter, location: ScenarioLocation(value))
        capture.link = link.map { (index: $0.index, name: $0.name) }
        if let l = cm["ladder"] { capture.ladder = try LadderRequest(parsing: l) }
        captureIndex[name] = scenario.captures.count
        scenario.captures.append(capture)
    }

    /// The filter text, after checking that libpcap compiles it.
    func compiledFilter(_ v: YAMLValue) throws(ConfigError) -> String {
        let text = try v.string()
        do { _ = try BPFFilter(text) } catch {
            let reason: String
            if case .invalidFilter(_, let message) = error { reason = message } else { reason = error.description }
            throw v.error("filter \"\(text)\" does not compile: \(reason)", fix: "write a pcap-filter(7) expression, e.g. \"udp port 67\" or \"icmp[icmptype] = icmp-echo\"")
        }
        return text
    }

    // MARK: Timeline

    static let commonEntryKeys = ["at", "after", "do", "as"]

    static func entryKeys(_ kind: ActionKind) -> [String] {
        switch kind {
        case .dhcp, .release: ["node"]
        case .ping: ["node", "to", "count", "interval", "size", "ttl", "timeout", "family"]
        case .udp: ["node", "to", "port", "rate", "size", "duration"]
        case .tcp: ["node", "to", "port", "bytes", "duration", "streams", "reverse", "congestion"]
        case .linkDown, .linkUp: ["link"]
        case .impair: ["link", "direction"] + impairmentKeys
        case .replay: ["pcap", "into", "speed", "topspeed", "loop", "max-gap", "split", "side", "map", "rewrite-mac"]
        }
    }

    mutating func parseTimeline(_ v: YAMLValue) throws(ConfigError) {
        // `entry`: the position in `scenario.timeline` of the entry that waits.
        var afterReferences: [(entry: Int, name: String, value: YAMLValue)] = []
        for (index, item) in try v.list().enumerated() {
            do {
                if let after = try parseEntry(index, item) { afterReferences.append((scenario.timeline.count - 1, after.name, after.value)) }
            } catch {
                record(error)
                if let a = ScenarioValues.peek(item, "as"), let name = try? a.string() { brokenEntries.insert(name) }
            }
        }
        checkAfterReferences(afterReferences)
    }

    /// Parses one timeline entry and appends it; returns its `after:` reference, if any.
    mutating func parseEntry(_ index: Int, _ item: YAMLValue) throws(ConfigError) -> (name: String, value: YAMLValue)? {
        guard let doValue = ScenarioValues.peek(item, "do") else {
            _ = try item.mapping(allowed: Self.commonEntryKeys + ActionKind.allCases.flatMap(Self.entryKeys))
            throw item.error("missing required key 'do' in \(item.path)",
                             fix: "say what happens: do: \(ActionKind.allCases.map(\.rawValue).joined(separator: " | "))")
        }
        let doText = try doValue.string()
        guard let kind = ActionKind(rawValue: doText) else {
            throw doValue.error("unknown action '\(doText)'", fix: "use one of: \(ActionKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let m = try item.mapping(allowed: Self.commonEntryKeys + Self.entryKeys(kind))
        var name: String?
        if let a = m["as"] {
            let n = try ScenarioValues.identifier(a, what: "action")
            if let other = entryIndex[n].map({ scenario.timeline[$0] }) {
                throw a.error("the name '\(n)' is used twice (first at \(other.location))", fix: "give each action its own as: name")
            }
            name = n
        }
        let trigger: Trigger
        var waitsFor: (name: String, value: YAMLValue)?
        switch (m["at"], m["after"]) {
        case (let at?, nil):
            let t = try at.duration()
            guard t < scenario.duration else {
                throw at.error("at \(Format.duration(t)) is not before the end of the run (duration \(Format.duration(scenario.duration)))",
                               fix: "move it earlier or lengthen duration:")
            }
            trigger = .at(t)
        case (nil, let after?):
            let (entryName, delay) = try afterReference(after)
            waitsFor = (entryName, after)
            trigger = .after(entry: entryName, delay: delay)
        case (.some, .some):
            throw try m.required("after").error("both at: and after: given", fix: "keep one: at: 5s, or after: p1 + 2s")
        case (nil, nil):
            throw item.error("missing 'at' or 'after' in \(item.path)", fix: "add at: 5s, or after: <as-name> (+ delay)")
        }
        let action = try parseAction(kind, m, at: item)
        if case .dhcp = action, trigger != .at(.zero) { use(.dhcpAfterStart, at: item) }
        if let name { entryIndex[name] = scenario.timeline.count }
        scenario.timeline.append(TimelineEntry(index: index, name: name, trigger: trigger, action: action, location: ScenarioLocation(item)))
        return waitsFor
    }

    /// Each `after:` names an entry that exists, and no chain of `after:` loops. Each chain is
    /// walked once (an entry already known to reach an `at:` ends the walk), so a long chain of
    /// `after:` loads in linear time; a loop is reported once, at the first entry on it in file order.
    mutating func checkAfterReferences(_ refs: [(entry: Int, name: String, value: YAMLValue)]) {
        var afterValue: [Int: YAMLValue] = [:]  // by position in the timeline
        var resolved: [(entry: Int, target: Int)] = []
        for ref in refs {
            afterValue[ref.entry] = ref.value
            guard let target = entryIndex[ref.name] else {
                if brokenEntries.contains(ref.name) { continue }  // follows from that entry's error
                let names = scenario.timeline.compactMap(\.name)
                record(ref.value.error("after: no timeline entry is named '\(ref.name)'",
                                       fix: names.isEmpty ? "name the entry to wait for with as: <name>" : "use one of: \(names.joined(separator: ", "))"))
                continue
            }
            resolved.append((ref.entry, target))
        }
        var next: [Int: Int] = [:]
        for r in resolved { next[r.entry] = r.target }
        var state: [Int: Bool] = [:]  // false: on the walk under way; true: settled
        for r in resolved where state[r.entry] == nil {
            var path: [Int] = []
            var position: Int? = r.entry
            while let p = position, state[p] != true {
                if state[p] == false {
                    let loop = path[path.firstIndex(of: p)!...] + [p]
                    let chain = loop.map { scenario.timeline[$0].displayName }.joined(separator: " → ")
                    record(afterValue[p]!.error("after: waits on itself (\(chain))", fix: "start one of these entries with at: instead"))
                    break
                }
                state[p] = false
                path.append(p)
                position = next[p]
            }
            for p in path { state[p] = true }
        }
    }

    /// "p1" or "p1 + 2s".
    func afterReference(_ v: YAMLValue) throws(ConfigError) -> (String, Duration) {
        let s = try v.string()
        let parts = s.split(separator: "+", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let name = parts.first, ScenarioValues.isIdentifier(name) else {
            throw v.error("'\(s)' is not an entry name with an optional delay", fix: "write after: p1 or after: p1 + 2s")
        }
        guard parts.count == 2 else { return (name, .zero) }
        if let seconds = parseDurationSeconds(parts[1]), parseDuration(parts[1]) == nil {
            throw YAMLValue.durationOutOfRange(parts[1], seconds: seconds, at: v)
        }
        guard let d = parseDuration(parts[1]) else {
            throw v.error("'\(parts[1])' is not a duration", fix: "write after: \(name) + 2s (units: ns, us, ms, s, m, h)")
        }
        return (name, d)
    }

    mutating func parseAction(_ kind: ActionKind, _ m: YAMLMapping, at item: YAMLValue) throws(ConfigError) -> TimelineAction {
        switch kind {
        case .dhcp: return .dhcp(node: try hostReference(m.required("node", example: "vm1"), for: kind))
        case .release:
            use(.release, at: item)
            return .release(node: try hostReference(m.required("node", example: "vm1"), for: kind))
        case .ping:
            let node = try hostReference(m.required("node", example: "vm1"), for: kind)
            var p = PingAction(node: node, to: try target(m.required("to", example: "vm2")))
            if let v = m["count"] { p.count = try v.int(in: 1...65535) }
            if let v = m["interval"] { p.interval = try v.duration() }
            if let v = m["size"] { p.size = try v.int(in: 0...65507) }
            if let v = m["ttl"] { p.ttl = try v.int(in: 1...255); use(.pingTTL, at: v) }
            if let v = m["family"] {
                switch try v.string() {
                case "ipv4": p.ipv6 = false
                case "ipv6":
                    p.ipv6 = true; use(.ipv6Hosts, at: v)
                    if case .address = p.to { throw v.error("family: ipv6 pings a host by name, not an IPv4 address", fix: "write to: <host name>") }
                default: throw v.error("family must be ipv4 or ipv6", fix: "write family: ipv6 to ping the target's IPv6 address")
                }
            }
            if let v = m["timeout"] {
                p.timeout = try v.duration()
                guard p.timeout > .zero else { throw v.error("a timeout of zero loses every reply", fix: "write e.g. timeout: 1s") }
            }
            return .ping(p)
        case .udp:
            let node = try hostReference(m.required("node", example: "vm1"), for: kind)
            let toValue = try m.required("to", example: "vm2")
            var u = UDPFlowAction(node: node, to: try target(toValue))
            if case .node(let n, _) = u.to, scenario.node(named: n)?.bridge != nil || (bridgeIndex[n] != nil) {
                throw toValue.error("a UDP flow to bridge '\(n)' has no receiver", fix: "send it to a host, which counts what arrives")
            }
            if let v = m["port"] { u.port = try v.int(in: 1...65535) }
            if let v = m["rate"] { u.rate = try ScenarioValues.flowRate(v) }
            if let v = m["size"] { u.size = try v.int(in: 24...65507) }
            if let v = m["duration"] { u.duration = try v.duration() }
            use(.udpFlow, at: item)
            return .udp(u)
        case .tcp:
            return .tcp(try tcpFlow(m, at: item))
        case .linkDown, .linkUp:
            let link = try linkReference(m.required("link", example: "0"))
            use(.linkUpDown, at: item)
            return kind == .linkDown ? .linkDown(link: link) : .linkUp(link: link)
        case .impair:
            let link = try linkReference(m.required("link", example: "0"))
            var direction = ImpairDirection.both
            if let d = m["direction"] {
                let s = try d.string()
                guard let parsed = ImpairDirection(rawValue: s) else {
                    throw d.error("unknown direction '\(s)'", fix: "use forward (first end of between: to second), reverse, or both")
                }
                direction = parsed
            }
            let patch = try impairmentPatch(m, at: item)
            guard !patch.isEmpty else {
                throw item.error("impair changes nothing", fix: "give the new values, e.g. loss: 10% or delay: 50ms")
            }
            use(.impairChange, at: item)
            return .impair(ImpairAction(link: link, direction: direction, patch: patch))
        case .replay:
            let pcapValue = try m.required("pcap", example: "fixtures/pcaps/client-traffic.pcap")
            let pcap = try pcapValue.string()
            let path = resolve(pcap)
            do { _ = try PcapReader(path: path) } catch {
                throw pcapValue.error("cannot replay \(pcap): \(error)", fix: "give an Ethernet pcap path relative to the scenario file")
            }
            let intoValue = try m.required("into", example: "br0")
            let intoName = String((try intoValue.string()).split(separator: ".", maxSplits: 1).first ?? "")
            let into: ReplayTarget
            if (hostIndex[intoName] != nil) {
                into = .host(try hostReference(intoValue, for: kind))
                use(.replayIntoHost, at: intoValue)
            } else if let wan = try wanReference(intoValue) {
                into = .wan(wan)
                use(.replayIntoWAN, at: intoValue)
            } else {
                into = .bridge(try segmentReference(intoValue, role: "into"))
                use(.replayIntoBridge, at: intoValue)
            }
            var r = ReplayAction(pcap: pcap, path: path, into: into)
            switch (m["speed"], m["topspeed"]) {
            case (let s?, nil):
                let text = try s.scalar()
                guard let x = Double(text.hasSuffix("x") ? String(text.dropLast()) : text), x > 0, x.isFinite else {
                    throw s.error("'\(text)' is not a speed", fix: "write a factor: 1 (as captured), 2 (twice as fast), 0.5; or topspeed: true")
                }
                guard ReplayAction.speedRange.contains(x) else {
                    throw s.error("speed \(text) is out of range", fix: "use a factor in \(ReplayAction.speedRangeText), or topspeed: true")
                }
                r.speed = .multiplier(x)
            case (nil, let t?):
                if try t.bool() { r.speed = .topSpeed; use(.replayTopSpeed, at: t) }
            case (.some, .some):
                throw try m.required("topspeed").error("both speed: and topspeed: given", fix: "keep one")
            case (nil, nil): break
            }
            if let l = m["loop"] { r.loop = try l.int(in: 1...1_000_000) }
            if let g = m["max-gap"] { r.maxGap = try g.duration() }
            try parseReplayRewrite(m, into: &r)
            return .replay(r)
        }
    }

    /// `into: brB.wan` — a bridge's WAN (when it has one and no segment is called "wan"), or nil
    /// for anything else (left to the segment and host references).
    func wanReference(_ v: YAMLValue) throws(ConfigError) -> String? {
        let parts = try v.string().split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[1] == "wan", let bridge = bridgeIndex[parts[0]].map({ bridges[$0] }),
              !bridge.config.segmentNames.contains("wan") else { return nil }
        guard bridge.config.wan != nil else {
            throw v.error("into: '\(parts[0])' has no WAN", fix: "replay into one of its segments: \(bridge.config.segmentNames.joined(separator: ", "))")
        }
        return parts[0]
    }

    /// A replay entry's `split:`/`side:`, `map:` and `rewrite-mac:` (the options of `sluice replay`
    /// of the same names; a split capture takes one entry per side).
    func parseReplayRewrite(_ m: YAMLMapping, into r: inout ReplayAction) throws(ConfigError) {
        /// The option's error, located at `v` and worded for the file (without the command's "--key").
        func located(_ e: ReplayOptionError, _ key: String, _ v: YAMLValue) -> ConfigError {
            var message = Substring(e.message)
            if message.hasPrefix("--\(key)") { message = message.dropFirst(key.count + 2).drop { $0 == ":" || $0 == " " } }
            return v.error(String(message), fix: e.fix.replacingOccurrences(of: "--", with: ""))
        }
        switch (m["split"], m["side"]) {
        case (let s?, let side?):
            let text = try s.string()
            do { r.rewrite.split = try ReplaySplit(parsing: text) } catch { throw located(error, "split", s) }
            guard let which = ReplaySide(rawValue: try side.string()) else {
                throw side.error("side: '\(try side.string())' is not a side of a split capture", fix: "write side: client or side: server")
            }
            r.rewrite.side = which
        case (let s?, nil):
            throw s.error("a split capture needs side: client or side: server", fix: "add side: — each side plays from its own entry")
        case (nil, let side?):
            throw side.error("only a split capture has sides", fix: "add split: auto (or cidr:NET or mac:MAC), or drop side:")
        case (nil, nil): break
        }
        if let v = m["map"] {
            // One map, or a list of them.
            for item in (try? v.list()) ?? [v] {
                let text = try item.string()
                do { r.rewrite.maps.append(try ReplayAddressMap(parsing: text)) } catch { throw located(error, "map", item) }
            }
        }
        if let v = m["rewrite-mac"], try v.bool() {
            do { r.rewrite.destinationMAC = try ReplayRequest.receiver(of: r.into, in: scenario) }
            catch { throw located(error, "rewrite-mac", v) }
        }
    }

    /// A node name that must be a host.
    func hostReference(_ v: YAMLValue, for kind: ActionKind) throws(ConfigError) -> String {
        let n = try v.string()
        if (hostIndex[n] != nil) { return n }
        if brokenNodes.contains(n) { throw .followsFromEarlier }
        if (bridgeIndex[n] != nil) {
            throw v.error("'\(n)' is a bridge; \(kind.rawValue) runs on a host", fix: "name a host: \(hosts.map(\.name).joined(separator: ", "))")
        }
        let hint = didYouMeanName(n, in: hosts.map(\.name))
        throw v.error("no host named '\(n)'", fix: "\(hint)hosts here: \(hosts.isEmpty ? "(none)" : hosts.map(\.name).joined(separator: ", "))")
    }

    /// `do: tcp`: both ends are hosts of the scenario (the target runs the listener).
    mutating func tcpFlow(_ m: YAMLMapping, at item: YAMLValue) throws(ConfigError) -> TCPFlowAction {
        let node = try hostReference(m.required("node", example: "vm1"), for: .tcp)
        let toValue = try m.required("to", example: "vm2")
        let to = try hostReference(toValue, for: .tcp)
        guard to != node else { throw toValue.error("a TCP flow from \(node) to itself", fix: "name another host") }
        var t = TCPFlowAction(node: node, to: .node(to, segment: nil), port: 5201 + scenario.timeline.count)
        if t.port > 65535 { t.port = 65535 }
        if let v = m["port"] { t.port = try v.int(in: 1...65535) }
        switch (m["bytes"], m["duration"]) {
        case (let b?, nil): t.amount = .bytes(try ScenarioValues.byteCount(b, in: 1...Self.maximumTCPFlowBytes))
        case (nil, let d?):
            let duration = try d.duration()
            guard duration > .zero, duration <= scenario.duration else {
                throw d.error("duration \(Format.duration(duration)) is not within the run (duration \(Format.duration(scenario.duration)))",
                              fix: "give a positive duration up to the scenario's, e.g. duration: 2s")
            }
            t.amount = .duration(duration)
        case (.some, .some):
            throw try m.required("duration").error("both bytes: and duration: given", fix: "keep one: bytes: 10MB, or duration: 10s")
        case (nil, nil):
            throw item.error("a tcp flow needs bytes: or duration:", fix: "add bytes: 10MB (as iperf3 -n) or duration: 10s (as iperf3 -t)")
        }
        if let v = m["streams"] { t.streams = try v.int(in: 1...16) }
        if let v = m["reverse"] { t.reverse = try v.bool() }
        if let v = m["congestion"] {
            let text = try v.string()
            guard let c = TCPFlowCongestion(rawValue: text == "reno" ? "newreno" : text) else {
                throw v.error("unknown congestion control '\(text)'", fix: "use cubic or newreno")
            }
            t.congestion = c
        }
        use(.tcpFlow, at: item)
        return t
    }

    /// The most a `do: tcp` may move (10 GB): more would take minutes of wall time on sim.
    static let maximumTCPFlowBytes: UInt64 = 10_000_000_000

    /// A node ("vm2", "br0", "br0.lan2") or an IPv4 address.
    func target(_ v: YAMLValue) throws(ConfigError) -> TrafficTarget {
        let s = try v.string()
        if let a = IPv4Address(s) { return .address(a) }
        let parts = s.split(separator: ".", maxSplits: 1).map(String.init)
        let n = parts.first ?? ""
        if brokenNodes.contains(n) { throw .followsFromEarlier }
        if (hostIndex[n] != nil) {
            guard parts.count == 1 else { throw v.error("'\(s)': a host has no segments", fix: "write just '\(n)'") }
            return .node(n, segment: nil)
        }
        if (bridgeIndex[n] != nil) {
            guard let bridge = bridgeIndex[n].map({ bridges[$0] }), bridge.config.router != nil else {
                throw v.error("bridge '\(n)' has no router, so no address to send to", fix: "give it config: { router: { ipv4: ... } }, or send to a host")
            }
            let segment = try segmentReference(v, role: "to")
            return .node(n, segment: parts.count == 2 ? segment.segment : nil)
        }
        let hint = didYouMeanName(n, in: nodeOrder)
        throw v.error("'\(s)' is neither a node nor an IPv4 address", fix: "\(hint)nodes here: \(nodeOrder.joined(separator: ", "))")
    }

    /// A link by index in links: or by name.
    func linkReference(_ v: YAMLValue) throws(ConfigError) -> Int {
        let s = try v.string()
        if brokenLinks.contains(s) || brokenSections.contains("links") { throw .followsFromEarlier }
        let names = scenario.links.compactMap(\.name)
        if let i = Int(s) {
            guard (0..<linksWritten).contains(i) else {
                throw v.error("no link \(i): the file has \(linksWritten) link(s)",
                              fix: linksWritten == 0 ? "add the link under links:" : "use an index from 0 to \(linksWritten - 1)" + (names.isEmpty ? "" : " or a name: \(names.joined(separator: ", "))"))
            }
            return i
        }
        guard let link = linkIndex[s].map({ scenario.links[$0] }) else {
            throw v.error("no link named '\(s)'", fix: names.isEmpty ? "name the link with name: \(s) under links:, or use its index" : "use one of: \(names.joined(separator: ", ")), or an index")
        }
        return link.index
    }

    // MARK: Expectations

    mutating func parseExpectations(_ v: YAMLValue) throws(ConfigError) {
        for (index, item) in try v.list().enumerated() {
            do { try parseExpectation(index, item) } catch { record(error) }
        }
    }

    mutating func parseExpectation(_ index: Int, _ item: YAMLValue) throws(ConfigError) {
        let hasAction = ScenarioValues.peek(item, "action") != nil
        let hasDHCP = ScenarioValues.peek(item, "dhcp") != nil
        let hasCapture = ScenarioValues.peek(item, "capture") != nil
        let expectation: ScenarioExpectation
        switch (hasAction, hasDHCP, hasCapture) {
        case (true, false, _) where !hasCapture: expectation = try actionExpectation(index, item)
        case (false, true, false): expectation = try dhcpExpectation(index, item)
        case (false, false, true): expectation = try captureExpectation(index, item)
        case (false, false, false):
            if case .mapping = item.node {} else { _ = try item.mapping(allowed: ["action", "capture", "dhcp"]) }
            throw item.error("an expectation needs action:, capture: or dhcp:",
                             fix: "e.g. { action: p1, received: { ge: 3 } } or { capture: lan, filter: \"arp\", count: { ge: 1 } }")
        default:
            throw item.error("an expectation checks one thing: give only one of action:, capture:, dhcp:", fix: "split it into separate items")
        }
        if let other = expectationIndex[expectation.name].map({ scenario.expectations[$0] }) {
            let at = ScenarioValues.peek(item, "name") ?? item
            throw at.error("expectation name '\(expectation.name)' is used twice (first at \(other.location))", fix: "give it its own name:")
        }
        expectationIndex[expectation.name] = scenario.expectations.count
        scenario.expectations.append(expectation)
    }

    mutating func actionExpectation(_ index: Int, _ item: YAMLValue) throws(ConfigError) -> ScenarioExpectation {
        let actionValue = ScenarioValues.peek(item, "action")!
        let actionName = try actionValue.string()
        guard let entry = entryIndex[actionName].map({ scenario.timeline[$0] }) else {
            if brokenEntries.contains(actionName) || brokenSections.contains("timeline") { throw .followsFromEarlier }
            let names = scenario.timeline.compactMap(\.name)
            throw actionValue.error("no timeline entry is named '\(actionName)'",
                                    fix: names.isEmpty ? "name the timeline entry with as: \(actionName)" : "use one of: \(names.joined(separator: ", "))")
        }
        let kind = entry.action.kind
        let metrics = ActionMetric.metrics(for: kind)
        guard !metrics.isEmpty else {
            throw actionValue.error("'\(actionName)' is a \(kind.rawValue) action, which has no results to check",
                                    fix: "check its effect on a capture instead: { capture: <name>, filter: ..., count: ... }")
        }
        let m = try item.mapping(allowed: ["action", "name"] + metrics.map(\.rawValue))
        var checks: [MetricCheck] = []
        for metric in metrics {
            if let v = m[metric.rawValue] {
                if kind == .udp, [.latencyMin, .latencyAvg, .latencyMax].contains(metric) { use(.udpLatency, at: v) }
                if kind == .ping, metric == .errors { use(.pingErrors, at: v) }
                checks.append(MetricCheck(metric: metric, condition: try ScenarioValues.condition(v, unit: metric.unit), location: ScenarioLocation(v)))
            }
        }
        guard !checks.isEmpty else {
            throw item.error("nothing to check for '\(actionName)'", fix: "add one of: \(metrics.map(\.rawValue).joined(separator: ", ")), e.g. \(metrics[0].rawValue): \(Self.example(metrics[0].unit))")
        }
        let generated = "\(actionName): " + checks.map { "\($0.metric.rawValue) \(ScenarioValues.describe($0.condition, unit: $0.metric.unit))" }.joined(separator: ", ")
        return ScenarioExpectation(index: index, name: try m["name"]?.string() ?? generated,
                           kind: .action(ActionExpectation(action: actionName, actionKind: kind, checks: checks)), location: ScenarioLocation(item))
    }

    static func example(_ unit: ValueUnit) -> String {
        switch unit {
        case .count: "{ ge: 1 }"
        case .fraction: "{ le: 5% }"
        case .duration: "{ le: 20ms }"
        case .bitRate: "{ ge: 10mbit }"
        case .bool: "true"
        case .address: "{ in: 10.0.0.100-10.0.0.120 }"
        case .addressList: "{ contains: 192.0.2.53 }"
        }
    }

    func captureReference(_ v: YAMLValue) throws(ConfigError) -> String {
        let n = try v.string()
        guard captureIndex[n] != nil else {
            if brokenCaptures.contains(n) || brokenSections.contains("captures") { throw .followsFromEarlier }
            let names = scenario.captures.map(\.name)
            throw v.error("no capture named '\(n)'", fix: names.isEmpty ? "declare it under captures:, e.g. \(n): { at: br0 }" : "use one of: \(names.joined(separator: ", "))")
        }
        return n
    }

    func window(_ m: YAMLMapping) throws(ConfigError) -> TimeWindow {
        let w = TimeWindow(from: try m["from"]?.duration(), until: try m["until"]?.duration())
        if let from = w.from, let until = w.until, until <= from {
            throw try m.required("until").error("until \(Format.duration(until)) is not after from \(Format.duration(from))", fix: "swap them")
        }
        return w
    }

    func captureExpectation(_ index: Int, _ item: YAMLValue) throws(ConfigError) -> ScenarioExpectation {
        let m = try item.mapping(allowed: ["capture", "name", "filter", "from", "until", "count", "absent", "sequence", "latency"])
        let capture = try captureReference(m.required("capture"))
        let filter = try m["filter"].map { v throws(ConfigError) in try compiledFilter(v) }
        let checkKeys = ["count", "absent", "sequence", "latency"].filter { m[$0] != nil }
        guard checkKeys.count == 1 else {
            if checkKeys.isEmpty {
                throw item.error("nothing to check on capture '\(capture)'", fix: "add one of count: { ge: 1 }, absent: true, sequence: [...], latency: {...}")
            }
            throw try m.required(checkKeys[1]).error("give one of count, absent, sequence, latency per expectation", fix: "split it into separate items")
        }
        let check: CaptureCheck
        let what = filter.map { "'\($0)'" } ?? "frames"
        var name: String
        switch checkKeys[0] {
        case "count":
            let bounds = try ScenarioValues.bound(m.required("count"), unit: .count)
            check = .count(bounds)
            name = "\(capture): count of \(what) \(Format.comparisons(bounds, unit: .count))"
        case "absent":
            let a = try m.required("absent")
            guard try a.bool() else { throw a.error("absent: false checks nothing", fix: "write count: { ge: 1 } to require frames") }
            check = .absent
            name = "\(capture): no \(what)"
        case "sequence":
            let s = try m.required("sequence")
            let filters = try s.list().map { v throws(ConfigError) in try compiledFilter(v) }
            guard filters.count >= 2 else { throw s.error("a sequence needs two filters or more", fix: "use count: { ge: 1 } for one") }
            check = .sequence(filters)
            name = "\(capture): sequence " + filters.map { "'\($0)'" }.joined(separator: " → ")
        default:
            let l = try m.required("latency")
            let lm = try l.mapping(allowed: ["request", "response", "pair-by", "pairs"] + ComparisonOperator.allCases.map(\.rawValue))
            let request = try compiledFilter(lm.required("request", example: "\"icmp[icmptype] = icmp-echo\""))
            let response = try compiledFilter(lm.required("response", example: "\"icmp[icmptype] = icmp-echoreply\""))
            var pairBy = PairingKey.icmpSequence
            if let p = lm["pair-by"] {
                let s = try p.string()
                guard let k = PairingKey(rawValue: s) else {
                    throw p.error("unknown pairing '\(s)'", fix: "use one of: \(PairingKey.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                pairBy = k
            }
            let bounds = try ScenarioValues.comparisons(lm, unit: .duration)
            let pairs = try lm["pairs"].map { v throws(ConfigError) in try ScenarioValues.bound(v, unit: .count) } ?? [Comparison(.ge, 1)]
            guard !bounds.isEmpty || lm["pairs"] != nil else {
                throw l.error("no latency bound given", fix: "add e.g. le: 50ms")
            }
            check = .latency(LatencyCheck(request: request, response: response, pairBy: pairBy, bounds: bounds, pairs: pairs))
            name = "\(capture): latency by \(pairBy.rawValue) \(Format.comparisons(bounds, unit: .duration))"
        }
        return ScenarioExpectation(index: index, name: try m["name"]?.string() ?? name,
                           kind: .capture(CaptureExpectation(capture: capture, filter: filter, window: try window(m), check: check)),
                           location: ScenarioLocation(item))
    }

    func dhcpExpectation(_ index: Int, _ item: YAMLValue) throws(ConfigError) -> ScenarioExpectation {
        let outer = try item.mapping(allowed: ["dhcp", "name"])
        let v = try outer.required("dhcp")
        let m = try v.mapping(allowed: ["capture", "message", "count", "field", "client", "filter", "from", "until", "equals", "in", "contains"]
                                       + ComparisonOperator.allCases.map(\.rawValue))
        let capture = try captureReference(m.required("capture", example: "lan"))
        let messageValue = try m.required("message", example: "ack")
        let messageText = try messageValue.string().lowercased()
        let typeName = messageText.hasPrefix("dhcp") ? String(messageText.dropFirst(4)) : messageText
        let names: [(String, DHCPMessageType)] = [("discover", .discover), ("offer", .offer), ("request", .request), ("decline", .decline),
                                                  ("ack", .ack), ("nak", .nak), ("release", .release), ("inform", .inform)]
        guard let type = names.first(where: { $0.0 == typeName })?.1 else {
            throw messageValue.error("unknown DHCP message '\(messageText)'", fix: "use one of: \(names.map(\.0).joined(separator: ", "))")
        }
        let conditionKeys = ["equals", "in", "contains"] + ComparisonOperator.allCases.map(\.rawValue)
        var fieldCheck: DHCPFieldCheck?
        if let fieldValue = m["field"] {
            fieldCheck = try dhcpFieldCheck(fieldValue, m, at: v)
        } else if let stray = conditionKeys.first(where: { m[$0] != nil }) {
            throw try m.required(stray).error("\(stray): a condition needs the field it is about", fix: "add field: yiaddr (or another field), or use count: to count messages")
        }
        var count: [Comparison]?
        if let c = m["count"] { count = try ScenarioValues.bound(c, unit: .count) }
        guard count != nil || fieldCheck != nil else {
            throw v.error("nothing to check about the \(type) messages", fix: "add field: yiaddr with a condition (in:, equals:), or count: { ge: 1 }")
        }
        var client: String?, clientMAC: MACAddress?
        if let c = m["client"] {
            client = try hostReference(c, for: .dhcp)
            clientMAC = client.flatMap { hostIndex[$0] }.map { hosts[$0].mac }
        }
        let filter = try m["filter"].map { x throws(ConfigError) in try compiledFilter(x) }
        var parts: [String] = []
        if let count { parts.append("count \(Format.comparisons(count, unit: .count))") }
        if let f = fieldCheck { parts.append("\(f.field.rawValue) \(ScenarioValues.describe(f.condition, unit: f.field.unit))") }
        let generated = "\(capture): \(type) \(parts.joined(separator: ", "))" + (client.map { " (client \($0))" } ?? "")
        return ScenarioExpectation(index: index, name: try outer["name"]?.string() ?? generated,
                           kind: .dhcp(DHCPMessageExpectation(capture: capture, message: type, client: client, clientMAC: clientMAC,
                                                              filter: filter, window: try window(m), count: count, field: fieldCheck)),
                           location: ScenarioLocation(item))
    }

    /// `field:` and its condition (`equals`, `in`, `contains` or bounds, by the field's kind).
    func dhcpFieldCheck(_ fieldValue: YAMLValue, _ m: YAMLMapping, at v: YAMLValue) throws(ConfigError) -> DHCPFieldCheck {
        let fieldText = try fieldValue.string()
        guard let field = DHCPField(rawValue: fieldText) else {
            throw fieldValue.error("unknown DHCP field '\(fieldText)'", fix: "use one of: \(DHCPField.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let condition: Condition
        switch field.unit {
        case .address:
            for k in ["contains"] + ComparisonOperator.allCases.map(\.rawValue) where m[k] != nil {
                throw try m.required(k).error("\(field.rawValue) is an address", fix: "check it with equals: or in:")
            }
            condition = try ScenarioValues.addressCondition(m, at: v)
        case .addressList:
            for k in ["in"] + ComparisonOperator.allCases.map(\.rawValue) where m[k] != nil {
                throw try m.required(k).error("\(field.rawValue) is a list of addresses", fix: "check it with equals: [..] or contains:")
            }
            condition = try ScenarioValues.addressListCondition(m, at: v)
        default:
            for k in ["in", "contains"] where m[k] != nil {
                throw try m.required(k).error("\(field.rawValue) is a duration", fix: "check it with equals: 1h or ge:/le:")
            }
            var bounds = try ScenarioValues.comparisons(m, unit: .duration)
            if let e = m["equals"] { bounds.append(Comparison(.eq, try ScenarioValues.quantity(e, unit: .duration))) }
            guard !bounds.isEmpty else { throw v.error("no condition given for \(field.rawValue)", fix: "write equals: 1h, or ge:/le: bounds") }
            condition = .compare(bounds)
        }
        return DHCPFieldCheck(field, condition)
    }
}
