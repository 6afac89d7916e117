// Writing and reading pcap files: nanosecond times and bytes survive the round trip; every
// failure names the file and says why.
import Basics
import Foundation
import Testing
@testable import Capture

/// `count` frames of seeded random length and content at strictly increasing times with
/// arbitrary nanosecond parts.
func randomRecords(count: Int, seed: UInt64) -> [CaptureRecord] {
    var random = SeededRandom(seed: seed)
    var time: UInt64 = random.next() % 1_000_000_000
    return (0..<count).map { _ in
        time += 1 + random.next() % 3_000_000_000
        let length = 14 + Int(random.next() % 1501)
        let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        return CaptureRecord(time: Instant(nanoseconds: time), originalLength: length, bytes: bytes)
    }
}

func write(_ records: [CaptureRecord], to path: String, epochOffset: UInt64 = 0) throws {
    let writer = try PcapWriter(path: path, epochOffsetNanoseconds: epochOffset)
    for record in records {
        try record.bytes.withUnsafeBytes {
            try writer.write(frame: $0, originalLength: record.originalLength, at: record.time)
        }
    }
    try writer.close()
}

@Test func framesAndNanosecondTimesSurviveTheRoundTrip() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/round.pcap"
        let records = randomRecords(count: 50, seed: 7)
        try write(records, to: path)

        let reader = try PcapReader(path: path)
        #expect(reader.linkType == .ethernet)
        #expect(reader.snapLength == PcapFormat.snapLength)
        let read = try reader.readAll()
        #expect(read.count == records.count)
        #expect(read == records)
        #expect(try reader.next() == nil)  // still at the end
    }
}

@Test func fileHeaderSaysNanosecondsAndEthernet() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/header.pcap"
        try write(randomRecords(count: 1, seed: 1), to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func le32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        #expect(le32(0) == 0xA1B2_3C4D)  // pcap(5): nanosecond-resolution magic
        #expect(le32(16) == UInt32(PcapFormat.snapLength))
        #expect(le32(20) == 1)  // LINKTYPE_ETHERNET
    }
}

@Test func epochOffsetShiftsWrittenTimes() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/offset.pcap"
        let offset: UInt64 = 1_700_000_000_123_456_789
        let records = randomRecords(count: 5, seed: 3)
        try write(records, to: path, epochOffset: offset)
        let read = try PcapReader(path: path).readAll()
        #expect(read.map(\.time.nanoseconds) == records.map { $0.time.nanoseconds + offset })
        #expect(read.map(\.bytes) == records.map(\.bytes))
    }
}

@Test func longFramesAreCutAtTheSnapLengthAndKeepTheirLength() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/long.pcap"
        let writer = try PcapWriter(path: path)
        let jumbo = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        try jumbo.withUnsafeBytes { try writer.write(frame: $0, at: Instant(nanoseconds: 5)) }
        // A frame the caller already cut: 64 bytes kept of 1514.
        try jumbo.withUnsafeBytes {
            try writer.write(frame: UnsafeRawBufferPointer(rebasing: $0[..<64]), originalLength: 1514,
                             at: Instant(nanoseconds: 6))
        }
        // An empty frame is a valid record too.
        try writer.write(frame: UnsafeRawBufferPointer(start: nil, count: 0), at: Instant(nanoseconds: 7))
        #expect(writer.recordCount == 3)
        try writer.close()

        let read = try PcapReader(path: path).readAll()
        try #require(read.count == 3)
        #expect(read[0].bytes == Array(jumbo[..<PcapFormat.snapLength]))
        #expect(read[0].originalLength == 300_000)
        #expect(read[0].isTruncated)
        #expect(read[1].bytes == Array(jumbo[..<64]))
        #expect(read[1].originalLength == 1514)
        #expect(read[2].bytes.isEmpty && read[2].originalLength == 0 && !read[2].isTruncated)
        #expect(read.map(\.time.nanoseconds) == [5, 6, 7])
    }
}

@Test func nextFrameLendsBytesWithoutCopying() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/lend.pcap"
        let records = randomRecords(count: 4, seed: 11)
        try write(records, to: path)
        let reader = try PcapReader(path: path)
        var sums: [Int] = []
        while let sum = try reader.nextFrame({ frame, length, _ in frame.reduce(length) { $0 + Int($1) } }) {
            sums.append(sum)
        }
        #expect(sums == records.map { $0.bytes.reduce($0.originalLength) { $0 + Int($1) } })
    }
}

@Test func writerRejectsBadRecordsAndUseAfterClose() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/bad.pcap"
        let writer = try PcapWriter(path: path)
        let frame: [UInt8] = Array(repeating: 0xAB, count: 60)
        frame.withUnsafeBytes { frame in
            #expect(throws: CaptureError.invalidOriginalLength(path: path, captured: 60, original: 59)) {
                try writer.write(frame: frame, originalLength: 59, at: .zero)
            }
            // Seconds must stay below 2^31: the last nanosecond of 2^31 - 1 s is fine, the next is not.
            let last = (UInt64(Int32.max) + 1) * 1_000_000_000 - 1
            #expect(throws: Never.self) { try writer.write(frame: frame, at: Instant(nanoseconds: last)) }
            #expect(throws: CaptureError.timestampOutOfRange(path: path, nanosecondsSinceEpoch: last + 1)) {
                try writer.write(frame: frame, at: Instant(nanoseconds: last + 1))
            }
        }
        #expect(writer.recordCount == 1)
        try writer.flush()
        try writer.close()
        #expect(!writer.isOpen)
        #expect(throws: CaptureError.closed(path: path)) { try writer.close() }
        #expect(throws: CaptureError.closed(path: path)) { try writer.flush() }
        _ = frame.withUnsafeBytes { frame in
            #expect(throws: CaptureError.closed(path: path)) { try writer.write(frame: frame, at: .zero) }
        }
        let read = try PcapReader(path: path).readAll()
        #expect(read.map(\.time.nanoseconds) == [(UInt64(Int32.max) + 1) * 1_000_000_000 - 1])
    }
}

