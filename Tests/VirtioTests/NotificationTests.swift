import Testing
@testable import Virtio

/// Notification suppression both ways (virtio 1.2 §2.7.7, §2.7.10): with EVENT_IDX through
/// used_event / avail_event, without it through the NO_INTERRUPT / NO_NOTIFY flags.
@Suite struct NotificationTests {
    /// Delivers one 60-byte frame into the guest and returns the device's notify decision.
    func deliverOne(_ rig: Rig) -> Bool {
        let outcome = makeFrame(60).withUnsafeBytes { rig.device.receive($0) }
        #expect(outcome == .delivered(buffers: 1))
        return rig.device.finishReceiveBatch()
    }

    @Test func usedEventDecidesWhenTheGuestIsInterrupted() throws {
        let rig = try Rig()
        rig.driver.refillReceiveBuffers()
        // The first notification after a queue starts is unconditional (the device cannot know
        // what the guest last saw), then only the entry the guest named in used_event counts.
        #expect(deliverOne(rig))
        rig.driver.receiveRing.requestInterrupt(atUsedIndex: 5)
        let decisions = (1..<12).map { _ in deliverOne(rig) }
        // Entry 5 is the sixth delivered; nothing after it until the guest asks again.
        #expect(decisions == [false, false, false, false, true, false, false, false, false, false, false])
        // Guest drains and re-enables: used_event = its last used index, so the next entry interrupts.
        #expect(rig.driver.receivedFrames().count == 12)
        #expect(deliverOne(rig))
        #expect(!deliverOne(rig))
    }

    @Test func oneDecisionPerBatchCoversEveryEntryInIt() throws {
        let rig = try Rig()
        rig.driver.refillReceiveBuffers()
        #expect(deliverOne(rig))
        rig.driver.receiveRing.requestInterrupt(atUsedIndex: 7)
        // A batch of 3 (entries 1…3) does not reach 7; the next batch of 5 (entries 4…8) does.
        for _ in 0..<3 { _ = makeFrame(60).withUnsafeBytes { rig.device.receive($0) } }
        #expect(!rig.device.finishReceiveBatch())
        for _ in 0..<5 { _ = makeFrame(60).withUnsafeBytes { rig.device.receive($0) } }
        #expect(rig.device.finishReceiveBatch())
        #expect(!rig.device.finishReceiveBatch(), "nothing new, nothing to say")
        #expect(rig.driver.receivedFrames().count == 9)
    }

    @Test func transmitBatchNotifiesOnce() throws {
        let rig = try Rig()
        for i in 0..<10 { rig.driver.transmit(makeFrame(60, tag: UInt64(i))) }
        let batch = rig.device.transmit(limit: 64) { _, _ in }
        #expect(batch.frames == 10 && batch.notifyGuest)
        #expect(rig.driver.transmitRing.usedPending() == 10)
        // The guest reaps without re-enabling (Linux keeps TX interrupts off): used_event stays
        // at 0 and the next batches stay quiet.
        #expect(rig.driver.reapTransmitted() == 10)
        rig.driver.transmit(makeFrame(60))
        #expect(!rig.device.transmit(limit: 64) { _, _ in }.notifyGuest)
    }

    @Test func noInterruptFlagWithoutEventIndex() throws {
        let rig = try Rig { $0.features.remove(.ringEventIndex) }
        rig.driver.refillReceiveBuffers()
        #expect(deliverOne(rig))
        rig.driver.receiveRing.disableInterrupts()
        #expect(!deliverOne(rig))
        #expect(!deliverOne(rig))
        rig.driver.receiveRing.enableInterrupts()
        #expect(deliverOne(rig))
        #expect(deliverOne(rig), "without EVENT_IDX every batch notifies while the flag is 0")
    }

    @Test func availEventAsksForOneKickPerEmptying() throws {
        let rig = try Rig()
        // Setting up armed avail_event at 0: the first frame kicks, the next ones don't.
        rig.driver.transmit(makeFrame(60))
        #expect(rig.driver.transmitKickNeeded())
        rig.driver.transmit(makeFrame(60))
        #expect(!rig.driver.transmitKickNeeded())
        // The device drains the ring; finding it empty, it re-arms at its new position.
        #expect(rig.device.transmit(limit: 64) { _, _ in }.frames == 2)
        #expect(rig.driver.transmitRing.availEvent == 2)
        rig.driver.transmit(makeFrame(60))
        rig.driver.transmit(makeFrame(60))
        #expect(rig.driver.transmitKickNeeded(), "two added in one go, the first was entry 2")
        // Stopping at a limit leaves the ring non-empty, so no re-arming and no kicks.
        rig.driver.transmit(makeFrame(60))
        _ = rig.driver.transmitKickNeeded()
        let limited = rig.device.transmit(limit: 2) { _, _ in }
        #expect(limited.reachedLimit)
        rig.driver.transmit(makeFrame(60))
        #expect(!rig.driver.transmitKickNeeded())
        #expect(rig.device.transmit(limit: 64) { _, _ in }.frames == 2)
        rig.driver.transmit(makeFrame(60))
        #expect(rig.driver.transmitKickNeeded())
    }

    @Test func noNotifyFlagWithoutEventIndex() throws {
        let rig = try Rig { $0.features.remove(.ringEventIndex) }
        #expect(rig.driver.transmitRing.usedFlags == 0)
        rig.driver.transmit(makeFrame(60))
        #expect(rig.driver.transmitKickNeeded())
        rig.device.transmitQueue.disableNotifications()
        #expect(rig.driver.transmitRing.usedFlags == VirtqLayout.usedFlagNoNotify)
        rig.driver.transmit(makeFrame(60))
        #expect(!rig.driver.transmitKickNeeded())
        // Re-enabling reports the frames that arrived while the guest was told not to kick.
        let waiting = rig.device.transmitQueue.enableNotifications()
        #expect(waiting)
        #expect(rig.driver.transmitRing.usedFlags == 0)
        #expect(rig.device.transmit(limit: 64) { _, _ in }.frames == 2)
        rig.driver.transmit(makeFrame(60))
        #expect(rig.driver.transmitKickNeeded())
    }

    @Test func disabledNotificationsAreNotReArmedByPolling() throws {
        let rig = try Rig()
        rig.driver.transmit(makeFrame(60))
        _ = rig.driver.transmitKickNeeded()
        rig.device.transmitQueue.disableNotifications()
        #expect(rig.device.transmit(limit: 64) { _, _ in }.frames == 1)
        // Polling an empty ring with notifications off leaves avail_event behind.
        #expect(rig.driver.transmitRing.availEvent == 0)
        rig.driver.transmit(makeFrame(60))
        #expect(!rig.driver.transmitKickNeeded())
        let waiting = rig.device.transmitQueue.enableNotifications()
        #expect(waiting, "one frame is already waiting")
        #expect(rig.driver.transmitRing.availEvent == 1)
        #expect(rig.device.transmit(limit: 64) { _, _ in }.frames == 1)
        let stillWaiting = rig.device.transmitQueue.enableNotifications()
        #expect(!stillWaiting)
        #expect(rig.driver.transmitRing.availEvent == 2)
    }
}
