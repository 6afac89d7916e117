// The lease database: its text round-trips, damage is found and located, and `sluice bridge`
// killed at random points while (re)writing it always leaves a loadable file; a damaged file is
// reported with its path and line, moved aside, and the bridge starts. No root needed.
import Basics
@testable import BridgeDaemon
import Datapath
import Foundation
import Testing
import Wire

@Suite("Lease database")
struct LeaseDatabaseTests {
    let wall = WallClock(unixNanoseconds: 1_765_000_000_000_000_000, at: Instant(nanoseconds: 5_000_000_000))

    func entry(_ n: UInt8, state: DHCPLease.State = .bound, host: String? = nil) -> LeaseDatabase.Entry {
        let mac = MACAddress(0x52, 0x54, 0, 0, 0, n)
        let client: DHCPClientIdentity = n % 2 == 0 ? .clientIdentifier([1, 0x52, 0x54, 0, 0, 0, n])
            : .hardwareAddress(type: 1, address: [0x52, 0x54, 0, 0, 0, n])
        return .init(segment: "lan", lease: DHCPLease(address: IPv4Address(10, 0, 0, n), client: client, mac: mac, hostName: host,
                                                        state: state, expiry: Instant(nanoseconds: 3_605_000_000_000)))
    }

    @Test("Render and parse round-trip every state, both client kinds and odd host names; offers are left out")
    func roundTrip() {
        let entries = [entry(1, host: "vm 1/ü%"), entry(2, state: .released), entry(3, state: .expired), entry(4, state: .declined)]
        let text = LeaseDatabase.render(entries + [entry(5, state: .offered)], wall: wall)
        #expect(text.hasPrefix(LeaseDatabase.header + "\n") && text.hasSuffix("end 4\n"))
        let parsed = LeaseDatabase.parse(text, wall: wall)
        #expect(parsed.problems.isEmpty && parsed.tornTail == nil)
        #expect(parsed.entries == entries)
    }

    @Test("Damage is found and located: a bad line, a cut-short file, a foreign file")
    func damage() {
        let good = LeaseDatabase.render([entry(1), entry(2), entry(3)], wall: wall)
        var lines = good.split(separator: "\n").map(String.init)
        lines[2] = "lease lan 10.0.0.300 bound 1765003600 hw:1:525400000002"
        let bad = LeaseDatabase.parse(lines.joined(separator: "\n") + "\n", wall: wall)
        #expect(bad.entries.count == 2 && bad.problems.map(\.line) == [3], "\(bad.problems)")
        // Cut anywhere before the end line: always reported, never trapping.
        let bytes = Array(good.utf8)
        for cut in 0..<bytes.count - 1 {
            let p = LeaseDatabase.parse(String(decoding: bytes[0..<cut], as: UTF8.self), wall: wall).problems
            #expect(!p.isEmpty, "cut at \(cut) went unnoticed")
        }
        #expect(LeaseDatabase.parse("hello\n", wall: wall).problems.first?.line == 1)
        // A version 1 file (before the log) loads as it is.
        let v1 = good.replacingOccurrences(of: LeaseDatabase.header, with: LeaseDatabase.headerV1)
        #expect(LeaseDatabase.parse(v1, wall: wall).entries == [entry(1), entry(2), entry(3)] && LeaseDatabase.parse(v1, wall: wall).problems.isEmpty)
    }

