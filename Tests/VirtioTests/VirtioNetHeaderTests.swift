import Testing
@testable import Virtio

@Suite struct VirtioNetHeaderTests {
    let sample = VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum, gsoType: VirtioNetHeader.gsoTCPv4,
                                 headerLength: 54, gsoSize: 1448, checksumStart: 34, checksumOffset: 16, numBuffers: 0x0203)

    @Test func sizeFollowsTheNegotiatedFeatures() {
        #expect(VirtioNetHeader.size(for: [.version1]) == 12)
        #expect(VirtioNetHeader.size(for: [.netMergeableRxBuffers]) == 12)
        #expect(VirtioNetHeader.size(for: [.version1, .netMergeableRxBuffers]) == 12)
        #expect(VirtioNetHeader.size(for: []) == 10)
        #expect(VirtioNetHeader.size(for: [.netCsum, .ringEventIndex]) == 10)
    }

    @Test func emitThenParseOnADirtyBuffer() {
        for size in [10, 12] {
            var bytes = [UInt8](repeating: 0xA5, count: 16)
            bytes.withUnsafeMutableBytes { sample.emit(into: $0, size: size) }
            // Little-endian fields at the spec's offsets.
            #expect(Array(bytes[0..<10]) == [1, 1, 54, 0, 0xA8, 0x05, 34, 0, 16, 0])
            #expect(bytes[size] == 0xA5, "nothing past the header is written")
            let parsed = bytes.withUnsafeBytes { VirtioNetHeader(parsing: $0, size: size) }
            var expected = sample
            if size == 10 { expected.numBuffers = 0 } else { #expect(Array(bytes[10..<12]) == [3, 2]) }
            #expect(parsed == expected)
        }
    }

    @Test func receiveOffloadsNeedTheirFeatures() {
        let plain = VirtioNetHeader()
        #expect(plain.isAcceptableOnReceive(features: []))
        var csum = VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum)
        #expect(!csum.isAcceptableOnReceive(features: [.version1]))
        #expect(csum.isAcceptableOnReceive(features: [.netGuestCsum]))
        csum.flags = VirtioNetHeader.flagDataValid
        #expect(!csum.isAcceptableOnReceive(features: []))
        #expect(csum.isAcceptableOnReceive(features: [.netGuestCsum]))
        #expect(!sample.isAcceptableOnReceive(features: [.netGuestCsum]))
        #expect(sample.isAcceptableOnReceive(features: [.netGuestCsum, .netGuestTSO4]))
        #expect(!sample.isAcceptableOnReceive(features: [.netGuestCsum, .netGuestTSO6]))
        var ecn = sample
        ecn.gsoType |= VirtioNetHeader.gsoECN
        #expect(!ecn.isAcceptableOnReceive(features: [.netGuestCsum, .netGuestTSO4]))
        #expect(ecn.isAcceptableOnReceive(features: [.netGuestCsum, .netGuestTSO4, .netGuestECN]))
        var unknown = plain
        unknown.gsoType = 2
        #expect(!unknown.isAcceptableOnReceive(features: [.netGuestCsum, .netGuestTSO4, .netGuestTSO6, .netGuestUFO]))
    }

    @Test func transmitOffloadsNeedTheirFeatures() {
        #expect(VirtioNetHeader().isAcceptableOnTransmit(features: []))
        #expect(VirtioNetHeader(flags: VirtioNetHeader.flagDataValid).isAcceptableOnTransmit(features: []))
        #expect(!VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum).isAcceptableOnTransmit(features: [.netGuestCsum]))
        #expect(VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum).isAcceptableOnTransmit(features: [.netCsum]))
        #expect(!sample.isAcceptableOnTransmit(features: [.netCsum, .netGuestTSO4]))
        #expect(sample.isAcceptableOnTransmit(features: [.netCsum, .netHostTSO4]))
        var udp = sample
        udp.gsoType = VirtioNetHeader.gsoUDPL4
        #expect(!udp.isAcceptableOnTransmit(features: [.netCsum, .netHostTSO4, .netHostUFO]))
        #expect(udp.isAcceptableOnTransmit(features: [.netCsum, .netHostUSO]))
    }

    @Test func featureBitsAreTheSpecNumbers() {
        #expect(VirtioFeatures.netCsum.rawValue == 1 << 0)
        #expect(VirtioFeatures.netMAC.rawValue == 1 << 5)
        #expect(VirtioFeatures.netMergeableRxBuffers.rawValue == 1 << 15)
        #expect(VirtioFeatures.netStatus.rawValue == 1 << 16)
        #expect(VirtioFeatures.netCtrlVQ.rawValue == 1 << 17)
        #expect(VirtioFeatures.netMQ.rawValue == 1 << 22)
        #expect(VirtioFeatures.indirectDescriptors.rawValue == 1 << 28)
        #expect(VirtioFeatures.ringEventIndex.rawValue == 1 << 29)
        #expect(VirtioFeatures.version1.rawValue == 1 << 32)
        #expect(VirtioLayoutCheck.needsEventExamples())
    }
}

/// vring_need_event against the spec's worked example ("if used_event is 0, then a device using
/// VIRTIO_F_EVENT_IDX would send a used buffer notification to the driver after the first buffer
/// is used (and again after the 65536th buffer, etc)").
enum VirtioLayoutCheck {
    static func needsEventExamples() -> Bool {
        VirtqLayout.needsEvent(event: 0, new: 1, old: 0)
            && !VirtqLayout.needsEvent(event: 0, new: 2, old: 1)
            && !VirtqLayout.needsEvent(event: 0, new: 0, old: 0xFFFF)
            && VirtqLayout.needsEvent(event: 0, new: 1, old: 0xFFFF)
            && VirtqLayout.needsEvent(event: 5, new: 9, old: 2)
            && !VirtqLayout.needsEvent(event: 5, new: 5, old: 2)
            && !VirtqLayout.needsEvent(event: 5, new: 9, old: 6)
            && VirtqLayout.needsEvent(event: 0xFFFE, new: 3, old: 0xFFF0)
    }
}
