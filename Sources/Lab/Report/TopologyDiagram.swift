// Report room (layer 6, Lab): a scenario's topology as inline SVG. Bridges are boxes in a row,
// each holding its segments (pills with the router's address); hosts hang below their segment;
// links between bridges (segments or WANs) run above the boxes with their impairments per
// direction; a host's own cable is labelled under the host; capture points are orange tags on
// the segment or link they tap. Pure layout arithmetic, no scripts.
import Foundation

/// Draws a `ReportTopology` as an SVG element.
struct TopologyDiagram {
    var topology: ReportTopology
    var title: String

    // Layout (pixels).
    static let hostW = 150.0, hostH = 40.0, hostGap = 14.0, hostsPerRow = 5
    static let headerH = 30.0, pillH = 24.0, tagH = 16.0, margin = 16.0, bridgeGap = 40.0
    static let linkLevelH = 52.0, hostRowH = 112.0
    static let captureColor = "#c2410c", downColor = "#b91c1c"
    /// Hosts drawn per segment; past it, one box says how many more there are.
    static let hostsShown = 40
    /// Lines of a host's cable label under its box.
    static let cableLines = 4

    /// Width of `text` at `size` px (an estimate for a sans-serif face: no font metrics here).
    static func textWidth(_ text: String, size: Double = 11) -> Double { Double(text.count) * size * 0.6 }

    struct SegmentBox { var bridge: String; var name: String; var x: Double; var width: Double; var hosts: [ReportTopology.Host] }
    struct BridgeBox { var bridge: ReportTopology.Bridge; var x: Double; var width: Double; var segments: [SegmentBox]; var wanX: Double? }

