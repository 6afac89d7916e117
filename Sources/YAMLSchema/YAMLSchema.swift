// Room: YAMLSchema — layer 1. Typed reads of YAML documents that keep every value's position, so
// a bad config or scenario file fails with file:line:column, what was wrong, and the fix
// (docs/architecture.md, Bad input). Used by Engine (bridge.yml), QEMU (machine.yml) and the lab (scenario files).
// No I/O: callers read the file and pass its text (`ConfigError.unreadableFile` when they cannot).
// The one "did you mean …" suggestion (`closestCandidate`, `didYouMean`) every reader uses.
import Foundation
import Yams

/// A problem in a configuration or scenario file, located to file:line:column.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// What is wrong, naming the field ("router.dhcp.start: '10.0.0.300' is not an IPv4 address").
    public var message: String
    /// What to do about it.
    public var fix: String?

    public init(file: String, line: Int, column: Int, message: String, fix: String? = nil) {
        self.file = file; self.line = line; self.column = column; self.message = message; self.fix = fix
    }

    public var description: String {
        "\(file):\(line):\(column): error: \(message)" + (fix.map { "\n  fix: \($0)" } ?? "")
    }
}

/// One YAML node with its position and dotted path ("router.dhcp.start") in its file.
public struct YAMLValue {
    public let node: Node
    public let path: String
    public let file: String

    public var line: Int { node.mark?.line ?? 1 }
    public var column: Int { node.mark?.column ?? 1 }

