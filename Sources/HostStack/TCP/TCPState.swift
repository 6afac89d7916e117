// The connection states of RFC 9293 §3.3.2 (LISTEN lives in `TCPListener`).

/// RFC 9293 §3.3.2's states of one connection.
public enum TCPState: String, Sendable, Equatable {
    case synSent = "SYN-SENT"
    case synReceived = "SYN-RECEIVED"
    case established = "ESTABLISHED"
    case finWait1 = "FIN-WAIT-1"
    case finWait2 = "FIN-WAIT-2"
    case closeWait = "CLOSE-WAIT"
    case closing = "CLOSING"
    case lastAck = "LAST-ACK"
    case timeWait = "TIME-WAIT"
    case closed = "CLOSED"

    /// RFC 9293 §3.3.2: the states after the handshake, where data and ACKs flow.
    var isSynchronized: Bool {
        switch self {
        case .synSent, .synReceived, .closed: false
        default: true
        }
    }

    /// States that still take data from the peer (RFC 9293 §3.10.7.4, "seventh, process the segment text").
    var receivesData: Bool { self == .established || self == .finWait1 || self == .finWait2 }

    /// States in which the application may still queue data.
    var acceptsWrites: Bool { self == .synSent || self == .synReceived || self == .established || self == .closeWait }
}

/// Why a connection reached CLOSED.
public enum TCPCloseReason: String, Sendable, Equatable {
    /// Both FINs exchanged and acknowledged (after TIME-WAIT on the side that closed first).
    case normal
    /// The peer sent a RST.
    case reset
    /// The peer answered our SYN with RST (RFC 9293 §3.10.7.3: "connection refused").
    case refused
    /// Retransmissions ran out (RFC 9293 §3.8.3 R2, RFC 1122 §4.2.3.5).
    case timedOut
    /// The application aborted (we sent a RST).
    case aborted
}
