// `sluice wg up` against wireguard-go (Debian's wireguard-go and wireguard-tools), each in its own network
// namespace joined by a veth pair: handshake, ping both ways, iperf3 TCP both ways, a preshared key (wrong, then
// right), a forced rekey, the peer roaming to a new address and port, and a clean exit on SIGTERM.
// Runs as root only; tools are installed with apt-get when missing (ci/interop/ensure-tools.sh).

import Foundation
import Testing

@Suite(.serialized, .enabled(if: getuid() == 0,
                             "interop tests need root: network namespaces, TUN devices and apt-get for wireguard-go"))
struct InteropTests {
    init() throws { try ensureInteropTools() }

    @Test(.timeLimit(.minutes(2)))
    func keysAreInterchangeableWithWg() throws {
        let sluice = try sluiceBinary()
        let dir = try TemporaryDirectory()
        // wg genkey → sluice wg pubkey, and sluice wg genkey → wg pubkey: the same public keys.
        for (gen, other) in [(["wg", "genkey"], [sluice, "wg", "pubkey"]), ([sluice, "wg", "genkey"], ["wg", "pubkey"])] {
            let key = try run(gen, timeout: 30)
            #expect(key.succeeded, "\(gen): \(key)")
            let keyText = key.output.split(separator: "\n").last.map(String.init) ?? ""
            try dir.write("k", keyText + "\n")
            let a = try run(["sh", "-c", "\(other.joined(separator: " ")) < \(dir.path)/k"], timeout: 30)
            let b = try run(["sh", "-c", "\(other[0] == "wg" ? "\(sluice) wg" : "wg") pubkey < \(dir.path)/k"], timeout: 30)
            #expect(a.succeeded && b.succeeded && a.output == b.output && a.output.utf8.count == 45, "\(a) vs \(b)")
        }
        let psk = try run([sluice, "wg", "genpsk"], timeout: 30)
        #expect(psk.succeeded && psk.output.hasSuffix("=\n") && psk.output.split(separator: "\n").last?.utf8.count == 44)
        // A bad key on standard input: wg's message, exit status 1.
        let bad = try run(["sh", "-c", "echo not-a-key | \(sluice) wg pubkey"], timeout: 30)
        #expect(bad.status == 1 && bad.output.contains("Key is not the correct length or format"), "\(bad)")
    }

    @Test(.timeLimit(.minutes(3)))
    func handshakePingAndIperfBothWays() throws {
        let pair = try WireGuardPair("hs")
        let ab = try pair.ping(from: "a")
        #expect(ab.received == 3, "ping sluice → wireguard-go: \(ab.result)")
        let ba = try pair.ping(from: "b")
        #expect(ba.received == 3, "ping wireguard-go → sluice: \(ba.result)")
        #expect(try pair.latestHandshakeB() > 0, "wireguard-go saw no handshake")
        let status = try pair.statusA()
        #expect(status.contains("endpoint 192.0.2.2:51821 latest handshake"), "\(status)")
        #expect(!status.contains("latest handshake none"), "\(status)")

        let forward = try pair.iperf(seconds: 3)
        let reverse = try pair.iperf(seconds: 3, reverse: true)
        print("interop iperf3 (debug build): sluice → wireguard-go \(Int(forward / 1e6)) Mbit/s, "
              + "wireguard-go → sluice \(Int(reverse / 1e6)) Mbit/s")
        #expect(forward > 0 && reverse > 0)
        let transfer = try pair.inB(["wg", "show", pair.interfaceB, "transfer"])
        let counts = transfer.output.split(whereSeparator: { $0 == "\t" || $0 == "\n" }).dropFirst().compactMap { Int($0) }
        #expect(counts.count == 2 && counts.allSatisfy { $0 > 1_000_000 }, "wireguard-go transfer: \(transfer)")
    }

