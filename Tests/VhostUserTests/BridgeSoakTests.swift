// The real bridge's soak (issue: fuzzing and long runs): the built `sluice bridge` serves 1,000 vhost-user guests
// one after another — each connects, shares its memory, starts its rings, asks the router for its MAC by ARP,
// gets the answer, and leaves in one of three ways — while (as root) its TAP port's link is flapped 100 times.
// The bridge's descriptors, mappings and resident memory are read from /proc/<pid> after a warm-up and at the
// end: descriptors come back exactly, nothing of the guests' memfds stays mapped, mappings stay within a few
// lines, and after the flaps the TAP still carries a ping.
import Foundation
import Glibc
import Testing
@testable import VhostUser

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

private func sluiceBinary() -> String? {
    for dir in [".build/debug", ".build/x86_64-unknown-linux-gnu/debug"] {
        let p = "\(repositoryRoot)/\(dir)/sluice"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

@discardableResult
private func shell(_ command: String) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

/// What /proc says a process holds.
private struct Held: CustomStringConvertible {
    var descriptors: Int, mappings: Int, residentKiB: Int, memfdMappings: Int
    var description: String { "\(descriptors) fds, \(mappings) maps (\(memfdMappings) of soak memfds), RSS \(residentKiB) KiB" }

    init(pid: Int32, memfdPrefix: String) {
        descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? -1
        let maps = (try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8))?.split(separator: "\n") ?? []
        mappings = maps.count
        memfdMappings = maps.count { $0.contains("memfd:\(memfdPrefix)") }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        residentKiB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? -1
    }
}

/// An ARP request from the guest (52:54:00:5a:00:01, 10.77.0.10) for the router (10.77.0.1).
private let arpRequest: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x5a, 0x00, 0x01, 0x08, 0x06,
                                   0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, 0x52, 0x54, 0x00, 0x5a, 0x00, 0x01, 10, 77, 0, 10,
                                   0, 0, 0, 0, 0, 0, 10, 77, 0, 1]

@Test(.enabled(if: sluiceBinary() != nil, "the sluice binary is not built (swift build --build-tests builds it)"),
      .timeLimit(.minutes(10)))
func bridgeServesAThousandGuestsOneAfterAnotherWithoutGrowing() throws {
    let root = geteuid() == 0
    let tag = "\(getpid())"
    let directory = NSTemporaryDirectory() + "sluice-soak-\(tag)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let namespace = "slsoak\(tag)", tap = "slsk\(tag.suffix(6))"
    if root {
        shell("ip netns del \(namespace) 2>/dev/null; ip netns add \(namespace) && ip -n \(namespace) link set lo up")
    } else {
        print("bridge soak: not root, so no TAP port and no link flaps (the 1,000 vhost-user guests still run)")
    }
    defer { if root { shell("ip netns del \(namespace)") } }
    let socket = "\(directory)/soak.sock"
    try """
        name: soak
        router: { ipv4: 10.77.0.1/24 }
        vhost-user: [{ socket: \(socket) }]
        control: \(directory)/soak.ctl
        \(root ? "taps: [{ name: \(tap), namespace: \(namespace) }]" : "")
        """.write(toFile: "\(directory)/bridge.yml", atomically: true, encoding: .utf8)

    let bridge = Process()
    bridge.executableURL = URL(fileURLWithPath: sluiceBinary()!)
    bridge.arguments = ["bridge", "\(directory)/bridge.yml"]
    let log = FileHandle(forWritingAtPath: "/dev/null")
    bridge.standardOutput = log; bridge.standardError = log
    try bridge.run()
    defer { if bridge.isRunning { bridge.terminate(); bridge.waitUntilExit() } }
    var waited = 0
    while !FileManager.default.fileExists(atPath: socket), waited < 1000, bridge.isRunning { usleep(10_000); waited += 1 }
    try #require(FileManager.default.fileExists(atPath: socket), "the bridge did not create its socket")

    let memfdTag = "soak\(tag)"
    let memfdPrefix = "sluice-vu-\(memfdTag)-"
    /// One guest's whole life; false when the router's ARP reply did not arrive.
    func guest(_ round: Int) throws -> Bool {
        let client = try TestFrontEnd(path: socket, memfdTag: memfdTag) { usleep(2000) }
        try client.negotiate()
        try client.setMemTable()
        try client.startPair(0)
        try client.postReceiveBuffers(pair: 0, count: 4)
        try client.transmit(arpRequest, pair: 0)
        var answered = false
        for _ in 0..<500 where !answered {
            answered = client.receivedFrames(pair: 0).contains { $0.count >= 42 && $0[12] == 0x08 && $0[13] == 0x06 && $0[21] == 2 }
            if !answered { usleep(2000) }
        }
        switch round % 3 {
        case 0: _ = try client.stopQueue(0); _ = try client.stopQueue(1); try client.disconnect()  // like QEMU shutting down
        case 1: try client.disconnect()                                                              // gone with rings running
        default:                                                                                      // gone mid-message
            try [UInt8](repeating: 1, count: 5).withUnsafeBytes { try client.stream.sendAll($0) }
            try client.disconnect()
        }
        return answered
    }

    for round in 0..<10 { #expect(try guest(round), "warm-up guest \(round) got no ARP reply") }
    usleep(200_000)
    let before = Held(pid: bridge.processIdentifier, memfdPrefix: memfdPrefix)
    var unanswered = 0, flaps = 0
    for round in 0..<1000 {
        if !(try guest(round)) { unanswered += 1 }
        if root, round % 10 == 5 {
            shell("ip -n \(namespace) link set \(tap) down; ip -n \(namespace) link set \(tap) up")
            flaps += 1
        }
    }
    #expect(bridge.isRunning, "the bridge exited during the soak")
    #expect(unanswered == 0, "\(unanswered) of 1,000 guests got no ARP reply from the router")
    // The last hang-ups may still be in flight: give the bridge up to 5 s to close them.
    var after = Held(pid: bridge.processIdentifier, memfdPrefix: memfdPrefix)
    for _ in 0..<50 where after.descriptors != before.descriptors || after.memfdMappings > 0 {
        usleep(100_000)
        after = Held(pid: bridge.processIdentifier, memfdPrefix: memfdPrefix)
    }
    print("bridge soak: 1,000 guests, \(flaps) TAP link flaps; before \(before); after \(after)")
    #expect(after.descriptors == before.descriptors, "descriptors \(before.descriptors) → \(after.descriptors)")
    #expect(after.memfdMappings == 0, "guest memory still mapped")
    #expect(abs(after.mappings - before.mappings) <= 8, "mappings \(before.mappings) → \(after.mappings)")
    #expect(after.residentKiB - before.residentKiB < 16 * 1024, "resident \(before.residentKiB) → \(after.residentKiB) KiB")
    if root {
        // The TAP survived its flaps: the namespace behind it reaches the router.
        shell("ip -n \(namespace) addr add 10.77.0.2/24 dev \(tap)")
        #expect(shell("ip netns exec \(namespace) ping -c 2 -W 2 10.77.0.1") == 0, "no ping through the TAP after the flaps")
    }
}
