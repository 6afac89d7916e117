import HostIO
import Testing
@testable import VhostUser

@Suite struct VhostUserMessageTests {
    @Test func headerRoundTripOnADirtyBuffer() throws {
        var buffer = [UInt8](repeating: 0xAB, count: 20)
        let header = VhostUserHeader(request: 9, flags: VhostUserSpec.version | VhostUserSpec.needReplyFlag, size: 40)
        buffer.withUnsafeMutableBytes { header.emit(into: $0) }
        let parsed = try buffer.withUnsafeBytes { try VhostUserHeader(parsing: $0) }
        #expect(parsed == header)
        #expect(parsed.knownRequest == .setVringAddr)
        #expect(parsed.needsReply)
        #expect(parsed.version == 1)
        #expect(buffer[12] == 0xAB, "emit wrote past the header")
    }

    @Test func headerRejectsEveryTruncation() {
        let bytes = VhostUserMessage(request: .getFeatures).bytes
        for n in 0..<VhostUserSpec.headerSize {
            #expect(throws: VhostUserError.truncatedHeader(received: n)) {
                _ = try bytes.prefix(n).withUnsafeBytes { try VhostUserHeader(parsing: $0) }
            }
        }
    }

    @Test func payloadsRoundTrip() throws {
        let state = VhostUserVringState(index: 3, num: 0xBEEF)
        #expect(VhostUserVringState(parsing: state.bytes) == state)
        #expect(VhostUserVringState(parsing: Array(state.bytes.prefix(7))) == nil)
        let address = VhostUserVringAddress(index: 1, flags: 0, descriptor: 0x7F00_0000_1000, used: 0x7F00_0000_3000,
                                            available: 0x7F00_0000_2000, log: 0x1234)
        #expect(VhostUserVringAddress(parsing: address.bytes) == address)
        #expect(VhostUserVringAddress(parsing: address.bytes + [0]) == nil)
        #expect(VhostUserU64.parse(VhostUserU64.encode(0x0123_4567_89AB_CDEF)) == 0x0123_4567_89AB_CDEF)
        #expect(VhostUserU64.parse([1, 2, 3]) == nil)
        let regions = [VhostUserMemoryRegion(guestPhysicalAddress: 0, size: 0x1000, userAddress: 0x7000, mmapOffset: 0),
                       VhostUserMemoryRegion(guestPhysicalAddress: 0x10000, size: 0x2000, userAddress: 0x9000, mmapOffset: 0x1000)]
        #expect(try VhostUserMemoryRegion.parseTable(VhostUserMemoryRegion.encodeTable(regions)) == regions)
        #expect(try VhostUserMemoryRegion.parseSingle(regions[1].singleBytes, for: .addMemReg) == regions[1])
    }

    @Test func memoryTableSizesAreChecked() {
        let region = VhostUserMemoryRegion(guestPhysicalAddress: 0, size: 0x1000, userAddress: 0x7000, mmapOffset: 0)
        let table = VhostUserMemoryRegion.encodeTable([region, region])
        // Cut anywhere inside the second region: too short for the count it announces.
        for n in [0, 4, 8, 8 + 32, table.count - 1] {
            #expect(throws: VhostUserError.self) { _ = try VhostUserMemoryRegion.parseTable(Array(table.prefix(n))) }
        }
        // No regions, or more than eight.
        #expect(throws: VhostUserError.self) { _ = try VhostUserMemoryRegion.parseTable(VhostUserU64.encode(0)) }
        #expect(throws: VhostUserError.self) {
            _ = try VhostUserMemoryRegion.parseTable(VhostUserMemoryRegion.encodeTable(Array(repeating: region, count: 9)))
        }
    }

    @Test func readerFramesByteByByteAndKeepsDescriptorsWithTheirMessage() throws {
        let first = VhostUserMessage(request: .setVringKick, payload: VhostUserU64.encode(1))
        let second = VhostUserMessage(request: .getFeatures)
        var reader = VhostUserMessageReader()
        let event = try EventFD()
        var messages: [(VhostUserMessage, Int)] = []
        for (index, byte) in (first.bytes + second.bytes).enumerated() {
            #expect(reader.bytesWanted >= 1)
            let descriptors = index == 0 ? [event.descriptor] : []
            if let (message, fds) = try [byte].withUnsafeBytes({ try reader.append($0, descriptors: descriptors) }) {
                messages.append((message, fds.count))
            }
        }
        #expect(messages.map(\.0) == [first, second])
        #expect(messages.map(\.1) == [1, 0])
        #expect(reader.isAtMessageBoundary)
        #expect(reader.endOfStream() == .peerClosed)
    }

    @Test func readerReportsWhereTheStreamWasCut() throws {
        let bytes = VhostUserMessage(request: .setFeatures, payload: VhostUserU64.encode(5)).bytes
        for cut in 1..<bytes.count {
            var reader = VhostUserMessageReader()
            var offset = 0
            while offset < cut {
                let n = min(reader.bytesWanted, cut - offset)
                _ = try bytes[offset..<(offset + n)].withUnsafeBytes { try reader.append($0, descriptors: []) }
                offset += n
            }
            let expected: VhostUserError = cut < 12 ? .truncatedHeader(received: cut)
                : .truncatedPayload(request: VhostUserRequest.setFeatures.rawValue, expected: 8, received: cut - 12)
            #expect(reader.endOfStream() == expected)
        }
    }

    @Test func readerRejectsBadVersionAndHugePayloads() {
        var reader = VhostUserMessageReader()
        let badVersion = VhostUserMessage(header: VhostUserHeader(request: 1, flags: 2, size: 0), payload: []).bytes
        #expect(throws: VhostUserError.badVersion(request: 1, flags: 2)) {
            _ = try badVersion.withUnsafeBytes { try reader.append($0, descriptors: []) }
        }
        var reader2 = VhostUserMessageReader()
        let huge = VhostUserMessage(header: VhostUserHeader(request: 5, size: 1 << 20), payload: []).bytes
        #expect(throws: VhostUserError.payloadTooLarge(request: 5, size: 1 << 20)) {
            _ = try huge.withUnsafeBytes { try reader2.append($0, descriptors: []) }
        }
    }

    @Test func requestNamesFollowTheSpec() {
        #expect(VhostUserRequest.setMemTable.description == "VHOST_USER_SET_MEM_TABLE")
        #expect(VhostUserRequest.getVringBase.rawValue == 11)
        #expect(VhostUserRequest.remMemReg.rawValue == 38)
        #expect(VhostUserProtocolFeatures.configureMemorySlots.rawValue == 1 << 15)
    }
}
