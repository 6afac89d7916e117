// Fragmentation end to end (scenarios/fragmentation-wireguard.yml): a guest's 1500- and
// 4000-byte UDP datagrams and 3000-byte pings cross a NAT and a 1420-byte WireGuard WAN; the
// far LAN's capture, reassembled by tshark (`-o ip.defragment:TRUE`), holds whole datagrams of
// the sizes sent, none malformed and no bad checksum.
import Foundation
import Testing
@testable import Lab

private func tshark(_ arguments: [String]) throws -> String? {
    guard let path = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first(where: FileManager.default.isExecutableFile) else {
        return nil
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "tshark \(arguments.joined(separator: " ")) exited \(p.terminationStatus)")
    return String(decoding: data, as: UTF8.self)
}

@Test func fragmentedDatagramsCrossTheNATAndTheTunnelAndReassembleWhole() throws {
    let text = try String(contentsOfFile: repositoryRoot + "/scenarios/fragmentation-wireguard.yml", encoding: .utf8)
    let (run, _) = try runScenario(text)
    passes(run)
    let lanB = try #require(run.captures.first { $0.name == "lanB" }).path
    // Reassembled datagrams on the far LAN by IP payload length and protocol.
    guard let reassembled = try tshark(["-r", lanB, "-o", "ip.defragment:TRUE", "-Y", "ip.reassembled.length",
                                        "-T", "fields", "-e", "ip.reassembled.length", "-e", "ip.proto"]) else {
        print("skip: tshark is not installed (ci/interop/ensure-tools.sh installs it); the capture was not reassembled")
        return
    }
    var counts: [String: Int] = [:]
    for line in reassembled.split(separator: "\n") { counts[line.replacingOccurrences(of: "\t", with: " "), default: 0] += 1 }
    // UDP payload 1472 / 3972 + 8 = 1480 / 3980 bytes; ICMP 3000 + 8 = 3008, request and reply.
    #expect(counts["1480 17"] ?? 0 >= 40, "\(counts)")
    #expect(counts["3980 17"] ?? 0 >= 20, "\(counts)")
    #expect(counts["3008 1"] == 10, "\(counts)")
    #expect(Set(counts.keys) == ["1480 17", "3980 17", "3008 1"], "no other reassembled sizes: \(counts)")
    // Nothing malformed, no expert warnings, no bad IP/UDP/ICMP checksum.
    let bad = try tshark(["-r", lanB, "-o", "ip.defragment:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                          "-Y", "_ws.malformed || _ws.expert.severity >= warning || ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0"])
    #expect(bad == "", "tshark flags: \(bad ?? "")")
}
