import Basics
import Glibc
import HostIO
import Testing
import Virtio
@testable import VhostUser

/// One way to break the protocol, and how the server must name it.
struct HostileScenario: CustomStringConvertible {
    var description: String
    var run: (TestFrontEnd) throws -> Void
    var expected: (VhostUserError) -> Bool
}

@Suite(.serialized) struct VhostUserHostileTests {
    static var scenarios: [HostileScenario] {
        func raw(_ header: VhostUserHeader, _ payload: [UInt8] = []) -> (TestFrontEnd) throws -> Void {
            { try $0.send(VhostUserMessage(header: header, payload: payload)) }
        }
        let ready: (TestFrontEnd) throws -> Void = { c in
            try c.negotiate()
            try c.setMemTable()
        }
        return [
            HostileScenario(description: "version 2 in the flags",
                            run: raw(VhostUserHeader(request: 1, flags: 2, size: 0))) {
                if case .badVersion = $0 { true } else { false }
            },
            HostileScenario(description: "unknown request 999", run: raw(VhostUserHeader(request: 999, size: 0))) {
                $0 == .unknownRequest(999)
            },
            HostileScenario(description: "payload of 1 MiB announced",
                            run: raw(VhostUserHeader(request: 5, size: 1 << 20))) {
                if case .payloadTooLarge = $0 { true } else { false }
            },
            HostileScenario(description: "SET_FEATURES with a 4-byte payload",
                            run: raw(VhostUserHeader(request: 2, size: 4), [1, 2, 3, 4])) {
                $0 == .badPayloadSize(.setFeatures, size: 4, expected: "8")
            },
            HostileScenario(description: "GET_FEATURES with a payload",
                            run: raw(VhostUserHeader(request: 1, size: 8), VhostUserU64.encode(0))) {
                if case .badPayloadSize(.getFeatures, _, _) = $0 { true } else { false }
            },
            HostileScenario(description: "half a header, then gone", run: { c in
                try [UInt8](repeating: 0, count: 6).withUnsafeBytes { try c.stream.sendAll($0) }
                try c.disconnect()
            }) { $0 == .truncatedHeader(received: 6) },
            HostileScenario(description: "half a payload, then gone", run: { c in
                let bytes = VhostUserMessage(request: .setFeatures, payload: VhostUserU64.encode(1)).bytes.prefix(16)
                try Array(bytes).withUnsafeBytes { try c.stream.sendAll($0) }
                try c.disconnect()
            }) { $0 == .truncatedPayload(request: 2, expected: 8, received: 4) },
            HostileScenario(description: "SET_MEM_TABLE without descriptors", run: { c in
                try c.negotiate()
                try c.send(.setMemTable, payload: VhostUserMemoryRegion.encodeTable([TestLayout.regionA]))
            }) { $0 == .descriptorCount(.setMemTable, expected: 1, received: 0) },
            HostileScenario(description: "SET_MEM_TABLE with a region past the end of its file", run: { c in
                var big = TestLayout.regionA
                big.size = 64 << 20
                try c.send(.setMemTable, payload: VhostUserMemoryRegion.encodeTable([big]), descriptors: [c.memfd])
            }) { if case .badMemoryTable = $0 { true } else { false } },
            HostileScenario(description: "SET_MEM_TABLE with overlapping regions", run: { c in
                var overlapping = TestLayout.regionB
                overlapping.guestPhysicalAddress = 0x1000
                try c.send(.setMemTable, payload: VhostUserMemoryRegion.encodeTable([TestLayout.regionA, overlapping]),
                           descriptors: [c.memfd, c.memfd])
            }) { if case .badMemoryTable = $0 { true } else { false } },
            HostileScenario(description: "SET_MEM_TABLE with more descriptors than regions", run: { c in
                try c.send(.setMemTable, payload: VhostUserMemoryRegion.encodeTable([TestLayout.regionA]),
                           descriptors: [c.memfd, c.memfd])
            }) { $0 == .descriptorCount(.setMemTable, expected: 1, received: 2) },
            HostileScenario(description: "SET_VRING_ADDR before SET_MEM_TABLE", run: { c in
                try c.negotiate()
                try c.send(.setVringNum, payload: VhostUserVringState(index: 0, num: 256).bytes)
                try c.send(.setVringAddr, payload: VhostUserVringAddress(index: 0, descriptor: 0x7F00_4000_0000,
                                                                          used: 0x7F00_4000_2000, available: 0x7F00_4000_1000).bytes)
            }) { if case .outOfOrder(.setVringAddr, _) = $0 { true } else { false } },
            HostileScenario(description: "SET_VRING_ADDR outside every region", run: { c in
                try ready(c)
                try c.send(.setVringAddr, payload: VhostUserVringAddress(index: 1, descriptor: 0x7F00_4000_0000,
                                                                          used: 0x1234_0000, available: 0x7F00_4000_1000).bytes)
            }) { $0 == .ringAddressOutsideMemory(queue: 1, part: "used ring", address: 0x1234_0000) },
            HostileScenario(description: "SET_VRING_KICK before SET_VRING_ADDR", run: { c in
                try ready(c)
                try c.send(.setVringNum, payload: VhostUserVringState(index: 0, num: 256).bytes)
                try c.send(.setVringKick, payload: VhostUserU64.encode(0), descriptors: [try EventFD().descriptor])
            }) { if case .outOfOrder(.setVringKick, _) = $0 { true } else { false } },
            HostileScenario(description: "SET_VRING_KICK without a descriptor or the invalid-FD flag", run: { c in
                try ready(c)
                try c.send(.setVringKick, payload: VhostUserU64.encode(0))
            }) { $0 == .descriptorCount(.setVringKick, expected: 1, received: 0) },
            HostileScenario(description: "SET_VRING_CALL with stray bits", run: { c in
                try c.send(.setVringCall, payload: VhostUserU64.encode(0x1_0000), descriptors: [try EventFD().descriptor])
            }) { if case .badValue(.setVringCall, _) = $0 { true } else { false } },
            HostileScenario(description: "vring index past the device", run: { c in
                try c.send(.setVringNum, payload: VhostUserVringState(index: 7, num: 256).bytes)
            }) { $0 == .vringIndexOutOfRange(.setVringNum, index: 7, queues: 2) },
            HostileScenario(description: "queue size 3", run: { c in
                try c.send(.setVringNum, payload: VhostUserVringState(index: 0, num: 3).bytes)
            }) { if case .badValue(.setVringNum, _) = $0 { true } else { false } },
            HostileScenario(description: "SET_FEATURES acknowledging VHOST_F_LOG_ALL, never offered", run: { c in
                try c.send(.setFeatures, payload: VhostUserU64.encode(VirtioFeatures.version1.rawValue | 1 << 26))
            }) { if case .unsupportedFeatures = $0 { true } else { false } },
            HostileScenario(description: "SET_PROTOCOL_FEATURES with LOG_SHMFD, never offered", run: { c in
                try c.send(.setProtocolFeatures, payload: VhostUserU64.encode(VhostUserProtocolFeatures.logSharedMemoryFD.rawValue))
            }) { if case .unsupportedProtocolFeatures = $0 { true } else { false } },
            HostileScenario(description: "SET_LOG_BASE", run: { c in
                try c.send(.setLogBase, payload: VhostUserU64.encode(0))
            }) { if case .notNegotiated(.setLogBase, _) = $0 { true } else { false } },
            HostileScenario(description: "a descriptor on SET_OWNER", run: { c in
                try c.send(.setOwner, descriptors: [try EventFD().descriptor])
            }) { $0 == .descriptorCount(.setOwner, expected: 0, received: 1) },
            HostileScenario(description: "nine descriptors on one message", run: { c in
                let events = try (0..<9).map { _ in try EventFD().descriptor }
                try c.send(.setOwner, descriptors: events)
            }) { if case .tooManyDescriptors = $0 { true } else { false } },
            HostileScenario(description: "rings running past the end of their region", run: { c in
                try ready(c)
                let end = TestLayout.regionB.userAddress + TestLayout.regionB.size
                for q in 0..<2 {
                    try c.send(.setVringNum, payload: VhostUserVringState(index: UInt32(q), num: 256).bytes)
                    try c.send(.setVringAddr, payload: VhostUserVringAddress(
                        index: UInt32(q), descriptor: end - 0x1000 * UInt64(2 - q), used: end - 0x100,
                        available: end - 0x800).bytes)
                    try c.send(.setVringKick, payload: VhostUserU64.encode(UInt64(q)), descriptors: [try EventFD().descriptor])
                }
            }) { $0 == .ringAddressOutsideMemory(queue: 0, part: "used ring", address: TestLayout.regionB.userAddress + TestLayout.regionB.size - 0x100) },
            HostileScenario(description: "a misaligned used ring", run: { c in
                try ready(c)
                for q in 0..<2 {
                    let (d, a, u) = c.ringOffsets(queue: q)
                    try c.send(.setVringNum, payload: VhostUserVringState(index: UInt32(q), num: 256).bytes)
                    try c.send(.setVringAddr, payload: VhostUserVringAddress(
                        index: UInt32(q), descriptor: c.userAddress(regionB: true, offset: d),
                        used: c.userAddress(regionB: true, offset: u + 2), available: c.userAddress(regionB: true, offset: a)).bytes)
                    try c.send(.setVringKick, payload: VhostUserU64.encode(UInt64(q)), descriptors: [try EventFD().descriptor])
                    try c.send(.setVringEnable, payload: VhostUserVringState(index: UInt32(q), num: 1).bytes)
                }
            }) { if case .ringSetupFailed(pair: 0, .misaligned(.usedRing, _)) = $0 { true } else { false } },
            HostileScenario(description: "SET_VRING_BASE on a started ring", run: { c in
                try ready(c)
                try c.startQueue(0)
                try c.send(.setVringBase, payload: VhostUserVringState(index: 0, num: 5).bytes)
            }) { if case .outOfOrder(.setVringBase, _) = $0 { true } else { false } },
            HostileScenario(description: "a memfd as kick descriptor (epoll refuses regular files)", run: { c in
                try ready(c)
                try c.send(.setVringNum, payload: VhostUserVringState(index: 1, num: 256).bytes)
                let (d, a, u) = c.ringOffsets(queue: 1)
                try c.send(.setVringAddr, payload: VhostUserVringAddress(
                    index: 1, descriptor: c.userAddress(regionB: true, offset: d), used: c.userAddress(regionB: true, offset: u),
                    available: c.userAddress(regionB: true, offset: a)).bytes)
                try c.send(.setVringKick, payload: VhostUserU64.encode(1), descriptors: [c.memfd])
            }) { $0 == .io(.notPermitted) },
            HostileScenario(description: "REM_MEM_REG of a region never added", run: { c in
                try c.negotiate(protocolFeatures: [.configureMemorySlots])
                try c.send(.remMemReg, payload: TestLayout.regionA.singleBytes)
            }) { if case .badMemoryTable = $0 { true } else { false } },
        ]
    }

