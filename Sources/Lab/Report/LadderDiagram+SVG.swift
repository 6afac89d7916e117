// Report room (layer 6, Lab): a ladder diagram as inline SVG — one lane per participant (a box
// on top, a dashed lifeline down), one arrow per message in capture order, its label above the
// arrow and the frame number and time on the left, so a reader can find it in Wireshark.
import Basics
import Foundation

extension LadderDiagram {
    static let laneGap = 190.0, rowH = 30.0, gutter = 150.0, headH = 34.0

    /// The `<svg>` element.
    func svg() -> String {
        func n(_ v: Double) -> String { Format.number(v, digits: 1) }
        func e(_ s: String) -> String { Markup.xml(s) }
        let title = "\(protocolName) in capture \(capture)" + (omitted > 0 ? " (first \(messages.count) messages; \(omitted) more not drawn)" : "")
        let laneX = lanes.indices.map { Self.gutter + Self.laneGap / 2 + Double($0) * Self.laneGap }
        let width = max(Self.gutter + Double(lanes.count) * Self.laneGap + 10, TopologyDiagram.textWidth(title, size: 13) + 32)
        let top = 30.0
        let firstRow = top + Self.headH + 26
        let height = firstRow + Double(messages.count) * Self.rowH + 16  // ≥ the rows drawn

        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ladder\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-label=\"\(e(title))\" font-family=\"system-ui, sans-serif\">\n"
        s += "<title>\(e(title))</title>\n<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>\n"
        s += "<defs><marker id=\"arrow-\(e(Markup.slug(capture + "-" + protocolName)))\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" fill=\"#1f2937\"/></marker></defs>\n"
        s += "<text x=\"16\" y=\"20\" font-size=\"13\" font-weight=\"600\" fill=\"#111827\">\(e(title))</text>\n"
        s += "<text x=\"16\" y=\"\(n(top + Self.headH + 14))\" font-size=\"11\" fill=\"#6b7280\">frame · time</text>\n"
        for (i, lane) in lanes.enumerated() {
            let x = laneX[i]
            let w = min(Self.laneGap - 16, TopologyDiagram.textWidth(lane, size: 12) + 20)
            s += "<g class=\"lane\"><rect x=\"\(n(x - w / 2))\" y=\"\(n(top))\" width=\"\(n(w))\" height=\"\(n(Self.headH - 8))\" rx=\"5\" fill=\"#f3f4f6\" stroke=\"#6b7280\"/>"
            s += "<text x=\"\(n(x))\" y=\"\(n(top + 17))\" font-size=\"12\" font-weight=\"600\" text-anchor=\"middle\" fill=\"#111827\">\(e(TopologyDiagram.clip(lane, to: Self.laneGap - 10)))</text>"
            s += "<line x1=\"\(n(x))\" y1=\"\(n(top + Self.headH - 8))\" x2=\"\(n(x))\" y2=\"\(n(height - 8))\" stroke=\"#9ca3af\" stroke-dasharray=\"4 4\"/></g>\n"
        }
        let marker = "url(#arrow-\(e(Markup.slug(capture + "-" + protocolName))))"
        // A diagram read back from a saved run may be inconsistent: draw only arrows between lanes it has.
        let drawn = messages.filter { laneX.indices.contains($0.from) && laneX.indices.contains($0.to) }
        for (k, m) in drawn.enumerated() {
            let y = firstRow + Double(k) * Self.rowH
            let time = Format.time(Instant(nanoseconds: UInt64(clamping: max(m.nanoseconds, 0))))
            s += "<g class=\"message\"><title>frame \(m.frame) at \(time): \(e(m.label))\(m.detail.isEmpty ? "" : " — \(e(m.detail))")</title>"
            s += "<text x=\"16\" y=\"\(n(y + 4))\" font-size=\"11\" fill=\"#4b5563\" font-family=\"ui-monospace, monospace\">#\(m.frame) \(time)</text>"
            let x1 = laneX[m.from], x2 = laneX[m.to]
            if m.from == m.to {
                s += "<path d=\"M\(n(x1)) \(n(y - 6)) h30 v12 h-30\" fill=\"none\" stroke=\"#1f2937\" stroke-width=\"1.4\" marker-end=\"\(marker)\"/>"
                s += "<text x=\"\(n(x1 + 36))\" y=\"\(n(y + 4))\" font-size=\"11\" fill=\"#111827\">\(e(m.label))</text>"
            } else {
                let dir = x2 > x1 ? 1.0 : -1.0
                s += "<line x1=\"\(n(x1 + dir * 2))\" y1=\"\(n(y + 6))\" x2=\"\(n(x2 - dir * 2))\" y2=\"\(n(y + 6))\" stroke=\"#1f2937\" stroke-width=\"1.4\" marker-end=\"\(marker)\"/>"
                let span = abs(x2 - x1) - 8
                s += "<text x=\"\(n((x1 + x2) / 2))\" y=\"\(n(y + 1))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#111827\">\(e(TopologyDiagram.clip(m.label, to: span * 1.1)))</text>"
            }
            s += "</g>\n"
        }
        s += "</svg>"
        return s
    }
}
