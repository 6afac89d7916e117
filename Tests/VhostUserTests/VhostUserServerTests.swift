import Basics
import Glibc
import HostIO
import Testing
import Virtio
@testable import VhostUser

@Suite(.serialized) struct VhostUserServerTests {
    @Test func negotiationOffersWhatTheDeviceImplements() throws {
        let s = try TestServer(configuration: VhostUserDeviceConfiguration(queuePairs: 2))
        let client = try s.connect()
        let features = VirtioFeatures(rawValue: try client.requestU64(.getFeatures))
        for f: VirtioFeatures in [.version1, .netMAC, .netStatus, .netMergeableRxBuffers, .ringEventIndex,
                                  .indirectDescriptors, .netMQ, VirtioFeatures(bit: 30)] {
            #expect(features.contains(f), "missing \(f)")
        }
        #expect(!features.contains(.netCsum), "no offloads are offered")
        let protocolFeatures = VhostUserProtocolFeatures(rawValue: try client.requestU64(.getProtocolFeatures))
        #expect(protocolFeatures == [.multipleQueues, .replyAck, .resetDevice, .configureMemorySlots])
        #expect(try client.requestU64(.getQueueNum) == 4)
        try client.negotiate(protocolFeatures: [.replyAck, .configureMemorySlots])
        #expect(try client.requestU64(.getMaxMemSlots) == 32)
        let connection = try #require(s.server.connection(of: s.lastGuest))
        #expect(connection.hasOwner)
        #expect(connection.protocolFeatures == [.replyAck, .configureMemorySlots])
        #expect(connection.negotiatedFeatures == VhostUserDeviceConfiguration.defaultFeatures)
        // REPLY_ACK: a request with need_reply gets 0 on success.
        #expect(try client.acked(.setOwner) == 0)
    }

    @Test func framesCrossTheServerBothWays() throws {
        let s = try TestServer()
        let client = try s.connect()
        try client.negotiate()
        try client.setCall(queue: 0)
        try client.setCall(queue: 1)
        try client.setMemTable()
        try client.startPair(0)
        #expect(s.datapath.started.count == 1)
        try client.postReceiveBuffers(pair: 0)
        _ = try client.drainCall(0)

        var sent: [[UInt8]] = []
        for i in 0..<20 {
            let frame = testFrame(60 + i * 70, tag: UInt8(i))
            sent.append(frame)
            try client.transmit(frame, pair: 0)
        }
        #expect(s.datapath.echoed == 20)
        #expect(try client.drainCall(0) > 0, "the guest was interrupted for its receive queue")
        #expect(client.receivedFrames(pair: 0) == sent)
        // The guest got its transmit buffers back.
        #expect(client.drivers[1]!.usedPending() > 0 || client.drivers[1]!.freeCount == 256)
    }

    @Test func getVringBaseReturnsTheRealIndexAndTheRingsResumeThere() throws {
        let s = try TestServer()
        let client = try s.connect()
        try client.negotiate()
        try client.setMemTable()
        // Start both rings near the 16-bit wrap to see the index is the device's, not a default.
        try client.startPair(0, base: 65_530)
        try client.postReceiveBuffers(pair: 0, count: 10)
        for i in 0..<7 { try client.transmit(testFrame(100, tag: UInt8(i)), pair: 0) }
        #expect(client.receivedFrames(pair: 0).count == 7)

        // Oathgate answered 0 here. The device consumed 7 transmit and 7 receive chains.
        let rxBase = try client.stopQueue(0)
        #expect(s.datapath.stopped.count == 1, "GET_VRING_BASE stops the pair first")
        let txBase = try client.stopQueue(1)
        #expect(rxBase == UInt32(UInt16(65_530) &+ 7))
        #expect(txBase == UInt32(UInt16(65_530) &+ 7))
        #expect(s.server.connection(of: s.lastGuest)!.runningQueuePairs.isEmpty)

        // Stopped: kicks reach nobody.
        try client.transmit(testFrame(80, tag: 99), pair: 0)
        #expect(s.datapath.echoed == 7)

        // Restart from where the device stopped (as QEMU does after a stop), and keep going:
        // the frame queued while stopped is picked up too.
        try client.startQueue(0, base: UInt16(rxBase))
        try client.startQueue(1, base: UInt16(txBase))
        #expect(s.datapath.started.count == 2)
        try client.transmit(testFrame(90, tag: 100), pair: 0)
        #expect(client.receivedFrames(pair: 0) == [testFrame(80, tag: 99), testFrame(90, tag: 100)])
        #expect(try client.stopQueue(1) == UInt32(UInt16(65_530) &+ 9))
    }

