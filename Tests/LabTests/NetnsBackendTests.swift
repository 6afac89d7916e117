// The netns backend: scenarios that list `netns` run through LabRunner with network namespaces
// as hosts (root only; otherwise each test prints why it skips), and the parsers that turn
// ping, udhcpc and iperf3 output into the lab's result types.
import Basics
import Foundation
import HostStack
import Testing
import Wire
@testable import Lab

/// Why the netns tests cannot run here, printed as SKIPPED; nil when they can.
func netnsSkipReason(needsIPerf3: Bool = false) -> String? {
    NetnsBackend.unavailableReason(needsIPerf3: needsIPerf3)
}

/// The namespaces this process has now (none may outlive a run).
func ownNamespaces() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
    return names.filter { $0.hasPrefix("sl\(getpid())-") }.sorted()
}

/// Runs the scenario files on `backend` through LabRunner and checks the common promises: it
/// passed, left nothing behind, and its report names the backend.
@discardableResult
func runScenarios(_ names: [String], backend: String, tag: String) -> LabRunSummary {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(backend)-\(tag)-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: base) }
    var progress: [String] = []
    let summary = LabRunner.run(files: names.map { repositoryRoot + "/scenarios/" + $0 }, seed: nil, filter: nil, backend: backend,
                                reportDirectory: base) { progress.append($0) }
    for run in summary.runs {
        print("\(backend) \(run.scenarioName): \(run.verdict) in \(Format.duration(run.wallTime))")
        if !run.passed {
            for line in run.log { print("  \(line)") }
            for f in run.failures { print("  ✘ \(f.name): \(f.message)") }
            if case .error(let why) = run.status { print("  error: \(why)") }
        }
    }
    let succeeded = summary.succeeded
    #expect(succeeded, "\(summary.line)\n\(progress.joined(separator: "\n"))")
    let backends = summary.runs.map(\.backend)
    #expect(backends.allSatisfy { $0 == backend })
    if let junit = try? String(contentsOfFile: base + "/junit.xml", encoding: .utf8) {
        #expect(junit.contains("name=\"backend\" value=\"\(backend)\""))
    } else {
        Issue.record("no junit.xml in \(base)")
    }
    if backend == "netns" {
        // Only this run's namespaces (one per node of these files): other netns tests of this process may be
        // running beside it with namespaces of their own.
        let nodes = names.compactMap { try? Scenario.load(path: repositoryRoot + "/scenarios/" + $0) }.flatMap(\.nodes)
        let mine = Set(nodes.map { NetworkNamespace.name(for: $0.name) })
        let left = ownNamespaces().filter(mine.contains)
        #expect(left.isEmpty, "namespaces left behind: \(left)")
    }
    // An independent reader agrees the captures are well-formed pcaps.
    if let tshark = findTshark() {
        for f in pcaps(under: base) {
            let read = try? runTool(tshark, ["-r", base + "/" + f])
            #expect(read?.status == 0, "tshark could not read \(f): \(read?.output ?? "")")
        }
    }
    return summary
}

/// The address of the handler installed for `signal` (0: SIG_DFL).
func handlerAddress(_ signal: Int32) -> Int {
    var action = sigaction()
    sigaction(signal, nil, &action)
    return unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
}

@Test func anInterruptGuardHoldsTerminationSignalsAndRestoresTheHandlers() {
    let before = handlerAddress(SIGHUP)
    let outer = InterruptGuard()
    let inner = InterruptGuard()          // runs in parallel share one installation
    kill(getpid(), SIGHUP)                // would end the test process if it were not held
    let deadline = Date().addingTimeInterval(5)
    while outer.caught == nil && Date() < deadline { usleep(1000) }
    #expect(outer.caught == SIGHUP && inner.caught == SIGHUP)
    caughtTerminationSignal.store(0, ordering: .relaxed)   // handled: nothing to raise again
    inner.finish()
    #expect(handlerAddress(SIGHUP) != before)  // still held for `outer`
    outer.finish()
    #expect(handlerAddress(SIGHUP) == before)
}

