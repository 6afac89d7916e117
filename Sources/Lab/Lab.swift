// Room: Lab — layer 4 (above Engine). Scenario files (model and parser), the backends that run
// them (the simulator today; netns and qemu later), the timeline, expectations checked against
// captures, and reports (JUnit XML, Markdown, HTML with inline SVG).
//
// Folders, one concept per file (docs/scenarios.md is the user's view of all of it):
//   Scenario/      the scenario model (Scenario, ScenarioNode, ScenarioLink, TimelineEntry,
//                  ScenarioExpectation), the located parser (ScenarioParser, ScenarioValues) and
//                  the per-backend capability table (LabBackend)
//   Expectations/  ActionResult (HostStack results as the lab sees them), FrameDecoding (Wire
//                  parsers for what BPF cannot reach), ExpectationEvaluator → ExpectationOutcome
//   Report/        LabRun, JUnitReport, MarkdownSummary, HTMLReport + SVGChart, ReportWriter
//   SimBackend/    the `sim` backend: SimTopology (Engine bridges, SimulatedGuests, Sim links,
//                  capture taps), SimScenarioRun (the timeline), SimBackend (run + evaluate)
//   LabRunner      `sluice lab run`: load every file, run the selected ones, write the report
// Time inside a run is the simulation's; the wall clock is read only to report how long a run took.
