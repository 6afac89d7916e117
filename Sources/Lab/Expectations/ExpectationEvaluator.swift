// Expectations checked against what a run observed. Pure: captures (arrays of CaptureRecord) and
// action results in, outcomes out; the same observations always give the same outcomes. A
// failure names the frames (Wireshark's frame numbers, times since the run started) or the
// probes that broke it.
import Basics
import Capture
import HostStack
import Wire

extension Scenario {
    /// Checks every expectation of the scenario against `observations`, in file order.
    public func evaluate(_ observations: RunObservations) -> [ExpectationOutcome] {
        let evaluator = ExpectationEvaluator(observations: observations)
        return expectations.map { evaluator.evaluate($0) }
    }
}

/// Checks expectations against one run's observations; compiled filters are reused across them.
public final class ExpectationEvaluator {
    public let observations: RunObservations
    /// Compiled filters by expression (looked up, never iterated).
    private var filters: [String: BPFFilter] = [:]
    /// How many frames or probes a failure message lists before "and N more".
    public var listLimit = 10

    public init(observations: RunObservations) { self.observations = observations }

    /// The verdict on one expectation.
    public func evaluate(_ expectation: ScenarioExpectation) -> ExpectationOutcome {
        var outcome = ExpectationOutcome(name: expectation.name, index: expectation.index, location: expectation.location,
                                         passed: false, message: "")
        let verdict: Verdict
        switch expectation.kind {
        case .action(let a): verdict = evaluate(a)
        case .capture(let c): verdict = evaluate(c)
        case .dhcp(let d): verdict = evaluate(d)
        }
        outcome.passed = verdict.passed
        outcome.message = verdict.message
        outcome.frames = verdict.passed ? [] : verdict.frames
        outcome.checks = verdict.checks
        return outcome
    }

    struct Verdict {
        var passed: Bool
        var message: String
        var frames: [FrameReference] = []
        /// The measured values and their bounds (for the failure summary).
        var checks: [CheckResult] = []
    }

    // MARK: Shared helpers

    func filter(_ expression: String) -> BPFFilter? {
        if let f = filters[expression] { return f }
        guard let f = try? BPFFilter(expression) else { return nil }
        filters[expression] = f
        return f
    }

    /// A capture's frames inside `window` and matching `expression`, with their positions.
    func frames(of capture: String, filter expression: String?, window: TimeWindow) -> Result<[(index: Int, record: CaptureRecord)], FailureText> {
        guard let records = observations.captures[capture] else {
            return .failure(FailureText("capture '\(capture)' was not taken in this run"))
        }
        var compiled: BPFFilter?
        if let expression {
            guard let f = filter(expression) else { return .failure(FailureText("filter \"\(expression)\" does not compile")) }
            compiled = f
        }
        var out: [(Int, CaptureRecord)] = []
        for (i, r) in records.enumerated() where window.contains(r.time - observations.start) {
            if let compiled, !compiled.matches(r) { continue }
            out.append((i, r))
        }
        return .success(out)
    }

    struct FailureText: Error { var text: String; init(_ t: String) { text = t } }

    func reference(_ capture: String, _ index: Int, _ record: CaptureRecord) -> FrameReference {
        FrameReference(capture: capture, index: index, time: Instant(nanoseconds: record.time.nanoseconds &- observations.start.nanoseconds))
    }

    func listing(_ items: [String]) -> String {
        guard items.count > listLimit else { return items.joined(separator: ", ") }
        return items.prefix(listLimit).joined(separator: ", ") + " and \(items.count - listLimit) more"
    }

    func frameList(_ refs: [FrameReference]) -> String { listing(refs.map(\.description)) }

    static func describe(_ expression: String?) -> String { expression.map { "'\($0)'" } ?? "frames" }

    // MARK: Values against conditions

    enum Measured {
        case number(Double)
        case address(IPv4Address)
        case list([IPv4Address])
        /// No value (no replies, no lease); the text says why.
        case missing(String)
    }

