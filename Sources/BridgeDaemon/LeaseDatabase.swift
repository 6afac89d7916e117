// A bridge's DHCP lease database: one text file holding every record of every DHCP server but
// offers, as an append log with compaction. A snapshot of every record (up to its `end` line) is
// written crash-safely — the text goes to `<file>.tmp`, is fsync'd, renamed over the file, and the
// directory is fsync'd — and each change after it is appended as one line per record (a `lease`
// line replaces the record of its segment and address, a `drop` line removes it) and fsync'd
// before the reply that caused it goes out. A crash mid-append leaves at most the last line torn
// (no newline): it is ignored and reported, and the next start compacts. When the file holds
// more than twice as many lines as there are records (`LeaseJournal`), the next change is written
// as a fresh snapshot instead. Times are Unix seconds (the wall clock at the driver edge); the
// DHCP servers stay sans-IO and only see `DHCPLease` values.
//
//   # sluice lease database v2
//   lease <segment> <address> <state> <expiry unix s> <client> [mac=<mac>] [host=<%-escaped>]
//   end <number of lease lines above>
//   lease … | drop <segment> <address>          (changes since the snapshot, one per line)
//
// <client> is `id:<hex>` (client identifier) or `hw:<htype>:<hex>` (chaddr). The `end` line
// detects a snapshot cut short (a copy cut short, a disk that lied). Version 1 files (a snapshot
// with nothing after `end`, from before the log) load as they are.
import Basics
import Datapath
import Foundation
import Wire

public struct LeaseDatabase {
    public let path: String
    public init(path: String) { self.path = path }

    public static let header = "# sluice lease database v2"
    /// The header of the files written before the append log (a snapshot only).
    public static let headerV1 = "# sluice lease database v1"

    /// One record and the segment whose server holds it.
    public struct Entry: Equatable {
        public var segment: String
        public var lease: DHCPLease
        public init(segment: String, lease: DHCPLease) { self.segment = segment; self.lease = lease }
    }

    /// A line that could not be read.
    public struct Problem: Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    // MARK: Text

