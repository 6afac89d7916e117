// One scenario run as the reports see it: what ran (scenario, seed, backend), how long it took,
// the verdicts, each action's result (for RTT and throughput charts), counters and captures.
import Basics

/// How a run ended.
public enum RunStatus: Sendable, Equatable {
    /// The timeline ran to the scenario's duration; `outcomes` say what held.
    case completed
    /// Not run: the scenario does not list the backend, or the filter excluded it.
    case skipped(String)
    /// The run could not start or broke off (a bad file, a backend error); the text says why.
    case error(String)
}

/// A named timeline action and what it produced (nil: it never started).
public struct ActionReport: Sendable {
    /// The `as:` name, or "timeline[3] (ping)".
    public var name: String
    public var kind: ActionKind
    /// The host performing it, if any.
    public var node: String?
    /// "ping vm1 → vm2, 20 × 200ms" and similar.
    public var description: String
    public var result: ActionResult?

    public init(name: String, kind: ActionKind, node: String?, description: String, result: ActionResult?) {
        self.name = name; self.kind = kind; self.node = node; self.description = description; self.result = result
    }
}

/// A titled list of counters ("vm1", "br0 port vm1").
public struct CounterTable: Sendable {
    public struct Row: Sendable, Equatable {
        public var name: String
        public var value: Int
        public init(_ name: String, _ value: Int) { self.name = name; self.value = value }
    }
    public var title: String
    public var rows: [Row]
    public init(title: String, rows: [Row]) { self.title = title; self.rows = rows }
}

/// A capture written during the run.
public struct CaptureFile: Sendable {
    public var name: String
    /// Where the frames were seen ("br0.lan").
    public var at: String
    public var filter: String?
    /// The pcap's path (anywhere; the writer copies it into the report if it is outside).
    public var path: String
    public var frames: Int

    public init(name: String, at: String, filter: String?, path: String, frames: Int) {
        self.name = name; self.at = at; self.filter = filter; self.path = path; self.frames = frames
    }
}

/// Everything the reports say about one scenario run.
public struct LabRun: Sendable {
    public var scenarioName: String
    public var scenarioFile: String
    public var description: String?
    public var seed: UInt64
    public var backend: String
    public var status: RunStatus
    /// Virtual time simulated (or real time run, on real backends).
    public var simulatedDuration: Duration
    /// Wall-clock time the run took.
    public var wallTime: Duration
    public var outcomes: [ExpectationOutcome]
    public var actions: [ActionReport]
    public var counters: [CounterTable]
    public var captures: [CaptureFile]
    /// What happened, one line each ("0.000000s vm1 DHCP INIT → SELECTING").
    public var log: [String]
    /// The scenario's network, for the topology diagram (nil when the file did not load).
    public var topology: ReportTopology?
    /// Ladder diagrams drawn from the captures (LadderDiagram.swift).
    public var ladders: [LadderDiagram] = []
    /// Bounds of action expectations, drawn on the actions' charts.
    public var bounds: [MetricBound] = []

    public init(scenarioName: String, scenarioFile: String, description: String? = nil, seed: UInt64, backend: String,
                status: RunStatus = .completed, simulatedDuration: Duration = .zero, wallTime: Duration = .zero,
                outcomes: [ExpectationOutcome] = [], actions: [ActionReport] = [], counters: [CounterTable] = [],
                captures: [CaptureFile] = [], log: [String] = []) {
        self.scenarioName = scenarioName; self.scenarioFile = scenarioFile; self.description = description
        self.seed = seed; self.backend = backend; self.status = status
        self.simulatedDuration = simulatedDuration; self.wallTime = wallTime; self.outcomes = outcomes
        self.actions = actions; self.counters = counters; self.captures = captures; self.log = log
    }

    /// Expectations that failed.
    public var failures: [ExpectationOutcome] { outcomes.filter { !$0.passed } }

    /// Completed with every expectation met.
    public var passed: Bool { status == .completed && failures.isEmpty }

    /// "passed", "failed (2 of 7)", "skipped", "error".
    public var verdict: String {
        switch status {
        case .skipped: return "skipped"
        case .error: return "error"
        case .completed: return failures.isEmpty ? "passed" : "failed (\(failures.count) of \(outcomes.count))"
        }
    }

    /// A name safe for file paths ("routed-ping-under-loss").
    public var slug: String { Markup.slug(scenarioName) }
}

// MARK: The run file

/// What a report's run.json keeps of an action's result: its start, its one-line summary and its
/// charts as drawn (SVG markup, bounds included), so a merged report shows them unchanged.
/// `ActionResult.recorded` carries it when a run is read back.
public struct RecordedActionResult: Sendable, Equatable, Codable {
    public var startedAtNanoseconds: UInt64
    public var summary: String
    public var chart: String?
    public var startedAt: Instant { Instant(nanoseconds: startedAtNanoseconds) }
    public init(startedAt: Instant, summary: String, chart: String? = nil) {
        startedAtNanoseconds = startedAt.nanoseconds; self.summary = summary; self.chart = chart
    }
}

