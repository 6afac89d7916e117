// The lease database as an append log (LeaseDatabase.swift): a change appends only the records it
// changed; a crash mid-append leaves a torn last line that is ignored and reported, never damage;
// the log is compacted into a fresh snapshot once it holds more than twice the records; and the
// cost per change with 10,000 leases, appended against rewritten whole, is measured.
import Basics
@testable import BridgeDaemon
import Datapath
import Foundation
import Testing
import Wire

@Suite("Lease database log")
struct LeaseLogTests {
    let wall = WallClock(unixNanoseconds: 1_765_000_000_000_000_000, at: Instant(nanoseconds: 5_000_000_000))

    func lease(_ n: Int, segment: String = "lan", state: DHCPLease.State = .bound, expiry: Int = 3600) -> LeaseDatabase.Entry {
        let b = [UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
        return .init(segment: segment, lease: DHCPLease(
            address: IPv4Address(10, 0, b[0], b[1]), client: .hardwareAddress(type: 1, address: [0x52, 0x54, 0, 0] + b),
            mac: MACAddress(0x52, 0x54, 0, 0, b[0], b[1]), hostName: "vm-\(n)", state: state, expiry: Instant.zero + .seconds(expiry)))
    }

    /// Writes `entries` through the journal (as the daemon does) and returns what was written.
    @discardableResult
    func commit(_ journal: inout LeaseJournal, _ db: LeaseDatabase, _ entries: [LeaseDatabase.Entry], segments: Set<String>? = nil) throws -> LeaseJournal.Write {
        let write = journal.plan(entries, segments: segments, wall: wall)
        switch write {
        case .nothing: break
        case .append(let lines): try db.append(lines)
        case .snapshot(let text): try db.write(text)
        }
        journal.written()
        return write
    }

    @Test("A change appends one line per record it changed, a removal a drop line; the file reads back as the records are")
    func appendsChanges() throws {
        let dir = try temporaryDirectory("leaselog")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = LeaseDatabase(path: dir + "/leases")
        var journal = LeaseJournal()
        var records = (1...100).map { lease($0) }
        guard case .snapshot = try commit(&journal, db, records) else { Issue.record("the first write is not a snapshot"); return }
        #expect(try commit(&journal, db, records) == .nothing)
        records[4] = lease(5, expiry: 7200)                       // a renewal
        records[9].lease.state = .released                         // a release
        let write = try commit(&journal, db, records)
        guard case .append(let lines) = write else { Issue.record("\(write)"); return }
        #expect(lines.count == 2 && lines[0].hasPrefix("lease lan 10.0.0.5 bound") && lines[1].contains(" released "), "\(lines)")
        records.remove(at: 20)                                      // a record gone (an offer forgotten, a pool shrunk)
        records.append(lease(500, state: .declined))
        guard case .append(let more) = try commit(&journal, db, records) else { Issue.record("no append"); return }
        #expect(more == [LeaseDatabase.line(lease(500, state: .declined), wall: wall), "drop lan 10.0.0.21"], "\(more)")
        // Offers never reach the file.
        #expect(try commit(&journal, db, records + [lease(600, state: .offered)]) == .nothing)
        guard case .entries(let loaded, tornTail: nil) = try db.load(wall: wall) else { Issue.record("not loadable"); return }
        #expect(loaded == records, "\(loaded.count) records loaded for \(records.count)")
        // One segment's change leaves the other segment's records alone.
        var other = [lease(1, segment: "far"), lease(2, segment: "far")]
        guard case .append = try commit(&journal, db, other, segments: ["far"]) else { Issue.record("no append for far"); return }
        other.removeLast()
        #expect(try commit(&journal, db, other, segments: ["far"]) == .append(["drop far 10.0.0.2"]))
        guard case .entries(let both, nil) = try db.load(wall: wall) else { Issue.record("not loadable"); return }
        #expect(both.count == records.count + 1)
    }

    @Test("A change cut short at any byte: the complete lines are kept, the torn last one ignored and reported, never damage")
    func tornTailAtEveryByte() throws {
        let snapshot = LeaseDatabase.render((1...3).map { lease($0) }, wall: wall)
        let changes = [LeaseDatabase.line(lease(2, expiry: 9000), wall: wall), "drop lan 10.0.0.3", LeaseDatabase.line(lease(4), wall: wall)]
        let appended = changes.joined(separator: "\n") + "\n"
        let whole = Array((snapshot + appended).utf8)
        // After each complete change line: the records as they were then.
        let states: [[LeaseDatabase.Entry]] = [
            (1...3).map { lease($0) },
            [lease(1), lease(2, expiry: 9000), lease(3)],
            [lease(1), lease(2, expiry: 9000)],
            [lease(1), lease(2, expiry: 9000), lease(4)],
        ]
        var torn = 0
        for cut in snapshot.utf8.count...whole.count {
            let text = String(decoding: whole[0..<cut], as: UTF8.self)
            let parsed = LeaseDatabase.parse(text, wall: wall)
            let complete = text.dropFirst(snapshot.utf8.count).filter { $0 == "\n" }.count
            #expect(parsed.problems.isEmpty, "cut at \(cut): \(parsed.problems)")
            #expect(parsed.entries == states[complete], "cut at \(cut): \(parsed.entries.map(\.lease.address))")
            let atLineEnd = cut == whole.count || whole[cut - 1] == UInt8(ascii: "\n")
            #expect((parsed.tornTail == nil) == atLineEnd, "cut at \(cut)")
            if !atLineEnd { torn += 1; #expect(parsed.tornTail?.line == 6 + complete, "cut at \(cut): \(String(describing: parsed.tornTail))") }
        }
        #expect(torn == appended.utf8.count - changes.count)
        // On disk: loaded, reported, not moved aside.
        let dir = try temporaryDirectory("leasetorn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = LeaseDatabase(path: dir + "/leases")
        try Data(whole[0..<(whole.count - 7)]).write(to: URL(fileURLWithPath: db.path))
        guard case .entries(let e, let problem?) = try db.load(wall: wall) else { Issue.record("a torn tail was not loaded and reported"); return }
        #expect(e == states[2] && problem.message.contains("no newline"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["leases"], "nothing moved aside")
    }

    @Test("The log is compacted into a snapshot once it holds more than twice the records; every state in between loads")
    func compaction() throws {
        let dir = try temporaryDirectory("leasecompact")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = LeaseDatabase(path: dir + "/leases")
        var journal = LeaseJournal()
        var records = (1...50).map { lease($0) }
        try commit(&journal, db, records)
        var appends = 0, snapshots = 0
        var generator = SeededGenerator(seed: 20)
        for step in 0..<400 {
            let i = Int(generator.next() % UInt64(records.count))
            records[i] = lease(i + 1, expiry: 3601 + step)  // renewals
            switch try commit(&journal, db, records) {
            case .append(let lines): appends += 1; #expect(lines.count == 1)
            case .snapshot: snapshots += 1
            case .nothing: Issue.record("step \(step): a renewal wrote nothing")
            }
            let text = try String(contentsOfFile: db.path, encoding: .utf8)
            let lines = text.split(separator: "\n").count
            #expect(lines == journal.fileLines && lines <= LeaseJournal.compactionFactor * max(records.count, LeaseJournal.minimumLines / 2),
                    "step \(step): \(lines) lines for \(records.count) records")
            let parsed = LeaseDatabase.parse(text, wall: wall)
            #expect(parsed.problems.isEmpty && parsed.tornTail == nil && parsed.entries == records, "step \(step)")
        }
        // 50 records: a snapshot is 52 lines, so 48 renewals fit before the 100-line bound.
        #expect(snapshots == 400 / 49 && appends == 400 - snapshots, "\(appends) appends, \(snapshots) snapshots")
        // A failed write makes the next one a snapshot (the file may end in a torn line).
        journal.failed()
        guard case .snapshot = journal.plan(records, wall: wall) else { Issue.record("no snapshot after a failure"); return }
    }

    @Test("Cost per lease change with 10,000 leases: one appended line against the whole file rewritten")
    func costPerChange() throws {
        let dir = try temporaryDirectory("leasecost")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let count = 10_000
        let changes = ProcessInfo.processInfo.environment["SLUICE_LEASE_BENCH"] == "1" ? 1_000 : 10
        var records = (0..<count).map { lease($0) }
        // Before: every change renders and writes the whole file (temporary file, fsync, rename).
        let whole = LeaseDatabase(path: dir + "/whole")
        var wholeBytes = 0
        let t0 = Date()
        for c in 0..<changes {
            records[c % count] = lease(c % count, expiry: 7200 + c)
            let text = LeaseDatabase.render(records, wall: wall)
            try whole.write(text)
            wholeBytes += text.utf8.count
        }
        let before = Date().timeIntervalSince(t0) / Double(changes)
        // After: the journal's diff and one appended line (fdatasync), compaction included.
        let log = LeaseDatabase(path: dir + "/log")
        var journal = LeaseJournal()
        try commit(&journal, log, records)
        var logBytes = 0, snapshots = 0
        let t1 = Date()
        for c in 0..<changes {
            records[c % count] = lease(c % count, expiry: 9000 + c)
            switch try commit(&journal, log, records) {
            case .append(let lines): logBytes += lines.reduce(0) { $0 + $1.utf8.count + 1 }
            case .snapshot(let text): logBytes += text.utf8.count; snapshots += 1
            case .nothing: Issue.record("change \(c) wrote nothing")
            }
        }
        let after = Date().timeIntervalSince(t1) / Double(changes)
        print(String(format: "lease database, %d leases, %d changes: whole file %.0f B and %.2f ms per change; append log %.0f B and %.2f ms per change (%d snapshots)",
                     count, changes, Double(wholeBytes) / Double(changes), before * 1000, Double(logBytes) / Double(changes), after * 1000, snapshots))
        #expect(snapshots == 0 && logBytes / changes < 200, "an append is one line")
        #expect(logBytes * 1000 < wholeBytes, "\(logBytes) B appended against \(wholeBytes) B rewritten")
        guard case .entries(let e, nil) = try log.load(wall: wall) else { Issue.record("the log does not load"); return }
        #expect(e == records)
    }
}

/// A small deterministic generator (SplitMix64) for the tests' choices.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
