// Report room (layer 6, Lab): a bound an expectation puts on an action's measured value
// (`rtt.avg: { le: 20ms }`), kept with the run so the action's chart can draw it as a line, green
// when it held and red when it did not.

/// One comparison of an action expectation, in the metric's base unit.
public struct MetricBound: Equatable, Sendable {
    /// The action's `as:` name.
    public var action: String
    /// The metric as written ("rtt.avg", "throughput").
    public var metric: String
    /// "≤", "≥", "<", ">", "=", "≠".
    public var symbol: String
    /// Nanoseconds for durations, bits per second for rates, a plain number for counts.
    public var value: Double
    /// How the bound reads in the report ("≤ 20ms").
    public var text: String
    /// Whether the measured value met it.
    public var passed: Bool

    public init(action: String, metric: String, symbol: String, value: Double, text: String, passed: Bool) {
        self.action = action; self.metric = metric; self.symbol = symbol; self.value = value; self.text = text; self.passed = passed
    }
}

extension LabRun {
    /// What the reports draw beyond the verdicts: the bounds of `scenario`'s action expectations
    /// (after `outcomes` are known) and the ladders of the captures in `observations`.
    mutating func recordReportDetails(_ scenario: Scenario, observations: RunObservations) {
        let topology = self.topology ?? ReportTopology(scenario)
        self.topology = topology
        bounds = []
        for e in scenario.expectations {
            guard case .action(let a) = e.kind else { continue }
            let outcome = outcomes.first { $0.index == e.index }
            for check in a.checks {
                guard case .compare(let list) = check.condition else { continue }
                let measured = outcome?.checks.first { $0.subject == check.metric.rawValue }?.value
                for c in list {
                    let held = measured.map { c.op.holds($0, c.value) } ?? false
                    bounds.append(MetricBound(action: a.action, metric: check.metric.rawValue, symbol: c.op.symbol, value: c.value,
                                              text: "\(check.metric.rawValue) \(c.op.symbol) \(Format.value(c.value, unit: check.metric.unit))", passed: held))
                }
            }
        }
        ladders = LadderDiagram.ladders(captures: scenario.captures, records: observations.captures, start: observations.start, topology: topology)
    }
}