    /// A snapshot's text for `entries` (offers left out), times read on `wall`.
    public static func render(_ entries: [Entry], wall: WallClock) -> String {
        var lines = [header]
        var count = 0
        for e in entries where e.lease.state != .offered {
            lines.append(line(e, wall: wall))
            count += 1
        }
        lines.append("end \(count)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `lease` line of one record (without the newline).
    public static func line(_ e: Entry, wall: WallClock) -> String {
        let l = e.lease
        let expiry = wall.unixNanoseconds(at: l.expiry) / 1_000_000_000
        var line = "lease \(e.segment) \(l.address) \(l.state.rawValue) \(expiry) \(clientText(l.client))"
        if let mac = l.mac { line += " mac=\(mac)" }
        if let host = l.hostName { line += " host=\(escape(host))" }
        return line
    }

    /// The line that removes the record of `address` on `segment`.
    public static func dropLine(segment: String, address: IPv4Address) -> String { "drop \(segment) \(address)" }

    /// What `parse` read.
    public struct Parsed {
        /// The records: the snapshot with every complete change applied, in file order.
        public var entries: [Entry] = []
        /// Lines that could not be read (the file is damaged).
        public var problems: [Problem] = []
        /// The last line, when it has no newline: a change cut short by a crash, ignored.
        public var tornTail: Problem?
        /// Lines in the file (snapshot and changes, the torn one left out).
        public var lines = 0
    }

    /// The records in `text`, every line that could not be read (1-based line numbers), and a torn
    /// last line. Good lines are kept even when others are bad.
    public static func parse(_ text: String, wall: WallClock) -> Parsed {
        var out = Parsed()
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // A file ends in a newline; text after the last one is a line whose write was cut short.
        let tail = lines.removeLast()
        if !tail.isEmpty {
            out.tornTail = Problem(line: lines.count + 1, message: "the last line has no newline (a change cut short): ignored")
        }
        var records: [Entry] = []
        var index: [String: [IPv4Address: Int]] = [:]  // segment → address → position in `records`
        var sawHeader = false, end: (line: Int, count: Int)?, leaseLines = 0
        for (i, line) in lines.enumerated() {
            let number = i + 1
            if line.isEmpty { continue }
            out.lines += 1
            if number == 1 {
                if line == header || line == headerV1 { sawHeader = true; continue }
                out.problems.append(Problem(line: 1, message: "not a sluice lease database (expected '\(header)')"))
                return Parsed(problems: out.problems)
            }
            let fields = line.split(separator: " ").map(String.init)
            if fields.first == "end" {
                guard end == nil else { out.problems.append(Problem(line: number, message: "a second 'end' line")); continue }
                guard fields.count == 2, let n = Int(fields[1]), n >= 0 else {
                    out.problems.append(Problem(line: number, message: "malformed 'end' line")); continue
                }
                end = (number, n)
                if n != leaseLines {
                    out.problems.append(Problem(line: number, message: "'end \(n)' but \(leaseLines) lease lines"))
                }
                continue
            }
            if end == nil { leaseLines += 1 }
            if fields.first == "drop" {
                guard end != nil else { out.problems.append(Problem(line: number, message: "a 'drop' line before the 'end' line")); continue }
                guard fields.count == 3, let address = IPv4Address(fields[2]) else {
                    out.problems.append(Problem(line: number, message: "expected 'drop <segment> <address>'")); continue
                }
                if let at = index[fields[1]]?.removeValue(forKey: address) { records[at].segment = "" }  // tombstone
                continue
            }
            do {
                let e = try entry(fields, wall: wall)
                if let at = index[e.segment]?[e.lease.address] { records[at] = e } else {
                    index[e.segment, default: [:]][e.lease.address] = records.count
                    records.append(e)
                }
            } catch {
                out.problems.append(Problem(line: number, message: error.message))
            }
        }
        out.entries = records.filter { !$0.segment.isEmpty }
        if !sawHeader, out.problems.isEmpty { out.problems.append(Problem(line: 1, message: "empty file")) }
        if end == nil, sawHeader {
            out.problems.append(Problem(line: max(1, lines.count), message: "no 'end' line: the snapshot is cut short"))
        }
        return out
    }

    struct LineError: Error { var message: String }

    static func entry(_ f: [String], wall: WallClock) throws(LineError) -> Entry {
        guard f.count >= 6, f.count <= 8, f[0] == "lease" else {
            throw LineError(message: "expected 'lease <segment> <address> <state> <expiry> <client> [mac=…] [host=…]'")
        }
        guard let address = IPv4Address(f[2]) else { throw LineError(message: "'\(f[2])' is not an IPv4 address") }
        guard let state = DHCPLease.State(rawValue: f[3]), state != .offered else { throw LineError(message: "'\(f[3])' is not a lease state") }
        guard let seconds = UInt64(f[4]), seconds <= 1 << 40 else { throw LineError(message: "'\(f[4])' is not a Unix time") }
        guard let client = client(f[5]) else { throw LineError(message: "'\(f[5])' is not a client (id:<hex> or hw:<type>:<hex>)") }
        var mac: MACAddress?, host: String?
        for extra in f.dropFirst(6) {
            if extra.hasPrefix("mac="), mac == nil, let m = MACAddress(extra.dropFirst(4)) { mac = m; continue }
            if extra.hasPrefix("host="), host == nil, let h = unescape(String(extra.dropFirst(5))) { host = h; continue }
            throw LineError(message: "'\(extra)' is not mac=<mac> or host=<name>")
        }
        let expiry = instant(unixSeconds: seconds, wall: wall)
        return Entry(segment: f[1], lease: DHCPLease(address: address, client: client, mac: mac, hostName: host, state: state, expiry: expiry))
    }

    /// The monotonic instant at Unix time `seconds` on `wall` (zero for times before it began).
    static func instant(unixSeconds seconds: UInt64, wall: WallClock) -> Instant {
        let unix = seconds &* 1_000_000_000  // seconds ≤ 2^40: no overflow
        if unix >= wall.unixNanoseconds {
            return Instant(nanoseconds: wall.anchor.nanoseconds &+ min(unix - wall.unixNanoseconds, UInt64.max - wall.anchor.nanoseconds))
        }
        let back = wall.unixNanoseconds - unix
        return Instant(nanoseconds: back >= wall.anchor.nanoseconds ? 0 : wall.anchor.nanoseconds - back)
    }

    static func clientText(_ c: DHCPClientIdentity) -> String {
        switch c {
        case .clientIdentifier(let id): "id:" + hex(id)
        case .hardwareAddress(let type, let address): "hw:\(type):" + hex(address)
        }
    }

    static func client(_ s: String) -> DHCPClientIdentity? {
        if s.hasPrefix("id:"), let id = bytes(hex: s.dropFirst(3)), id.count >= 1, id.count <= 255 { return .clientIdentifier(id) }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 3, parts[0] == "hw", let type = UInt8(parts[1]), let a = bytes(hex: parts[2]), a.count <= 16 {
            return .hardwareAddress(type: type, address: a)
        }
        return nil
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }

    static func bytes(hex: Substring) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }

    /// Host names are the client's bytes: everything but [A-Za-z0-9.-_] is written %XX.
    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x2D || b == 0x5F
            if plain { out.unicodeScalars.append(Unicode.Scalar(b)) } else { out += "%" + hex([b]) }
        }
        return out
    }

    static func unescape(_ s: String) -> String? {
        var out: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "%") {
                guard i + 2 < u.count, let hi = nibble(u[i + 1]), let lo = nibble(u[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(u[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Files

    /// What `load` found.
    public enum Loaded {
        /// No file yet (a first start).
        case none
        /// Every line read; `tornTail` is a last change cut short by a crash (ignored, not damage).
        case entries([Entry], tornTail: Problem?)
        /// Some lines could not be read: the readable ones, the problems, and where the file was
        /// moved aside (nil if the move failed).
        case damaged([Entry], [Problem], movedTo: String?)
    }

    /// Reads the file (removing a `.tmp` left by a snapshot that never finished). A damaged file is
    /// renamed to `<file>.corrupt-<unix time>` so the next write does not destroy the evidence.
    public func load(wall: WallClock) throws -> Loaded {
        unlink(path + ".tmp")
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw LeaseDatabaseError.unreadable(path) }
            return .none
        }
        let parsed = Self.parse(String(decoding: data, as: UTF8.self), wall: wall)
        if parsed.problems.isEmpty { return .entries(parsed.entries, tornTail: parsed.tornTail) }
        let aside = "\(path).corrupt-\(wall.unixNanoseconds / 1_000_000_000)"
        return .damaged(parsed.entries, parsed.problems, movedTo: rename(path, aside) == 0 ? aside : nil)
    }

    /// Appends `lines` (each without its newline) to the file in one write, then fsyncs it. The
    /// file must exist (a snapshot was written first). A failure may leave a torn line: the caller
    /// writes a snapshot next.
    public func append(_ lines: [String]) throws {
        guard !lines.isEmpty else { return }
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw LeaseDatabaseError.system("open \(path)", errno) }
        defer { close(fd) }
        try Self.writeAll(fd, Array((lines.joined(separator: "\n") + "\n").utf8), path)
        guard fdatasync(fd) == 0 else { throw LeaseDatabaseError.system("fdatasync \(path)", errno) }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if errno == EINTR { continue }; throw LeaseDatabaseError.system("write \(path)", errno) }
            done += n
        }
    }

    /// Replaces the file with `text` (a snapshot): temporary file, fsync, rename, fsync of the directory.
    /// Creates the directory (0750) when missing.
    public func write(_ text: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o750])
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LeaseDatabaseError.system("open \(temporary)", errno) }
        var ok = false
        defer { if !ok { close(fd); unlink(temporary) } }
        try Self.writeAll(fd, Array(text.utf8), temporary)
        guard fsync(fd) == 0 else { throw LeaseDatabaseError.system("fsync \(temporary)", errno) }
        ok = true
        guard close(fd) == 0 else { unlink(temporary); throw LeaseDatabaseError.system("close \(temporary)", errno) }
        guard rename(temporary, path) == 0 else { unlink(temporary); throw LeaseDatabaseError.system("rename to \(path)", errno) }
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

