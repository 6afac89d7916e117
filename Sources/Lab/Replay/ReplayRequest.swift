// Lab room, replay: what `sluice replay` was asked, checked against the scenario and turned into
// the scenario's replay entries — one, or one per side of a split capture (`--split` with
// `--into client=NODE --into server=NODE`). Every option is checked here, with a message that
// says how to write it, so the command and the tests build the same run.
import Capture
import Wire
import YAMLSchema

/// `sluice replay`'s options, before they are checked.
public struct ReplayRequest: Sendable {
    /// The pcap as given.
    public var pcap: String
    /// `NODE`, `bridge.segment`, `bridge.wan`, or with a split `client=…` and `server=…`.
    public var into: [String]
    public var split: String?
    public var rewriteMAC = false
    public var maps: [String] = []
    public var speed: Double?
    public var topspeed = false
    public var loop = 1
    public var maxGap: String?
    public var keepGaps = false
    /// When the replay starts in the run (`--at`, default 0s): after the topology has settled.
    public var at: String?

    public init(pcap: String, into: [String]) { self.pcap = pcap; self.into = into }

    /// The timeline's name of the entry playing `side` (nil: the whole capture).
    public static func entryName(_ side: ReplaySide?) -> String { side.map { "replay-\($0)" } ?? "replay" }

    /// What the options say without a scenario (each checked): the longest gap, the split, the maps.
    public func checkedOptions() throws(ReplayOptionError) -> (maxGap: Duration?, split: ReplaySplit?, maps: [ReplayAddressMap]) {
        if speed != nil && topspeed { throw ReplayOptionError("--speed and --topspeed both given", fix: "keep one") }
        if let speed, !ReplayAction.speedRange.contains(speed) {
            throw ReplayOptionError("--speed \(speed) is out of range", fix: "give a factor in \(ReplayAction.speedRangeText)")
        }
        guard (1...1_000_000).contains(loop) else { throw ReplayOptionError("--loop \(loop) is out of range", fix: "give 1...1000000") }
        var gap: Duration? = ReplayAction.defaultMaxGap
        if keepGaps {
            if maxGap != nil { throw ReplayOptionError("--keep-gaps and --max-gap both given", fix: "keep one") }
            gap = nil
        } else if let text = maxGap {
            guard let d = parseDuration(text) else {
                throw ReplayOptionError("--max-gap \(text) is not a duration up to \(YAMLValue.maximumDuration)", fix: "write e.g. 1s, 250ms or 2m")
            }
            gap = d
        }
        if let text = at, parseDuration(text) == nil {
            throw ReplayOptionError("--at \(text) is not a duration up to \(YAMLValue.maximumDuration)", fix: "write e.g. 1s or 500ms")
        }
        let split = try self.split.map { text throws(ReplayOptionError) in try ReplaySplit(parsing: text) }
        var maps: [ReplayAddressMap] = []
        for m in self.maps { maps.append(try ReplayAddressMap(parsing: m)) }
        return (gap, split, maps)
    }

    /// The replay entries for `scenario`, by name, in order (client first).
    public func actions(for scenario: Scenario) throws(ReplayOptionError) -> [(name: String, action: ReplayAction)] {
        let (gap, split, maps) = try checkedOptions()

        // Where each side goes.
        var targets: [(side: ReplaySide?, text: String)] = []
        for item in into {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                guard let side = ReplaySide(rawValue: parts[0]) else {
                    throw ReplayOptionError("--into \(item): '\(parts[0])' is not a side", fix: "write client=NODE or server=NODE")
                }
                guard split != nil else {
                    throw ReplayOptionError("--into \(item) names a side but the capture is not split", fix: "add --split auto (or cidr:…, mac:…)")
                }
                guard !targets.contains(where: { $0.side == side }) else {
                    throw ReplayOptionError("--into \(side)= given twice", fix: "one node per side")
                }
                targets.append((side, parts[1]))
            } else {
                guard split == nil else {
                    throw ReplayOptionError("--into \(item): with --split, say which side goes there", fix: "write --into client=\(item) and --into server=NODE")
                }
                targets.append((nil, item))
            }
        }
        guard !targets.isEmpty else { throw ReplayOptionError("no --into given", fix: "name the node the frames enter, e.g. --into br0") }
        guard split != nil || targets.count == 1 else {
            throw ReplayOptionError("--into given \(targets.count) times without --split", fix: "give one --into, or split the capture with --split auto")
        }
        targets.sort { ($0.side?.rawValue ?? "") < ($1.side?.rawValue ?? "") }