    func render() -> String {
        let t = topology
        let interBridge = t.links.filter { !isHostEnd($0.a) && !isHostEnd($0.b) }
        let top = Self.margin + 22 + Double(interBridge.count) * Self.linkLevelH + (interBridge.isEmpty ? 0 : 10)

        // Horizontal layout: bridges left to right, each as wide as its segments' host rows.
        var boxes: [BridgeBox] = []
        var x = Self.margin
        for b in t.bridges {
            var segs: [SegmentBox] = []
            var sx = x + 10
            for (i, s) in b.segments.enumerated() {
                var hosts = t.hosts.filter { $0.bridge == b.name && $0.segment == s }
                if hosts.count > Self.hostsShown {
                    let more = hosts.count - (Self.hostsShown - 1)
                    hosts = Array(hosts.prefix(Self.hostsShown - 1))
                    hosts.append(ReportTopology.Host(name: "+\(more) more", bridge: b.name, segment: s, address: "hosts"))
                }
                let columns = Double(min(max(hosts.count, 1), Self.hostsPerRow))
                let label = s + (b.segmentAddresses.indices.contains(i) && !b.segmentAddresses[i].isEmpty ? " \(b.segmentAddresses[i])" : "")
                let captures = t.captures.filter { !$0.onLink && $0.at == "\(b.name).\(s)" }.map { "◉ \($0.name)" }
                let w = max(columns * (Self.hostW + Self.hostGap) - Self.hostGap, Self.textWidth(label) + 24,
                            (captures.map { Self.textWidth($0) }.max() ?? 0) + 12)
                segs.append(SegmentBox(bridge: b.name, name: s, x: sx, width: w, hosts: hosts))
                sx += w + 12
            }
            let header = Self.textWidth(b.name, size: 14) + 24 + (b.wan.map { Self.textWidth("WAN " + $0) + 24 } ?? 0)
            let width = max(sx - 12 + 10 - x, header)
            let wanX: Double? = b.wan.map { _ in x + width - 10 - Self.textWidth("WAN " + b.wan!) / 2 - 8 }
            boxes.append(BridgeBox(bridge: b, x: x, width: width, segments: segs, wanX: wanX))
            x += width + Self.bridgeGap
        }
        let maxTags = t.bridges.flatMap { b in b.segments.map { s in t.captures.filter { !$0.onLink && $0.at == "\(b.name).\(s)" }.count } }.max() ?? 0
        let bridgeH = Self.headerH + Self.pillH + 8 + Double(maxTags) * Self.tagH + 8
        let maxRows = boxes.flatMap { $0.segments.map { ($0.hosts.count + Self.hostsPerRow - 1) / Self.hostsPerRow } }.max() ?? 0
        let hostsTop = top + bridgeH + 48
        let width = max(x - Self.bridgeGap + Self.margin, Self.textWidth(title, size: 13) + 2 * Self.margin)
        let cabled = t.hosts.contains { h in t.links.contains { $0.a == h.name || $0.b == h.name } }
        let lastRow = hostsTop + Double(max(maxRows - 1, 0)) * Self.hostRowH + Self.hostH + (cabled ? Double(Self.cableLines) * 12 + 4 : 0)
        let height = (maxRows == 0 ? top + bridgeH : lastRow) + Self.margin
        func n(_ v: Double) -> String { Format.number(v, digits: 1) }
        func e(_ s: String) -> String { Markup.xml(s) }

        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"topology\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-label=\"\(e(title))\" font-family=\"system-ui, sans-serif\">\n"
        s += "<title>\(e(title))</title>\n<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>\n"
        s += "<text x=\"\(n(Self.margin))\" y=\"\(n(Self.margin + 6))\" font-size=\"13\" font-weight=\"600\" fill=\"#111827\">\(e(title))</text>\n"

        // Where a link end meets a bridge box's top edge.
        func anchor(_ end: String) -> Double? {
            let parts = end.split(separator: ".", maxSplits: 1).map(String.init)
            guard let first = parts.first, let box = boxes.first(where: { $0.bridge.name == first }) else { return nil }
            if parts.count == 2, parts[1] == "wan", let w = box.wanX { return w }
            let seg = parts.count == 2 ? box.segments.first { $0.name == parts[1] } : box.segments.first
            return seg.map { $0.x + $0.width / 2 } ?? box.x + box.width / 2
        }

        // Links between bridges, one level each above the boxes.
        for (k, l) in interBridge.enumerated() {
            guard var x1 = anchor(l.a), var x2 = anchor(l.b) else { continue }
            let level = top - 10 - Double(interBridge.count - k) * Self.linkLevelH + 30
            let swapped = x1 > x2
            if swapped { swap(&x1, &x2) }
            let color = l.initiallyUp ? "#374151" : Self.downColor
            let dash = l.initiallyUp ? "" : " stroke-dasharray=\"6 4\""
            s += "<g class=\"link\" id=\"link-\(e(Markup.slug(l.name)))\"><title>\(e(l.name)): \(e(l.a)) – \(e(l.b))</title>\n"
            s += "<path d=\"M\(n(x1)) \(n(top)) L\(n(x1)) \(n(level)) L\(n(x2)) \(n(level)) L\(n(x2)) \(n(top))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            var lines = ["\(l.name)\(l.initiallyUp ? "" : " (starts down)")"]
            lines += directionLines(l, fromLeft: swapped ? l.b : l.a, toRight: swapped ? l.a : l.b)
            let caps = t.captures.filter { $0.onLink && $0.at == l.name }
            let mid = (x1 + x2) / 2
            for (i, line) in lines.enumerated() {
                let y = level - 6 - Double(lines.count - 1 - i) * 13
                s += "<text x=\"\(n(mid))\" y=\"\(n(y))\" font-size=\"11\" text-anchor=\"middle\" fill=\"\(i == 0 ? "#111827" : "#374151")\"\(i == 0 ? " font-weight=\"600\"" : "")>\(e(line))</text>\n"
            }
            for (i, c) in caps.enumerated() {
                s += captureTag(c, x: mid + 6, y: level + 4 + Double(i) * Self.tagH, anchor: "start")
            }
            s += "</g>\n"
        }

        // Bridges and their segments.
        for box in boxes {
            let b = box.bridge
            s += "<g class=\"bridge\" id=\"node-\(e(b.name))\"><title>bridge \(e(b.name))</title>\n"
            s += "<rect x=\"\(n(box.x))\" y=\"\(n(top))\" width=\"\(n(box.width))\" height=\"\(n(bridgeH))\" rx=\"8\" fill=\"#eff6ff\" stroke=\"#2563eb\" stroke-width=\"1.5\"/>\n"
            s += "<text x=\"\(n(box.x + 10))\" y=\"\(n(top + 20))\" font-size=\"14\" font-weight=\"700\" fill=\"#1e3a8a\">\(e(b.name))</text>\n"
            if let wan = b.wan, let wx = box.wanX {
                let w = Self.textWidth("WAN " + wan) + 16
                s += "<rect x=\"\(n(wx - w / 2))\" y=\"\(n(top + 6))\" width=\"\(n(w))\" height=\"18\" rx=\"9\" fill=\"#ede9fe\" stroke=\"#7c3aed\"/>"
                s += "<text x=\"\(n(wx))\" y=\"\(n(top + 19))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#4c1d95\">\(e("WAN " + wan))</text>\n"
            }
            for (i, seg) in box.segments.enumerated() {
                let py = top + Self.headerH
                let label = seg.name + (b.segmentAddresses.indices.contains(i) && !b.segmentAddresses[i].isEmpty ? " \(b.segmentAddresses[i])" : "")
                s += "<g class=\"segment\" id=\"segment-\(e(b.name))-\(e(seg.name))\"><title>segment \(e(b.name)).\(e(seg.name))</title>"
                s += "<rect x=\"\(n(seg.x))\" y=\"\(n(py))\" width=\"\(n(seg.width))\" height=\"\(n(Self.pillH))\" rx=\"12\" fill=\"#ffffff\" stroke=\"#60a5fa\"/>"
                s += "<text x=\"\(n(seg.x + seg.width / 2))\" y=\"\(n(py + 16))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#1e40af\">\(e(label))</text></g>\n"
                let caps = t.captures.filter { !$0.onLink && $0.at == "\(b.name).\(seg.name)" }
                for (j, c) in caps.enumerated() {
                    s += captureTag(c, x: seg.x + 6, y: py + Self.pillH + 6 + Double(j) * Self.tagH, anchor: "start")
                }
            }
            s += "</g>\n"
        }

        // Hosts below their segments, with their cable's impairments when a link plugs them in.
        for box in boxes {
            for seg in box.segments {
                let pillBottom = top + Self.headerH + Self.pillH
                let busX = seg.x + seg.width / 2
                for (i, h) in seg.hosts.enumerated() {
                    let row = Double(i / Self.hostsPerRow), col = Double(i % Self.hostsPerRow)
                    let hx = seg.x + col * (Self.hostW + Self.hostGap)
                    let hy = hostsTop + row * Self.hostRowH
                    let cable = t.links.first { ($0.a == h.name || $0.b == h.name) }
                    let up = cable?.initiallyUp ?? true
                    let color = up ? "#6b7280" : Self.downColor
                    s += "<g class=\"host\" id=\"node-\(e(h.name))\"><title>host \(e(h.name)) on \(e(h.bridge)).\(e(h.segment))</title>\n"
                    s += "<path d=\"M\(n(busX)) \(n(pillBottom)) L\(n(busX)) \(n(hostsTop - 24)) L\(n(hx + Self.hostW / 2)) \(n(hy - 10)) L\(n(hx + Self.hostW / 2)) \(n(hy))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"\(up ? "" : " stroke-dasharray=\"6 4\"")/>\n"
                    s += "<rect x=\"\(n(hx))\" y=\"\(n(hy))\" width=\"\(n(Self.hostW))\" height=\"\(n(Self.hostH))\" rx=\"6\" fill=\"#f0fdf4\" stroke=\"#16a34a\" stroke-width=\"1.5\"/>\n"
                    s += "<text x=\"\(n(hx + Self.hostW / 2))\" y=\"\(n(hy + 17))\" font-size=\"13\" font-weight=\"600\" text-anchor=\"middle\" fill=\"#14532d\">\(e(h.name))</text>\n"
                    s += "<text x=\"\(n(hx + Self.hostW / 2))\" y=\"\(n(hy + 32))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#374151\">\(e(h.address))</text>\n"
                    if let cable {
                        var lines = directionLines(cable, fromLeft: cable.a, toRight: cable.b, short: true)
                        if !cable.initiallyUp { lines.insert("starts down", at: 0) }
                        let whole = lines.joined(separator: "; ")
                        var wrapped = lines.flatMap { Self.wrap($0, to: Self.hostW + Self.hostGap - 4) }
                        if wrapped.count > Self.cableLines {
                            wrapped = Array(wrapped.prefix(Self.cableLines))
                            wrapped[Self.cableLines - 1] = Self.clip(wrapped[Self.cableLines - 1] + " …", to: Self.hostW + Self.hostGap - 4)
                        }
                        for (j, line) in wrapped.enumerated() {
                            s += "<text x=\"\(n(hx + Self.hostW / 2))\" y=\"\(n(hy + Self.hostH + 13 + Double(j) * 12))\" font-size=\"10\" text-anchor=\"middle\" fill=\"\(up ? "#4b5563" : Self.downColor)\">\(e(line))<title>\(e(cable.name)): \(e(whole))</title></text>\n"
                        }
                    }
                    s += "</g>\n"
                }
            }
        }
        s += "</svg>"
        return s
    }