    /// Parses `text` (the contents of `file`) into its root value. An empty document is an empty mapping.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> YAMLValue {
        do {
            let node = try Yams.compose(yaml: text) ?? Node.mapping(Node.Mapping([]))
            return YAMLValue(node: node, path: "", file: file)
        } catch let error as YamlError {
            throw ConfigError.fromYams(error, file: file)
        } catch {
            throw ConfigError(file: file, line: 1, column: 1, message: "cannot read YAML: \(error)")
        }
    }

    public init(node: Node, path: String, file: String) {
        self.node = node; self.path = path; self.file = file
    }

    /// An error located at this value.
    public func error(_ message: String, fix: String? = nil) -> ConfigError {
        ConfigError(file: file, line: line, column: column,
                    message: path.isEmpty ? message : "\(path): \(message)", fix: fix)
    }

    var kindName: String {
        switch node {
        case .scalar: "a value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    // MARK: Shapes

    /// This value as a mapping whose keys must all be in `allowed`; the first unknown or repeated key throws.
    public func mapping(allowed: [String]) throws(ConfigError) -> YAMLMapping {
        var errors: [ConfigError] = []
        let m = try mapping(allowed: allowed, recording: &errors)
        if let first = errors.first { throw first }
        return m
    }

    /// This value as a mapping whose keys must all be in `allowed`: an unknown or repeated key is
    /// appended to `errors` and left out (so a reader can go on and report what else is wrong); a
    /// value that is not a mapping, or a key that is not a plain name, throws. Linear in the number
    /// of keys, however many are allowed (the nodes of a scenario allow every name written).
    public func mapping(allowed: [String], recording errors: inout [ConfigError]) throws(ConfigError) -> YAMLMapping {
        guard case .mapping(let m) = node else {
            throw error("expected a mapping with keys \(allowed.joined(separator: ", ")), found \(kindName)")
        }
        let allowedSet: Set<String>? = allowed.count > 16 ? Set(allowed) : nil
        var seen: Set<String> = []
        var entries: [(key: String, keyValue: YAMLValue, value: YAMLValue)] = []
        entries.reserveCapacity(m.count)
        for (k, v) in m {
            guard case .scalar(let ks) = k else {
                throw YAMLValue(node: k, path: path, file: file).error("keys must be plain names")
            }
            let keyValue = YAMLValue(node: k, path: path, file: file)
            guard allowedSet?.contains(ks.string) ?? allowed.contains(ks.string) else {
                let hint = didYouMean(ks.string, in: allowed)
                errors.append(keyValue.error("unknown key '\(ks.string)'", fix: "\(hint)allowed here: \(allowed.joined(separator: ", "))"))
                continue
            }
            guard seen.insert(ks.string).inserted else {
                errors.append(keyValue.error("key '\(ks.string)' appears twice", fix: "keep one of them"))
                continue
            }
            let childPath = path.isEmpty ? ks.string : "\(path).\(ks.string)"
            entries.append((ks.string, keyValue, YAMLValue(node: v, path: childPath, file: file)))
        }
        return YAMLMapping(owner: self, entries: entries)
    }

    /// This value as a list.
    public func list() throws(ConfigError) -> [YAMLValue] {
        guard case .sequence(let s) = node else { throw error("expected a list, found \(kindName)") }
        return s.enumerated().map { YAMLValue(node: $1, path: "\(path)[\($0)]", file: file) }
    }

    /// The scalar text of this value.
    public func scalar() throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw error("expected a value, found \(kindName)") }
        return s.string
    }

    public func string() throws(ConfigError) -> String { try scalar() }

    public func bool() throws(ConfigError) -> Bool {
        switch try scalar().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let s: throw error("'\(s)' is not true or false")
        }
    }

    public func int(in range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        let s = try scalar()
        guard let v = Int(s.replacingOccurrences(of: "_", with: "")) else { throw error("'\(s)' is not a whole number") }
        if let range, !range.contains(v) { throw error("\(v) is out of range", fix: "use a value in \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    /// A duration such as "250ms", "5s", "1m", "2h", "100us", "10ns"; a bare number means seconds.
    public func duration() throws(ConfigError) -> Duration {
        let s = try scalar()
        guard let seconds = parseDurationSeconds(s) else {
            throw error("'\(s)' is not a duration", fix: "write a number with a unit: ns, us, ms, s, m, h (e.g. 250ms, 5s, 1h)")
        }
        guard let d = parseDuration(s) else { throw Self.durationOutOfRange(s, seconds: seconds, at: self) }
        return d
    }

    /// The longest duration any file may give: 1e9 s, about 31.7 years. Anything longer (1e10s
    /// overflowed Int64 nanoseconds and trapped) is refused with a located error, and every sum of
    /// a few of these (a time plus a delay plus jitter) still fits an Int64 of nanoseconds.
    public static let maximumDuration = Duration.seconds(maximumDurationSeconds)
    static let maximumDurationSeconds: Int64 = 1_000_000_000

    /// The error for a duration longer than `maximumDuration`, located at `value`.
    public static func durationOutOfRange(_ text: String, seconds: Double, at value: YAMLValue) -> ConfigError {
        value.error("'\(text)' is out of range (\(seconds) s)", fix: "use at most \(maximumDurationSeconds)s (about 31 years)")
    }

    /// A percentage "2%" or a fraction "0.02", returned as a fraction in 0...1.
    public func fraction() throws(ConfigError) -> Double {
        let s = try scalar().trimmingCharacters(in: .whitespaces)
        let v: Double?
        if s.hasSuffix("%") { v = Double(s.dropLast()).map { $0 / 100 } } else { v = Double(s) }
        guard let v, v >= 0, v <= 1 else { throw error("'\(s)' is not a probability", fix: "write a percentage (2%) or a fraction between 0 and 1 (0.02)") }
        return v
    }
}

/// A mapping whose keys were checked against the allowed set; values keep their positions.
public struct YAMLMapping {
    public let owner: YAMLValue
    let entries: [(key: String, keyValue: YAMLValue, value: YAMLValue)]

    /// The value at `key`, or nil when absent (or explicitly null).
    public subscript(key: String) -> YAMLValue? {
        guard let e = entries.first(where: { $0.key == key }) else { return nil }
        if case .scalar(let s) = e.value.node, s.tag.description == "tag:yaml.org,2002:null" || (s.style == .plain && ["~", "null", ""].contains(s.string)) {
            return nil
        }
        return e.value
    }

    /// The value at `key`, or an error naming the missing key.
    public func required(_ key: String, example: String? = nil) throws(ConfigError) -> YAMLValue {
        guard let v = self[key] else {
            let at = owner.path.isEmpty ? "" : " in \(owner.path)"
            throw ConfigError(file: owner.file, line: owner.line, column: owner.column,
                              message: "missing required key '\(key)'\(at)",
                              fix: example.map { "add it, e.g. \(key): \($0)" })
        }
        return v
    }

    /// Keys in file order.
    public var keys: [String] { entries.map(\.key) }
    /// Entries in file order.
    public var values: [(key: String, value: YAMLValue)] { entries.map { ($0.key, $0.value) } }
}

extension ConfigError {
    static func fromYams(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, column: mark.column,
                               message: "YAML syntax: \(problem)", fix: "check indentation and quoting near this line")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(file: file, line: context.mark.line, column: context.mark.column,
                               message: "duplicate keys: \(duplicates.joined(separator: ", "))", fix: "keep one of each")
        default:
            return ConfigError(file: file, line: 1, column: 1, message: "YAML: \(e)")
        }
    }
}

