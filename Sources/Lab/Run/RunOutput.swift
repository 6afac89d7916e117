// What a backend's run hands back, whatever ran it: the observations the expectations are
// checked against, and what the reports show. `LabRun.record` is the one place that turns it
// into a report's run.
import Basics

/// What one run produced, for the evaluator and the reports.
struct RunOutput {
    var observations: RunObservations
    var actions: [ActionReport]
    var counters: [CounterTable]
    var captures: [CaptureFile]
    var log: [String]
    /// How long the timeline ran: simulated time on sim, monotonic time on the real backends.
    var duration: Duration
}

extension LabRun {
    /// A run of `scenario` on `backend` with `seed`, nothing recorded yet.
    init(_ scenario: Scenario, seed: UInt64, backend: LabBackend) {
        self.init(scenarioName: scenario.name, scenarioFile: scenario.file, description: scenario.description,
                  seed: seed, backend: backend.rawValue)
        topology = ReportTopology(scenario)
    }

    /// Evaluates `scenario`'s expectations against `output` and keeps what the reports show.
    mutating func record(_ output: RunOutput, of scenario: Scenario) {
        outcomes = scenario.evaluate(output.observations)
        actions = output.actions
        counters = output.counters
        captures = output.captures
        log = output.log
        simulatedDuration = output.duration
        recordReportDetails(scenario, observations: output.observations)
    }
}
