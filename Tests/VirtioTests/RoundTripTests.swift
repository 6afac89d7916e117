import Basics
import Testing
@testable import Virtio

/// Frames from a guest through the device and back into a guest, over every layout.
@Suite struct RoundTripTests {
    static let sizes = [60, 1514, 9000, 65550]
    static let layouts: [TransmitLayout] = [.single, .split(2), .split(3), .indirect(3)]

    /// With MRG_RXBUF: 1536-byte buffers, a big frame spans many; without: one big buffer per
    /// frame, split in 4 KiB descriptors like Linux's "big packets" mode.
    static func rig(mergeable: Bool) throws -> Rig {
        try Rig { c in
            if mergeable {
                c.receiveBufferSize = 1536
                c.receiveBufferCount = 256
            } else {
                c.features.remove(.netMergeableRxBuffers)
                c.receiveBufferSize = 12 + 65550
                c.receiveSegmentSize = 4096
                c.receiveBufferCount = 8
            }
        }
    }

    @Test(arguments: sizes, [true, false])
    func roundTrip(size: Int, mergeable: Bool) throws {
        let rig = try Self.rig(mergeable: mergeable)
        for (i, layout) in Self.layouts.enumerated() {
            let frame = makeFrame(size, tag: UInt64(i))
            let (outcome, received) = rig.loopBack(frame, layout: layout)
            let buffers = mergeable ? (12 + size + 1535) / 1536 : 1
            #expect(outcome == .delivered(buffers: buffers), "layout \(layout)")
            try #require(received.count == 1, "layout \(layout)")
            #expect(received[0].bytes == frame, "layout \(layout)")
            #expect(received[0].header.numBuffers == UInt16(buffers))
            #expect(received[0].header.flags == 0 && received[0].header.gsoType == 0)
        }
        #expect(rig.driver.protocolErrors == 0)
        #expect(rig.device.counters.transmittedFrames == 4 && rig.device.counters.receivedFrames == 4)
        #expect(rig.device.counters.receivedBytes == UInt64(4 * size))
    }

    @Test func twoGuestsOneCopy() throws {
        let a = try Rig(), b = try Rig()
        b.driver.refillReceiveBuffers()
        let frames = (0..<20).map { makeFrame(60 + $0 * 97, tag: UInt64($0)) }
        for (i, f) in frames.enumerated() { a.driver.transmit(f, layout: i % 2 == 0 ? .single : .split(2)) }
        var inPlace = 0
        let region = a.driver.memory.regions[0]
        let batch = a.device.transmit(limit: 64) { header, frame in
            // A frame in one descriptor is handed over where it lies in guest A's memory.
            let p = UInt(bitPattern: frame.baseAddress!), base = UInt(bitPattern: region.pointer)
            if p >= base && p < base + UInt(region.size) { inPlace += 1 }
            #expect(b.device.receive(frame, header: header) == .delivered(buffers: frame.count + 12 > 1526 ? 2 : 1))
        }
        #expect(batch.frames == 20 && batch.dropped == 0 && !batch.reachedLimit)
        #expect(inPlace == 10)
        #expect(b.device.finishReceiveBatch())
        #expect(b.driver.receivedFrames().map(\.bytes) == frames)
        #expect(a.driver.reapTransmitted() == 20)
    }

    @Test func offloadHeadersPassWhenNegotiated() throws {
        let offloads: VirtioFeatures = [.netCsum, .netGuestCsum, .netHostTSO4, .netGuestTSO4]
        let rig = try Rig { $0.features.formUnion(offloads) }
        let header = VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum, gsoType: VirtioNetHeader.gsoTCPv4,
                                     headerLength: 54, gsoSize: 1448, checksumStart: 34, checksumOffset: 16)
        let frame = makeFrame(9000)
        let (outcome, received) = rig.loopBack(frame, header: header, layout: .split(3))
        #expect(outcome == .delivered(buffers: 6))
        var expected = header
        expected.numBuffers = 6
        #expect(received.first?.header == expected)
        #expect(received.first?.bytes == frame)

