// Report room (layer 6, Lab). Charts as hand-written inline SVG (no scripts, no libraries): axes
// with round ticks (whole numbers only on an axis of whole numbers), one or more series as lines
// or dots, misses (lost probes) as crosses on the x axis, and the expectations' bounds as dashed
// horizontal lines (green when met, red when not). Used for RTT per ping sequence and throughput
// over time in index.html.
import Foundation

/// A small x/y chart rendered to an SVG element.
struct SVGChart {
    enum Style { case line, dots, lineAndDots }

    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color: String
        var style: Style
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    /// x positions with no value (lost probes), drawn as red crosses on the x axis.
    var misses: [Double] = []
    var missLabel = "lost"
    /// Horizontal lines at y values: an expectation's bound, labelled, and whether it held.
    var bounds: [(y: Double, label: String, passed: Bool)] = []
    /// The x values are whole numbers (a sequence number): ticks at whole numbers only.
    var integerX = false
    /// The y values are whole numbers (counts).
    var integerY = false
    var width = 640.0
    var height = 260.0

    static let palette = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2"]

    /// The `<svg>` element.
    func render() -> String {
        let left = 60.0, right = 16.0, top = 30.0, bottom = 44.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = series.flatMap { $0.points.map(\.x) } + misses
        let ys = series.flatMap { $0.points.map(\.y) }
        var xLo = xs.min() ?? 0, xHi = xs.max() ?? 1
        if xHi - xLo < 1e-12 { xLo -= 1; xHi += 1 }
        // All zero (RTTs on an ideal simulated wire): a 0…1 axis rather than a degenerate one.
        let yMax = (ys + bounds.map(\.y)).filter(\.isFinite).max() ?? 0
        let yHi0 = yMax > 1e-9 ? yMax : 1
        let yTicks = Self.ticks(0, yHi0 * 1.05, integer: integerY)
        let yHi = max(yTicks.last ?? yHi0, yHi0)
        let xTicks = Self.ticks(xLo, xHi, integer: integerX)
        func px(_ x: Double) -> Double { left + (x - xLo) / (xHi - xLo) * plotW }
        func py(_ y: Double) -> Double { top + plotH - y / yHi * plotH }
        func n(_ v: Double) -> String { Format.number(v, digits: 1) }

        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-label=\"\(Markup.xml(title))\">\n"
        s += "<title>\(Markup.xml(title))</title>\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>\n"
        s += "<text x=\"\(n(left))\" y=\"18\" font-size=\"13\" font-weight=\"600\" fill=\"#111827\">\(Markup.xml(title))</text>\n"
        // Grid and y ticks.
        for t in yTicks where t <= yHi + 1e-9 {
            let y = py(t)
            s += "<line x1=\"\(n(left))\" y1=\"\(n(y))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y))\" stroke=\"#e5e7eb\" stroke-width=\"1\"/>\n"
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y + 4))\" font-size=\"11\" text-anchor=\"end\" fill=\"#374151\">\(Format.number(t, digits: Self.digits(yTicks)))</text>\n"
        }
        for t in xTicks where t >= xLo - 1e-9 && t <= xHi + 1e-9 {
            let x = px(t)
            s += "<line x1=\"\(n(x))\" y1=\"\(n(top + plotH))\" x2=\"\(n(x))\" y2=\"\(n(top + plotH + 4))\" stroke=\"#6b7280\" stroke-width=\"1\"/>\n"
            s += "<text x=\"\(n(x))\" y=\"\(n(top + plotH + 16))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#374151\">\(Format.number(t, digits: Self.digits(xTicks)))</text>\n"
        }
        // Axes and their labels.
        s += "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(top + plotH))\" stroke=\"#6b7280\" stroke-width=\"1\"/>\n"
        s += "<line x1=\"\(n(left))\" y1=\"\(n(top + plotH))\" x2=\"\(n(left + plotW))\" y2=\"\(n(top + plotH))\" stroke=\"#6b7280\" stroke-width=\"1\"/>\n"
        s += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(height - 6))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#374151\">\(Markup.xml(xLabel))</text>\n"
        s += "<text x=\"14\" y=\"\(n(top + plotH / 2))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#374151\" transform=\"rotate(-90 14 \(n(top + plotH / 2)))\">\(Markup.xml(yLabel))</text>\n"
        // Series.
        for item in series {
            let pts = item.points.map { "\(n(px($0.x))),\(n(py($0.y)))" }
            if item.style != .dots, pts.count > 1 {
                s += "<polyline fill=\"none\" stroke=\"\(item.color)\" stroke-width=\"1.5\" points=\"\(pts.joined(separator: " "))\"><title>\(Markup.xml(item.name))</title></polyline>\n"
            }
            if item.style != .line || pts.count == 1 {
                for p in item.points {
                    s += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"2.5\" fill=\"\(item.color)\"><title>\(Format.number(p.x)): \(Format.number(p.y))</title></circle>\n"
                }
            }
        }
        for b in bounds where b.y.isFinite && b.y >= 0 {
            let y = py(b.y), color = b.passed ? "#15803d" : "#dc2626"
            s += "<g class=\"bound\"><title>\(Markup.xml(b.label)) (\(b.passed ? "met" : "not met"))</title>"
            s += "<line x1=\"\(n(left))\" y1=\"\(n(y))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y))\" stroke=\"\(color)\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>"
            // The label on a white patch (a series crossing it does not hide it), at the left end:
            // the legend takes the top right.
            let w = Double(b.label.count) * 6 + 6, ly = y < top + 14 ? y + 13 : y - 4
            s += "<rect x=\"\(n(left + 4))\" y=\"\(n(ly - 10))\" width=\"\(n(w))\" height=\"13\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>"
            s += "<text x=\"\(n(left + 7))\" y=\"\(n(ly))\" font-size=\"10\" fill=\"\(color)\">\(Markup.xml(b.label))</text></g>\n"
        }
        for m in misses {
            let x = px(m), y = top + plotH
            s += "<path d=\"M\(n(x - 4)) \(n(y - 4)) L\(n(x + 4)) \(n(y + 4)) M\(n(x - 4)) \(n(y + 4)) L\(n(x + 4)) \(n(y - 4))\" stroke=\"#dc2626\" stroke-width=\"1.5\"><title>\(Markup.xml(missLabel)) \(Format.number(m))</title></path>\n"
        }
        // Legend.
        var lx = left + plotW
        var legend: [(String, String)] = series.map { ($0.name, $0.color) }
        if !misses.isEmpty { legend.append(("\(missLabel) (\(misses.count))", "#dc2626")) }
        for (name, color) in legend.reversed() {
            let w = Double(name.count) * 6.5 + 18
            lx -= w
            s += "<rect x=\"\(n(lx))\" y=\"10\" width=\"10\" height=\"10\" fill=\"\(color)\"/><text x=\"\(n(lx + 14))\" y=\"19\" font-size=\"11\" fill=\"#374151\">\(Markup.xml(name))</text>\n"
        }
        s += "</svg>"
        return s
    }

    /// Decimal places that tell `ticks` apart (their step's, at least 3 as before, at most 9).
    static func digits(_ ticks: [Double]) -> Int {
        guard ticks.count >= 2 else { return 3 }
        let step = abs(ticks[1] - ticks[0])
        guard step > 0, step.isFinite else { return 3 }
        return min(max(3, Int((-log10(step)).rounded(.up)) + 1), 9)
    }

    /// Round tick values covering lo…hi: steps of 1, 2 or 5 × 10^k, about five of them; with
    /// `integer`, steps of at least 1 and ticks on whole numbers only.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5, integer: Bool = false) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [integer ? lo.rounded() : lo] }
        let raw = (hi - lo) / Double(count)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let f = raw / magnitude
        var step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude
        if integer { step = max(step.rounded(), 1) }
        var t = (lo / step).rounded(.up) * step
        var out: [Double] = []
        while t <= hi + step * 0.999 && out.count < 50 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }
}