    /// Whether `value` meets `condition`, and the value as text.
    static func check(_ value: Measured, _ condition: Condition, unit: ValueUnit) -> (ok: Bool, actual: String) {
        switch (value, condition) {
        case (.missing(let why), _): return (false, why)
        case (.number(let v), .compare(let list)): return (list.allSatisfy { $0.op.holds(v, $0.value) }, Format.value(v, unit: unit))
        case (.number(let v), .isTrue(let b)): return ((v != 0) == b, v != 0 ? "true" : "false")
        case (.address(let a), .equalsAddress(let e)): return (a == e, a.description)
        case (.address(let a), .within(let set)): return (set.contains(a), a.description)
        case (.list(let l), .equalsList(let e)): return (l == e, "[\(l.map(\.description).joined(separator: ", "))]")
        case (.list(let l), .contains(let a)): return (l.contains(a), "[\(l.map(\.description).joined(separator: ", "))]")
        case (.list(let l), .equalsAddress(let e)): return (l.first == e, l.first?.description ?? "none")
        case (.list(let l), .within(let set)): return (l.first.map(set.contains) ?? false, l.first?.description ?? "none")
        default: return (false, "a value of another kind")
        }
    }

    // MARK: Action results

    func evaluate(_ e: ActionExpectation) -> Verdict {
        guard let result = observations.results[e.action] else {
            let why = observations.notRun[e.action] ?? "its at:/after: was not reached before the run ended"
            let checks = e.checks.map {
                CheckResult(subject: $0.metric.rawValue, measured: "no result", bound: ScenarioValues.describe($0.condition, unit: $0.metric.unit), passed: false)
            }
            return Verdict(passed: false, message: "'\(e.action)' has no result: it never started (\(why))", checks: checks)
        }
        var failures: [String] = []
        var passes: [String] = []
        var checks: [CheckResult] = []
        for c in e.checks {
            let value = measure(c.metric, of: result)
            let (ok, actual) = Self.check(value, c.condition, unit: c.metric.unit)
            let expected = ScenarioValues.describe(c.condition, unit: c.metric.unit)
            var number: Double?
            if case .number(let v) = value { number = v }
            checks.append(CheckResult(subject: c.metric.rawValue, measured: actual, bound: expected, passed: ok, value: number))
            if ok {
                passes.append("\(c.metric.rawValue) \(actual)")
            } else {
                var line = "\(c.metric.rawValue) \(actual), expected \(expected)"
                if let detail = culprits(c, result) { line += " — \(detail)" }
                failures.append(line)
            }
        }
        if failures.isEmpty { return Verdict(passed: true, message: passes.joined(separator: "; "), checks: checks) }
        return Verdict(passed: false, message: failures.joined(separator: "; ") + " [\(result.summary)]", checks: checks)
    }

