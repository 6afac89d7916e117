// The TCP row of `sluice bench sim`: its scenario loads, its transfer completes and what it reports
// adds up (the speed itself is for the release build to show, not for a test to assert).
import Foundation
import Testing
@testable import Lab

@Test func theTCPBenchmarkMovesItsBytesAndReportsThem() throws {
    let directory = "/tmp/sluice-bench-tcp-test-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let r = try SimBenchmark.tcp(bytes: 2_000_000, directory: directory)
    #expect(r.completed)
    #expect(r.bytesDelivered == 2_000_000)
    // 2 MB over a 4 ms RTT, window-bound (1 MiB): a few RTTs of simulated time, never zero.
    #expect(r.simulatedSeconds > 0.004 && r.simulatedSeconds < 1)
    #expect(r.events > 1_000)
    #expect(r.runSeconds > 0 && r.bitsPerWallSecond > 0)
}