        var out: [(name: String, action: ReplayAction)] = []
        for (side, text) in targets {
            let target = try Self.target(text, in: scenario)
            var action = ReplayAction(pcap: pcap, path: pcap, into: target)
            action.loop = loop
            if topspeed { action.speed = .topSpeed } else if let speed { action.speed = .multiplier(speed) }
            action.maxGap = gap
            action.rewrite.split = split
            action.rewrite.side = side ?? .client
            action.rewrite.maps = maps
            if rewriteMAC { action.rewrite.destinationMAC = try Self.receiver(of: target, in: scenario) }
            out.append((Self.entryName(side), action))
        }
        return out
    }

    /// `NODE` (a host, or a bridge's first segment), `bridge.segment` or `bridge.wan`.
    static func target(_ text: String, in s: Scenario) throws(ReplayOptionError) -> ReplayTarget {
        let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
        let nodes = s.nodes.map(\.name).joined(separator: ", ")
        guard let name = parts.first, let node = s.node(named: name) else {
            throw ReplayOptionError("--into \(text): no node '\(parts.first ?? text)' in \(s.name)", fix: "name one of: \(nodes)")
        }
        if node.host != nil {
            guard parts.count == 1 else { throw ReplayOptionError("--into \(text): \(name) is a host", fix: "write --into \(name)") }
            return .host(name)
        }
        guard let bridge = node.bridge else { throw ReplayOptionError("--into \(text): \(name) takes no frames", fix: "name one of: \(nodes)") }
        let segments = bridge.segmentNames
        if parts.count == 2 && parts[1] == "wan" && !segments.contains("wan") {
            guard bridge.wan != nil else { throw ReplayOptionError("--into \(text): \(name) has no WAN", fix: "replay into one of its segments: \(segments.joined(separator: ", "))") }
            return .wan(name)
        }
        let segment = parts.count == 2 ? parts[1] : segments[0]
        guard segments.contains(segment) else {
            throw ReplayOptionError("--into \(text): \(name) has no segment '\(segment)'", fix: "it has: \(segments.joined(separator: ", "))\(bridge.wan != nil ? ", and \(name).wan" : "")")
        }
        return .bridge(BridgeSegment(bridge: name, segment: segment))
    }

    /// `--rewrite-mac`: who receives a side's unicast frames — the router of the segment they
    /// enter, or the host they are handed to. A WAN's datagrams carry no Ethernet header that matters.
    static func receiver(of target: ReplayTarget, in s: Scenario) throws(ReplayOptionError) -> MACAddress? {
        switch target {
        case .host(let h): return s.node(named: h)?.host?.mac
        case .wan: return nil
        case .bridge(let segment):
            guard let router = s.node(named: segment.bridge)?.bridge?.router,
                  let interface = router.interfaces.first(where: { $0.name == segment.segment }) else {
                throw ReplayOptionError("--rewrite-mac: \(segment) has no router to address frames to",
                                        fix: "replay into a segment with a router interface, or leave --rewrite-mac out")
            }
            return interface.mac
        }
    }

    /// `scenario` with the replay entries at `--at` (0s) in its timeline, its expectations left out, and a
    /// duration long enough for every pass at the chosen pace plus a second for answers (at most
    /// the longest run). Notes about the capture are returned for printing.
    public func scenario(_ s: Scenario, actions: [(name: String, action: ReplayAction)]) throws(CaptureError) -> (scenario: Scenario, notes: [String]) {
        var s = s
        let start = at.flatMap(parseDuration) ?? .zero  // checked by `actions(for:)`
        var notes: [String] = []
        var longest = Duration.zero
        for (name, action) in actions {
            let plan = try ReplaySchedule(action)
            if let clamped = plan.timing.outOfOrderNote { notes.append("\(name): \(clamped)") }
            if let cut = plan.timing.gapNote(maxGap: action.maxGap) { notes.append("\(name): \(cut)") }
            let pass: Duration
            switch action.speed {
            case .topSpeed: pass = .milliseconds(1)
            case .multiplier(let x): pass = ReplayTiming.passLength(span: plan.timing.span, speed: x)
            }
            longest = max(longest, pass)
        }
        s.duration = max(s.duration, min(start + longest * loop + .seconds(1), ReplayTiming.longestPass))
        s.expectations = []
        for (name, action) in actions {
            s.timeline.append(TimelineEntry(index: s.timeline.count, name: name, trigger: .at(start), action: .replay(action),
                                            location: ScenarioLocation(file: "(command line)", line: 0, column: 0)))
        }
        return (s, notes)
    }
}