    func measure(_ metric: ActionMetric, of result: ActionResult) -> Measured {
        func duration(_ d: Duration?, _ why: String) -> Measured { d.map { .number(Double($0.nanosecondsClamped)) } ?? .missing(why) }
        switch result {
        case .ping(let r):
            let p = r.result
            let none = "no replies"
            switch metric {
            case .sent: return .number(Double(p.sent))
            case .received: return .number(Double(p.received))
            case .loss: return .number(p.loss)
            case .duplicates: return .number(Double(p.duplicates))
            case .errors: return .number(Double(p.errors.count))
            case .late: return .number(Double(p.lateReplies))
            case .rttMin: return duration(p.minimum, none)
            case .rttAvg: return duration(p.average, none)
            case .rttMax: return duration(p.maximum, none)
            case .rttMdev: return duration(p.meanDeviation, none)
            default: break
            }
        case .dhcp(let r):
            let none = "never bound (client \(r.finalState) at the end)"
            switch metric {
            case .bound: return .number(r.lease != nil ? 1 : 0)
            case .lease: return r.lease.map { .address($0.address.address) } ?? .missing(none)
            case .leaseTime:
                guard let lease = r.lease else { return .missing(none) }
                return lease.leaseTime.map { .number(Double($0.nanosecondsClamped)) } ?? .number(.infinity)
            case .router: return r.lease.map { .list($0.routers) } ?? .missing(none)
            case .dns: return r.lease.map { .list($0.dnsServers) } ?? .missing(none)
            case .time: return duration(r.boundAt.map { $0 - r.startedAt }, "never bound (client \(r.finalState))")
            default: break
            }
        case .udp(let r):
            let none = "nothing received"
            switch metric {
            case .sent: return .number(Double(r.sender.sent))
            case .received: return .number(Double(r.received))
            case .lost: return .number(Double(r.lost))
            case .loss: return .number(r.loss)
            case .duplicates: return .number(Double(r.receiver?.duplicates ?? 0))
            case .reordered: return .number(Double(r.receiver?.outOfOrder ?? 0))
            case .throughput: return r.receiver?.throughputBitsPerSecond.map { .number($0) } ?? .missing(none)
            case .latencyMin: return duration(r.receiver?.minimumLatency, none)
            case .latencyAvg: return duration(r.receiver?.averageLatency, none)
            case .latencyMax: return duration(r.receiver?.maximumLatency, none)
            default: break
            }
        case .tcp(let r):
            let none = "no RTT sample (the connection never carried data)"
            switch metric {
            case .throughput: return r.throughputBitsPerSecond.map { .number($0) } ?? .missing("the flow ran for no time")
            case .retransmissions: return .number(Double(r.retransmissions))
            case .rttMin: return duration(r.rttMinimum, none)
            case .rttAvg: return duration(r.rttAverage, none)
            case .rttMax: return duration(r.rttMaximum, none)
            case .completed: return .number(r.completed ? 1 : 0)
            case .time: return duration(r.finishedAt.map { $0 - r.startedAt }, "not completed by the end of the run")
            default: break
            }
        case .replay(let r):
            if metric == .frames { return .number(Double(r.frames)) }
        case .done:
            break
        }
        return .missing("\(metric.rawValue) is not measured for this action")
    }

    /// The probes behind a failed ping check, or what the DHCP client went through.
    func culprits(_ c: MetricCheck, _ result: ActionResult) -> String? {
        switch result {
        case .ping(let r):
            let probes = r.result.probes
            func sent(_ p: PingProbe) -> String { p.sentAt.map { "sent \(Format.time(Instant(nanoseconds: $0.nanoseconds &- observations.start.nanoseconds)))" } ?? "never sent" }
            switch c.metric {
            case .sent, .received, .loss:
                let missed = probes.filter { $0.roundTripTime == nil }.map { p -> String in
                    let what: String
                    switch p.outcome {
                    case .pending: what = "pending"
                    case .replied: what = "replied"
                    case .timedOut: what = "timed out"
                    case .error(let report): what = "\(report)"
                    case .notSent: what = "not sent"
                    }
                    return "seq \(p.sequence) \(what) (\(sent(p)))"
                }
                return missed.isEmpty ? nil : "unanswered probes: \(listing(missed))"
            case .rttMin, .rttAvg, .rttMax, .rttMdev:
                guard case .compare(let bounds) = c.condition else { return nil }
                var offending = probes.filter { p in
                    guard let rtt = p.roundTripTime else { return false }
                    return !bounds.allSatisfy { $0.op.holds(Double(rtt.nanosecondsClamped), $0.value) }
                }
                if c.metric == .rttAvg || c.metric == .rttMdev {
                    offending = probes.filter { $0.roundTripTime != nil }.sorted { ($0.roundTripTime!, $0.sequence) > ($1.roundTripTime!, $1.sequence) }
                    offending = Array(offending.prefix(3))
                }
                let items = offending.map { "seq \($0.sequence) rtt \(Format.duration($0.roundTripTime!)) (\(sent($0)))" }
                return items.isEmpty ? nil : (c.metric == .rttAvg || c.metric == .rttMdev ? "slowest: " : "probes out of bounds: ") + listing(items)
            case .duplicates:
                let items = probes.filter { $0.duplicates > 0 }.map { "seq \($0.sequence) ×\($0.duplicates + 1)" }
                return items.isEmpty ? nil : listing(items)
            case .errors:
                return r.result.errors.isEmpty ? nil : listing(r.result.errors.map { "\($0)" })
            default: return nil
            }
        case .dhcp(let r):
            let events = r.events.map { "\($0)" }
            return events.isEmpty ? nil : "client events: \(listing(events))"
        default:
            return nil
        }
    }

    // MARK: Captures

