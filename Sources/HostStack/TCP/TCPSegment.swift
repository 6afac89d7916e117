// A received segment as the connection sees it: the parsed header and options, the data, and the
// addresses it came between (RFC 9293 §3.10.7 "SEGMENT ARRIVES").

import Wire

/// An arriving segment, checksum verified and options parsed.
struct TCPIncomingSegment {
    var header: TCPHeader
    var options: TCPOptions
    var payload: UnsafeRawBufferPointer

    var sequence: TCPSequenceNumber { TCPSequenceNumber(header.sequenceNumber) }
    var acknowledgment: TCPSequenceNumber { TCPSequenceNumber(header.acknowledgmentNumber) }
    var flags: TCPFlags { header.flags }
    /// SEG.LEN: "the number of octets occupied by the data in the segment (counting SYN and FIN)".
    var length: Int {
        payload.count + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
    }
}

/// Where the connection hands segments to send: the header (ports, numbers, flags, window,
/// options) and the data, valid only during the call.
typealias TCPTransmit = (_ header: TCPHeader, _ payload: UnsafeRawBufferPointer) -> Void

/// A connection's identity in the host: stable for the host's lifetime, assigned in order.
public struct TCPConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "tcp#\(rawValue)" }
}
