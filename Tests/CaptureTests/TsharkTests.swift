// An independent reader: Wireshark's tshark must see in our files exactly the frames, source
// MACs and nanosecond times we wrote.
import Basics
import Foundation
import Testing
@testable import Capture

/// tshark's path, if it is on PATH.
let tsharkPath: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
    .split(separator: ":").map { "\($0)/tshark" }
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs tshark on `path` and returns one (epoch nanoseconds, eth.src) per frame.
func tsharkFields(_ path: String) throws -> [(ns: UInt64, src: String)] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tsharkPath!)
    process.arguments = ["-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "eth.src"]
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "tshark failed: \(errors)")
    return try output.split(separator: "\n").map { line in
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        try #require(fields.count == 2, "unexpected tshark line: \(line)")
        // "1700000000.123456789": whole seconds, then exactly nine digits of fraction.
        let parts = fields[0].split(separator: ".")
        try #require(parts.count == 2 && parts[1].count == 9, "not a nanosecond time: \(fields[0])")
        let ns = try #require(UInt64(parts[0])) * 1_000_000_000 + (try #require(UInt64(parts[1])))
        return (ns, String(fields[1]))
    }
}

func macString(_ bytes: ArraySlice<UInt8>) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        .joined(separator: ":")
}

@Test(.enabled(if: tsharkPath != nil, "tshark is not on PATH, so no independent reader checks our pcaps"),
      arguments: [UInt64(0), 1_700_000_000_123_456_789])
func tsharkReadsOurFileAlike(epochOffset: UInt64) throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/tshark.pcap"
        // Seeded frames whose source MAC varies per frame; near t = 0 for the simulator's clock.
        var records = randomRecords(count: 40, seed: 2024)
        for i in records.indices { records[i].bytes.replaceSubrange(6..<12, with: mac(UInt8(i))) }
        records[0].time = Instant(nanoseconds: 1)
        try write(records, to: path, epochOffset: epochOffset)

        let seen = try tsharkFields(path)
        #expect(seen.count == records.count)
        #expect(seen.map(\.ns) == records.map { $0.time.nanoseconds + epochOffset })
        #expect(seen.map(\.src) == records.map { macString($0.bytes[6..<12]) })
    }
}