    /// Both ends sluice, with TUN and UDP offloads on both (TCP segmentation and coalescing, UDP GSO and GRO).
    @Test(.timeLimit(.minutes(3)))
    func sluiceToSluiceWithOffloads() throws {
        let pair = try WireGuardPair("ss", b: "sluice")
        #expect(try pair.ping(from: "a").received == 3)
        #expect(try pair.ping(from: "b").received == 3)
        let forward = try pair.iperf(seconds: 3)
        let reverse = try pair.iperf(seconds: 3, reverse: true)
        print("interop iperf3 (debug build): sluice ⇄ sluice \(Int(forward / 1e6)) / \(Int(reverse / 1e6)) Mbit/s")
        let status = try pair.statusA()
        // Offloads really ran: far fewer TUN reads than transport messages sent.
        let sent = status.firstMatch(of: /transport sent (\d+)/).flatMap { Int($0.1) } ?? 0
        let read = status.firstMatch(of: /tun read (\d+)/).flatMap { Int($0.1) } ?? 0
        #expect(sent > 0 && read > 0 && read < sent, "\(status)")
        #expect(!status.contains("invalid IPv4 packet"), "IPv6 chatter reached the tunnel: \(status)")
    }

    @Test(.timeLimit(.minutes(3)))
    func presharedKeyWrongThenRight() throws {
        let pair = try WireGuardPair("psk", psk: true)
        // A different preshared key on wireguard-go's side: the handshake cannot complete.
        let peerA = pair.file("a.pub")
        _ = try pair.inB(["sh", "-c", "wg genpsk > \(pair.directory)/wrong.psk"])
        let wrong = try pair.inB(["wg", "set", pair.interfaceB, "peer", peerA, "preshared-key", pair.directory + "/wrong.psk"])
        #expect(wrong.succeeded, "\(wrong)")
        let refused = try pair.ping(from: "a", count: 2)
        #expect(refused.received == 0, "ping worked with mismatched preshared keys: \(refused.result)")
        let status = try pair.statusA()
        #expect(status.contains("handshake did not authenticate"), "\(status)")
        #expect(status.contains("latest handshake none"), "\(status)")

        let right = try pair.inB(["wg", "set", pair.interfaceB, "peer", peerA, "preshared-key", pair.directory + "/psk"])
        #expect(right.succeeded, "\(right)")
        // The next handshake attempt (sluice retries every Rekey-Timeout) succeeds.
        let recovered = try pair.ping(from: "a", count: 1, deadline: 15)
        #expect(recovered.received >= 1, "no ping after the preshared keys matched: \(recovered.result)")
        let both = try pair.ping(from: "b")
        #expect(both.received == 3, "\(both.result)")
    }

    @Test(.timeLimit(.minutes(3)))
    func forcedRekeyKeepsTraffic() throws {
        // RekeyAfterMessages = 20: sluice starts a new handshake once a session carried 20 messages (no sooner
        // than Rekey-Timeout after the last one).
        let pair = try WireGuardPair("rekey", sluice: ["RekeyAfterMessages = 20"])
        let first = try pair.ping(from: "a", count: 1)
        #expect(first.received == 1, "\(first.result)")
        let t1 = try pair.latestHandshakeB()
        #expect(t1 > 0)
        let long = try pair.ping(from: "a", count: 45)
        #expect(long.received == 45, "packets lost across the rekey: \(long.result)")
        let t2 = try pair.latestHandshakeB()
        #expect(t2 > t1, "wireguard-go's latest handshake did not move: \(t1) → \(t2)")
        let status = try pair.statusA()
        let derived = status.firstMatch(of: /sessions derived (\d+)/).flatMap { Int($0.1) } ?? 0
        #expect(derived >= 2, "\(status)")
        let after = try pair.ping(from: "b")
        #expect(after.received == 3, "\(after.result)")
    }

