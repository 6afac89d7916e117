// A VhostUserServer on its own reactor with a loop-back datapath: every frame a guest transmits
// is written back into the same guest's receive queue — enough to see frames cross the server
// both ways without the Engine.

import Basics
import Glibc
import HostIO
import Testing
import Virtio
@testable import VhostUser

final class LoopbackDatapath: VhostUserServerDelegate {
    struct Key: Hashable { var guest: VhostUserGuestID; var pair: Int }
    weak var server: VhostUserServer?
    var nics: [Key: VirtioNetQueuePair<GuestMemoryRegions>] = [:]
    var connected: [VhostUserGuestID] = []
    var disconnected: [(VhostUserGuestID, VhostUserError)] = []
    var started: [Key] = []
    var stopped: [Key] = []
    var kicks = 0
    var echoed = 0
    var brokenReported = 0
    /// Keep nics of stopped pairs (a datapath that forgets to let go).
    var leakStoppedNICs = false
    var leaked: [VirtioNetQueuePair<GuestMemoryRegions>] = []

    func vhostUserGuestConnected(_ guest: VhostUserGuestID) { connected.append(guest) }

    func vhostUserQueuePairStarted(_ guest: VhostUserGuestID, pair: Int, nic: VirtioNetQueuePair<GuestMemoryRegions>) {
        nics[Key(guest: guest, pair: pair)] = nic
        started.append(Key(guest: guest, pair: pair))
    }

    func vhostUserQueuePairStopped(_ guest: VhostUserGuestID, pair: Int) {
        let nic = nics.removeValue(forKey: Key(guest: guest, pair: pair))
        if leakStoppedNICs, let nic { leaked.append(nic) }
        stopped.append(Key(guest: guest, pair: pair))
    }

    func vhostUserKicked(_ guest: VhostUserGuestID, pair: Int, queue: VirtioNetQueueKind) {
        kicks += 1
        guard let nic = nics[Key(guest: guest, pair: pair)] else { return }
        let batch = nic.transmit(limit: 256) { _, frame in
            if case .delivered = nic.receive(frame) { echoed += 1 }
        }
        if batch.notifyGuest { server?.notify(guest, pair: pair, queue: .transmit) }
        if nic.finishReceiveBatch() { server?.notify(guest, pair: pair, queue: .receive) }
        if nic.brokenQueues > 0, server?.reportBroken(guest, pair: pair) == true { brokenReported += 1 }
    }

    func vhostUserGuestDisconnected(_ guest: VhostUserGuestID, reason: VhostUserError) {
        disconnected.append((guest, reason))
    }

    func reason(for guest: VhostUserGuestID) -> VhostUserError? {
        disconnected.first { $0.0 == guest }?.1
    }
}

/// A server, its reactor and a loop-back datapath, all on the test's thread.
final class TestServer {
    let reactor: Reactor
    let server: VhostUserServer
    let datapath = LoopbackDatapath()
    var logLines: [String] = []

    init(configuration: VhostUserDeviceConfiguration = VhostUserDeviceConfiguration(), tag: String = "vu") throws {
        reactor = try Reactor()
        let path = "/tmp/sluice-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        server = try VhostUserServer(path: path, configuration: configuration, reactor: reactor)
        server.delegate = datapath
        datapath.server = server
        server.log = { [unowned self] in self.logLines.append($0) }
    }

    /// Runs the reactor until nothing is ready.
    func settle() {
        var rounds = 0
        while (try? reactor.runOnce(timeout: .zero)) ?? 0 > 0, rounds < 1000 { rounds += 1 }
    }

    /// A connected front end whose requests run this server.
    func connect(features: VirtioFeatures = VhostUserDeviceConfiguration.defaultFeatures,
                 memfdTag: String = "test") throws -> TestFrontEnd {
        let client = try TestFrontEnd(path: server.path, features: features, memfdTag: memfdTag) { [unowned self] in self.settle() }
        settle()
        return client
    }

    /// The id of the most recently connected guest.
    var lastGuest: VhostUserGuestID { datapath.connected.last! }
}
