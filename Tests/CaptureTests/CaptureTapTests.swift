// Capture taps: the filter decides, counters add up, the file and the ring hold the same frames.
import Basics
import Testing
@testable import Capture

/// Every test frame once, 1 ms apart from t = 1 s.
let traffic: [CaptureRecord] = TestFrames.all.enumerated().map { i, frame in
    CaptureRecord(time: Instant(nanoseconds: 1_000_000_000 + UInt64(i) * 1_000_000),
                  originalLength: frame.bytes.count, bytes: frame.bytes)
}

func offer(_ records: [CaptureRecord], to tap: CaptureTap) -> [Bool] {
    records.map { record in
        record.bytes.withUnsafeBytes { tap.record(frame: $0, originalLength: record.originalLength, at: record.time) }
    }
}

@Test func tapWithFilterRecordsAndCountsOnlyMatches() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/dhcp.pcap"
        let tap = CaptureTap(name: "br0", filter: try BPFFilter("udp port 67"),
                             sink: .fileAndMemory(try PcapWriter(path: path), capacity: 16))
        let accepted = offer(traffic, to: tap)
        let dhcp = traffic.filter { $0.bytes == TestFrames.dhcpDiscover || $0.bytes == TestFrames.dhcpOffer }
        #expect(accepted.filter { $0 }.count == 2)
        #expect(tap.recorded == 2)
        #expect(tap.filteredOut == UInt64(traffic.count - 2))
        #expect(tap.writeFailures == 0 && tap.lastError == nil)
        #expect(tap.records == dhcp)
        try tap.close()
        #expect(tap.writer?.isOpen == false)
        try tap.close()  // closing a closed tap is a no-op
        #expect(try PcapReader(path: path).readAll() == dhcp)
        #expect(tap.records == dhcp)  // the ring outlives the file
    }
}

@Test func fileSinkFromAPathWritesWhatTheTapRecords() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/all.pcap"
        let tap = CaptureTap(name: "lan", sink: try .file(path: path))
        _ = offer(traffic, to: tap)
        #expect(tap.records.isEmpty)  // a file sink keeps nothing in memory
        try tap.close()
        #expect(try PcapReader(path: path).readAll() == traffic)
    }
}

@Test func tapWithoutFilterRecordsEverything() {
    let tap = CaptureTap(name: "vm1.tx", sink: .memory(capacity: 100))
    #expect(offer(traffic, to: tap).allSatisfy { $0 })
    #expect(tap.recorded == UInt64(traffic.count) && tap.filteredOut == 0)
    #expect(tap.records == traffic)
}

@Test func memoryCountsFramesMatchingALaterFilter() throws {
    let tap = CaptureTap(name: "lan", sink: .memory(capacity: 100))
    _ = offer(traffic + traffic, to: tap)
    // "icmp" is the IP protocol alone, so the later fragment counts too.
    #expect(tap.count(matching: try BPFFilter("icmp")) == 6)
    #expect(tap.count(matching: try BPFFilter("icmp[icmptype] = icmp-echoreply")) == 2)
    #expect(tap.count(matching: try BPFFilter("arp")) == 2)
}

@Test func ringKeepsTheNewestFramesInOrder() {
    var ring = CaptureRing(capacity: 3)
    for record in traffic {
        record.bytes.withUnsafeBytes { ring.append(frame: $0, originalLength: record.originalLength, at: record.time) }
    }
    #expect(ring.count == 3)
    #expect(ring.evicted == UInt64(traffic.count - 3))
    #expect(ring.records == Array(traffic.suffix(3)))
    ring.removeAll()
    #expect(ring.records.isEmpty)
    TestFrames.arpRequest.withUnsafeBytes { ring.append(frame: $0, originalLength: 60, at: .zero) }
    #expect(ring.records == [CaptureRecord(time: .zero, originalLength: 60, bytes: TestFrames.arpRequest)])
}

@Test func ringOfNothingKeepsNothing() {
    var ring = CaptureRing(capacity: 0)
    TestFrames.arpRequest.withUnsafeBytes { ring.append(frame: $0, originalLength: 42, at: .zero) }
    #expect(ring.records.isEmpty && ring.evicted == 0)
}

@Test func writeFailuresAreCountedAndTheRingStillRecords() throws {
    try withTemporaryDirectory { dir in
        let writer = try PcapWriter(path: dir + "/closed.pcap")
        try writer.close()
        let tap = CaptureTap(name: "p", sink: .fileAndMemory(writer, capacity: 4))
        _ = offer(Array(traffic.prefix(2)), to: tap)
        #expect(tap.writeFailures == 2)
        #expect(tap.lastError == .closed(path: dir + "/closed.pcap"))
        #expect(tap.recorded == 2)
        #expect(tap.records == Array(traffic.prefix(2)))
    }
}
