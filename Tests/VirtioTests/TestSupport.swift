import Testing
import Basics
@testable import Virtio

/// Deterministic frame bytes: a recognisable pattern per (length, tag).
func makeFrame(_ length: Int, tag: UInt64 = 0) -> [UInt8] {
    var rng = SeededRandom(seed: UInt64(length) &* 0x9E37_79B9 ^ tag)
    return (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// A guest driver and the device on its rings.
struct Rig {
    let driver: InMemoryGuestDriver
    let device: VirtioNetQueuePair<GuestMemoryRegions>

    init(_ configure: (inout InMemoryGuestDriver.Configuration) -> Void = { _ in }) throws {
        var c = InMemoryGuestDriver.Configuration()
        configure(&c)
        driver = try InMemoryGuestDriver(c)
        device = try driver.makeDevice()
    }

    /// Guest transmits `frame`; the device takes it and loops it back into the guest's receive
    /// queue. Returns what the guest received.
    func loopBack(_ frame: [UInt8], header: VirtioNetHeader = VirtioNetHeader(), layout: TransmitLayout = .single)
        -> (outcome: VirtioNetReceiveOutcome?, received: [ReceivedFrame]) {
        driver.refillReceiveBuffers()
        #expect(driver.transmit(frame, header: header, layout: layout))
        var outcome: VirtioNetReceiveOutcome?
        let batch = device.transmit(limit: 64) { h, bytes in
            outcome = device.receive(bytes, header: h)
        }
        #expect(batch.frames == 1)
        _ = device.finishReceiveBatch()
        return (outcome, driver.receivedFrames())
    }
}

/// A test memory that claims a huge address space over a tiny real buffer, to exercise length
/// arithmetic near 2^32 and 2^64 without touching (or allocating) that much. Pointers past the
/// real buffer are computed but never dereferenced by the code under test.
final class SparseHugeMemory: GuestMemory {
    let real: GuestMemoryRegions
    let hugeBase: UInt64
    let hugeSize: UInt64
    let hugePointer: UnsafeMutableRawPointer

    init(real: GuestMemoryRegions, hugeBase: UInt64, hugeSize: UInt64) {
        self.real = real
        self.hugeBase = hugeBase
        self.hugeSize = hugeSize
        hugePointer = UnsafeMutableRawPointer(bitPattern: 0x1000)!
    }

    func translate(_ address: UInt64, length: UInt64) -> UnsafeMutableRawPointer? {
        real.translate(address, length: length)
    }

    func run(at address: UInt64, upTo length: UInt64) -> (pointer: UnsafeMutableRawPointer, length: UInt64)? {
        if let r = real.run(at: address, upTo: length) { return r }
        guard address >= hugeBase, address - hugeBase < hugeSize else { return nil }
        return (hugePointer, min(length, hugeSize - (address - hugeBase)))
    }

    func guestPhysicalAddress(ofUserAddress userAddress: UInt64) -> UInt64? { nil }
}

/// Unwraps a head returned by `DriverVirtqueue.add`, failing the test when the ring was full.
func added(_ head: UInt16?, sourceLocation: SourceLocation = #_sourceLocation) throws -> UInt16 {
    try #require(head, "the ring had no free descriptors", sourceLocation: sourceLocation)
}
