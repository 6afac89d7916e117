// Room: Lab — layer 6. run.json, the machine-readable record `sluice lab run` writes into every
// report directory beside junit.xml, summary.md and index.html, and `sluice lab merge`, which reads
// the run files of several reports (the shards of one suite, run on different CI machines) and
// checks that they fit together before one report is written from them (docs/scenarios.md, Sharding).
import Foundation

/// The contents of a report's run.json.
public struct LabRunFile: Codable, Sendable {
    /// Always `LabRunFile.formatName`: a JSON file that is not ours is refused by name.
    public var format: String
    /// `LabRunFile.currentVersion` when written; a merge refuses other versions.
    public var version: Int
    public var title: String
    /// The command line's choices: the backend, `--seed` (nil: each file's own), `--filter`, `--shard`.
    public var backend: String
    public var seed: UInt64?
    public var filter: String?
    public var shardIndex: Int?
    public var shardCount: Int?
    /// The scenario files this run selected, sorted by path.
    public var files: [String]
    /// One per selected file, in path order. Capture paths inside the report directory are relative to it.
    public var runs: [LabRun]

    public static let formatName = "sluice-lab-run"
    public static let currentVersion = 2
    /// Bounds and measured values may be infinite (an infinite lease time): JSON has no such
    /// number, so they are written as strings.
    static let nonFiniteNumbers = JSONEncoder.NonConformingFloatEncodingStrategy.convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    static let nonFiniteNumbersDecoded = JSONDecoder.NonConformingFloatDecodingStrategy.convertFromString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    /// Its name inside a report directory.
    public static let fileName = "run.json"

    public init(title: String, backend: String, seed: UInt64?, filter: String?, shard: Shard?, files: [String], runs: [LabRun]) {
        format = Self.formatName; version = Self.currentVersion
        self.title = title; self.backend = backend; self.seed = seed; self.filter = filter
        shardIndex = shard?.index; shardCount = shard?.count
        self.files = files; self.runs = runs
    }

    public var shard: Shard? { shardIndex.flatMap { i in shardCount.flatMap { Shard(index: i, count: $0) } } }

    /// Writes the file into `directory` (which exists); capture paths under it become relative.
    public func write(to directory: String) throws(ReportError) {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        var copy = self
        for r in copy.runs.indices {
            for c in copy.runs[r].captures.indices {
                let path = URL(fileURLWithPath: copy.runs[r].captures[c].path).standardizedFileURL.path
                if path.hasPrefix(root + "/") { copy.runs[r].captures[c].path = String(path.dropFirst(root.count + 1)) }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = Self.nonFiniteNumbers
        let path = root + "/" + Self.fileName
        do { try encoder.encode(copy).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ReportError(path: path, message: error.localizedDescription)
        }
    }

    /// Reads `directory`/run.json; relative capture paths are resolved against `directory`.
    public static func read(directory: String) throws(LabMergeError) -> LabRunFile {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        let path = root + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabMergeError("\(directory): no \(fileName) in it; give report directories written by `sluice lab run`")
        }
        var file: LabRunFile
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = Self.nonFiniteNumbersDecoded
        do { file = try decoder.decode(LabRunFile.self, from: data) } catch {
            throw LabMergeError("\(path): not a run file \(Self.describe(error))")
        }
        guard file.format == formatName else { throw LabMergeError("\(path): format '\(file.format)' is not \(formatName)") }
        guard file.version == currentVersion else {
            throw LabMergeError("\(path): run file version \(file.version), this sluice reads version \(currentVersion); run the suite again with this sluice")
        }
        if file.shardIndex != nil || file.shardCount != nil, file.shard == nil {
            throw LabMergeError("\(path): shard \(file.shardIndex.map(String.init) ?? "?")/\(file.shardCount.map(String.init) ?? "?") is not a valid shard")
        }
        if let problem = file.outOfRange() { throw LabMergeError("\(path): \(problem); the file was not written by `sluice lab run`") }
        for r in file.runs.indices {
            for c in file.runs[r].captures.indices where !file.runs[r].captures[c].path.hasPrefix("/") {
                file.runs[r].captures[c].path = root + "/" + file.runs[r].captures[c].path
            }
        }
        return file
    }

    /// The first number a run could not have written, or nil. Reports do arithmetic on these (a frame's
    /// number is its index + 1; times are rounded to microseconds), so a hand-edited file must not
    /// carry values that would overflow there.
    func outOfRange() -> String? {
        let maxTime = UInt64(Int64.max)  // 292 years of virtual time
        let maxCount = Int(Int32.max)
        for (i, r) in runs.enumerated() {
            let at = "runs[\(i)] (\(r.scenarioName))"
            if r.simulatedDuration < .zero || r.wallTime < .zero { return "\(at): a negative duration" }
            for o in r.outcomes {
                if !(0...maxCount).contains(o.index) || !(0...maxCount).contains(o.location.line) || !(0...maxCount).contains(o.location.column) {
                    return "\(at): expectation '\(o.name)' has an index or position out of range"
                }
                for f in o.frames where !(0...maxCount).contains(f.index) || f.time.nanoseconds > maxTime {
                    return "\(at): expectation '\(o.name)' names a frame out of range"
                }
            }
            for a in r.actions where (a.result?.startedAt.nanoseconds ?? 0) > maxTime {
                return "\(at): action '\(a.name)' starts out of range"
            }
            for c in r.captures where !(0...maxCount).contains(c.frames) { return "\(at): capture '\(c.name)' has \(c.frames) frames" }
        }
        return nil
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c), DecodingError.keyNotFound(_, let c), DecodingError.typeMismatch(_, let c),
             DecodingError.valueNotFound(_, let c):
            let at = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return "(\(at.isEmpty ? "" : "at \(at): ")\(c.debugDescription))"
        default:
            return "(\(error.localizedDescription))"
        }
    }
}

