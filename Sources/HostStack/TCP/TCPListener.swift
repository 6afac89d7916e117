// LISTEN (RFC 9293 §3.10.7.2) for one port: what a passive open gives its connections, and the
// bounds that keep a SYN flood from growing memory (RFC 4987 §3.1: a limited backlog of
// half-open connections; more SYNs are dropped and counted).

/// A listening port.
struct TCPListener {
    let port: UInt16
    let receiveMode: TCPReceiveMode
    let congestionControl: TCPCongestionControlAlgorithm
    /// Connections in SYN-RECEIVED.
    var halfOpen = 0
    /// Established connections not yet taken with `tcpAccept` (buffer mode; sinks are taken at once).
    var acceptQueue: [TCPConnectionID] = []
}
