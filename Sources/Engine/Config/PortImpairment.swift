// Impairments on a port of the real bridge (docs/config.md, `impair:`): the simulator's link model
// (Sim.LinkImpairments: delay, jitter, loss random or Gilbert–Elliott, duplicate, reorder,
// corrupt, rate with a bounded queue, MTU) and up/down, put on the cable between a port's device
// (a guest's virtio NIC, a TAP) and the bridge — per direction:
//
//   device ──ingress──▶ bridge switch        (guest transmit, TAP read)
//   device ◀──egress─── bridge switch        (guest receive, TAP write)
//
// The keys are the scenario file's link keys (docs/scenarios.md, Links): `delay`, `jitter`, `loss`
// (a probability, or `{p, r, h, k}` for Gilbert–Elliott), `duplicate`, `reorder`, `corrupt`, `rate`
// (or `unlimited`), `queue` (frames waiting for the rate), `mtu`, `up`; `ingress:` / `egress:`
// sub-mappings set one direction (as a link's `forward:` / `reverse:` do). The same parser reads
// bridge.yml and the control socket's `impair PORT key=value…` (each pair becomes one YAML entry),
// applying the keys given to the impairments in force, so a live change patches them.
import Basics
import Sim
import YAMLSchema

/// The impairments of one port, both directions, and whether its cable is plugged in.
public struct PortImpairment: Equatable, Sendable {
    /// Frames from the port's device into the bridge.
    public var ingress = Sim.LinkImpairments()
    /// Frames from the bridge to the port's device.
    public var egress = Sim.LinkImpairments()
    /// false: the cable is cut (both directions drop everything, as a scenario's `link-down`).
    public var up = true

    /// A perfect cable.
    public init() {}

    public init(ingress: Sim.LinkImpairments, egress: Sim.LinkImpairments, up: Bool = true) {
        self.ingress = ingress; self.egress = egress; self.up = up
    }

    /// Whether it does nothing (the port then runs without the link model: `Bridge.impair` with
    /// this removes it).
    public var isNone: Bool { self == PortImpairment() }

    /// "ingress: delay 20ms loss 1%; egress: delay 20ms loss 1%" — tc-netem's words; "none".
    public var summary: String {
        if isNone { return "none" }
        let i = Self.summary(ingress), e = Self.summary(egress)
        let both = i == e ? "both: \(i)" : "ingress: \(i); egress: \(e)"
        return up ? both : both + "; down"
    }

    /// One direction in tc-netem's words ("delay 20ms jitter 5ms loss 1% rate 10mbit limit 100").
    public static func summary(_ d: Sim.LinkImpairments) -> String {
        var parts: [String] = []
        if d.delay != .zero { parts.append("delay \(ImpairmentText.duration(d.delay))") }
        switch d.jitter {
        case .none: break
        case .uniform(let j): parts.append("jitter \(ImpairmentText.duration(j))")
        case .normal(let j): parts.append("jitter \(ImpairmentText.duration(j)) normal")
        }
        switch d.loss {
        case .none: break
        case .random(let p): parts.append("loss \(ImpairmentText.percent(p))")
        case .gilbertElliott(let p, let r, let lossInGood, let lossInBad):
            parts.append("loss gemodel p \(ImpairmentText.percent(p)) r \(ImpairmentText.percent(r)) h \(ImpairmentText.percent(1 - lossInBad)) k \(ImpairmentText.percent(1 - lossInGood))")
        }
        if d.duplicate > 0 { parts.append("duplicate \(ImpairmentText.percent(d.duplicate))") }
        if d.reorder > 0 { parts.append("reorder \(ImpairmentText.percent(d.reorder))") }
        if d.corrupt > 0 { parts.append("corrupt \(ImpairmentText.percent(d.corrupt))") }
        if let r = d.rate {
            parts.append("rate \(ImpairmentText.bitRate(r.bitsPerSecond))")
            if case .packets(let n) = r.queueLimit, n != 1000 { parts.append("limit \(n)") }
        }
        if let m = d.mtu { parts.append("mtu \(m)") }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }
}

