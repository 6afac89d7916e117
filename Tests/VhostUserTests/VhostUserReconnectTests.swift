import Basics
import Glibc
import HostIO
import Testing
import Virtio
@testable import VhostUser

/// Descriptors, mappings and heap are counted for the whole process, so the count runs alone:
/// `ci/test.sh` runs it in its serial phase with SLUICE_ALONE=1 (`--no-parallel`).
let runsAlone = getenv("SLUICE_ALONE").map { String(cString: $0) } == "1"

@Suite(.serialized) struct VhostUserReconnectTests {
    /// 50 front ends connect to the same socket one after another, move a frame, and leave in
    /// different ways. Afterwards nothing they shared with the server is left: no descriptor and
    /// no mapping of their memfds, no registration in the reactor, no retained memory.
    @Test(.enabled(if: runsAlone, "counts the whole process's descriptors, mappings and heap: runs alone (SLUICE_ALONE=1 swift test --no-parallel, as ci/test.sh does)"))
    func reconnectingFiftyTimesLeaksNothing() throws {
        let s = try TestServer(tag: "vu-reconnect")
        let tag = "reconnect"
        let prefix = "sluice-vu-\(tag)-\(getpid())-"
        // Warm up once (lazily allocated runtime state, the first dlsym, …) before counting.
        do {
            let client = try s.connect(memfdTag: "warmup")
            try client.negotiate()
            try client.disconnect()
        }
        let descriptorsBefore = openDescriptorCount()
        let mapsBefore = procLines("/proc/self/maps").count
        for round in 0..<50 {
            let client = try s.connect(memfdTag: tag)
            try client.negotiate()
            try client.setMemTable()
            try client.startPair(0)
            try client.postReceiveBuffers(pair: 0, count: 4)
            let frame = testFrame(64 + round, tag: UInt8(round))
            try client.transmit(frame, pair: 0)
            #expect(client.receivedFrames(pair: 0) == [frame], "round \(round)")
            #expect(mappingCount(of: client.memfdName) == 3)
            switch round % 3 {
            case 0:
                // Like QEMU shutting down cleanly: stop the rings, then go.
                _ = try client.stopQueue(0)
                _ = try client.stopQueue(1)
                try client.disconnect()
            case 1:
                // Vanish with the rings running.
                try client.disconnect()
            default:
                // Vanish in the middle of a message.
                try [UInt8](repeating: 1, count: 5).withUnsafeBytes { try client.stream.sendAll($0) }
                try client.disconnect()
            }
            // The hang-up is in the kernel already; on a loaded machine epoll may report it a
            // moment after settle() found nothing ready, so give the reactor up to 5 s.
            let deadline = s.reactor.clock.now() + .seconds(5)
            while !s.server.guestIDs.isEmpty, s.reactor.clock.now() < deadline {
                _ = try? s.reactor.runOnce(timeout: .milliseconds(10))
            }
            #expect(s.server.guestIDs.isEmpty, "round \(round): the server still has the connection")
        }
        #expect(s.datapath.connected.count == 51)
        #expect(s.datapath.disconnected.count == 51)
        #expect(s.datapath.started.count == 50 && s.datapath.stopped.count == 50)
        #expect(s.datapath.disconnected.filter { $0.1 == .truncatedHeader(received: 5) }.count == 16)
        #expect(s.server.releaseUnusedMemory() == 0)
        #expect(s.reactor.registrationCount == 1, "only the listening socket stays registered")

        // Exact: nothing of the 50 memfds is open or mapped any more, anywhere in the process.
        let leftoverMaps = procLines("/proc/self/maps").filter { $0.contains("/memfd:\(prefix)") }
        #expect(leftoverMaps.isEmpty, "\(leftoverMaps)")
        #expect(descriptorsPointing(at: prefix) == 0)
        // Totals: other tests run concurrently in this process, so allow a little noise — a leak of
        // even one descriptor per connection would be 50 or more.
        let descriptorsAfter = openDescriptorCount(), mapsAfter = procLines("/proc/self/maps").count
        print("reconnect ×50: descriptors \(descriptorsBefore) → \(descriptorsAfter), maps lines \(mapsBefore) → \(mapsAfter)")
        #expect(descriptorsAfter - descriptorsBefore < 20)
        #expect(mapsAfter - mapsBefore < 20)
    }

    @Test func aNewConnectionReplacesAVanishedOneOnTheSameSocket() throws {
        let s = try TestServer()
        let first = try s.connect()
        try first.negotiate()
        try first.setMemTable()
        try first.startPair(0)
        let firstGuest = s.lastGuest
        try first.disconnect()
        #expect(s.datapath.reason(for: firstGuest) == .peerClosed)
        let second = try s.connect()
        try second.negotiate()
        try second.setMemTable()
        try second.startPair(0)
        try second.postReceiveBuffers(pair: 0, count: 2)
        try second.transmit(testFrame(100, tag: 1), pair: 0)
        #expect(second.receivedFrames(pair: 0) == [testFrame(100, tag: 1)])
        #expect(s.server.guestIDs == [s.lastGuest])
    }

    @Test func closingTheServerClosesEveryConnection() throws {
        let s = try TestServer()
        let a = try s.connect(), b = try s.connect()
        try a.negotiate()
        try a.setMemTable()
        try a.startPair(0)
        try b.negotiate()
        let path = s.server.path
        s.server.close()
        #expect(s.datapath.disconnected.map(\.1) == [.serverClosed, .serverClosed])
        #expect(s.datapath.stopped.count == 1)
        #expect(try a.isClosedByServer() && b.isClosedByServer())
        // No longer listening.
        #expect(throws: Errno.self) { _ = try UnixStream(connectingTo: path) }
    }
}