    func isHostEnd(_ end: String) -> Bool { topology.hosts.contains { $0.name == end } }

    /// "→ br1.lan: delay 5ms" and "← br0.lan: …" for a link's two directions; "ideal" when both are perfect.
    func directionLines(_ l: ReportTopology.Link, fromLeft left: String, toRight right: String, short: Bool = false) -> [String] {
        // `forward` is a → b.
        let toRight = left == l.a ? l.forward : l.reverse
        let toLeft = left == l.a ? l.reverse : l.forward
        if toRight == "none" && toLeft == "none" { return [short ? "ideal cable" : "ideal"] }
        if toRight == toLeft { return ["⇄ \(toRight)"] }
        var out: [String] = []
        if short {
            // A host's cable: the host is one end; name the direction by where it goes.
            let host = isHostEnd(l.a) ? l.a : l.b
            let up = host == l.a ? l.forward : l.reverse, down = host == l.a ? l.reverse : l.forward
            if up != "none" { out.append("↑ \(up)") }
            if down != "none" { out.append("↓ \(down)") }
            return out
        }
        if toRight != "none" { out.append("→ \(toRight)") }
        if toLeft != "none" { out.append("← \(toLeft)") }
        return out
    }

    func captureTag(_ c: ReportTopology.CapturePoint, x: Double, y: Double, anchor: String) -> String {
        let label = "◉ \(c.name)"
        let tip = "capture \(c.name) at \(c.onLink ? "link " : "")\(c.at)" + (c.filter.map { ", filter \($0)" } ?? "")
        return "<text class=\"capture\" x=\"\(Format.number(x, digits: 1))\" y=\"\(Format.number(y + 11, digits: 1))\" font-size=\"11\" text-anchor=\"\(anchor)\" fill=\"\(Self.captureColor)\">\(Markup.xml(label))<title>\(Markup.xml(tip))</title></text>\n"
    }

    /// `text` in lines that fit `width` pixels at 10px, broken between words (a word too long
    /// for a line is clipped).
    static func wrap(_ text: String, to width: Double) -> [String] {
        let fits = max(Int(width / 6.0), 4)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.isEmpty { line = String(word) } else if line.count + 1 + word.count <= fits { line += " " + word } else {
                lines.append(line)
                line = String(word)
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { clip($0, to: width) }
    }

    /// `text` cut to fit `width` pixels at 10px, with an ellipsis.
    static func clip(_ text: String, to width: Double) -> String {
        let fits = Int(width / 6.0)
        return text.count <= fits ? text : String(text.prefix(max(fits - 1, 1))) + "…"
    }
}