    func evaluate(_ e: CaptureExpectation) -> Verdict {
        let selected: [(index: Int, record: CaptureRecord)]
        switch frames(of: e.capture, filter: e.filter, window: e.window) {
        case .failure(let f): return Verdict(passed: false, message: f.text)
        case .success(let s): selected = s
        }
        let what = Self.describe(e.filter)
        let refs = selected.map { reference(e.capture, $0.index, $0.record) }
        switch e.check {
        case .count(let bounds):
            let n = Double(selected.count)
            let expected = Format.comparisons(bounds, unit: .count)
            let ok = bounds.allSatisfy { $0.op.holds(n, $0.value) }
            let checks = [CheckResult(subject: "\(what) in '\(e.capture)'", measured: "\(selected.count)", bound: expected, passed: ok)]
            if ok {
                return Verdict(passed: true, message: "\(selected.count) \(what) matched (\(expected))", checks: checks)
            }
            // Too many: the frames past the largest count allowed broke it. Too few: show what there was.
            let ceiling = bounds.compactMap { b -> Int? in
                switch b.op { case .le, .eq: Saturating.int(b.value); case .lt: Saturating.int(b.value) &- 1; default: nil }
            }.min()
            if let ceiling, selected.count > ceiling {
                let extra = Array(refs.dropFirst(max(ceiling, 0)))
                return Verdict(passed: false, message: "\(selected.count) \(what) matched in '\(e.capture)', expected \(expected); beyond the limit: \(frameList(extra))",
                               frames: extra, checks: checks)
            }
            let seen = refs.isEmpty ? "none" : frameList(refs)
            return Verdict(passed: false, message: "only \(selected.count) \(what) matched in '\(e.capture)', expected \(expected); matched: \(seen)",
                           frames: refs, checks: checks)
        case .absent:
            let checks = [CheckResult(subject: "\(what) in '\(e.capture)'", measured: "\(refs.count)", bound: "none", passed: refs.isEmpty)]
            if refs.isEmpty { return Verdict(passed: true, message: "no \(what) in '\(e.capture)'", checks: checks) }
            return Verdict(passed: false, message: "\(refs.count) \(what) present in '\(e.capture)', expected none: \(frameList(refs))", frames: refs,
                           checks: checks)
        case .sequence(let steps):
            return sequence(steps, in: selected, capture: e.capture)
        case .latency(let l):
            return latency(l, in: selected, capture: e.capture)
        }
    }

    /// Frames matching each step, in order (a subsequence: other frames may come between).
    func sequence(_ steps: [String], in selected: [(index: Int, record: CaptureRecord)], capture: String) -> Verdict {
        var position = 0
        var matched: [(String, FrameReference)] = []
        for step in steps {
            guard let f = filter(step) else { return Verdict(passed: false, message: "filter \"\(step)\" does not compile") }
            guard let hit = selected[position...].firstIndex(where: { f.matches($0.record) }) else {
                let done = matched.map { "'\($0.0)' at \($0.1)" }
                let earlier = selected[..<position].filter { f.matches($0.record) }.map { reference(capture, $0.index, $0.record) }
                var message = "sequence broken in '\(capture)' at step \(matched.count + 1): no frame matching '\(step)'"
                if let last = matched.last { message += " after \(last.1)" }
                if !done.isEmpty { message += "; matched so far: \(listing(done))" }
                if !earlier.isEmpty { message += "; '\(step)' occurs only earlier: \(frameList(earlier))" }
                let check = CheckResult(subject: "steps in order in '\(capture)'", measured: "\(matched.count)", bound: "= \(steps.count)", passed: false)
                return Verdict(passed: false, message: message, frames: (matched.last.map { [$0.1] } ?? []) + earlier, checks: [check])
            }
            matched.append((step, reference(capture, selected[hit].index, selected[hit].record)))
            position = hit + 1
        }
        let check = CheckResult(subject: "steps in order in '\(capture)'", measured: "\(matched.count)", bound: "= \(steps.count)", passed: true)
        return Verdict(passed: true, message: "in order: " + matched.map { "'\($0.0)' at \($0.1)" }.joined(separator: ", "), checks: [check])
    }

