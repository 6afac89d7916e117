// Room: Lab — layer 6 (above Engine and BridgeDaemon). Scenario files (model and parser), the
// backends that run them (sim, netns, qemu), the timeline, expectations checked against captures,
// and reports (JUnit XML, Markdown, HTML with inline SVG).
//
// Folders, one concept per file (docs/scenarios.md is the user's view of all of it):
//   Scenario/      the scenario model (Scenario, ScenarioNode, ScenarioLink, TimelineEntry,
//                  ScenarioExpectation), the located parser (ScenarioParser, ScenarioValues) and
//                  the per-backend capability table (LabBackend)
//   Expectations/  ActionResult (HostStack results as the lab sees them), FrameDecoding (Wire
//                  parsers for what BPF cannot reach), ExpectationEvaluator → ExpectationOutcome
//   Report/        LabRun, JUnitReport, MarkdownSummary, HTMLReport + SVGChart, ReportWriter
//   Run/           what every backend's run shares: TimelineProgress (entry states, `after:`),
//                  TimelineResults and RunOutput (results, report lines, LabRun.record),
//                  TrafficEndpoints (ping/flow targets), ReplaySchedule and ReplayingRun (a
//                  replay entry's steps), CaptureRuntime and CapturedFrames, LinkRuntime (Sim's
//                  link model under link-down/up and impair), BridgeCounters, Saturating
//                  (outside numbers converted without trapping)
//   Replay/        `sluice replay` beyond one port (docs/replay.md): ReplayRequest (options →
//                  entries), ReplaySplit (client/server sides), ReplayRewrite (MACs, address
//                  maps), ReplayFrameView, ReplayOutcome (summary by reason, WAN input)
//   SimBackend/    the `sim` backend: SimTopology (Engine bridges, SimulatedGuests, Sim links,
//                  capture taps), SimScenarioRun (the timeline), SimBackend (run + evaluate)
//   NetnsBackend/  the `netns` backend: NetworkNamespace, Subprocess (posix_spawn, clean signal
//                  state), InterruptGuard, NetnsTopology (Engine bridges, TAP ports, Sim's link model
//                  on the real clock), NetnsScenarioRun (the timeline in real time), and what real
//                  tools print: PingOutput, UDHCPClient, IPerf3Report
//   QEMUBackend/   the `qemu` backend: QEMUGuestPlan (the timeline as kernel-command-line commands),
//                  QEMUScenarioRun (BridgeDaemon + QEMU test guests), QEMUBackend
//   Bench/         TunnelBenchmark: `sluice bench tunnel` (iperf3 through sluice wg up and wireguard-go
//                  between two namespaces, by MTU); ScaleScenario (N hosts on N/100 bridges) and
//                  SimBenchmark: `sluice bench sim`
//   LabRunner      `sluice lab run`: load every file, run the selected ones, write the report
// On sim, time inside a run is the simulation's; the wall clock is read only to report how long a
// run took. The real backends run on the monotonic clock and stamp captures with wall-clock time.