        // The same header to a guest that did not negotiate the offloads is refused.
        let plain = try Rig()
        plain.driver.refillReceiveBuffers()
        let refused = frame.withUnsafeBytes { plain.device.receive($0, header: header) }
        #expect(refused == .offloadNotNegotiated)
        #expect(plain.device.counters.receiveOffloadRejected == 1)
    }

    @Test func transmitOffloadsNotNegotiatedAreDropped() throws {
        let rig = try Rig()
        rig.driver.refillReceiveBuffers()
        let tso = VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum, gsoType: VirtioNetHeader.gsoTCPv4,
                                  headerLength: 54, gsoSize: 1448, checksumStart: 34, checksumOffset: 16)
        rig.driver.transmit(makeFrame(9000), header: tso)
        rig.driver.transmit(makeFrame(1514), header: VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum))
        // DATA_VALID means nothing on transmit and is ignored.
        rig.driver.transmit(makeFrame(60), header: VirtioNetHeader(flags: VirtioNetHeader.flagDataValid))
        var lengths: [Int] = []
        let batch = rig.device.transmit(limit: 8) { _, frame in lengths.append(frame.count) }
        #expect(lengths == [60])
        #expect(batch.frames == 1 && batch.dropped == 2)
        #expect(rig.device.counters.transmitOffloadRejected == 2)
        #expect(rig.driver.reapTransmitted() == 3)
        rig.driver.transmit(makeFrame(100), header: tso)
        var buffer = [UInt8](repeating: 0, count: 200)
        #expect(buffer.withUnsafeMutableBytes { rig.device.transmit(into: $0) } == .offloadNotNegotiated)
    }

    @Test func legacyTenByteHeader() throws {
        let rig = try Rig { $0.features = [.ringEventIndex, .indirectDescriptors] }
        #expect(rig.device.headerSize == 10 && rig.driver.headerSize == 10)
        for size in [60, 1514] {
            let frame = makeFrame(size)
            let (outcome, received) = rig.loopBack(frame, layout: .split(2))
            #expect(outcome == .delivered(buffers: 1))
            #expect(received.map(\.bytes) == [frame])
        }
    }

    @Test func frameLargerThanABufferWithoutMergeableIsDroppedAndTheBufferKept() throws {
        let rig = try Rig {
            $0.features.remove(.netMergeableRxBuffers)
            $0.receiveBufferCount = 1
        }
        rig.driver.refillReceiveBuffers()
        let big = makeFrame(1515)
        #expect(big.withUnsafeBytes { rig.device.receive($0) } == .frameTooLarge)
        #expect(rig.device.counters.receiveTooLarge == 1)
        let small = makeFrame(1514)
        #expect(small.withUnsafeBytes { rig.device.receive($0) } == .delivered(buffers: 1))
        #expect(rig.device.finishReceiveBatch())
        #expect(rig.driver.receivedFrames().map(\.bytes) == [small])
    }

    @Test func noReceiveBuffersIsReported() throws {
        for mergeable in [true, false] {
            let rig = try Rig {
                $0.receiveBufferCount = 0
                if !mergeable { $0.features.remove(.netMergeableRxBuffers) }
            }
            #expect(makeFrame(60).withUnsafeBytes { rig.device.receive($0) } == .noBuffers)
            #expect(rig.device.counters.receiveNoBuffers == 1)
            #expect(!rig.device.finishReceiveBatch())
            #expect(rig.device.brokenQueues == 0)
        }
    }

    @Test func mergeableFrameThatRunsOutOfBuffersGivesThemBack() throws {
        let rig = try Rig {
            $0.receiveBufferSize = 1536
            $0.receiveBufferCount = 2
        }
        rig.driver.refillReceiveBuffers()
        #expect(makeFrame(4000).withUnsafeBytes { rig.device.receive($0) } == .noBuffers)
        #expect(rig.device.receiveQueue.usedIndex == 0 && rig.device.receiveQueue.lastAvailIndex == 0)
        let small = makeFrame(3000)
        #expect(small.withUnsafeBytes { rig.device.receive($0) } == .delivered(buffers: 2))
        _ = rig.device.finishReceiveBatch()
        #expect(rig.driver.receivedFrames().map(\.bytes) == [small])
        #expect(rig.driver.protocolErrors == 0)
    }

    @Test func transmitIntoACallerBuffer() throws {
        let rig = try Rig()
        let frame = makeFrame(1514)
        rig.driver.transmit(frame, layout: .split(3))
        rig.driver.transmit(makeFrame(200), layout: .indirect(2))
        var buffer = [UInt8](repeating: 0, count: 1600)
        let outcome = buffer.withUnsafeMutableBytes { rig.device.transmit(into: $0) }
        #expect(outcome == .frame(header: VirtioNetHeader(), length: 1514))
        #expect(Array(buffer[0..<1514]) == frame)
        var small = [UInt8](repeating: 0, count: 100)
        #expect(small.withUnsafeMutableBytes { rig.device.transmit(into: $0) } == .tooLarge(length: 200))
        #expect(small.withUnsafeMutableBytes { rig.device.transmit(into: $0) } == .empty)
        #expect(rig.device.finishTransmitBatch())
        #expect(rig.driver.reapTransmitted() == 2)
        #expect(rig.device.counters.transmitOversize == 1)
    }

    @Test func gatheredFrameLargerThanTheGatherSpaceIsDropped() throws {
        let driver = try InMemoryGuestDriver()
        let device = try driver.makeDevice(maximumFrameSize: 100)
        driver.transmit(makeFrame(200), layout: .split(2))
        driver.transmit(makeFrame(200), layout: .single)
        var lengths: [Int] = []
        let batch = device.transmit(limit: 8) { _, frame in lengths.append(frame.count) }
        // The contiguous one needs no gathering.
        #expect(lengths == [200])
        #expect(batch.frames == 1 && batch.dropped == 1)
        #expect(driver.reapTransmitted() == 2)
    }

    @Test func batchesStopAtTheirLimit() throws {
        let rig = try Rig()
        for i in 0..<10 { rig.driver.transmit(makeFrame(60, tag: UInt64(i))) }
        var seen = 0
        let first = rig.device.transmit(limit: 4) { _, _ in seen += 1 }
        #expect(first.frames == 4 && first.reachedLimit)
        let second = rig.device.transmit(limit: 4) { _, _ in seen += 1 }
        #expect(second.frames == 4 && second.reachedLimit)
        let third = rig.device.transmit(limit: 4) { _, _ in seen += 1 }
        #expect(third.frames == 2 && !third.reachedLimit)
        #expect(seen == 10)
    }

    @Test(arguments: [true, false])
    func ringIndicesWrapPast65535(mergeable: Bool) throws {
        // Both rings start just below the wrap, as after a long-running guest (and SET_VRING_BASE).
        let rig = try Rig { c in
            c.queueSize = 8
            c.initialRingIndex = 65_530
            c.receiveBufferCount = 8
            c.receiveBufferSize = 1536
            if !mergeable { c.features.remove(.netMergeableRxBuffers) }
        }
        var rng = SeededRandom(seed: 7, component: "wrap")
        for i in 0..<200 {
            let frame = makeFrame(14 + Int(rng.next() % (mergeable ? 6000 : 1500)), tag: UInt64(i))
            let (outcome, received) = rig.loopBack(frame, layout: Self.layouts[i % 4])
            guard case .delivered = outcome else { Issue.record("frame \(i): \(String(describing: outcome))"); return }
            #expect(received.map(\.bytes) == [frame])
            rig.driver.reapTransmitted()
        }
        #expect(rig.device.transmitQueue.lastAvailIndex == 65_530 &+ 200)
        #expect(rig.device.brokenQueues == 0 && rig.driver.protocolErrors == 0)
    }

    @Test func manyFramesThroughATinyQueue() throws {
        // 66 000 frames through 4-entry rings: every index wraps past 65535 on its own.
        let rig = try Rig { c in
            c.queueSize = 4
            c.receiveBufferCount = 4
        }
        var received = 0, mismatched = 0
        let frame = makeFrame(60)
        rig.driver.refillReceiveBuffers()
        for _ in 0..<16_500 {
            for _ in 0..<4 { rig.driver.transmit(frame) }
            _ = rig.device.transmit(limit: 4) { h, bytes in _ = rig.device.receive(bytes, header: h) }
            _ = rig.device.finishReceiveBatch()
            rig.driver.receiveFrames { _, bytes in
                received += 1
                if !bytes.elementsEqual(frame) { mismatched += 1 }
            }
            rig.driver.refillReceiveBuffers()
        }
        #expect(received == 66_000 && mismatched == 0)
        #expect(rig.device.receiveQueue.usedIndex == UInt16(truncatingIfNeeded: 66_000))
        #expect(rig.device.transmitQueue.lastAvailIndex == UInt16(truncatingIfNeeded: 66_000))
    }

    /// Random sizes, layouts, offload headers and batch sizes; frames arrive intact and in order.
    @Test(arguments: [11, 12, 13])
    func randomisedTraffic(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed, component: "traffic")
        let mergeable = seed % 2 == 1
        let offloads: VirtioFeatures = [.netCsum, .netGuestCsum, .netHostTSO4, .netGuestTSO4, .netHostTSO6, .netGuestTSO6]
        let rig = try Rig { c in
            c.queueSize = 64
            c.receiveBufferCount = 64
            c.features.formUnion(offloads)
            if mergeable {
                c.receiveBufferSize = 512 + Int(seed) * 100
                c.receiveSegmentSize = 200
            } else {
                c.features.remove(.netMergeableRxBuffers)
                c.receiveBufferSize = 12 + 9000
                c.receiveSegmentSize = 1000 + Int(seed)
                c.receiveIndirect = true
            }
        }
        var sent: [[UInt8]] = [], headers: [VirtioNetHeader] = []
        var got: [ReceivedFrame] = []
        rig.driver.refillReceiveBuffers()
        /// Delivers into the guest; when its buffers run out, the guest catches up (reaps and
        /// refills) and the device tries again, as a guest running on another CPU would.
        func deliver(_ header: VirtioNetHeader, _ bytes: UnsafeRawBufferPointer) {
            for _ in 0..<3 {
                let outcome = rig.device.receive(bytes, header: header)
                if case .delivered = outcome { return }
                #expect(outcome == .noBuffers)
                _ = rig.device.finishReceiveBatch()
                got += rig.driver.receivedFrames()
                rig.driver.refillReceiveBuffers()
            }
            Issue.record("a \(bytes.count)-byte frame never found room")
        }
        for round in 0..<60 {
            let count = 1 + Int(rng.next() % 12)
            for i in 0..<count {
                let frame = makeFrame(Int(rng.next() % 9001), tag: UInt64(round * 100 + i))
                let total = rig.driver.headerSize + frame.count
                let parts = 1 + Int(rng.next() % 4)
                let cuts = (1..<parts).map { _ in Int(rng.next() % UInt64(max(total, 1))) }.sorted()
                let header = rng.next() % 3 == 0
                    ? VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum, gsoType: rng.next() % 2 == 0 ? 1 : 4,
                                      headerLength: 54, gsoSize: UInt16(truncatingIfNeeded: rng.next() % 9000),
                                      checksumStart: 34, checksumOffset: 16)
                    : VirtioNetHeader()
                let layout = TransmitLayout(cuts: cuts, indirect: rng.next() % 3 == 0)
                guard rig.driver.transmit(frame, header: header, layout: layout) else { break }
                sent.append(frame)
                headers.append(header)
            }
            _ = rig.driver.transmitKickNeeded()
            _ = rig.device.transmit(limit: 1 + Int(rng.next() % 16), deliver)
            _ = rig.device.finishReceiveBatch()
            got += rig.driver.receivedFrames()
            rig.driver.refillReceiveBuffers()
        }
        // Drain what is left.
        while rig.device.transmit(limit: 8, deliver).frames > 0 {
            _ = rig.device.finishReceiveBatch()
            got += rig.driver.receivedFrames()
            rig.driver.refillReceiveBuffers()
        }
        try #require(got.count == sent.count)
        let corrupted = got.indices.filter { got[$0].bytes != sent[$0] }
        #expect(corrupted.isEmpty, "frames received differently: \(corrupted)")
        let badHeaders = got.indices.filter {
            got[$0].header.flags != headers[$0].flags || got[$0].header.gsoType != headers[$0].gsoType
                || got[$0].header.gsoSize != headers[$0].gsoSize
        }
        #expect(badHeaders.isEmpty, "headers received differently: \(badHeaders)")
        #expect(rig.device.brokenQueues == 0 && rig.driver.protocolErrors == 0)
    }
}
