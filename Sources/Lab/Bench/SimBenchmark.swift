// `sluice bench sim`: the simulator at growing topologies (the generated ScaleScenario at N
// hosts), measured as a user runs it — parse, build, run, evaluate — with the simulated events,
// the wall time of each part, and the growth of resident memory. The CLI prints the table and the
// growth exponent (the log-log slope of wall time against hosts: 1 is linear).
import Basics
import Foundation
import Sim

/// One size of `sluice bench sim`.
public struct SimBenchmarkResult: Sendable {
    public var hosts: Int
    /// Events the simulation ran.
    public var events: Int
    /// Simulated time.
    public var simulatedSeconds: Double
    /// Wall time to parse the scenario, build the topology, run it and evaluate its expectations.
    public var wallSeconds: Double
    /// Wall time of the event loop alone.
    public var runSeconds: Double
    /// Wall time to parse, to build the topology, and to finish (results, log, counters) and evaluate.
    public var parseSeconds: Double, buildSeconds: Double, finishSeconds: Double
    /// Growth of the process's peak resident set during this size (kB; 0 when an earlier, larger
    /// run had already reached it: run the sizes in increasing order).
    public var maxRSSGrowthKB: Int
    /// Expectations passed and in all.
    public var passed: Int, expectations: Int

    public var eventsPerSecond: Double { Double(events) / max(runSeconds, 1e-9) }
    public var simulatedPerWallSecond: Double { simulatedSeconds / max(wallSeconds, 1e-9) }
}

public enum SimBenchmark {
    /// Runs the generated scenario for `hosts` hosts (`duration` simulated seconds), writing
    /// captures under `directory`.
    public static func run(hosts: Int, duration: Int = 10, directory: String) throws -> SimBenchmarkResult {
        let clock = ContinuousClock()
        let rssBefore = maxRSSKB()
        let began = clock.now
        let scenario = try Scenario.parse(ScaleScenario.text(hosts: hosts, duration: duration), file: "\(directory)/scale-\(hosts).yml")
        let parsed = clock.now
        let topology = try SimTopology(scenario, seed: scenario.seed, captureDirectory: "\(directory)/captures-\(hosts)")
        let runBegan = clock.now
        var ranAt = runBegan
        let output = try SimScenarioRun(scenario, topology: topology).run { ranAt = clock.now }
        let runTime = ranAt - runBegan
        var run = LabRun(scenario, seed: scenario.seed, backend: .sim)
        run.record(output, of: scenario)
        let wall = clock.now - began
        return SimBenchmarkResult(hosts: hosts, events: topology.simulation.eventCount,
                                  simulatedSeconds: Double((topology.simulation.now - .zero).nanosecondsClamped) / 1e9,
                                  wallSeconds: wall.seconds, runSeconds: runTime.seconds,
                                  parseSeconds: (parsed - began).seconds, buildSeconds: (runBegan - parsed).seconds,
                                  finishSeconds: (clock.now - ranAt).seconds,
                                  maxRSSGrowthKB: maxRSSKB() - rssBefore,
                                  passed: run.outcomes.filter(\.passed).count, expectations: run.outcomes.count)
    }

    /// The least-squares slope of log(wall time) against log(hosts): the growth exponent.
    public static func growthExponent(_ results: [SimBenchmarkResult]) -> Double? {
        let points = results.filter { $0.wallSeconds > 0 }.map { (log(Double($0.hosts)), log($0.wallSeconds)) }
        guard points.count >= 2 else { return nil }
        let mx = points.map(\.0).reduce(0, +) / Double(points.count), my = points.map(\.1).reduce(0, +) / Double(points.count)
        let sxx = points.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
        guard sxx > 0 else { return nil }
        return points.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +) / sxx
    }

    /// The process's peak resident set so far, in kB (getrusage).
    static func maxRSSKB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }
}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
