// An independent reader for the Babel wire format: Wireshark's tshark dissects packets we emit (written into a
// pcap as IPv4/UDP port 6696, Babel's port) and must see the TLV types, seqnos, costs, prefixes, metrics,
// router-ids and sub-TLVs we wrote, with nothing malformed.
import Basics
import Foundation
import Testing
import Wire
@testable import Mesh

private let tshark: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
    .split(separator: ":").map { "\($0)/tshark" }
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// A little-endian pcap (link type Ethernet) of IPv4/UDP 6696→6696 datagrams carrying `payloads`.
private func pcap(_ payloads: [[UInt8]]) -> [UInt8] {
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    func be16(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
    var out = le32(0xA1B2_C3D4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65_535) + le32(1)
    for (i, p) in payloads.enumerated() {
        var ip: [UInt8] = [0x45, 0] + be16(20 + 8 + p.count) + [0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        var sum = 0
        for j in stride(from: 0, to: 20, by: 2) { sum += Int(ip[j]) << 8 | Int(ip[j + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        ip[10] = UInt8(~sum >> 8 & 0xFF); ip[11] = UInt8(~sum & 0xFF)
        let udp = be16(6696) + be16(6696) + be16(8 + p.count) + [0, 0]
        let frame = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00] + ip + udp + p
        out += le32(UInt32(i + 1)) + le32(0) + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
    }
    return out
}

private func dissect(_ payloads: [[UInt8]], fields: [String]) throws -> [[String]] {
    let path = NSTemporaryDirectory() + "babel-tshark-\(ProcessInfo.processInfo.processIdentifier).pcap"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data(pcap(payloads)).write(to: URL(fileURLWithPath: path))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tshark!)
    process.arguments = ["-r", path, "-d", "udp.port==6696,babel", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
        + fields.flatMap { ["-e", $0] }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "tshark failed: \(errors)")
    return output.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
}

@Test(.enabled(if: tshark != nil, "tshark is not on PATH, so no independent reader checks the Babel wire format"))
func tsharkDissectsOurBabelPackets() throws {
    let rid = RouterID(rawValue: 0x0102_0304_0506_0708)
    let packets: [[UInt8]] = [
        BabelPacket(tlvs: [.hello(BabelHello(seqno: 7, interval: 100, timestamp: 0x0102_0304)),
                           .ihu(BabelIHU(rxcost: 384, interval: 300, address: BabelAddress(encoding: .ipv4, bytes: [10, 0, 0, 2])!,
                                         origin: 11, receive: 22))]).encoded(),
        BabelPacket(tlvs: [.routerID(rid),
                           .update(BabelUpdate(prefix: BabelPrefix(IPv4Network("10.99.0.2/32")!), interval: 1600, seqno: 5, metric: 512)),
                           .update(BabelUpdate(prefix: BabelPrefix(IPv4Network("10.99.7.0/24")!), interval: 1600, seqno: 6, metric: 0xFFFF))]).encoded(),
        BabelPacket(tlvs: [.routeRequest(nil), .routeRequest(BabelPrefix(IPv4Network("10.99.0.0/16")!)),
                           .seqnoRequest(BabelSeqnoRequest(prefix: BabelPrefix(IPv4Network("10.99.0.2/32")!), seqno: 9,
                                                           hopCount: 64, routerID: rid)),
                           .padN(3), .pad1, .ackRequest(opaque: 0x4242, interval: 50), .ack(opaque: 0x4242)]).encoded(),
        BabelPacket(tlvs: [.ihu(BabelIHU(rxcost: 384, interval: 300))]).encoded(),
    ]
    let rows = try dissect(packets, fields: ["babel.message.type", "babel.message.seqno", "babel.message.interval",
                                             "babel.message.rxcost", "babel.message.plen", "babel.message.prefix",
                                             "babel.message.metric", "babel.message.routerid", "babel.message.hopcount",
                                             "babel.subtlv.type", "babel.subtlv.length", "_ws.malformed"])
    for r in rows { print("tshark babel: \(r)") }
    try #require(rows.count == 4 && rows.allSatisfy { $0.count == 12 })
    // tshark prints seqnos and costs in hex ("0x0007").
    func numbers(_ field: String) -> [Int] { field.split(separator: ",").compactMap { Int($0.dropFirst(2), radix: 16) ?? Int($0) } }
    #expect(rows[0][0] == "4,5" && numbers(rows[0][1]) == [7] && rows[0][2] == "100,300" && numbers(rows[0][3]) == [384])
    // The Hello's transmit timestamp (4 octets) and the IHU's origin and receive timestamps (8), RFC 9616.
    #expect(rows[0][9] == "3,3" && rows[0][10] == "4,8")
    #expect(rows[1][0] == "6,8,8" && numbers(rows[1][1]) == [5, 6] && rows[1][4] == "32,24" && rows[1][6] == "512,65535")
    #expect(rows[1][5].replacingOccurrences(of: ":", with: "") == "0a630002,0a6307")
    #expect(rows[1][7].replacingOccurrences(of: ":", with: "") == "0102030405060708")
    #expect(rows[2][0] == "9,9,10,1,0,2,3" && rows[2][4] == "0,16,32" && numbers(rows[2][1]) == [9] && rows[2][8] == "64")
    #expect(rows[2][7].replacingOccurrences(of: ":", with: "") == "0102030405060708")
    #expect(rows[3][0] == "5" && numbers(rows[3][3]) == [384] && rows[3][2] == "300")
    // Wireshark 4.0 reads an IHU's address from the rxcost field on, so it flags every IHU that carries sub-TLVs
    // as malformed; RFC 8966 §4.6.6 puts the address after the interval (tcpdump and babeld read it there), as we
    // do. Everything else must be clean.
    #expect(rows[1...].allSatisfy { $0[11].isEmpty })

    // A router's own output (Hellos, IHUs, full tables) dissects without a malformed TLV.
    var net = BabelNetwork(nodes: 3, edges: BabelNetwork.line(3))
    var emitted: [[UInt8]] = []
    net.start()
    for i in 0..<3 { for a in net.routers[i].tick(now: net.now + .seconds(20)) {
        if case .send(let b, _) = a { emitted.append(b) }
        if case .sendToAll(let b) = a { emitted.append(b) }
    } }
    let types = try dissect(emitted, fields: ["babel.message.type", "_ws.malformed"])
    #expect(types.count == emitted.count && types.allSatisfy { !$0[0].isEmpty })
    #expect(types.filter { !$0[0].split(separator: ",").contains("5") }.allSatisfy { $0[1].isEmpty })
    #expect(types.contains { $0[0].split(separator: ",").contains("8") })
}
