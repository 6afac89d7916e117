// summary.md: a table of runs, then per run its expectations (failures with their frames), its
// actions and its captures — what a reviewer reads in a CI job page or a pull request.

/// Renders runs as Markdown.
public enum MarkdownSummary {
    public static func render(_ runs: [LabRun], title: String) -> String {
        let passed = runs.count(where: \.passed)
        var md = "# \(title)\n\n"
        md += "\(passed) of \(runs.count) scenarios passed.\n\n"
        md += failures(runs)
        md += "| scenario | backend | seed | result | expectations | simulated | wall |\n"
        md += "|---|---|---|---|---|---|---|\n"
        for r in runs {
            let met = r.outcomes.count(where: \.passed)
            md += "| [\(cell(r.scenarioName))](#\(r.slug)) | \(r.backend) | \(r.seed) | \(icon(r)) \(r.verdict) | \(met)/\(r.outcomes.count) | \(Format.duration(r.simulatedDuration)) | \(Format.duration(r.wallTime)) |\n"
        }
        for r in runs { md += "\n" + section(r) }
        return md
    }

    /// What failed, measured against bound, linked to the expectation's run section.
    static func failures(_ runs: [LabRun]) -> String {
        var rows: [String] = []
        for r in runs {
            switch r.status {
            case .skipped: continue
            case .error(let why):
                rows.append("| [\(cell(r.scenarioName))](#\(r.slug)) | ⚠ error | \(cell(HTMLReport.clip(String(why.split(separator: "\n").first ?? ""), 160))) | |")
            case .completed:
                for o in r.failures {
                    let failed = o.checks.filter { !$0.passed }
                    if failed.isEmpty {
                        rows.append("| [\(cell(r.scenarioName))](#\(r.slug)) | \(cell(o.name)) (line \(o.location.line)) | \(cell(HTMLReport.clip(o.message, 160))) | |")
                    }
                    for c in failed {
                        rows.append("| [\(cell(r.scenarioName))](#\(r.slug)) | \(cell(o.name)) (line \(o.location.line)) | \(cell(c.subject)) **\(cell(HTMLReport.clip(c.measured, 80)))** | \(cell(c.bound)) |")
                    }
                }
            }
        }
        guard !rows.isEmpty else { return "" }
        return "**Failures**\n\n| scenario | expectation | measured | bound |\n|---|---|---|---|\n" + rows.joined(separator: "\n") + "\n\n"
    }

    static func icon(_ r: LabRun) -> String {
        switch r.status {
        case .skipped: "○"
        case .error: "⚠"
        case .completed: r.failures.isEmpty ? "✔" : "✘"
        }
    }

    static func cell(_ s: String) -> String { Markup.markdownCell(s) }

    static func section(_ r: LabRun) -> String {
        var md = "<a id=\"\(r.slug)\"></a>\n## \(cell(r.scenarioName))\n\n"
        if let d = r.description { md += "\(d)\n\n" }
        md += "`\(r.scenarioFile)` · backend \(r.backend) · seed \(r.seed) · \(Format.duration(r.simulatedDuration)) simulated in \(Format.duration(r.wallTime)) · **\(r.verdict)**\n\n"
        switch r.status {
        case .skipped(let why): return md + "Skipped: \(why)\n"
        case .error(let why): return md + "```\n\(why)\n```\n"
        case .completed: break
        }
        if !r.outcomes.isEmpty {
            md += "| | expectation | where | detail |\n|---|---|---|---|\n"
            for o in r.outcomes {
                md += "| \(o.passed ? "✔" : "✘") | \(cell(o.name)) | line \(o.location.line) | \(cell(o.message)) |\n"
            }
            md += "\n"
        }
        let failed = r.failures.filter { !$0.frames.isEmpty }
        if !failed.isEmpty {
            md += "Frames behind the failures (open the capture in Wireshark, Go to packet):\n\n"
            for o in failed {
                md += "- **\(cell(o.name))**: " + o.frames.prefix(20).map { "\($0.capture) #\($0.number) (\(Format.time($0.time)))" }.joined(separator: ", ")
                if o.frames.count > 20 { md += " and \(o.frames.count - 20) more" }
                md += "\n"
            }
            md += "\n"
        }
        if !r.actions.isEmpty {
            md += "| action | what | result |\n|---|---|---|\n"
            for a in r.actions {
                md += "| \(cell(a.name)) | \(cell(a.description)) | \(cell(a.result?.summary ?? "did not run")) |\n"
            }
            md += "\n"
        }
        if !r.captures.isEmpty {
            md += "Captures: " + r.captures.map { "`\($0.name)` (\($0.at), \($0.frames) frames)" }.joined(separator: ", ") + "\n"
        }
        return md
    }
}
