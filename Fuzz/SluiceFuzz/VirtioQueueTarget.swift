// Fuzz target `virtio-queue` (layer 2, Virtio): the device side of a virtio-net queue pair over
// guest memory the guest controls. A well-behaved in-memory driver first lays out both rings,
// posts receive buffers and queues transmit frames; the input then overwrites any bytes of that
// guest memory (rings, indices, descriptors, indirect tables, virtio-net headers, frames) before
// the device transmits and receives. Every outcome is allowed but a trap, a hang or an access
// outside guest memory (AddressSanitizer).
//
// Input: a features byte, a layout byte, then patches: a 16-bit little-endian offset into guest
// memory (modulo its size), a length byte, and that many bytes.
//   features bit 0 no EVENT_IDX, 1 no INDIRECT_DESC, 2 no MRG_RXBUF, 3 +CSUM, 4 +GUEST_CSUM, 5 +HOST_TSO4
//   layout bits 0–1 transmit frames split in 1–4 parts, bit 2 indirect, bits 3–5 frames queued (0–7),
//          bit 6 receive buffers posted, bit 7 receive buffers in two segments
import Virtio

enum VirtioQueueTarget {
    static let frameSizes = [60, 14, 200, 1, 120, 256, 64, 90]

    static func features(_ byte: UInt8) -> VirtioFeatures {
        var f = VirtioFeatures.deviceDefault
        if byte & 1 != 0 { f.remove(.ringEventIndex) }
        if byte & 2 != 0 { f.remove(.indirectDescriptors) }
        if byte & 4 != 0 { f.remove(.netMergeableRxBuffers) }
        if byte & 8 != 0 { f.insert(.netCsum) }
        if byte & 16 != 0 { f.insert(.netGuestCsum) }
        if byte & 32 != 0 { f.insert(.netHostTSO4) }
        return f
    }

    static func driver(features featureByte: UInt8, layout: UInt8) -> InMemoryGuestDriver? {
        var c = InMemoryGuestDriver.Configuration()
        c.features = features(featureByte)
        c.queueSize = 8
        c.receiveBufferSize = 256
        c.receiveBufferCount = 8
        c.receiveSegmentSize = layout & 128 != 0 ? 128 : nil
        c.maximumTransmitFrame = 256
        c.maximumTransmitParts = 4
        c.scratchBytes = 4096
        guard let driver = try? InMemoryGuestDriver(c) else { return nil }
        if layout & 64 != 0 { driver.refillReceiveBuffers() }
        let parts = Int(layout & 3) + 1
        let transmitLayout = TransmitLayout(parts: parts, indirect: layout & 4 != 0 && c.features.contains(.indirectDescriptors))
        for i in 0..<Int((layout >> 3) & 7) {
            let n = frameSizes[i]
            let frame = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            _ = driver.transmit(frame, layout: n + driver.headerSize >= parts ? transmitLayout : .single)
        }
        return driver
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let featureByte = input.u8(), layout = input.u8()
        guard let driver = driver(features: featureByte, layout: layout) else { return }
        guard let region = driver.memory.regions.first else { return }
        let memory = UnsafeMutableRawBufferPointer(start: region.pointer, count: Int(region.size))
        var patches = 0
        while !input.isEmpty, patches < 64 {
            let offset = Int(input.u16()) % memory.count
            let bytes = input.take(Int(input.u8()))
            let n = min(bytes.count, memory.count - offset)
            if n > 0 { UnsafeMutableRawBufferPointer(rebasing: memory[offset..<offset + n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<n])) }
            patches += 1
        }
        guard let device = try? driver.makeDevice(maximumFrameSize: 2048) else { return }
        // Transmit: batches until the queue is empty, broken, or a bound is hit.
        var total = 0
        for _ in 0..<8 {
            let batch = device.transmit(limit: 16) { header, frame in
                // A frame in one descriptor is lent in place and is not bounded by maximumFrameSize (only
                // gathered ones are): touch both ends so a pointer outside guest memory faults here.
                _ = header
                if frame.count > 0 { total &+= Int(frame[0]) &+ Int(frame[frame.count - 1]) }
            }
            if !batch.reachedLimit { break }
        }
        // Receive: a few frames of different sizes, some with offload headers.
        let header = VirtioNetHeader(flags: 1, gsoType: 0, headerLength: 0, gsoSize: 0, checksumStart: 34, checksumOffset: 6)
        for (i, size) in [64, 300, 1514, 60].enumerated() {
            let frame = [UInt8](repeating: UInt8(i), count: size)
            _ = frame.withUnsafeBytes { device.receive($0, header: i == 3 ? header : VirtioNetHeader()) }
        }
        _ = device.finishReceiveBatch()
        _ = (device.counters, device.brokenQueues, device.receiveQueue.isBroken, device.transmitQueue.isBroken)
    }

    static func seeds() -> [[UInt8]] {
        // Valid states and no patches, then a few patches on the rings' indices and the first descriptor.
        var out: [[UInt8]] = [
            [0, 0b0101_1000], [0, 0b0111_1001], [0, 0b0100_1110], [7, 0b1101_0011], [56, 0b0111_1000], [2, 0b0001_1100],
        ]
        out.append([0, 0b0101_1000] + [0x02, 0x40, 2, 0xFF, 0xFF])            // tx avail idx (page 4, +2)
        out.append([0, 0b0101_1000] + [0x08, 0x30, 4, 0x00, 0x00, 0x01, 0x00]) // first tx descriptor's length
        out.append([0, 0b0101_1000] + [0x0C, 0x30, 2, 0x05, 0x00])             // first tx descriptor's flags: NEXT|INDIRECT
        return out
    }
}