    @Test func mergeableReceiveBuffersCarryLargeFrames() throws {
        let s = try TestServer()
        let client = try s.connect()
        try client.negotiate()
        try client.setMemTable()
        try client.startPair(0)
        // 512-byte receive buffers: a 1500-byte frame and its 12-byte header need three of them.
        try client.postReceiveBuffers(pair: 0, count: 32, bufferSize: 512)
        let frame = testFrame(1500, tag: 7)
        try client.transmit(frame, pair: 0)
        #expect(client.receivedFrames(pair: 0) == [frame])
        let nic = try #require(s.server.connection(of: s.lastGuest)?.queuePair(0))
        #expect(nic.mergeableReceiveBuffers)
        #expect(nic.receiveQueue.lastAvailIndex == UInt16((1500 + 12 + 511) / 512))
    }

    @Test func withoutMergeableBuffersAFrameMustFitOneBuffer() throws {
        let s = try TestServer()
        let client = try s.connect(features: [.version1, .ringEventIndex])
        try client.negotiate()
        #expect(s.server.connection(of: s.lastGuest)?.negotiatedFeatures == [.version1, .ringEventIndex])
        try client.setMemTable()
        try client.startPair(0)
        try client.postReceiveBuffers(pair: 0, count: 8, bufferSize: 512)
        try client.transmit(testFrame(1500, tag: 1), pair: 0)
        try client.transmit(testFrame(400, tag: 2), pair: 0)
        #expect(client.receivedFrames(pair: 0) == [testFrame(400, tag: 2)])
        #expect(s.server.connection(of: s.lastGuest)?.queuePair(0)?.counters.receiveTooLarge == 1)
    }

    @Test func multipleQueuePairsRunIndependently() throws {
        let s = try TestServer(configuration: VhostUserDeviceConfiguration(queuePairs: 2))
        let client = try s.connect()
        try client.negotiate()
        try client.setMemTable()
        try client.startPair(0)
        try client.startPair(1)
        #expect(s.server.connection(of: s.lastGuest)?.runningQueuePairs == [0, 1])
        try client.postReceiveBuffers(pair: 0, count: 8)
        try client.postReceiveBuffers(pair: 1, count: 8)
        try client.transmit(testFrame(70, tag: 1), pair: 1)
        try client.transmit(testFrame(71, tag: 2), pair: 0)
        #expect(client.receivedFrames(pair: 0) == [testFrame(71, tag: 2)])
        #expect(client.receivedFrames(pair: 1) == [testFrame(70, tag: 1)])
        // Disabling one ring stops only its pair.
        try client.send(.setVringEnable, payload: VhostUserVringState(index: 3, num: 0).bytes)
        s.settle()
        #expect(s.server.connection(of: s.lastGuest)?.runningQueuePairs == [0])
        #expect(s.datapath.stopped.map(\.pair) == [1])
    }

    @Test func ringsWaitForEnableWhenProtocolFeaturesAreNegotiated() throws {
        let s = try TestServer()
        let client = try s.connect()
        try client.negotiate()
        try client.setMemTable()
        try client.startQueue(0, enable: false)
        try client.startQueue(1, enable: false)
        #expect(s.datapath.started.isEmpty, "VHOST_USER_F_PROTOCOL_FEATURES: rings start disabled")
        try client.send(.setVringEnable, payload: VhostUserVringState(index: 0, num: 1).bytes)
        try client.send(.setVringEnable, payload: VhostUserVringState(index: 1, num: 1).bytes)
        s.settle()
        #expect(s.datapath.started.count == 1)
    }

    @Test func ringsStartEnabledWithoutProtocolFeatures() throws {
        let s = try TestServer()
        let client = try s.connect()
        try client.send(.setOwner)
        try client.send(.setFeatures, payload: VhostUserU64.encode(VhostUserDeviceConfiguration.defaultFeatures.rawValue))
        try client.setMemTable()
        try client.startQueue(0, enable: false)
        try client.startQueue(1, enable: false)
        #expect(s.datapath.started.count == 1)
    }