    /// Pairs each request with the first later response of the same key, then checks each pair's
    /// latency and the number of pairs.
    func latency(_ l: LatencyCheck, in selected: [(index: Int, record: CaptureRecord)], capture: String) -> Verdict {
        guard let request = filter(l.request), let response = filter(l.response) else {
            return Verdict(passed: false, message: "a latency filter does not compile")
        }
        let key: (CaptureRecord) -> UInt64?
        switch l.pairBy {
        case .icmpSequence: key = FrameDecoding.icmpEchoKey
        case .dhcpTransaction: key = FrameDecoding.dhcpTransactionKey
        }
        var waiting: [(key: UInt64, position: Int)] = []  // requests not yet answered, oldest first
        var pairs: [(request: FrameReference, response: FrameReference, latency: Duration)] = []
        var unanswered = 0
        for (position, item) in selected.enumerated() {
            // A frame can be a response to an earlier request and a request itself; responses first.
            if response.matches(item.record), let k = key(item.record), let w = waiting.firstIndex(where: { $0.key == k }) {
                let req = selected[waiting[w].position]
                pairs.append((reference(capture, req.index, req.record), reference(capture, item.index, item.record), item.record.time - req.record.time))
                waiting.remove(at: w)
                continue
            }
            if request.matches(item.record), let k = key(item.record) { waiting.append((k, position)) }
        }
        unanswered = waiting.count
        let bad = pairs.filter { p in !l.bounds.allSatisfy { $0.op.holds(Double(p.latency.nanosecondsClamped), $0.value) } }
        let pairCountOK = l.pairs.allSatisfy { $0.op.holds(Double(pairs.count), $0.value) }
        let latencies = pairs.map(\.latency)
        var stats = "\(pairs.count) pairs by \(l.pairBy.rawValue)"
        if let mn = latencies.min(), let mx = latencies.max() {
            let avg = Duration.nanoseconds(latencies.reduce(Int64(0)) { $0 + $1.nanosecondsClamped } / Int64(latencies.count))
            stats += ", latency min/avg/max \(Format.duration(mn))/\(Format.duration(avg))/\(Format.duration(mx))"
        }
        if unanswered > 0 { stats += ", \(unanswered) requests unanswered" }
        var checks = [CheckResult(subject: "pairs", measured: "\(pairs.count)", bound: l.pairs.isEmpty ? "any" : Format.comparisons(l.pairs, unit: .count), passed: pairCountOK)]
        if !l.bounds.isEmpty {
            checks.append(CheckResult(subject: "latency (worst pair)", measured: latencies.max().map { Format.duration($0) } ?? "no pairs",
                                      bound: Format.comparisons(l.bounds, unit: .duration), passed: bad.isEmpty))
        }
        if bad.isEmpty && pairCountOK { return Verdict(passed: true, message: stats, checks: checks) }
        var problems: [String] = []
        if !pairCountOK { problems.append("\(pairs.count) pairs, expected \(Format.comparisons(l.pairs, unit: .count))") }
        if !bad.isEmpty {
            let items = bad.map { "request \($0.request) → response frame \($0.response.number) at \(Format.time($0.response.time)): \(Format.duration($0.latency))" }
            problems.append("\(bad.count) pairs outside \(Format.comparisons(l.bounds, unit: .duration)): \(listing(items))")
        }
        let frames = bad.flatMap { [$0.request, $0.response] }
        return Verdict(passed: false, message: problems.joined(separator: "; ") + " [\(stats)]", frames: frames, checks: checks)
    }

    // MARK: DHCP messages

