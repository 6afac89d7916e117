// Just enough TCP state to pick the right idle timeout (RFC 5382 §5, REQ-5): a session is
// "established" once SYNs have gone both ways, "transitory" while opening or after a FIN or RST.
// The NAT checks no sequence numbers; RFC 5382 REQ-2 asks that it "support all valid sequences
// of TCP packets", which not interfering beyond the timers does.
import Wire

enum NATTCPTracking {
    static let synOutbound: UInt8 = 1
    static let synInbound: UInt8 = 2

    /// A segment that may open a session: SYN without ACK, RST or FIN (the first segment of the
    /// three-way handshake, RFC 9293 §3.5; or either side's first SYN in a simultaneous open).
    @inline(__always) static func opens(_ flags: TCPFlags) -> Bool {
        flags.intersection([.syn, .ack, .rst, .fin]) == .syn
    }

    /// The state after a segment with `flags` going `outbound` (else inbound).
    @inline(__always)
    static func next(_ state: NATSessionState, syns: UInt8, flags: TCPFlags, outbound: Bool) -> (NATSessionState, UInt8) {
        let direction = outbound ? synOutbound : synInbound
        if flags.contains(.rst) || flags.contains(.fin) { return (.tcpClosing, syns) }
        guard flags.contains(.syn) else { return (state, syns) }
        switch state {
        case .tcpClosing:
            // A new connection reusing the same endpoints after the last one closed.
            return opens(flags) ? (.tcpOpening, direction) : (state, syns)
        case .tcpEstablished:
            return (state, syns | direction)
        default:
            let seen = syns | direction
            return (seen == synOutbound | synInbound ? .tcpEstablished : .tcpOpening, seen)
        }
    }
}