/// What has been written to the lease database, and what to write for the records as they are
/// now: the changed records as lines to append, or a whole snapshot when the log has grown past
/// twice the records it holds (compaction) or a write failed.
public struct LeaseJournal {
    public typealias Entry = LeaseDatabase.Entry
    struct Key: Hashable { var segment: String; var address: IPv4Address }
    /// The records as the file holds them (offers are never onDisk).
    var onDisk: [Key: DHCPLease] = [:]
    /// How many of `onDisk` each segment has.
    var writtenPerSegment: [String: Int] = [:]
    /// Lines in the file (snapshot and appended changes).
    public private(set) var fileLines = 0
    /// Set when the file may not hold what `onDisk` says (a failed write): the next write is a snapshot.
    var needsSnapshot = true
    /// What the last `plan` found, applied by `written()`.
    var pending: (write: Write, all: [Entry]?, changed: [Entry], dropped: [Key]) = (.nothing, nil, [], [])

    /// The file may hold up to this many lines per record before it is compacted (and at least `minimumLines`).
    public static let compactionFactor = 2
    public static let minimumLines = 64

    public init() {}

    /// What to do to make the file hold `entries`.
    public enum Write: Equatable {
        case nothing
        /// Append these lines.
        case append([String])
        /// Replace the file with this snapshot.
        case snapshot(String)
    }

