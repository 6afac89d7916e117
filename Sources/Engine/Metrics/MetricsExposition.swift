// Counters in the Prometheus text exposition format, version 0.0.4 (the format `promtool check
// metrics` reads): one `# HELP` and one `# TYPE` line per metric family, then one line per sample,
// `name{label="value",…} value`. Counters end in `_total`. Values only: the driver serves the text
// (control socket, HTTP); `sluice bridge --stats --json` gets the same samples as JSON.
import Basics

/// A metric family's type (Prometheus: counter only goes up; gauge is a current value).
public enum MetricType: String, Sendable {
    case counter
    case gauge
}

/// One sample: a metric's labels and value.
public struct MetricSample: Equatable, Sendable {
    public var labels: [(String, String)]
    public var value: UInt64

    public static func == (a: MetricSample, b: MetricSample) -> Bool {
        a.value == b.value && a.labels.elementsEqual(b.labels) { $0 == $1 }
    }
}

/// Metric families in the order they were first added, each with its samples.
public struct MetricsExposition: Sendable {
    public struct Family: Sendable {
        public var name: String
        public var type: MetricType
        public var help: String
        public var samples: [MetricSample]
    }

    public private(set) var families: [Family] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Adds one sample of `name` (the family is created on first use; later help and type are ignored).
    public mutating func add(_ name: String, _ type: MetricType, help: String, labels: [(String, String)] = [], value: UInt64) {
        let i: Int
        if let found = index[name] { i = found } else {
            i = families.count
            index[name] = i
            families.append(Family(name: name, type: type, help: help, samples: []))
        }
        families[i].samples.append(MetricSample(labels: labels, value: value))
    }

    /// Adds every counter of `counters` (a counters struct: `UInt64` fields, nested counters
    /// structs, `ReasonCounts`) as `prefix_field_name_total` with `labels`; a `ReasonCounts` field
    /// adds one sample per reason, labelled `reason`. Fields are found by reflection, so a counter
    /// added to the struct is exported without changes here.
    public mutating func addCounters(_ counters: Any, prefix: String, what: String, labels: [(String, String)] = []) {
        for child in Mirror(reflecting: counters).children {
            guard let label = child.label else { continue }
            let field = Self.snakeCase(label.hasPrefix("_") ? String(label.dropFirst()) : label)
            if let value = child.value as? UInt64 {
                add("\(prefix)_\(field)_total", .counter, help: "\(what): \(field.split(separator: "_").joined(separator: " "))",
                    labels: labels, value: value)
            } else if let reasons = child.value as? any ReasonCountsRows {
                for row in reasons.rows {
                    add("\(prefix)_\(field)_total", .counter, help: "\(what): \(field) by reason", labels: labels + [("reason", row.reason)],
                        value: row.count)
                }
            } else if Mirror(reflecting: child.value).displayStyle == .struct,
                      String(describing: type(of: child.value)).hasSuffix("Counters") {
                addCounters(child.value, prefix: "\(prefix)_\(field)", what: what, labels: labels)
            }
        }
    }

    /// The text exposition (ends with a newline).
    public var text: String {
        var out = ""
        for f in families {
            out += "# HELP \(f.name) \(Self.escapeHelp(f.help))\n# TYPE \(f.name) \(f.type.rawValue)\n"
            for s in f.samples {
                out += f.name
                if !s.labels.isEmpty {
                    out += "{" + s.labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                out += " \(s.value)\n"
            }
        }
        return out
    }

    /// The same samples as one JSON object: `{"metrics":[{"name":…,"type":…,"labels":{…},"value":…},…]}`
    /// plus `extra` fields (already JSON-encoded values) first.
    public func json(extra: [(String, String)] = []) -> String {
        var items: [String] = []
        for f in families {
            for s in f.samples {
                let labels = s.labels.map { "\(JSONText.string($0.0)):\(JSONText.string($0.1))" }.joined(separator: ",")
                items.append("{\"name\":\(JSONText.string(f.name)),\"type\":\"\(f.type.rawValue)\",\"labels\":{\(labels)},\"value\":\(s.value)}")
            }
        }
        let head = extra.map { "\(JSONText.string($0.0)):\($0.1)," }.joined()
        return "{\(head)\"metrics\":[\(items.joined(separator: ","))]}\n"
    }

    /// "rxPackets" → "rx_packets", "icmpErrorsSent" → "icmp_errors_sent", "queuedForARP" → "queued_for_arp".
    public static func snakeCase(_ name: String) -> String {
        var out = ""
        let chars = Array(name)
        for (i, c) in chars.enumerated() {
            if c.isUppercase {
                let previousLower = i > 0 && (chars[i - 1].isLowercase || chars[i - 1].isNumber)
                let nextLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if i > 0 && (previousLower || (nextLower && chars[i - 1].isUppercase)) { out += "_" }
                out += c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// Label values: backslash, double quote and newline escaped (exposition format 0.0.4).
    static func escapeLabel(_ s: String) -> String { escape(s, quote: true) }

    /// HELP text: backslash and newline escaped.
    static func escapeHelp(_ s: String) -> String { escape(s, quote: false) }

    static func escape(_ s: String, quote: Bool) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quote: out += "\\\""
            default: out.append(c)
            }
        }
        return out
    }
}

/// JSON string literals, written by hand (the Engine has no Foundation encoder on its path).
public enum JSONText {
    /// `s` as a JSON string literal, quotes included; control characters as \u escapes.
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