    /// Every scenario runs on its own connection while a well-behaved guest stays connected; each
    /// hostile connection is closed with its reason logged, the good guest keeps moving frames.
    @Test func malformedMessagesCloseOnlyTheirConnection() throws {
        let s = try TestServer(tag: "vu-hostile")
        let good = try s.connect()
        try good.negotiate()
        try good.setMemTable()
        try good.startPair(0)
        let goodGuest = s.lastGuest
        var sequence: UInt8 = 0
        func goodGuestStillWorks() throws {
            try good.postReceiveBuffers(pair: 0, count: 2)
            sequence &+= 1
            try good.transmit(testFrame(64, tag: sequence), pair: 0)
            #expect(good.receivedFrames(pair: 0) == [testFrame(64, tag: sequence)])
        }
        try goodGuestStillWorks()
        for scenario in Self.scenarios {
            let hostile = try s.connect()
            let guest = s.lastGuest
            do {
                try scenario.run(hostile)
            } catch let error as Errno where error == .connectionReset || error == .brokenPipe {
                // The server closed the connection before the scenario sent everything: fine.
            }
            s.settle()
            let closed = s.datapath.reason(for: guest)
            #expect(closed != nil, "\(scenario): the connection stayed open")
            if let closed {
                #expect(scenario.expected(closed), "\(scenario): closed for \(closed)")
                #expect(s.logLines.contains("\(guest) closed: \(closed)"), "\(scenario): not logged")
            }
            if hostile.stream.descriptor.isOpen { #expect(try hostile.isClosedByServer(), "\(scenario): socket still open") }
            #expect(s.server.guestIDs == [goodGuest], "\(scenario)")
            try goodGuestStillWorks()
        }
        #expect(s.server.releaseUnusedMemory() == 0)
        print(s.logLines.filter { $0.contains("closed:") }.joined(separator: "\n"))
    }

    /// REPLY_ACK: a failed request that asked for a reply gets a non-zero one before the close.
    @Test func failedRequestsAreAckedNonZeroBeforeClosing() throws {
        let s = try TestServer()
        let client = try s.connect()
        try client.negotiate()
        #expect(try client.acked(.setVringNum, payload: VhostUserVringState(index: 0, num: 256).bytes) == 0)
        #expect(try client.acked(.setVringNum, payload: VhostUserVringState(index: 0, num: 100).bytes) == 1)
        #expect(try client.isClosedByServer())
    }

    /// A call descriptor that would block (a full pipe, set blocking) must not stall the
    /// reactor: the server makes every call/kick/error descriptor non-blocking on receipt.
    @Test func aFullBlockingPipeAsCallDescriptorCannotStallTheServer() throws {
        let s = try TestServer()
        let hostile = try s.connect()
        try hostile.negotiate()
        try hostile.setMemTable()
        var fds: [CInt] = [-1, -1]
        #expect(pipe(&fds) == 0)
        let reader = FileDescriptor(adopting: fds[0]), writer = FileDescriptor(adopting: fds[1])
        try writer.setNonBlocking()
        let chunk = [UInt8](repeating: 0, count: 4096)
        while try chunk.withUnsafeBytes({ try writer.write($0) }) != nil {}
        while try chunk.prefix(1).withUnsafeBytes({ try writer.write($0) }) != nil {}
        try writer.setNonBlocking(false)
        try hostile.send(.setVringCall, payload: VhostUserU64.encode(0), descriptors: [writer])
        try hostile.send(.setVringCall, payload: VhostUserU64.encode(1), descriptors: [writer])
        // Decoys, so startQueue keeps the pipe as the call descriptor.
        hostile.calls[0] = try EventFD()
        hostile.calls[1] = try EventFD()
        try hostile.startQueue(0)
        try hostile.startQueue(1)
        try hostile.postReceiveBuffers(pair: 0, count: 2)
        // Would block forever in write(2) on the full pipe if the descriptor stayed blocking.
        try hostile.transmit(testFrame(64, tag: 1), pair: 0)
        #expect(hostile.receivedFrames(pair: 0) == [testFrame(64, tag: 1)])
        #expect(s.server.notify(s.lastGuest, pair: 0) == false, "the pipe is full: nothing could be signalled")
        withExtendedLifetime(reader) {}
    }

    /// Bad descriptors are the queue's problem, not the connection's: the queue stops (NEEDS_RESET),
    /// the guest hears about it on its error eventfd, and nothing outside guest memory is touched.
    @Test func badDescriptorsBreakTheQueueNotTheServer() throws {
        let s = try TestServer()
        let good = try s.connect()
        try good.negotiate()
        try good.setMemTable()
        try good.startPair(0)

        let hostile = try s.connect()
        let hostileGuest = s.lastGuest
        try hostile.negotiate()
        try hostile.setMemTable()
        let errorEvent = try EventFD()
        try hostile.send(.setVringErr, payload: VhostUserU64.encode(1), descriptors: [errorEvent.descriptor])
        try hostile.startPair(0)
        try hostile.postReceiveBuffers(pair: 0, count: 4)
        // A transmit descriptor pointing far outside guest memory, then a descriptor loop.
        var tx = hostile.drivers[1]!
        tx.writeDescriptor(VirtqDescriptor(address: 0x7777_0000_0000, length: 100, flags: 0, next: 0), at: 0)
        tx.makeAvailable(head: 0)
        hostile.drivers[1] = tx
        try hostile.kicks[1]!.signal()
        s.settle()
        let nic = try #require(s.server.connection(of: hostileGuest)?.queuePair(0))
        #expect(nic.transmitQueue.brokenReason == .descriptorOutOfBounds(index: 0))
        #expect(try errorEvent.drain() == 1, "the guest was told on its error eventfd")
        #expect(s.datapath.brokenReported == 1)
        #expect(try hostile.isClosedByServer() == false)

        // The receive queue: a loop of two descriptors.
        var rx = hostile.drivers[0]!
        rx.writeDescriptor(VirtqDescriptor(address: 0x1_0000, length: 64, flags: VirtqLayout.descriptorFlagWrite | VirtqLayout.descriptorFlagNext, next: 201), at: 200)
        rx.writeDescriptor(VirtqDescriptor(address: 0x1_0000, length: 64, flags: VirtqLayout.descriptorFlagWrite | VirtqLayout.descriptorFlagNext, next: 200), at: 201)
        // Use up the posted buffers first, so the loop is the next chain.
        hostile.drivers[0] = rx
        for i in 0..<4 { _ = testFrame(60, tag: UInt8(i)).withUnsafeBytes { nic.receive($0) } }
        rx.makeAvailable(head: 200)
        hostile.drivers[0] = rx
        let outcome = testFrame(60, tag: 9).withUnsafeBytes { nic.receive($0) }
        #expect(outcome == .queueBroken(.descriptorLoop))

        // The good guest never noticed.
        try good.postReceiveBuffers(pair: 0, count: 2)
        try good.transmit(testFrame(100, tag: 42), pair: 0)
        #expect(good.receivedFrames(pair: 0) == [testFrame(100, tag: 42)])
    }
}