    @Test("Write replaces the file whole and load reads it back; a stale .tmp is removed")
    func writeAndLoad() throws {
        let dir = try temporaryDirectory("leasedb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = LeaseDatabase(path: dir + "/sub/leases")
        try db.write(LeaseDatabase.render([entry(1)], wall: wall))
        try "junk".write(toFile: db.path + ".tmp", atomically: false, encoding: .utf8)
        guard case .entries(let e, tornTail: nil) = try db.load(wall: wall) else { Issue.record("not loaded"); return }
        #expect(e == [entry(1)])
        #expect(!FileManager.default.fileExists(atPath: db.path + ".tmp"))
    }
}

/// A bridge.yml with a big pool and a vhost-user socket (no root, no TAP).
func leaseBridgeConfig(_ dir: String, extra: String = "") -> String {
    """
    name: leasebr
    router:
      ipv4: 10.60.0.1/16
      dhcp: { start: 10.60.1.0, end: 10.60.250.0, lease: 1h }
    vhost-user: [ { socket: \(dir)/vm.sock } ]
    leases: \(dir)/leases
    \(extra)
    """
}

/// `count` bound leases on "lan" ending in an hour, as the database's text.
func boundLeases(_ count: Int) -> (text: String, wall: WallClock) {
    let wall = WallClock(unixNanoseconds: UInt64(Date().timeIntervalSince1970 * 1e9), at: .zero)
    var entries: [LeaseDatabase.Entry] = []
    for i in 0..<count {
        let n = UInt32(i)
        let mac = MACAddress(rawValue: 0x5254_0000_0000 | UInt64(n))
        entries.append(.init(segment: "lan", lease: DHCPLease(
            address: IPv4Address(rawValue: IPv4Address(10, 60, 1, 0).rawValue + n),
            client: .hardwareAddress(type: 1, address: [0x52, 0x54, 0, UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]),
            mac: mac, hostName: "guest-\(i)", state: .bound, expiry: Instant.zero + .seconds(3600))))
    }
    return (LeaseDatabase.render(entries, wall: wall), wall)
}

@Test func bridgeKilledWhileWritingLeasesAlwaysRestartsWithALoadableDatabase() throws {
    guard sluiceBinary() != nil else { print("SKIPPED lease fault injection: the sluice binary is not built (swift build)"); return }
    let dir = try temporaryDirectory("lease-kill")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // 10,000 leases (about 1 MB): every start loads them and writes them back whole.
    let count = 10_000
    let (text, wall) = boundLeases(count)
    let db = LeaseDatabase(path: dir + "/leases")
    try db.write(text)
    let config = leaseBridgeConfig(dir)

    // How long a start takes, to spread the kills over it.
    let first = try RunningBridge(config: config, directory: dir, name: "first")
    let started = Date()
    #expect(first.waitForLog("listening for vhost-user"), "\(first.log)")
    let startup = Date().timeIntervalSince(started)
    #expect(first.log.contains("lease database: restored") && first.log.contains("records=\(count)"), "\(first.log)")
    first.kill9()

    var generator = SystemRandomNumberGenerator()
    var killedMidWrite = 0
    let rounds = 40
    for round in 0..<rounds {
        let bridge = try RunningBridge(config: config, directory: dir, name: "kill\(round)")
        if round % 2 == 0 {
            // Anywhere in the start.
            Thread.sleep(forTimeInterval: Double.random(in: 0...(startup * 1.5), using: &generator))
        } else {
            // During the write: as soon as the temporary file appears, plus up to 5 ms.
            let end = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: db.path + ".tmp"), bridge.process.isRunning, Date() < end { usleep(100) }
            usleep(UInt32.random(in: 0...5_000, using: &generator))
        }
        bridge.kill9()
        if FileManager.default.fileExists(atPath: db.path + ".tmp") { killedMidWrite += 1 }
        // Always loadable, with every lease: the old file or the new one, never a torn one.
        switch try db.load(wall: wall) {
        case .entries(let e, let torn): #expect(e.count == count && torn == nil, "round \(round): \(e.count) leases, torn \(String(describing: torn))")
        case .none: Issue.record("round \(round): the database is gone")
        case .damaged(_, let problems, _): Issue.record("round \(round): damaged: \(problems.prefix(3))")
        }
    }
    print("lease fault injection: \(rounds) SIGKILLs over a \(String(format: "%.0f", startup * 1000)) ms start; \(killedMidWrite) left a half-written leases.tmp behind, none a damaged database")
}

@Test func damagedLeaseDatabaseIsReportedMovedAsideAndTheBridgeStarts() throws {
    guard sluiceBinary() != nil else { print("SKIPPED damaged lease database: the sluice binary is not built (swift build)"); return }
    let dir = try temporaryDirectory("lease-bad")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var lines = boundLeases(3).text.split(separator: "\n").map(String.init)
    lines[2] = "lease lan 10.60.1.1 bound soon hw:1:525400000001"
    try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/leases", atomically: true, encoding: .utf8)
    let bridge = try RunningBridge(config: leaseBridgeConfig(dir), directory: dir)
    #expect(bridge.waitForLog("listening for vhost-user"), "\(bridge.log)")
    #expect(bridge.log.split(separator: "\n").contains { $0.contains("lease database: bad line") && $0.contains("line=3")
        && $0.contains("path=\(dir)/leases") && $0.contains("'soon' is not a Unix time") }, "\(bridge.log)")
    #expect(bridge.log.contains("moved_aside=\(dir)/leases.corrupt-"), "\(bridge.log)")
    let aside = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("leases.corrupt-") }
    #expect(aside.count == 1)
    // The readable records were kept and written back.
    let now = WallClock(unixNanoseconds: UInt64(Date().timeIntervalSince1970 * 1e9), at: .zero)
    guard case .entries(let e, tornTail: nil) = try LeaseDatabase(path: dir + "/leases").load(wall: now) else {
        Issue.record("the rewritten database does not load"); return
    }
    #expect(e.map(\.lease.address) == [IPv4Address(10, 60, 1, 0), IPv4Address(10, 60, 1, 2)])
}
