// The `netns` backend: a scenario run for real, in real time. Hosts are Linux network
// namespaces (real kernels: ARP, ICMP, busybox udhcpc, iputils ping, iperf3) whose eth0 is a TAP
// device; the bridges are the real Engine in this process, and the cables between them Sim's
// link model on the real clock (NetnsTopology). The same expectations are then checked against
// the pcaps the bridges wrote, exactly as on sim. Needs root (namespaces, TAP devices).
//
// Nothing may be left behind: namespaces are deleted on every way out (errors, and SIGINT,
// SIGTERM or SIGHUP, which are held while a run is on — InterruptGuard), and namespaces of
// earlier runs killed outright are removed when the next one starts.
import Basics
import Foundation

/// Runs scenarios with network namespaces as hosts.
public enum NetnsBackend {
    /// Why this machine cannot run the backend (not root, a tool missing), or nil if it can.
    public static func unavailableReason(needsIPerf3: Bool = false) -> String? {
        guard getuid() == 0 else { return "the netns backend needs root (network namespaces and TAP devices)" }
        var tools = ["ip", "busybox", "ping"]
        if needsIPerf3 { tools.append("iperf3") }
        let missing = tools.filter { Subprocess.executable($0) == nil }
        guard missing.isEmpty else {
            return "missing \(missing.joined(separator: ", ")); install iproute2, busybox, iputils-ping and iperf3"
        }
        guard FileManager.default.isReadableFile(atPath: "/dev/net/tun") else { return "no /dev/net/tun (TAP devices)" }
        return nil
    }

    /// Runs `scenario` with `seed` (it seeds the link models), writing its captures under
    /// `captureDirectory`, and evaluates its expectations. Never throws: a run that cannot start
    /// or breaks off is an `.error` run.
    public static func run(_ scenario: Scenario, seed: UInt64, captureDirectory: String) -> LabRun {
        let clock = ContinuousClock()
        let began = clock.now
        var run = LabRun(scenario, seed: seed, backend: .netns)
        let usesUDP = scenario.timeline.contains {
            switch $0.action { case .udp, .tcp: return true; default: return false }
        }
        if let why = unavailableReason(needsIPerf3: usesUDP) {
            run.status = .error(why)
            return run
        }
        let interrupt = InterruptGuard()
        defer { interrupt.finish() }          // last: after the topology is down
        var setupLog: [String] = []
        let stale = NetworkNamespace.removeStale()
        if !stale.isEmpty { setupLog.append("removed namespaces left by killed runs: \(stale.joined(separator: ", "))") }
        do {
            let topology = try NetnsTopology(scenario, seed: seed, captureDirectory: captureDirectory) { setupLog.append($0) }
            defer { topology.close() }
            let output = try NetnsScenarioRun(scenario, topology: topology, interrupt: interrupt).run()
            run.record(output, of: scenario)
            run.log = setupLog.map { "setup: \($0)" } + output.log
        } catch {
            run.status = .error("\(error)")
            run.log = setupLog.map { "setup: \($0)" }
        }
        run.wallTime = clock.now - began
        return run
    }
}
