import HostIO
import Testing
import Virtio
@testable import VhostUser

/// The state machine on its own: messages in, actions out, no socket.
@Suite struct VhostUserConnectionTests {
    func sent(_ actions: [VhostUserAction]) -> [VhostUserMessage] {
        actions.compactMap { action in
            guard case .send(let bytes) = action else { return nil }
            let header = try! bytes.withUnsafeBytes { try VhostUserHeader(parsing: $0) }
            return VhostUserMessage(header: header, payload: Array(bytes[12...]))
        }
    }

    @Test func answersGetFeaturesWithTheOfferPlusProtocolFeatures() {
        let connection = VhostUserConnection(configuration: VhostUserDeviceConfiguration(features: [.version1]))
        let replies = sent(connection.handle(VhostUserMessage(request: .getFeatures), descriptors: []))
        #expect(replies == [VhostUserMessage.reply(to: 1, payload: VhostUserU64.encode(1 << 32 | 1 << 30))])
    }

    @Test func getVringBaseOfAnIdleRingAnswersWhatWasSet() {
        let connection = VhostUserConnection()
        _ = connection.handle(VhostUserMessage(request: .setVringBase,
                                               payload: VhostUserVringState(index: 1, num: 77).bytes), descriptors: [])
        let replies = sent(connection.handle(VhostUserMessage(request: .getVringBase,
                                                              payload: VhostUserVringState(index: 1, num: 0).bytes), descriptors: []))
        #expect(replies.count == 1)
        #expect(VhostUserVringState(parsing: replies[0].payload) == VhostUserVringState(index: 1, num: 77))
    }

    @Test func aProtocolErrorEndsInCloseAndLaterMessagesAreIgnored() throws {
        let connection = VhostUserConnection()
        let actions = connection.handle(VhostUserMessage(request: .setVringAddr, payload: VhostUserVringAddress(
            index: 0, descriptor: 0, used: 0, available: 0).bytes), descriptors: [])
        guard case .close(let reason)? = actions.last else { Issue.record("no close action: \(actions)"); return }
        #expect(reason == .outOfOrder(.setVringAddr, "for vring 0 before SET_MEM_TABLE"))
        #expect(connection.closeReason == reason)
        #expect(connection.handle(VhostUserMessage(request: .getFeatures), descriptors: []).isEmpty)
    }

    @Test func kickBeforeTheRingAddressIsOutOfOrderEvenWhenPolling() throws {
        let connection = VhostUserConnection()
        _ = connection.handle(VhostUserMessage(request: .setVringNum, payload: VhostUserVringState(index: 0, num: 8).bytes), descriptors: [])
        let actions = connection.handle(VhostUserMessage(request: .setVringKick,
                                                         payload: VhostUserU64.encode(VhostUserSpec.vringInvalidFDFlag)), descriptors: [])
        guard case .close(.outOfOrder(.setVringKick, _))? = actions.last else { Issue.record("\(actions)"); return }
    }
}