/// Why `sluice lab merge` refused its inputs.
public struct LabMergeError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Joins the run files of several reports into one.
public enum LabMerge {
    /// The run files in `directories` as one: the same backend, seed and filter in every input, each
    /// scenario file in exactly one input, each directory given once, and when the inputs are shards
    /// (`--shard i/n`), every shard of the same n exactly once. Runs are ordered by scenario file, as
    /// one unsharded run orders them.
    public static func merge(directories: [String]) throws(LabMergeError) -> LabRunFile {
        guard !directories.isEmpty else { throw LabMergeError("nothing to merge: give the report directories of the runs") }
        var seenDirectories: [String: String] = [:]
        var inputs: [(directory: String, file: LabRunFile)] = []
        for d in directories {
            let key = URL(fileURLWithPath: d).standardizedFileURL.resolvingSymlinksInPath().path
            if let earlier = seenDirectories[key] { throw LabMergeError("\(d) is given twice (also as \(earlier)); give each report once") }
            seenDirectories[key] = d
            inputs.append((d, try LabRunFile.read(directory: d)))
        }
        let first = inputs[0]
        for (d, f) in inputs.dropFirst() {
            func differ(_ what: String, _ a: String, _ b: String) -> LabMergeError {
                LabMergeError("\(d) ran with \(what) \(b) but \(first.directory) with \(a); merge only the parts of one run")
            }
            if f.backend != first.file.backend { throw differ("backend", first.file.backend, f.backend) }
            if f.seed != first.file.seed {
                throw differ("seed", first.file.seed.map { "\($0)" } ?? "(each file's own)", f.seed.map { "\($0)" } ?? "(each file's own)")
            }
            if f.filter != first.file.filter {
                throw differ("filter", first.file.filter.map { "'\($0)'" } ?? "(none)", f.filter.map { "'\($0)'" } ?? "(none)")
            }
            if (f.shardCount == nil) != (first.file.shardCount == nil) || f.shardCount != first.file.shardCount {
                throw differ("shards", first.file.shard.map { "--shard \($0)" } ?? "no --shard", f.shard.map { "--shard \($0)" } ?? "no --shard")
            }
        }
        if let count = first.file.shardCount {
            var byIndex: [Int: String] = [:]
            for (d, f) in inputs {
                let i = f.shardIndex ?? 0
                if let other = byIndex[i] { throw LabMergeError("\(d) and \(other) are both shard \(i)/\(count)") }
                byIndex[i] = d
            }
            let missing = (1...count).filter { byIndex[$0] == nil }
            if !missing.isEmpty {
                throw LabMergeError("shard\(missing.count == 1 ? "" : "s") \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) missing: give every shard's report")
            }
        }
        var owner: [String: String] = [:]
        var runs: [LabRun] = []
        var files: [String] = []
        for (d, f) in inputs {
            for path in f.files {
                if let other = owner[path] { throw LabMergeError("\(path) ran in both \(other) and \(d); each scenario file must be in one input") }
                owner[path] = d
            }
            files += f.files
            runs += f.runs
        }
        // Stable: runs of one file (there is one per file) keep their order.
        let order = Dictionary(uniqueKeysWithValues: files.sorted().enumerated().map { ($1, $0) })
        runs = runs.enumerated().sorted { a, b in
            let x = order[a.element.scenarioFile] ?? Int.max, y = order[b.element.scenarioFile] ?? Int.max
            return x != y ? x < y : a.offset < b.offset
        }.map(\.element)
        let shardNote = first.file.shardCount.map { " (\($0) shards)" } ?? ""
        return LabRunFile(title: "Sluice lab run, merged from \(inputs.count) report\(inputs.count == 1 ? "" : "s")\(shardNote)",
                          backend: first.file.backend, seed: first.file.seed, filter: first.file.filter, shard: nil,
                          files: files.sorted(), runs: runs)
    }
}