/// The runs on real backends, one at a time: a QEMU guest under TCG takes a core, which would
/// disturb the timing of a netns run beside it.
@Suite(.serialized) struct RealBackendRuns {}

extension RealBackendRuns { @Suite struct NetnsBackendRuns {
    @Test func scenariosForEveryBackendPassOnNetns() {
        if let why = netnsSkipReason() { print("SKIPPED netns runs: \(why)"); return }
        let summary = runScenarios(["dhcp-ping-neighbours.yml", "routed-ping-subnets.yml"], backend: "netns", tag: "all")
        #expect(summary.passed == 2)
        // The results are the real tools': a ping's round trips are measured, not modelled.
        let peer = summary.runs.first?.actions.first { $0.name == "peer" }?.result
        guard case .ping(let p)? = peer else { Issue.record("no ping result for 'peer'"); return }
        #expect(p.result.received == 5 && p.result.probes.allSatisfy { $0.sentAt != nil })
    }

    @Test func linkShapingAndAUDPFlowPassOnSimAndNetns() {
        runScenarios(["shaped-links.yml"], backend: "sim", tag: "shaped")
        if let why = netnsSkipReason(needsIPerf3: true) { print("SKIPPED netns shaped-links: \(why)"); return }
        let summary = runScenarios(["shaped-links.yml"], backend: "netns", tag: "shaped")
        // iperf3's counts became the flow's result; the link model's counters are in the report.
        let flow = summary.runs.first?.actions.first { $0.name == "flow" }?.result
        guard case .udp(let u)? = flow else { Issue.record("no udp result for 'flow'"); return }
        #expect(u.sender.sent > 5000 && u.received > 1000 && u.received < u.sender.sent)
        #expect(!u.throughput.isEmpty)
        // The bridge-to-rx direction of the downlink dropped the excess at its queue.
        let reverse = summary.runs.first?.counters.first { $0.title == "downlink reverse" }
        let drops = reverse?.rows.first { $0.name == "queue drops" }?.value ?? 0
        #expect(drops > 1000)
        print("netns flow: \(u.received)/\(u.sender.sent) received, \(Format.bitRate(u.receiver?.throughputBitsPerSecond ?? 0)); downlink queue drops \(drops)")
    }

    @Test func tcpLossPassesOnSimAndNetns() {
        runScenarios(["tcp-loss.yml"], backend: "sim", tag: "tcp")
        if let why = netnsSkipReason(needsIPerf3: true) { print("SKIPPED netns tcp-loss: \(why)"); return }
        let summary = runScenarios(["tcp-loss.yml"], backend: "netns", tag: "tcp")
        // Linux's TCP through iperf3: the kernel's retransmissions, RTTs and cwnd became the result.
        guard case .tcp(let reno)? = summary.runs.first?.actions.first(where: { $0.name == "reno" })?.result else {
            Issue.record("no tcp result for 'reno'"); return
        }
        #expect(reno.retransmissions > 0 && reno.rttMinimum ?? .zero >= .milliseconds(40))
        #expect(!reno.throughput.isEmpty && !reno.congestionWindow.isEmpty)
        print("netns tcp-loss: reno \(ActionResult.tcp(reno).summary)")
    }

    /// Every scenario that lists netns (about six minutes of real time): on request only.
    @Test func theWholeSuiteOnNetns() {
        guard ProcessInfo.processInfo.environment["SLUICE_NETNS_SUITE"] == "1" else {
            print("SKIPPED the whole scenario suite on netns: about six minutes of real time; set SLUICE_NETNS_SUITE=1 to run it")
            return
        }
        if let why = netnsSkipReason(needsIPerf3: true) { print("SKIPPED the whole suite on netns: \(why)"); return }
        let names = scenarioFiles().filter { (try? Scenario.load(path: $0))?.backends.contains(.netns) == true }
            .map { ($0 as NSString).lastPathComponent }
        #expect(names.count >= 12)  // scenarios with sim-exact timing stay sim only
        runScenarios(names, backend: "netns", tag: "suite")
    }
}
}
