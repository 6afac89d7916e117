// A bridge's DHCP lease database: one text file holding every record of every DHCP server but
// offers, rewritten whole on each change, crash-safely: the new text goes to `<file>.tmp`, is
// fsync'd, renamed over the file, and the directory is fsync'd, so a reader (the next start)
// finds the old file or the new one, never a torn one. Times are Unix seconds (the wall clock at
// the driver edge); the DHCP servers stay sans-IO and only see `DHCPLease` values.
//
//   # sluice lease database v1
//   lease <segment> <address> <state> <expiry unix s> <client> [mac=<mac>] [host=<%-escaped>]
//   end <number of lease lines>
//
// <client> is `id:<hex>` (client identifier) or `hw:<htype>:<hex>` (chaddr). The `end` line
// detects a truncated file (a copy cut short, a disk that lied).
import Basics
import Datapath
import Foundation
import Wire

public struct LeaseDatabase {
    public let path: String
    public init(path: String) { self.path = path }

    public static let header = "# sluice lease database v1"

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

    /// The file's text for `entries` (offers left out), times read on `wall`.
    public static func render(_ entries: [Entry], wall: WallClock) -> String {
        var lines = [header]
        var count = 0
        for e in entries where e.lease.state != .offered {
            let l = e.lease
            let expiry = wall.unixNanoseconds(at: l.expiry) / 1_000_000_000
            var line = "lease \(e.segment) \(l.address) \(l.state.rawValue) \(expiry) \(clientText(l.client))"
            if let mac = l.mac { line += " mac=\(mac)" }
            if let host = l.hostName { line += " host=\(escape(host))" }
            lines.append(line)
            count += 1
        }
        lines.append("end \(count)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The records in `text`, and every line that could not be read (1-based line numbers).
    /// Good lines are kept even when others are bad.
    public static func parse(_ text: String, wall: WallClock) -> (entries: [Entry], problems: [Problem]) {
        var entries: [Entry] = [], problems: [Problem] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var sawHeader = false, end: (line: Int, count: Int)?, leaseLines = 0
        for (i, line) in lines.enumerated() {
            let number = i + 1
            if line.isEmpty { continue }
            if number == 1 {
                if line == header { sawHeader = true; continue }
                problems.append(Problem(line: 1, message: "not a sluice lease database (expected '\(header)')"))
                return ([], problems)
            }
            if end != nil { problems.append(Problem(line: number, message: "text after the 'end' line")); continue }
            let fields = line.split(separator: " ").map(String.init)
            if fields.first == "end" {
                guard fields.count == 2, let n = Int(fields[1]), n >= 0 else {
                    problems.append(Problem(line: number, message: "malformed 'end' line")); continue
                }
                end = (number, n)
                continue
            }
            leaseLines += 1
            do { entries.append(try entry(fields, wall: wall)) } catch {
                problems.append(Problem(line: number, message: error.message))
            }
        }
        if !sawHeader, problems.isEmpty { problems.append(Problem(line: 1, message: "empty file")) }
        if let end, end.count != leaseLines {
            problems.append(Problem(line: end.line, message: "'end \(end.count)' but \(leaseLines) lease lines"))
        } else if end == nil, sawHeader {
            problems.append(Problem(line: max(1, lines.count - (lines.last == "" ? 1 : 0)), message: "no 'end' line: the file is cut short"))
        }
        return (entries, problems)
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
        /// Every line read.
        case entries([Entry])
        /// Some lines could not be read: the readable ones, the problems, and where the file was
        /// moved aside (nil if the move failed).
        case damaged([Entry], [Problem], movedTo: String?)
    }

    /// Reads the file (removing a `.tmp` left by a write that never finished). A damaged file is
    /// renamed to `<file>.corrupt-<unix time>` so the next write does not destroy the evidence.
    public func load(wall: WallClock) throws -> Loaded {
        unlink(path + ".tmp")
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw LeaseDatabaseError.unreadable(path) }
            return .none
        }
        let (entries, problems) = Self.parse(String(decoding: data, as: UTF8.self), wall: wall)
        if problems.isEmpty { return .entries(entries) }
        let aside = "\(path).corrupt-\(wall.unixNanoseconds / 1_000_000_000)"
        return .damaged(entries, problems, movedTo: rename(path, aside) == 0 ? aside : nil)
    }

    /// Replaces the file with `text`: temporary file, fsync, rename, fsync of the directory.
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
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if errno == EINTR { continue }; throw LeaseDatabaseError.system("write \(temporary)", errno) }
            done += n
        }
        guard fsync(fd) == 0 else { throw LeaseDatabaseError.system("fsync \(temporary)", errno) }
        ok = true
        guard close(fd) == 0 else { unlink(temporary); throw LeaseDatabaseError.system("close \(temporary)", errno) }
        guard rename(temporary, path) == 0 else { unlink(temporary); throw LeaseDatabaseError.system("rename to \(path)", errno) }
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
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
