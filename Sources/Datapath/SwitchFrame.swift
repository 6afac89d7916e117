// The learning switch fed with raw Ethernet frames.
//
// IEEE 802.3-2018 §3.1.1 (MAC frame format): Destination Address (6 octets), Source Address
// (6 octets), Length/Type (2 octets), then the client data. The switch reads only the two addresses,
// but a frame without a complete header is malformed and dropped.

import Basics
import Wire

extension LearningSwitch {
    /// Destination, source and Length/Type: the shortest frame the switch accepts.
    public static let minimumFrameLength = 14

    /// Reads the frame's addresses and decides as `receive(source:destination:on:now:)`;
    /// a frame shorter than an Ethernet header is dropped as `.malformed`.
    public mutating func receive(frame: UnsafeRawBufferPointer, on port: PortID, now: Instant) -> SwitchDecision {
        guard frame.count >= Self.minimumFrameLength else { return .drop(.malformed) }
        return receive(source: MACAddress(frame, at: 6), destination: MACAddress(frame, at: 0), on: port, now: now)
    }
}