    @Test func pollingWhenTheFrontEndSendsNoKickDescriptor() throws {
        let s = try TestServer()
        s.server.pollInterval = .milliseconds(1)
        let client = try s.connect()
        try client.negotiate()
        try client.setMemTable()
        try client.startPair(0, polling: true)
        #expect(s.server.connection(of: s.lastGuest)?.isPolled(queue: 1) == true)
        try client.postReceiveBuffers(pair: 0, count: 4)
        let before = s.datapath.echoed
        try client.transmit(testFrame(64, tag: 3), pair: 0)
        let start = s.reactor.clock.now()
        while s.datapath.echoed == before, s.reactor.clock.now() - start < .seconds(2) {
            try s.reactor.runOnce(timeout: .milliseconds(5))
        }
        #expect(client.receivedFrames(pair: 0) == [testFrame(64, tag: 3)])
    }

    @Test func memorySlotsAddAndRemoveRegions() throws {
        let s = try TestServer()
        let client = try s.connect()
        try client.negotiate(protocolFeatures: [.replyAck, .configureMemorySlots])
        #expect(try client.acked(.addMemReg, payload: TestLayout.regionA.singleBytes, descriptors: [client.memfd]) == 0)
        #expect(try client.acked(.addMemReg, payload: TestLayout.regionB.singleBytes, descriptors: [client.memfd]) == 0)
        let connection = try #require(s.server.connection(of: s.lastGuest))
        #expect(connection.memoryRegions == [TestLayout.regionA, TestLayout.regionB])
        try client.startPair(0)
        try client.postReceiveBuffers(pair: 0, count: 4)
        try client.transmit(testFrame(64, tag: 4), pair: 0)
        #expect(client.receivedFrames(pair: 0) == [testFrame(64, tag: 4)])
        // Removing the buffers' region while the pair runs: the pair stops and restarts on what is
        // left (rings are in region B), and the old mapping goes once the datapath lets go.
        #expect(try client.acked(.remMemReg, payload: TestLayout.regionA.singleBytes) == 0)
        #expect(connection.memoryRegions == [TestLayout.regionB])
        #expect(s.datapath.stopped.count == 1 && s.datapath.started.count == 2)
        #expect(s.server.releaseUnusedMemory() == 0)
        // A buffer in the removed region now breaks the queue instead of reaching memory.
        try client.transmit(testFrame(64, tag: 5), pair: 0)
        #expect(connection.queuePair(0)?.transmitQueue.isBroken == true)
        #expect(try client.isClosedByServer() == false, "a broken queue is not a protocol error")
    }

    @Test func guestMemoryStaysMappedWhileADatapathHoldsAQueuePair() throws {
        let s = try TestServer()
        s.datapath.leakStoppedNICs = true
        let client = try s.connect()
        try client.negotiate()
        try client.setMemTable()
        try client.startPair(0)
        let name = client.memfdName
        #expect(mappingCount(of: name) == 2 + 1, "two server regions and the client's own mapping")
        try client.disconnect()
        #expect(s.datapath.disconnected.count == 1)
        // The datapath still holds the stopped pair's nic: its memory must stay mapped.
        #expect(s.server.releaseUnusedMemory() == 1)
        #expect(mappingCount(of: name) == 3)
        s.datapath.leaked.removeAll()
        #expect(s.server.releaseUnusedMemory() == 0)
        #expect(mappingCount(of: name) == 1)
    }

    @Test func resetOwnerStopsEverything() throws {
        let s = try TestServer()
        let client = try s.connect()
        try client.negotiate()
        try client.setMemTable()
        try client.startPair(0)
        #expect(s.server.connection(of: s.lastGuest)!.descriptorCount == 4)
        try client.send(.resetOwner)
        s.settle()
        #expect(s.datapath.stopped.count == 1)
        #expect(s.server.connection(of: s.lastGuest)!.descriptorCount == 0)
        #expect(try client.isClosedByServer() == false)
    }
}

/// Lines of /proc/self/maps that map the memfd called `name`.
func mappingCount(of name: String) -> Int {
    procLines("/proc/self/maps").filter { $0.contains("/memfd:\(name) ") }.count
}

/// Open descriptors of this process.
func openDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let first = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] }
        if first != UInt8(ascii: ".") { count += 1 }
    }
    return count - 1 // the directory's own descriptor
}

/// Descriptors of this process that point at the memfd called `name`.
func descriptorsPointing(at name: String) -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    var target = [CChar](repeating: 0, count: 512)
    while let entry = readdir(dir) {
        let fd = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard !fd.hasPrefix(".") else { continue }
        let n = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
        guard n > 0 else { continue }
        let link = String(decoding: target.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if link.contains("/memfd:\(name) ") { count += 1 }
    }
    return count
}

func procLines(_ path: String) -> [String] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        bytes += chunk.prefix(n)
    }
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
}
