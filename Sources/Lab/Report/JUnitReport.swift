// JUnit XML for CI: one <testsuite> per scenario run, one <testcase> per expectation, the seed
// and backend as properties (docs/scenarios.md), failure messages naming the frames that broke them.
// Follows the de-facto schema Jenkins, GitLab and GitHub reporters read.

/// Renders runs as a JUnit XML document.
public enum JUnitReport {
    public static func xml(_ runs: [LabRun], name: String = "sluice lab") -> String {
        let tests = runs.reduce(0) { $0 + cases(of: $1) }
        let failures = runs.reduce(0) { $0 + ($1.status == .completed ? $1.failures.count : 0) }
        let errors = runs.count { if case .error = $0.status { return true }; return false }
        let skipped = runs.count { if case .skipped = $0.status { return true }; return false }
        let time = runs.reduce(0.0) { $0 + seconds($1.wallTime) }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"\(Markup.xml(name))\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\" time=\"\(Format.number(time))\">\n"
        for run in runs { x += suite(run) }
        x += "</testsuites>\n"
        return x
    }

    static func seconds(_ d: Duration) -> Double { Double(d.nanosecondsClamped) / 1e9 }

    static func cases(of run: LabRun) -> Int {
        run.status == .completed ? run.outcomes.count : 1
    }

    static func suite(_ run: LabRun) -> String {
        let name = Markup.xml(run.scenarioName)
        var failures = 0, errors = 0, skipped = 0
        switch run.status {
        case .completed: failures = run.failures.count
        case .error: errors = 1
        case .skipped: skipped = 1
        }
        var x = "  <testsuite name=\"\(name)\" file=\"\(Markup.xml(run.scenarioFile))\" tests=\"\(cases(of: run))\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\" time=\"\(Format.number(seconds(run.wallTime)))\">\n"
        x += "    <properties>\n"
        let properties: [(String, String)] = [
            ("seed", String(run.seed)),
            ("backend", run.backend),
            ("simulated-duration", Format.duration(run.simulatedDuration)),
            ("scenario-file", run.scenarioFile),
        ]
        for (k, v) in properties { x += "      <property name=\"\(k)\" value=\"\(Markup.xml(v))\"/>\n" }
        x += "    </properties>\n"
        switch run.status {
        case .skipped(let why):
            x += "    <testcase classname=\"\(name)\" name=\"run\"><skipped message=\"\(Markup.xml(why))\"/></testcase>\n"
        case .error(let why):
            x += "    <testcase classname=\"\(name)\" name=\"run\"><error message=\"\(Markup.xml(firstLine(why)))\" type=\"error\">\(Markup.xml(why))</error></testcase>\n"
        case .completed:
            for o in run.outcomes {
                let head = "    <testcase classname=\"\(name)\" name=\"\(Markup.xml(o.name))\" file=\"\(Markup.xml(o.location.file))\" line=\"\(o.location.line)\" time=\"0\""
                if o.passed {
                    x += head + "/>\n"
                } else {
                    var body = "\(o.location): \(o.message)"
                    if !o.frames.isEmpty {
                        body += "\nframes (capture, Wireshark number, time since start):"
                        for f in o.frames { body += "\n  \(f.capture) #\(f.number) \(Format.time(f.time))" }
                    }
                    x += head + ">\n      <failure message=\"\(Markup.xml(o.message))\" type=\"expectation\">\(Markup.xml(body))</failure>\n    </testcase>\n"
                }
            }
        }
        if !run.log.isEmpty {
            x += "    <system-out>\(Markup.xml(run.log.joined(separator: "\n")))</system-out>\n"
        }
        x += "  </testsuite>\n"
        return x
    }

    static func firstLine(_ s: String) -> String { String(s.split(separator: "\n", maxSplits: 1).first ?? "") }
}
