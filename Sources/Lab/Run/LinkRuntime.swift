// A scenario link carried by Sim's link model — on sim in virtual time, on netns on the real
// clock — and what the timeline does to it: impairments set when it is built, cut and restored
// (link-down, link-up), patched (impair), and its counters for the report. The wiring of a link's
// ends to bridges and hosts is the backend's.
import Basics
import Capture
import Sim

/// Captures on a link's wire: every frame put on it, in both directions, at its send time.
final class LinkTaps {
    var taps: [CaptureTap] = []
    func record(_ frame: UnsafeRawBufferPointer, at now: Instant) {
        for tap in taps { tap.record(frame: frame, at: now) }
    }
}

/// A scenario link and the Sim directions carrying its forward and reverse traffic.
struct LinkRuntime {
    let spec: ScenarioLink
    let forward: Sim.LinkDirection
    let reverse: Sim.LinkDirection
    /// The Lab impairments in force, per direction (what `impair` patches).
    private(set) var forwardImpairments: LinkImpairments
    private(set) var reverseImpairments: LinkImpairments
    /// Captures of the link's wire (bridge-to-bridge and WAN links; recorded on sim only so far).
    var taps: LinkTaps

    /// The link as the file sets it up: its impairments in force and up or down as `initiallyUp` says.
    init(spec: ScenarioLink, forward: Sim.LinkDirection, reverse: Sim.LinkDirection, taps: LinkTaps = LinkTaps()) {
        self.spec = spec; self.forward = forward; self.reverse = reverse; self.taps = taps
        forwardImpairments = spec.forward
        reverseImpairments = spec.reverse
        forward.impairments = forwardImpairments.simulated
        reverse.impairments = reverseImpairments.simulated
        forward.isUp = spec.initiallyUp
        reverse.isUp = spec.initiallyUp
    }

    /// Cuts or restores both directions.
    func setUp(_ up: Bool) {
        forward.isUp = up
        reverse.isUp = up
    }

    /// Applies an `impair` entry's patch to the directions it names, from now on.
    mutating func impair(_ action: ImpairAction) {
        if action.direction != .reverse {
            forwardImpairments = action.patch.applied(to: forwardImpairments)
            forward.impairments = forwardImpairments.simulated
        }
        if action.direction != .forward {
            reverseImpairments = action.patch.applied(to: reverseImpairments)
            reverse.impairments = reverseImpairments.simulated
        }
    }

    /// Each direction's counters ("uplink forward", "uplink reverse").
    var counterTables: [CounterTable] {
        [("forward", forward), ("reverse", reverse)].map { side, d in
            let c = d.counters
            let rows: [CounterTable.Row] = [.init("sent", c.sent), .init("delivered", c.delivered), .init("lost", c.lost),
                                            .init("duplicated", c.duplicated), .init("reordered", c.reordered), .init("corrupted", c.corrupted),
                                            .init("queue drops", c.queueDrops), .init("mtu drops", c.mtuDrops), .init("down drops", c.downDrops)]
            return CounterTable(title: "\(spec.displayName) \(side)", rows: rows)
        }
    }
}

/// A topology whose links are `LinkRuntime`s (sim, netns): what link-down, link-up and impair
/// entries change.
protocol LinkModelTopology: AnyObject {
    /// The scenario's links, in file order (an entry names a link by its index).
    var links: [LinkRuntime] { get }
    func setLink(_ index: Int, up: Bool)
    func impair(_ action: ImpairAction)
}

extension LinkModelTopology {
    /// Carries out a link-down, link-up or impair entry named `name`, telling `note` what changed
    /// (the run log's line); any other action is left alone.
    func change(_ action: TimelineAction, entry name: String, note: (String) -> Void) {
        switch action {
        case .linkDown(let l):
            note("\(name): \(links[l].spec.displayName) down")
            setLink(l, up: false)
        case .linkUp(let l):
            note("\(name): \(links[l].spec.displayName) up")
            setLink(l, up: true)
        case .impair(let a):
            impair(a)
            let l = links[a.link]
            note("\(name): \(l.spec.displayName) now forward: \(l.forwardImpairments.summary); reverse: \(l.reverseImpairments.summary)")
        default:
            break
        }
    }
}

extension LinkImpairments {
    /// The Sim link model's equivalent.
    var simulated: Sim.LinkImpairments {
        var s = Sim.LinkImpairments()
        s.delay = delay
        s.jitter = jitter == .zero ? .none : .uniform(jitter)
        switch loss {
        case .none: s.loss = .none
        case .random(let p): s.loss = .random(p)
        case .gilbertElliott(let g):
            s.loss = .gilbertElliott(goodToBad: g.p, badToGood: g.r, lossInGood: 1 - g.k, lossInBad: 1 - g.h)
        }
        s.duplicate = duplicate
        s.reorder = reorder
        s.corrupt = corrupt
        if let rate {
            s.rate = RateLimit(bitsPerSecond: Saturating.uint64(max(rate, 1)), queueLimit: .packets(queue ?? 1000))
        }
        s.mtu = mtu
        return s
    }
}
