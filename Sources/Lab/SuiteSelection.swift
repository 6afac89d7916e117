// Room: Lab — layer 6. Which scenario files a `sluice lab run` takes (docs/scenarios.md, Selecting
// scenarios): the files found, narrowed by `--filter` before any file is parsed, then split by
// `--shard i/n` across CI runners. Works on paths and file text only; parsing happens afterwards,
// and only for the files selected.
import Foundation

/// One part of a suite split across `count` runners: `--shard index/count`, 1-based.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    /// The most runners a suite may be split across.
    public static let maximumCount = 1000

    /// A shard; nil unless 1 ≤ index ≤ count ≤ `maximumCount`.
    public init?(index: Int, count: Int) {
        guard (1...Self.maximumCount).contains(count), (1...count).contains(index) else { return nil }
        self.index = index; self.count = count
    }

    /// Parses "2/4". Nil for anything else, including 0/4, 5/4 and 1/0.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 6 && $0.allSatisfy(\.isASCII) }),
              let i = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether the file at `position` of the sorted suite (0-based) belongs to this shard: files are
    /// dealt round-robin by sorted path, so every file is in exactly one shard and shards differ in
    /// size by at most one.
    public func contains(position: Int) -> Bool { position % count == index - 1 }
}

/// What `SuiteSelection.select` chose, and why the rest was left out.
public struct SuiteSelection: Sendable {
    /// Every scenario file found, sorted by path, without repeats.
    public var found: [String]
    /// Those whose path or name matches the filter (all of `found` without one).
    public var matching: [String]
    /// Those of `matching` in the shard (all of `matching` without one): the files to load and run.
    public var selected: [String]

    /// Picks the scenario files of `paths` (files, or directories searched for .yml/.yaml) to run.
    /// A file matches `filter` when its path, or the name on its top-level `name:` line, contains the
    /// text (case-insensitively); the file is read for that line, not parsed, so a broken file that
    /// does not match never stops the run. The matching files, sorted by path, are then dealt
    /// round-robin into `shard.count` shards.
    public static func select(_ paths: [String], filter: String?, shard: Shard?) -> SuiteSelection {
        var seen = Set<String>()
        let found = Scenario.discover(paths).sorted().filter { seen.insert($0).inserted }
        let matching: [String]
        if let filter, !filter.isEmpty {
            matching = found.filter { path in
                path.localizedCaseInsensitiveContains(filter)
                    || (declaredName(atPath: path)?.localizedCaseInsensitiveContains(filter) ?? false)
            }
        } else {
            matching = found
        }
        let selected = shard.map { s in matching.enumerated().filter { s.contains(position: $0.offset) }.map(\.element) } ?? matching
        return SuiteSelection(found: found, matching: matching, selected: selected)
    }

    /// The scenario name a file declares on a line `name: …` at the start of a line (the top level),
    /// without parsing the YAML: quotes and a trailing `# comment` are removed. Nil when the file
    /// cannot be read or has no such line.
    public static func declaredName(atPath path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else { return nil }
        return declaredName(in: text)
    }

    /// `declaredName(atPath:)` on text.
    public static func declaredName(in text: String) -> String? {
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) where line.hasPrefix("name:") {
            var value = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
            if let first = value.first, first == "\"" || first == "'" {
                let rest = value.dropFirst()
                value = String(rest.prefix { $0 != first })
            } else if let hash = value.range(of: " #") {
                value = String(value[..<hash.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            return value.isEmpty ? nil : value
        }
        return nil
    }
}
