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