/// LabRun in run.json: every field the reports print, in plain JSON (durations and instants as
/// nanoseconds). Action results are kept as `RecordedActionResult`; capture paths are written as
/// given and resolved by whoever reads the file (`LabRunFile.read`).
extension LabRun: Codable {
    private enum Keys: String, CodingKey {
        case scenarioName, scenarioFile, description, seed, backend, status, statusReason
        case simulatedNanoseconds, wallNanoseconds, outcomes, actions, counters, captures, log
        case topology, ladders, bounds
    }
    private struct Location: Codable { var file: String; var line: Int; var column: Int }
    private struct Frame: Codable { var capture: String; var index: Int; var timeNanoseconds: UInt64 }
    private struct Outcome: Codable {
        var name: String; var index: Int; var location: Location; var passed: Bool; var message: String; var frames: [Frame]
        var checks: [CheckResult]
    }
    private struct Action: Codable {
        var name: String; var kind: String; var node: String?; var description: String; var result: RecordedActionResult?
    }
    private struct Row: Codable { var name: String; var value: Int }
    private struct Table: Codable { var title: String; var rows: [Row] }
    private struct Capture: Codable { var name: String; var at: String; var filter: String?; var path: String; var frames: Int }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(scenarioName, forKey: .scenarioName)
        try c.encode(scenarioFile, forKey: .scenarioFile)
        try c.encodeIfPresent(description, forKey: .description)
        try c.encode(seed, forKey: .seed)
        try c.encode(backend, forKey: .backend)
        switch status {
        case .completed: try c.encode("completed", forKey: .status)
        case .skipped(let why): try c.encode("skipped", forKey: .status); try c.encode(why, forKey: .statusReason)
        case .error(let why): try c.encode("error", forKey: .status); try c.encode(why, forKey: .statusReason)
        }
        try c.encode(simulatedDuration.nanosecondsClamped, forKey: .simulatedNanoseconds)
        try c.encode(wallTime.nanosecondsClamped, forKey: .wallNanoseconds)
        try c.encode(outcomes.map { o in
            Outcome(name: o.name, index: o.index, location: Location(file: o.location.file, line: o.location.line, column: o.location.column),
                    passed: o.passed, message: o.message,
                    frames: o.frames.map { Frame(capture: $0.capture, index: $0.index, timeNanoseconds: $0.time.nanoseconds) },
                    checks: o.checks)
        }, forKey: .outcomes)
        try c.encode(actions.map { a in
            Action(name: a.name, kind: a.kind.rawValue, node: a.node, description: a.description,
                   result: a.result.map { RecordedActionResult(startedAt: $0.startedAt, summary: $0.summary,
                                                               chart: HTMLReport.chart(a, bounds: bounds.filter { $0.action == a.name })) })
        }, forKey: .actions)
        try c.encode(counters.map { Table(title: $0.title, rows: $0.rows.map { Row(name: $0.name, value: $0.value) }) }, forKey: .counters)
        try c.encode(captures.map { Capture(name: $0.name, at: $0.at, filter: $0.filter, path: $0.path, frames: $0.frames) }, forKey: .captures)
        try c.encode(log, forKey: .log)
        try c.encodeIfPresent(topology, forKey: .topology)
        try c.encode(ladders, forKey: .ladders)
        try c.encode(bounds, forKey: .bounds)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let status: RunStatus
        switch try c.decode(String.self, forKey: .status) {
        case "completed": status = .completed
        case "skipped": status = .skipped(try c.decode(String.self, forKey: .statusReason))
        case "error": status = .error(try c.decode(String.self, forKey: .statusReason))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .status, in: c, debugDescription: "unknown status '\(other)'")
        }
        var actions: [ActionReport] = []
        for a in try c.decode([Action].self, forKey: .actions) {
            guard let kind = ActionKind(rawValue: a.kind) else {
                throw DecodingError.dataCorruptedError(forKey: .actions, in: c, debugDescription: "unknown action kind '\(a.kind)'")
            }
            actions.append(ActionReport(name: a.name, kind: kind, node: a.node, description: a.description,
                                        result: a.result.map { ActionResult.recorded($0) }))
        }
        self.init(
            scenarioName: try c.decode(String.self, forKey: .scenarioName),
            scenarioFile: try c.decode(String.self, forKey: .scenarioFile),
            description: try c.decodeIfPresent(String.self, forKey: .description),
            seed: try c.decode(UInt64.self, forKey: .seed),
            backend: try c.decode(String.self, forKey: .backend),
            status: status,
            simulatedDuration: .nanoseconds(try c.decode(Int64.self, forKey: .simulatedNanoseconds)),
            wallTime: .nanoseconds(try c.decode(Int64.self, forKey: .wallNanoseconds)),
            outcomes: try c.decode([Outcome].self, forKey: .outcomes).map { o in
                ExpectationOutcome(name: o.name, index: o.index,
                                   location: ScenarioLocation(file: o.location.file, line: o.location.line, column: o.location.column),
                                   passed: o.passed, message: o.message,
                                   frames: o.frames.map { FrameReference(capture: $0.capture, index: $0.index, time: Instant(nanoseconds: $0.timeNanoseconds)) },
                                   checks: o.checks)
            },
            actions: actions,
            counters: try c.decode([Table].self, forKey: .counters).map { CounterTable(title: $0.title, rows: $0.rows.map { .init($0.name, $0.value) }) },
            captures: try c.decode([Capture].self, forKey: .captures).map {
                CaptureFile(name: $0.name, at: $0.at, filter: $0.filter, path: $0.path, frames: $0.frames)
            },
            log: try c.decode([String].self, forKey: .log))
        topology = try c.decodeIfPresent(ReportTopology.self, forKey: .topology)
        ladders = try c.decode([LadderDiagram].self, forKey: .ladders)
        bounds = try c.decode([MetricBound].self, forKey: .bounds)
    }
}