    @Test(.timeLimit(.minutes(3)))
    func peerRoamsToANewAddressAndPort() throws {
        let pair = try WireGuardPair("roam")
        let before = try pair.ping(from: "b")
        #expect(before.received == 3, "\(before.result)")
        // wireguard-go moves: 192.0.2.2:51821 → 192.0.2.3:51999. The old endpoint no longer exists, so sluice's
        // replies arrive only if it learned the new one from the authenticated packets.
        for argv in [["ip", "address", "del", "192.0.2.2/24", "dev", pair.vethB],
                     ["ip", "address", "add", "192.0.2.3/24", "dev", pair.vethB],
                     ["wg", "set", pair.interfaceB, "listen-port", "51999"]] {
            let r = try pair.inB(argv)
            #expect(r.succeeded, "\(argv): \(r)")
        }
        let moved = try pair.ping(from: "b")
        #expect(moved.received == 3, "no replies after wireguard-go roamed: \(moved.result)")
        let status = try pair.statusA()
        #expect(status.contains("endpoint 192.0.2.3:51999"), "\(status)")
        let back = try pair.ping(from: "a")
        #expect(back.received == 3, "\(back.result)")
    }

    /// Garbage, truncated, wrongly keyed and replayed datagrams on sluice's port, then a handshake flood
    /// (ci/interop/wg-attack.py, run from wireguard-go's namespace): every one counted by reason, the
    /// flood answered with cookie replies, the tunnel unharmed.
    @Test(.timeLimit(.minutes(2)))
    func badInputIsCountedAndAFloodGetsCookieReplies() throws {
        let pair = try WireGuardPair("atk")
        let capture = pair.directory + "/b.pcap"
        let tshark = Process()
        tshark.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tshark.arguments = ["ip", "netns", "exec", pair.namespaceB, "tshark", "-q", "-i", pair.vethB, "-a", "duration:5", "-w", capture]
        tshark.standardOutput = FileHandle.nullDevice
        tshark.standardError = FileHandle.nullDevice
        try tshark.run()
        usleep(2_000_000)   // until dumpcap captures
        let first = try pair.ping(from: "a", count: 5)
        #expect(first.received == 5, "\(first.result)")
        tshark.waitUntilExit()
        // wireguard-go's transport messages to sluice: replay material.
        let replays = try run(["tshark", "-r", capture, "-Y", "ip.dst == 192.0.2.1 && udp.payload[0] == 4", "-T", "fields", "-e", "udp.payload"],
                              timeout: 30).output.split(separator: "\n").filter { !$0.contains(" ") }.map(String.init)
        #expect(replays.count >= 3, "\(replays)")
        let publicKey = try run(["sh", "-c", "wg pubkey < \(pair.directory)/a.key"], timeout: 10).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let attack = try pair.inB(["python3", repositoryRoot + "/ci/interop/wg-attack.py", "192.0.2.1", "51820", publicKey]
                                  + replays.prefix(5), timeout: 60)
        print("wg up under attack: \(attack.output)")
        #expect(attack.succeeded, "\(attack)")
        let json = try JSONSerialization.jsonObject(with: Data((attack.output.split(separator: "\n").last ?? "").utf8)) as? [String: [String: Int]]
        let replies = json?["replies"] ?? [:]
        #expect((replies["cookie"] ?? 0) >= 100 && replies["cookie-for-our-index"] == replies["cookie"] && replies["other"] == 0, "\(replies)")
        let status = try pair.statusA()
        print("wg up status after the attack:\n\(status)")
        for reason in ["unknown message type", "bad size", "bad mac1", "replayed or out-of-window counter", "cookie required (under load)"] {
            #expect(status.contains(reason + " "), "no '\(reason)' drops counted: \(status)")
        }
        #expect(status.contains("endpoint 192.0.2.2:51821"), "the attack moved the peer's endpoint: \(status)")
        let after = try pair.ping(from: "a", count: 3)
        #expect(after.received == 3, "the tunnel after the attack: \(after.result)")
    }