    /// What to write for `entries` (every record of the segments in `segments`, or of all when nil),
    /// read on `wall`. Call `written()` once it is on disk, or `failed()`.
    public mutating func plan(_ entries: [Entry], segments: Set<String>? = nil, wall: WallClock) -> Write {
        var kept: [Entry] = [], changed: [Entry] = []
        kept.reserveCapacity(entries.count)
        var present = 0  // records of `entries` the file has, changed or not
        for e in entries where e.lease.state != .offered {
            kept.append(e)
            let old = onDisk[Key(segment: e.segment, address: e.lease.address)]
            if old != nil { present += 1 }
            if old != e.lease { changed.append(e) }
        }
        // Written records of the covered segments that `entries` no longer has (rare: only then a scan).
        let covered = segments.map { $0.reduce(0) { $0 + (writtenPerSegment[$1] ?? 0) } } ?? onDisk.count
        var dropped: [Key] = []
        if present < covered {
            let seen = Set(kept.map { Key(segment: $0.segment, address: $0.lease.address) })
            dropped = onDisk.keys.filter { !seen.contains($0) && (segments?.contains($0.segment) ?? true) }
                .sorted { ($0.segment, $0.address.rawValue) < ($1.segment, $1.address.rawValue) }
        }
        let live = onDisk.count - covered + kept.count
        let lines = changed.count + dropped.count
        let write: Write
        var all: [Entry]?
        if needsSnapshot || (lines > 0 && fileLines + lines > Self.compactionFactor * max(live, Self.minimumLines / Self.compactionFactor)) {
            all = fullSet(kept, segments: segments)
            write = .snapshot(LeaseDatabase.render(all!, wall: wall))
        } else if lines == 0 {
            write = .nothing
        } else {
            write = .append(changed.map { LeaseDatabase.line($0, wall: wall) }
                            + dropped.map { LeaseDatabase.dropLine(segment: $0.segment, address: $0.address) })
        }
        pending = (write, all, changed, dropped)
        return write
    }

    /// Every record after this change: `entries` for the segments they cover, the onDisk ones for the rest.
    func fullSet(_ kept: [Entry], segments: Set<String>?) -> [Entry] {
        guard let segments else { return kept }
        let others = onDisk.filter { !segments.contains($0.key.segment) }
            .sorted { ($0.key.segment, $0.key.address.rawValue) < ($1.key.segment, $1.key.address.rawValue) }
            .map { Entry(segment: $0.key.segment, lease: $0.value) }
        return others + kept
    }

    /// What the last `plan` returned is on disk.
    public mutating func written() {
        let (write, all, changed, dropped) = pending
        pending = (.nothing, nil, [], [])
        switch write {
        case .nothing: return
        case .snapshot:
            onDisk = [:]
            writtenPerSegment = [:]
            for e in all ?? [] { store(e) }
            fileLines = (all?.count ?? 0) + 2  // header and end
            needsSnapshot = false
        case .append(let lines):
            for e in changed { store(e) }
            for key in dropped where onDisk.removeValue(forKey: key) != nil { writtenPerSegment[key.segment, default: 1] -= 1 }
            fileLines += lines.count
        }
    }

    mutating func store(_ e: Entry) {
        if onDisk.updateValue(e.lease, forKey: Key(segment: e.segment, address: e.lease.address)) == nil {
            writtenPerSegment[e.segment, default: 0] += 1
        }
    }

    /// The write failed: the file may hold a torn line, so the next write is a snapshot.
    public mutating func failed() {
        pending = (.nothing, nil, [], [])
        needsSnapshot = true
    }

    /// Records onDisk.
    public var records: Int { onDisk.count }
}

public enum LeaseDatabaseError: Error, CustomStringConvertible {
    case unreadable(String)
    case system(String, Int32)
    public var description: String {
        switch self {
        case .unreadable(let p): "\(p): cannot read the lease database"
        case .system(let what, let e): "\(what): \(String(cString: strerror(e)))"
        }
    }
}