    func evaluate(_ e: DHCPMessageExpectation) -> Verdict {
        let selected: [(index: Int, record: CaptureRecord)]
        switch frames(of: e.capture, filter: e.filter, window: e.window) {
        case .failure(let f): return Verdict(passed: false, message: f.text)
        case .success(let s): selected = s
        }
        var seenTypes: [DHCPMessageType] = []
        var matched: [(FrameReference, DHCPMessage)] = []
        for item in selected {
            guard let message = FrameDecoding.dhcpMessage(item.record), let type = message.messageType else { continue }
            if !seenTypes.contains(type) { seenTypes.append(type) }
            guard type == e.message else { continue }
            if let mac = e.clientMAC, message.clientMAC != mac { continue }
            matched.append((reference(e.capture, item.index, item.record), message))
        }
        let whose = e.client.map { " for \($0)" } ?? ""
        var passes: [String] = []
        var failures: [String] = []
        var frames: [FrameReference] = []
        var checks: [CheckResult] = []
        if let bounds = e.count {
            let n = Double(matched.count)
            let expected = Format.comparisons(bounds, unit: .count)
            let refs = matched.map(\.0)
            let ok = bounds.allSatisfy { $0.op.holds(n, $0.value) }
            checks.append(CheckResult(subject: "\(e.message)\(whose)", measured: "\(matched.count)", bound: expected, passed: ok))
            if ok {
                passes.append("\(matched.count) \(e.message)\(whose) (\(expected))")
            } else {
                let list = refs.isEmpty ? "none" : frameList(refs)
                failures.append("\(matched.count) \(e.message)\(whose) in '\(e.capture)', expected \(expected): \(list)")
                frames += refs
            }
        }
        if let check = e.field {
            if matched.isEmpty {
                if e.count == nil {
                    checks.append(CheckResult(subject: "\(e.message)\(whose)", measured: "0", bound: "≥ 1", passed: false))
                    let seen = seenTypes.isEmpty ? "no DHCP messages at all" : "DHCP messages seen: \(seenTypes.sorted().map(\.description).joined(separator: ", "))"
                    failures.append("no \(e.message)\(whose) in '\(e.capture)' (\(selected.count) frames considered; \(seen))")
                }
            } else {
                var values: [String] = []
                var bad: [(FrameReference, String)] = []
                for (ref, message) in matched {
                    let (ok, actual) = Self.check(Self.field(check.field, of: message), check.condition, unit: check.field.unit)
                    if !values.contains(actual) { values.append(actual) }
                    if !ok { bad.append((ref, actual)) }
                }
                checks.append(CheckResult(subject: "\(e.message)\(whose) \(check.field.rawValue)", measured: values.joined(separator: ", "),
                                          bound: ScenarioValues.describe(check.condition, unit: check.field.unit), passed: bad.isEmpty))
                if bad.isEmpty {
                    passes.append("\(matched.count) \(e.message)\(whose): \(check.field.rawValue) \(values.joined(separator: ", "))")
                } else {
                    let expected = ScenarioValues.describe(check.condition, unit: check.field.unit)
                    let items = bad.map { "\($0.0): \(check.field.rawValue) \($0.1)" }
                    failures.append("\(bad.count) of \(matched.count) \(e.message)\(whose) in '\(e.capture)' have \(check.field.rawValue) not \(expected): \(listing(items))")
                    frames += bad.map(\.0)
                }
            }
        }
        if failures.isEmpty { return Verdict(passed: true, message: passes.joined(separator: "; "), checks: checks) }
        return Verdict(passed: false, message: failures.joined(separator: "; "), frames: frames, checks: checks)
    }

    static func field(_ field: DHCPField, of m: DHCPMessage) -> Measured {
        func seconds(_ s: UInt32?, _ name: String) -> Measured {
            guard let s else { return .missing("no \(name) option") }
            return .number(s == DHCP.infiniteLeaseTime ? .infinity : Double(s) * 1e9)
        }
        switch field {
        case .yiaddr: return .address(m.yiaddr)
        case .ciaddr: return .address(m.ciaddr)
        case .siaddr: return .address(m.siaddr)
        case .giaddr: return .address(m.giaddr)
        case .leaseTime: return seconds(m.options.leaseTime, "lease time (51)")
        case .renewalTime: return seconds(m.options.renewalTime, "renewal time (58)")
        case .rebindingTime: return seconds(m.options.rebindingTime, "rebinding time (59)")
        case .router: return m.options.routers.map { .list($0) } ?? .missing("no router option (3)")
        case .dns: return m.options.domainNameServers.map { .list($0) } ?? .missing("no DNS option (6)")
        case .serverID: return m.options.serverIdentifier.map { .address($0) } ?? .missing("no server identifier (54)")
        case .subnetMask: return m.options.subnetMask.map { .address($0) } ?? .missing("no subnet mask (1)")
        }
    }
}
