// `sluice bench sim`: the simulator at growing topologies (the generated ScaleScenario at N
// hosts), measured as a user runs it — parse, build, run, evaluate — with the simulated events,
// the wall time of each part, and the growth of resident memory. The CLI prints the table and the
// growth exponent (the log-log slope of wall time against hosts: 1 is linear). Its TCP row
// (`SimBenchmark.tcp`) is one bulk transfer between two simulated hosts through a bridge, as
// simulated TCP bits delivered per wall second of the event loop.
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

    /// User + system CPU time of the process so far, seconds (getrusage).
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// The process's peak resident set so far, in kB (getrusage).
    static func maxRSSKB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }
}

/// The TCP row of `sluice bench sim`.
public struct SimTCPBenchmarkResult: Sendable {
    /// Bytes the receiver took in order, and the simulated time the transfer took.
    public var bytesDelivered: UInt64
    public var simulatedSeconds: Double
    /// Wall time of the event loop, the CPU time (user + system) the process spent in it, and
    /// the events it ran. On a machine shared with other work the CPU time is the fairer measure.
    public var runSeconds: Double
    public var cpuSeconds: Double
    public var events: Int
    /// Whether every byte arrived (the scenario's expectation).
    public var completed: Bool
    /// Simulated TCP goodput per wall second of the event loop.
    public var bitsPerWallSecond: Double { Double(bytesDelivered) * 8 / max(runSeconds, 1e-9) }
    /// The same per CPU second.
    public var bitsPerCPUSecond: Double { Double(bytesDelivered) * 8 / max(cpuSeconds, 1e-9) }
}

extension SimBenchmark {
    /// The scenario of the TCP row: `bytes` of CUBIC from one host to another through a bridge,
    /// over 10 Gbit/s cables with 1 ms of delay each (a 4 ms RTT; the windows, not the cables, bound it).
    public static func tcpScenarioText(bytes: UInt64) -> String {
        """
        name: bench-tcp
        description: One bulk TCP transfer between two simulated hosts, for `sluice bench sim`'s TCP row.
        seed: 1
        duration: 3600s
        nodes:
          br0: { kind: bridge }
          tx: { kind: host, attach: br0, address: 10.0.0.10/24 }
          rx: { kind: host, attach: br0, address: 10.0.0.11/24 }
        links:
          - { between: [tx, br0], rate: 10gbit, delay: 1ms }
          - { between: [rx, br0], rate: 10gbit, delay: 1ms }
        timeline:
          - { at: 0s, do: tcp, node: tx, to: rx, bytes: \(bytes), congestion: cubic, as: bulk }
        expect:
          - { action: bulk, completed: true }

        """
    }

    /// Runs the TCP row: `bytes` (1 … 10 GB) from one simulated host to another.
    public static func tcp(bytes: UInt64, directory: String) throws -> SimTCPBenchmarkResult {
        let clock = ContinuousClock()
        let scenario = try Scenario.parse(tcpScenarioText(bytes: bytes), file: "\(directory)/bench-tcp.yml")
        let topology = try SimTopology(scenario, seed: scenario.seed, captureDirectory: "\(directory)/captures-tcp")
        let began = clock.now
        let cpuBefore = cpuSeconds()
        var ranAt = began, cpuAfter = cpuBefore
        let output = try SimScenarioRun(scenario, topology: topology).run { ranAt = clock.now; cpuAfter = cpuSeconds() }
        var run = LabRun(scenario, seed: scenario.seed, backend: .sim)
        run.record(output, of: scenario)
        var delivered: UInt64 = 0, simulated = 0.0
        if case .tcp(let r)? = run.actions.first?.result {
            delivered = r.bytesReceived
            simulated = Double((r.endedAt - r.startedAt).nanosecondsClamped) / 1e9
        }
        return SimTCPBenchmarkResult(bytesDelivered: delivered, simulatedSeconds: simulated, runSeconds: (ranAt - began).seconds,
                                     cpuSeconds: cpuAfter - cpuBefore, events: topology.simulation.eventCount, completed: run.outcomes.allSatisfy(\.passed))
    }
}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