@Test func fullDiskSurfacesAtFlushAndCloseStillCloses() throws {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let path = "/dev/full"
    let writer = try PcapWriter(path: path)
    try TestFrames.arpRequest.withUnsafeBytes { try writer.write(frame: $0, at: .zero) }
    let space = CaptureError.writeFailed(path: path, message: "No space left on device")
    #expect(throws: space) { try writer.flush() }
    #expect(throws: space) { try writer.close() }
    #expect(!writer.isOpen)
    #expect(throws: CaptureError.closed(path: path)) { try writer.close() }
}

@Test func writerThatCannotCreateItsFileSaysWhere() throws {
    let path = "/nonexistent-sluice-dir/x.pcap"
    let error = #expect(throws: CaptureError.self) { try PcapWriter(path: path) }
    #expect(error == .openFailed(path: path, message: "No such file or directory"))
    #expect(error?.description == "cannot open capture file \(path): No such file or directory")
}

@Test func readerOfAMissingOrForeignFileSaysWhyWithLibpcapsWords() throws {
    try withTemporaryDirectory { dir in
        let missing = dir + "/missing.pcap"
        #expect(throws: CaptureError.openFailed(path: missing, message: "No such file or directory")) {
            try PcapReader(path: missing)
        }
        let text = dir + "/notes.txt"
        try Data("this is not a capture file at all\n".utf8).write(to: URL(fileURLWithPath: text))
        let error = #expect(throws: CaptureError.self) { try PcapReader(path: text) }
        guard case .openFailed(let path, let message)? = error else {
            Issue.record("expected openFailed, got \(String(describing: error))"); return
        }
        #expect(path == text)
        #expect(message.contains("unknown file format"), "libpcap said: \(message)")
        #expect(error!.description.contains(text))
    }
}

@Test func truncatedFileFailsAtTheCutRecord() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/cut.pcap"
        let records = randomRecords(count: 3, seed: 5)
        try write(records, to: path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(whole.count - 5).write(to: URL(fileURLWithPath: path))

        let reader = try PcapReader(path: path)
        #expect(try reader.next() == records[0])
        #expect(try reader.next() == records[1])
        let error = #expect(throws: CaptureError.self) { try reader.next() }
        guard case .readFailed(let errorPath, let message)? = error else {
            Issue.record("expected readFailed, got \(String(describing: error))"); return
        }
        #expect(errorPath == path)
        #expect(message.contains("truncated"), "libpcap said: \(message)")
    }
}

@Test func nonEthernetCaptureIsRejectedByName() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/raw.pcap"
        // A DLT_RAW file: IPv4 packets without an Ethernet header, as a TUN device gives them.
        let writer = try PcapWriter(path: path, linkType: .raw)
        let packet = ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], protocol: 17, udp(src: 1, dst: 2, [9]))
        try packet.withUnsafeBytes { try writer.write(frame: $0, at: Instant(nanoseconds: 1)) }
        try writer.close()

        let error = #expect(throws: CaptureError.self) { try PcapReader(path: path) }
        #expect(error == .unsupportedLinkType(path: path, linkType: .raw, expected: .ethernet))
        let text = error?.description ?? ""
        #expect(text.contains(path))
        #expect(text.contains("RAW"), "message: \(text)")
        #expect(text.contains("EN10MB"), "message: \(text)")

        // Asked for raw IP, the same file reads.
        let reader = try PcapReader(path: path, expecting: .raw)
        #expect(reader.linkType == .raw)
        #expect(try reader.readAll().map(\.bytes) == [packet])
    }
}

@Test func linkTypesHaveLibpcapsNames() {
    #expect(LinkType.ethernet.name == "EN10MB")
    #expect(LinkType.raw.name == "RAW")
    #expect(LinkType(dlt: 99_999).name == "DLT 99999")
}

@Test func readerScalesMicrosecondFilesAndTakesSecondsAsUnsigned() throws {
    try withTemporaryDirectory { dir in
        let path = dir + "/micro.pcap"
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let frame = TestFrames.arpRequest
        // pcap(5) by hand: microsecond magic, version 2.4, zone 0, sigfigs 0, snaplen, Ethernet;
        // then one record at 2^32 - 1 s + 123456 µs (past 2038: only unsigned seconds reach it).
        var file = le32(0xA1B2_C3D4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65535) + le32(1)
        file += le32(UInt32.max) + le32(123_456) + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
        try Data(file).write(to: URL(fileURLWithPath: path))

        let read = try PcapReader(path: path).readAll()
        #expect(read == [CaptureRecord(time: Instant(nanoseconds: UInt64(UInt32.max) * 1_000_000_000 + 123_456_000),
                                       originalLength: frame.count, bytes: frame)])
    }
}