    @Test(.timeLimit(.minutes(2)))
    func upPrintsStatusAndExitsCleanlyOnSIGTERM() throws {
        let sluice = try sluiceBinary()
        let namespace = "swg-updown"
        _ = try run(["ip", "netns", "del", namespace], timeout: 10)
        #expect(try run(["ip", "netns", "add", namespace], timeout: 10).succeeded)
        defer { _ = try? run(["ip", "netns", "del", namespace], timeout: 10) }
        let dir = try TemporaryDirectory()
        let key = try run([sluice, "wg", "genkey"], timeout: 30).output.split(separator: "\n").last ?? ""
        try dir.write("up.conf", """
            [Interface]
            PrivateKey = \(key)
            Address = 203.0.113.9/24, 198.51.100.9/24
            MTU = 1300
            [Peer]
            PublicKey = \(try run([sluice, "wg", "genkey"], timeout: 30).output.split(separator: "\n").last ?? "")
            AllowedIPs = 198.18.0.0/15
            [Sluice]
            StatusInterval = 1
            """)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", namespace, sluice, "wg", "up", dir.path + "/up.conf", "--name", "wgtest0"]
        let log = dir.path + "/up.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        var text = ""
        for _ in 0..<100 {
            usleep(100_000)
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.contains("latest handshake") { break }
        }
        #expect(text.contains("wgtest0: up, 203.0.113.9/24, 198.51.100.9/24, mtu 1300"), "\(text)")
        #expect(text.contains("latest handshake none"), "the periodic status line is missing: \(text)")
        let link = try run(["ip", "-n", namespace, "-o", "address", "show", "dev", "wgtest0"], timeout: 10)
        #expect(link.output.contains("203.0.113.9/24") && link.output.contains("198.51.100.9/24"), "\(link)")
        let mtu = try run(["ip", "-n", namespace, "-o", "link", "show", "dev", "wgtest0"], timeout: 10)
        #expect(mtu.output.contains("mtu 1300") && mtu.output.contains("UP"), "\(mtu)")
        let route = try run(["ip", "-n", namespace, "route", "show", "198.18.0.0/15"], timeout: 10)
        #expect(route.output.contains("dev wgtest0"), "\(route)")

        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        #expect(!process.isRunning, "sluice wg up did not exit within 5 s of SIGTERM")
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let gone = try run(["ip", "-n", namespace, "link", "show", "dev", "wgtest0"], timeout: 10)
        #expect(!gone.succeeded, "wgtest0 still exists after exit: \(gone)")
        text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("wgtest0: down"), "\(text)")
    }

    /// `sluice bench tunnel` builds both tunnels and measures through them (numbers are not judged here:
    /// speed is the benchmark's business, not a test's).
    @Test(.timeLimit(.minutes(3)))
    func benchTunnelMeasuresBothImplementations() throws {
        let r = try run([try sluiceBinary(), "bench", "tunnel", "--mtus", "1420", "--seconds", "1", "--rounds", "1"], timeout: 150)
        #expect(r.succeeded, "\(r)")
        let row = r.output.split(separator: "\n").first { $0.hasPrefix("| 1420 |") }
        let cells = row?.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        #expect(cells.count == 5 && cells[1...3].allSatisfy { (Double($0) ?? 0) > 0 } && cells[4].hasSuffix("×"), "\(r.output)")
    }

    @Test(.timeLimit(.minutes(2)))
    func badConfigurationExitsWithLocatedError() throws {
        let sluice = try sluiceBinary()
        let dir = try TemporaryDirectory()
        try dir.write("bad.conf", "[Interface]\nPrivateKey = abc\nListenPort = 5\n")
        let r = try run([sluice, "wg", "up", dir.path + "/bad.conf"], timeout: 30)
        #expect(r.status == 2, "\(r)")
        #expect(r.output.contains(dir.path + "/bad.conf:2: error: PrivateKey is not a WireGuard key"), "\(r)")
    }
}
