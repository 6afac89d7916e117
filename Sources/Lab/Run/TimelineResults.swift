// A run's timeline results gathered the same way on every backend: the named entries' results
// (and why the others have none) for the expectations, and one line per entry for the reports.
import Basics

/// The results of one run's timeline, as the expectations and the reports take them.
struct TimelineResults {
    /// Results of the named entries that produced one.
    var named: [String: ActionResult] = [:]
    /// Why each other named entry has no result.
    var notRun: [String: String] = [:]
    /// Every entry, in file order, with its result.
    var actions: [ActionReport] = []

    /// Goes through `scenario`'s timeline in file order, asking each entry's `result` once, and
    /// `whyNotRun` for a named entry without one. The report's action column is the entry's
    /// summary followed by `annotation` (a backend's word on how it ran the entry).
    init(_ scenario: Scenario, result: (TimelineEntry) -> ActionResult?, whyNotRun: (TimelineEntry) -> String,
         annotation: (TimelineEntry) -> String = { _ in "" }) {
        for entry in scenario.timeline {
            let result = result(entry)
            if let name = entry.name {
                if let result { named[name] = result } else { notRun[name] = whyNotRun(entry) }
            }
            actions.append(ActionReport(name: entry.displayName, kind: entry.action.kind, node: entry.action.node,
                                        description: entry.summary(links: scenario.links) + annotation(entry), result: result))
        }
    }
}