// MARK: Parsing

extension PortImpairment {
    /// The keys of one direction (the scenario file's link keys).
    public static let directionKeys = ["delay", "jitter", "loss", "duplicate", "reorder", "corrupt", "rate", "queue", "mtu"]
    /// Every key of `impair:`.
    public static let keys = directionKeys + ["up", "ingress", "egress"]

    /// bridge.yml's `impair:` mapping, applied to a perfect cable.
    public static func parse(_ value: YAMLValue) throws(ConfigError) -> PortImpairment {
        var p = PortImpairment()
        try p.apply(value)
        return p
    }

    /// Applies the keys written in `value` (an `impair:` mapping) to these impairments: what is
    /// not written stays as it is.
    public mutating func apply(_ value: YAMLValue) throws(ConfigError) {
        let m = try value.mapping(allowed: Self.keys)
        try Self.apply(m, to: &ingress)
        try Self.apply(m, to: &egress)
        if let v = m["ingress"] { try Self.apply(try v.mapping(allowed: Self.directionKeys), to: &ingress) }
        if let v = m["egress"] { try Self.apply(try v.mapping(allowed: Self.directionKeys), to: &egress) }
        if let v = m["up"] { up = try v.bool() }
    }

    /// The control socket's form: `key=value` words (`delay=20ms loss=1%`, `egress.rate=10mbit`,
    /// `loss.p=1% loss.r=25%` for Gilbert–Elliott, `up=false`), or the single word `clear` for a
    /// perfect cable. A word that is not key=value is named in the error; a bad value gets the
    /// file's message for that key.
    public mutating func apply(words: [String]) throws(ConfigError) {
        if words == ["clear"] { self = PortImpairment(); return }
        guard !words.isEmpty else {
            throw ConfigError(file: "impair", line: 1, column: 1, message: "no impairments given",
                              fix: "give key=value words, e.g. delay=20ms loss=1% rate=10mbit, or 'clear'")
        }
        // Dotted keys nest: `egress.delay=5ms` → `egress: {delay: 5ms}`, `loss.p=1%` → `loss: {p: 1%}`.
        let tree = WordTree()
        for word in words {
            guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
                throw ConfigError(file: "impair", line: 1, column: 1, message: "'\(word)' is not key=value",
                                  fix: "write e.g. delay=20ms (keys: \(Self.keys.joined(separator: ", ")))")
            }
            let path = word[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let value = String(word[word.index(after: eq)...])
            guard !value.isEmpty, !value.contains(where: { "\n{}[],:#&*!|>'\"@`".contains($0) }),
                  path.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } }) else {
                throw ConfigError(file: "impair", line: 1, column: 1, message: "'\(word)' is not key=value",
                                  fix: "write e.g. delay=20ms, egress.rate=10mbit or loss.p=1% loss.r=25%")
            }
            tree.insert(path[...], value)
        }
        let root = try YAMLValue.parse(tree.yaml, file: "impair")
        var changed = self
        try changed.apply(root)
        self = changed
    }

    /// Applies one direction's keys of `m`.
    static func apply(_ m: YAMLMapping, to d: inout Sim.LinkImpairments) throws(ConfigError) {
        if let v = m["delay"] { d.delay = try v.duration() }
        if let v = m["jitter"] {
            let j = try v.duration()
            d.jitter = j == .zero ? .none : .uniform(j)
        }
        if let v = m["loss"] {
            if case .mapping = v.node {
                let g = try v.mapping(allowed: ["p", "r", "h", "k"])
                let p = try g.required("p", example: "1%").fraction(), r = try g.required("r", example: "25%").fraction()
                let h = try g["h"]?.fraction() ?? 0, k = try g["k"]?.fraction() ?? 1
                d.loss = .gilbertElliott(goodToBad: p, badToGood: r, lossInGood: 1 - k, lossInBad: 1 - h)
            } else {
                let f = try v.fraction()
                d.loss = f == 0 ? .none : .random(f)
            }
        }
        if let v = m["duplicate"] { d.duplicate = try v.fraction() }
        if let v = m["reorder"] { d.reorder = try v.fraction() }
        if let v = m["corrupt"] { d.corrupt = try v.fraction() }
        if let v = m["rate"] {
            if try v.scalar().lowercased() == "unlimited" { d.rate = nil } else {
                let bits = try bitRate(v)
                d.rate = RateLimit(bitsPerSecond: bits, queueLimit: d.rate?.queueLimit ?? .packets(1000))
            }
        }
        if let v = m["queue"] {
            let q = try v.int(in: 1...1_000_000)
            guard var r = d.rate else {
                throw v.error("queue: without a rate", fix: "add rate: (e.g. rate: 10mbit); the queue holds frames waiting for it")
            }
            r.queueLimit = .packets(q)
            d.rate = r
        }
        if let v = m["mtu"] {
            if try v.scalar().lowercased() == "none" { d.mtu = nil } else { d.mtu = try v.int(in: 68...65535) }
        }
    }

    /// "100mbit", "1gbit", "512kbit", "9600bit" (decimal multiples, as tc writes them), at most
    /// 100 tbit/s, in bits per second.
    static func bitRate(_ v: YAMLValue) throws(ConfigError) -> UInt64 {
        let s = try v.scalar()
        let lower = String(s.lowercased().filter { $0 != " " })
        let units: [(String, Double)] = [("tbit", 1e12), ("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)]
        for (suffix, scale) in units where lower.hasSuffix(suffix) {
            guard let number = Double(lower.dropLast(suffix.count)), number.isFinite, number > 0 else { break }
            let bits = number * scale
            guard bits >= 1, bits <= 1e14 else { throw v.error("'\(s)' is out of range", fix: "use 1bit … 100tbit") }
            return UInt64(bits)
        }
        if lower.hasSuffix("bps") {
            throw v.error("'\(s)' is ambiguous", fix: "write the rate in bits: 100mbit, 1gbit, 512kbit (tc reads 'mbps' as megabytes per second)")
        }
        throw v.error("'\(s)' is not a bit rate", fix: "write a number and a unit: bit, kbit, mbit, gbit (e.g. 100mbit), or unlimited")
    }
}

/// `key=value` words as a YAML flow mapping, nested at the dots.
final class WordTree {
    var entries: [(key: String, value: String?, child: WordTree?)] = []

    func insert(_ path: ArraySlice<String>, _ value: String) {
        guard let key = path.first else { return }
        if path.count == 1 { entries.append((key, value, nil)); return }
        if let i = entries.firstIndex(where: { $0.key == key && $0.child != nil }) {
            entries[i].child!.insert(path.dropFirst(), value)
        } else {
            let child = WordTree()
            child.insert(path.dropFirst(), value)
            entries.append((key, nil, child))
        }
    }

    var yaml: String {
        "{" + entries.map { e in "\(e.key): \(e.child?.yaml ?? e.value ?? "")" }.joined(separator: ", ") + "}"
    }
}

/// Numbers as the summaries print them (no Foundation in the Engine).
enum ImpairmentText {
    /// "20ms", "1.5s", "250us".
    static func duration(_ d: Duration) -> String {
        let ns = d.nanosecondsClamped
        if ns == 0 { return "0s" }
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1_000 == 0 { return "\(ns / 1_000)us" }
        return "\(ns)ns"
    }

    /// "1%", "0.5%", "12.25%".
    static func percent(_ p: Double) -> String {
        let hundredths = Int((p * 10_000).rounded())
        let whole = hundredths / 100, fraction = hundredths % 100
        if fraction == 0 { return "\(whole)%" }
        return fraction % 10 == 0 ? "\(whole).\(fraction / 10)%" : "\(whole).\(fraction < 10 ? "0" : "")\(fraction)%"
    }

    /// "10mbit", "1500kbit", "1gbit".
    static func bitRate(_ bits: UInt64) -> String {
        for (unit, scale) in [("tbit", UInt64(1_000_000_000_000)), ("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000)]
        where bits >= scale && bits % scale == 0 {
            return "\(bits / scale)\(unit)"
        }
        return "\(bits)bit"
    }
}
