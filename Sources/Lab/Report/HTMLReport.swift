// Report room (layer 6, Lab). index.html: one self-contained page (inline CSS, inline SVG, no
// scripts): a failure summary at the top (scenario, expectation, measured against bound, a link to
// it), the run table, and per scenario its topology diagram, expectations, the frames behind
// failures, actions with RTT and throughput charts (bounds drawn on them), ladder diagrams of the
// captures, counters, captures (linked, beside the page) and the run log.

/// Renders runs as a self-contained HTML page. `captureLinks` maps a capture path to the
/// relative link the page should use.
public enum HTMLReport {
    public static func render(_ runs: [LabRun], title: String, captureLinks: [String: String] = [:]) -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        h += "<title>\(e(title))</title>\n<style>\n\(css)</style>\n</head>\n<body>\n"
        h += "<h1>\(e(title))</h1>\n"
        let passed = runs.count(where: \.passed)
        h += "<p class=\"lead\">\(passed) of \(runs.count) scenarios passed.</p>\n"
        h += failureSummary(runs)
        h += "<table class=\"runs\">\n<thead><tr><th>scenario</th><th>backend</th><th>seed</th><th>result</th><th>expectations</th><th>simulated</th><th>wall</th></tr></thead>\n<tbody>\n"
        for r in runs {
            h += "<tr class=\"\(cls(r))\"><td><a href=\"#\(r.slug)\">\(e(r.scenarioName))</a></td><td>\(e(r.backend))</td><td>\(r.seed)</td>"
            h += "<td>\(e(r.verdict))</td><td>\(r.outcomes.count(where: \.passed))/\(r.outcomes.count)</td>"
            h += "<td>\(Format.duration(r.simulatedDuration))</td><td>\(Format.duration(r.wallTime))</td></tr>\n"
        }
        h += "</tbody>\n</table>\n"
        for r in runs { h += section(r, captureLinks: captureLinks) }
        h += "</body>\n</html>\n"
        return h
    }

    static func e(_ s: String) -> String { Markup.xml(s) }

    /// The anchor of expectation `index` of a run ("cut-link-e3").
    static func anchor(_ r: LabRun, _ index: Int) -> String { "\(r.slug)-e\(index)" }

    /// Every failed expectation and broken run, one row per failed check: what was measured
    /// against which bound, linked to the expectation below. Empty when nothing failed.
    static func failureSummary(_ runs: [LabRun]) -> String {
        var rows: [String] = []
        for r in runs {
            let scenario = "<td><a href=\"#\(r.slug)\">\(e(r.scenarioName))</a></td>"
            switch r.status {
            case .skipped: continue
            case .error(let why):
                let first = String(why.split(separator: "\n", maxSplits: 1).first ?? "")
                rows.append("<tr>\(scenario)<td colspan=\"3\">error: \(e(first))</td><td><a href=\"#\(r.slug)\">details</a></td></tr>")
            case .completed:
                for o in r.failures {
                    let link = "<a href=\"#\(anchor(r, o.index))\">"
                    let name = "<td>\(link)\(e(o.name))</a><div class=\"where\">\(e(o.location.description))</div></td>"
                    let failed = o.checks.filter { !$0.passed }
                    if failed.isEmpty {
                        rows.append("<tr>\(scenario)\(name)<td colspan=\"2\">\(e(clip(o.message, 240)))</td><td>\(link)details</a></td></tr>")
                    }
                    for c in failed {
                        rows.append("<tr>\(scenario)\(name)<td class=\"measured\"><span class=\"subject\">\(e(c.subject))</span> \(e(clip(c.measured, 120)))</td>"
                                    + "<td class=\"bound\">\(e(c.bound))</td><td>\(link)details</a></td></tr>")
                    }
                }
            }
        }
        guard !rows.isEmpty else { return "" }
        var h = "<section class=\"summary\" id=\"failures\">\n<h2>Failures</h2>\n<table class=\"failures\">\n"
        h += "<thead><tr><th>scenario</th><th>expectation</th><th>measured</th><th>bound</th><th></th></tr></thead>\n<tbody>\n"
        h += rows.joined(separator: "\n") + "\n</tbody>\n</table>\n</section>\n"
        return h
    }

    static func clip(_ s: String, _ limit: Int) -> String { s.count <= limit ? s : String(s.prefix(limit - 1)) + "…" }

    static func cls(_ r: LabRun) -> String {
        switch r.status {
        case .skipped: "skip"
        case .error: "fail"
        case .completed: r.failures.isEmpty ? "pass" : "fail"
        }
    }

    static func section(_ r: LabRun, captureLinks: [String: String]) -> String {
        var h = "<section id=\"\(r.slug)\">\n<h2>\(e(r.scenarioName)) <span class=\"badge \(cls(r))\">\(e(r.verdict))</span></h2>\n"
        if let d = r.description { h += "<p>\(e(d))</p>\n" }
        h += "<table class=\"props\"><tbody>"
        h += "<tr><th>file</th><td><code>\(e(r.scenarioFile))</code></td></tr>"
        h += "<tr><th>backend</th><td>\(e(r.backend))</td></tr><tr><th>seed</th><td>\(r.seed)</td></tr>"
        h += "<tr><th>simulated</th><td>\(Format.duration(r.simulatedDuration))</td></tr><tr><th>wall time</th><td>\(Format.duration(r.wallTime))</td></tr>"
        h += "</tbody></table>\n"
        if let t = r.topology, !t.bridges.isEmpty {
            h += "<h3>Topology</h3>\n<div class=\"diagram\">" + TopologyDiagram(topology: t, title: "\(r.scenarioName): topology").render() + "</div>\n"
        }
        switch r.status {
        case .skipped(let why): return h + "<p class=\"note\">Skipped: \(e(why))</p>\n</section>\n"
        case .error(let why): return h + "<pre class=\"error\">\(e(why))</pre>\n</section>\n"
        case .completed: break
        }
        if !r.outcomes.isEmpty {
            h += "<h3>Expectations</h3>\n<table class=\"outcomes\">\n<thead><tr><th></th><th>expectation</th><th>line</th><th>detail</th></tr></thead>\n<tbody>\n"
            for o in r.outcomes {
                h += "<tr id=\"\(anchor(r, o.index))\" class=\"\(o.passed ? "pass" : "fail")\"><td>\(o.passed ? "✔" : "✘")</td><td>\(e(o.name))</td><td>\(o.location.line)</td><td>\(e(o.message))"
                if !o.frames.isEmpty {
                    let shown = o.frames.prefix(30).map { f in
                        "<span class=\"frame\" title=\"capture \(e(f.capture))\">\(e(f.capture)) #\(f.number) @ \(Format.time(f.time))</span>"
                    }
                    h += "<div class=\"frames\">frames: \(shown.joined(separator: " "))\(o.frames.count > 30 ? " and \(o.frames.count - 30) more" : "")</div>"
                }
                h += "</td></tr>\n"
            }
            h += "</tbody>\n</table>\n"
        }
        if !r.actions.isEmpty {
            h += "<h3>Actions</h3>\n<table class=\"actions\">\n<thead><tr><th>action</th><th>what</th><th>started</th><th>result</th></tr></thead>\n<tbody>\n"
            for a in r.actions {
                let started = a.result.map { Format.time($0.startedAt) } ?? "—"
                h += "<tr><td>\(e(a.name))</td><td>\(e(a.description))</td><td>\(started)</td><td>\(e(a.result?.summary ?? "did not run"))</td></tr>\n"
            }
            h += "</tbody>\n</table>\n"
            let charts = r.actions.compactMap { a in chart(a, bounds: r.bounds.filter { $0.action == a.name }) }
            if !charts.isEmpty { h += "<div class=\"charts\">\n" + charts.joined(separator: "\n") + "\n</div>\n" }
        }
        if !r.captures.isEmpty {
            h += "<h3>Captures</h3>\n<ul class=\"captures\">\n"
            for c in r.captures {
                let link = captureLinks[c.path] ?? c.path
                h += "<li><a href=\"\(e(link))\">\(e(c.name)).pcap</a> — \(e(c.at))\(c.filter.map { ", filter <code>\(e($0))</code>" } ?? ""), \(c.frames) frames</li>\n"
            }
            h += "</ul>\n"
        }
        if !r.ladders.isEmpty {
            h += "<h3>Ladder diagrams</h3>\n"
            for l in r.ladders { h += "<div class=\"diagram\">" + l.svg() + "</div>\n" }
        }
        if !r.counters.isEmpty {
            h += "<details><summary>Counters</summary>\n<div class=\"counters\">\n"
            for t in r.counters {
                h += "<table><caption>\(e(t.title))</caption><tbody>"
                for row in t.rows { h += "<tr><th>\(e(row.name))</th><td>\(row.value)</td></tr>" }
                h += "</tbody></table>\n"
            }
            h += "</div>\n</details>\n"
        }
        if !r.log.isEmpty {
            h += "<details><summary>Log (\(r.log.count) lines)</summary>\n<pre class=\"log\">\(e(r.log.joined(separator: "\n")))</pre>\n</details>\n"
        }
        return h + "</section>\n"
    }

    /// RTT per sequence for a ping, throughput over time for a UDP flow, goodput and cwnd over time for a TCP flow.
    static func chart(_ a: ActionReport, bounds: [MetricBound] = []) -> String? {
        func lines(_ metrics: [String], scale: Double) -> [(y: Double, label: String, passed: Bool)] {
            bounds.filter { metrics.contains($0.metric) }.map { (y: $0.value / scale, label: $0.text, passed: $0.passed) }
        }
        switch a.result {
        case .ping(let p)?:
            let points = p.result.probes.compactMap { probe in
                probe.roundTripTime.map { (x: Double(probe.sequence), y: Double($0.nanosecondsClamped) / 1e6) }
            }
            let misses = p.result.probes.filter { $0.roundTripTime == nil }.map { Double($0.sequence) }
            guard !points.isEmpty || !misses.isEmpty else { return nil }
            return SVGChart(title: "\(a.name): round-trip time per probe", xLabel: "ICMP sequence", yLabel: "RTT (ms)",
                            series: [.init(name: "rtt", points: points, color: SVGChart.palette[0], style: .lineAndDots)],
                            misses: misses, missLabel: "lost", bounds: lines(["rtt.min", "rtt.avg", "rtt.max"], scale: 1e6),
                            integerX: true).render()
        case .udp(let u)?:
            guard !u.throughput.isEmpty else { return nil }
            let points = u.throughput.map { (x: Double($0.time.nanoseconds) / 1e9, y: $0.bitsPerSecond / 1e6) }
            return SVGChart(title: "\(a.name): received throughput", xLabel: "time (s)", yLabel: "Mbit/s",
                            series: [.init(name: "received", points: points, color: SVGChart.palette[1], style: .line)],
                            bounds: lines(["throughput"], scale: 1e6)).render()
        case .tcp(let t)?:
            guard !t.throughput.isEmpty else { return nil }
            let points = t.throughput.map { (x: Double($0.time.nanoseconds) / 1e9, y: $0.bitsPerSecond / 1e6) }
            var charts = SVGChart(title: "\(a.name): TCP goodput", xLabel: "time (s)", yLabel: "Mbit/s",
                                  series: [.init(name: "goodput", points: points, color: SVGChart.palette[1], style: .line)],
                                  bounds: lines(["throughput"], scale: 1e6)).render()
            if !t.congestionWindow.isEmpty {
                let cwnd = t.congestionWindow.map { (x: Double($0.time.nanoseconds) / 1e9, y: Double($0.bytes) / 1024) }
                charts += SVGChart(title: "\(a.name): congestion window (first stream's sender)", xLabel: "time (s)", yLabel: "KiB",
                                   series: [.init(name: "cwnd", points: cwnd, color: SVGChart.palette[3], style: .line)]).render()
            }
            return charts
        default:
            return nil
        }
    }

    static let css = """
    body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }
    h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #e5e7eb; padding-bottom: .3rem; }
    h3 { font-size: 1.05rem; margin-top: 1.4rem; } .lead { color: #4b5563; }
    table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid #e5e7eb; padding: .3rem .55rem; text-align: left; vertical-align: top; }
    thead th { background: #f9fafb; } table.props th { background: #f9fafb; font-weight: 500; }
    tr.pass td:first-child { color: #15803d; } tr.fail td:first-child { color: #b91c1c; } tr.fail { background: #fef2f2; } tr.skip { color: #6b7280; }
    .badge { font-size: .75rem; padding: .1rem .45rem; border-radius: .6rem; vertical-align: middle; }
    .badge.pass { background: #dcfce7; color: #166534; } .badge.fail { background: #fee2e2; color: #991b1b; } .badge.skip { background: #f3f4f6; color: #4b5563; }
    .frames { margin-top: .3rem; font-size: .85rem; } .frame { display: inline-block; background: #fff; border: 1px solid #fca5a5; border-radius: .3rem; padding: 0 .3rem; margin: .1rem; font-family: ui-monospace, monospace; }
    .charts { display: flex; flex-wrap: wrap; gap: 1rem; } svg.chart { border: 1px solid #e5e7eb; border-radius: .3rem; }
    .counters { display: flex; flex-wrap: wrap; gap: 1rem; } caption { text-align: left; font-weight: 600; }
    pre { background: #f9fafb; border: 1px solid #e5e7eb; padding: .6rem; overflow-x: auto; font-size: .8rem; } pre.error { background: #fef2f2; }
    code { font-family: ui-monospace, monospace; font-size: .9em; }
    section.summary { border: 2px solid #fca5a5; border-radius: .5rem; background: #fff7f7; padding: .2rem 1rem .8rem; margin: 1rem 0 1.5rem; }
    section.summary h2 { margin-top: .6rem; color: #991b1b; border-bottom-color: #fecaca; }
    table.failures { width: 100%; background: #fff; } table.failures td.measured { color: #b91c1c; font-weight: 600; }
    table.failures td.bound { white-space: nowrap; } .subject { color: #6b7280; font-weight: 400; } .where { color: #6b7280; font-size: .8rem; }
    .diagram { overflow-x: auto; margin: .5rem 0; } svg.topology, svg.ladder { border: 1px solid #e5e7eb; border-radius: .3rem; max-width: none; }
    tr:target { outline: 2px solid #f59e0b; } table.outcomes td:nth-child(2) { min-width: 12rem; }

    """
}