extension ConfigError {
    /// What a reader says when the file at `path` cannot be read as UTF-8 text. Reading is the caller's
    /// (the CLI, the lab, the QEMU runner): this module only parses the text it is given.
    public static func unreadableFile(_ path: String) -> ConfigError {
        ConfigError(file: path, line: 0, column: 0, message: "cannot read the file as UTF-8 text",
                    fix: "check the path, its permissions and that it is UTF-8 text")
    }
}

/// Parses "250ms", "1.5s", "2m", "1h", "10us", "5ns"; a bare number is seconds. Nil when it is not a
/// duration or is longer than `YAMLValue.maximumDuration` (so the conversion never traps).
public func parseDuration(_ text: String) -> Duration? {
    guard let seconds = parseDurationSeconds(text), seconds <= Double(YAMLValue.maximumDurationSeconds) else { return nil }
    return .nanoseconds(Int64((seconds * 1e9).rounded()))
}

/// The seconds a duration text says (finite, not negative, any size), or nil when it is not one.
public func parseDurationSeconds(_ text: String) -> Double? {
    let s = text.trimmingCharacters(in: .whitespaces)
    let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
    for (suffix, scale) in units where s.hasSuffix(suffix) {
        guard let v = Double(s.dropLast(suffix.count)), v >= 0, v.isFinite, (v * scale).isFinite else { return nil }
        return v * scale
    }
    guard let v = Double(s), v >= 0, v.isFinite else { return nil }
    return v
}

/// The candidate nearest to `word` by edit distance (Levenshtein, case-insensitive), if it is close enough to
/// be a likely typo: within `maximumDistance`, by default max(2, a third of the word's length). Every config
/// and scenario reader suggests through this one function.
public func closestCandidate(to word: String, in candidates: [String], maximumDistance: Int? = nil) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for i in a.indices {
            var previous = row[0]
            row[0] = i + 1
            for j in b.indices {
                let current = row[j + 1]
                row[j + 1] = min(row[j + 1] + 1, row[j] + 1, previous + (a[i] == b[j] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
    let w = Array(word.lowercased())
    let best = candidates.map { ($0, distance(w, Array($0.lowercased()))) }.min { $0.1 < $1.1 }
    guard let best, best.1 <= (maximumDistance ?? max(2, w.count / 3)) else { return nil }
    return best.0
}

/// "did you mean 'x'? " for the closest candidate (see `closestCandidate`), or "" when none is close: the
/// start of a `ConfigError.fix`.
public func didYouMean(_ word: String, in candidates: [String], maximumDistance: Int? = nil) -> String {
    closestCandidate(to: word, in: candidates, maximumDistance: maximumDistance).map { "did you mean '\($0)'? " } ?? ""
}
