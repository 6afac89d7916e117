// The host's TCP (RFC 9293): demultiplexing segments to connections and listeners, RSTs for
// segments nobody wants (RFC 9293 §3.10.7.1), and the application calls — listen, connect, write,
// read, a bulk sender and a counting sink, close, abort — plus what reports read back.
//
// Connections are kept in creation order (so timers and output run in the same order every run)
// and found by their 4-tuple. A connection the application holds stays readable after CLOSED; a
// half-open one a listener made is forgotten when it dies, so SYN floods leave nothing behind.

import Basics
import Wire

/// The host's TCP state.
struct TCPHostState {
    struct FourTuple: Hashable {
        var localAddress: UInt32
        var localPort: UInt16
        var remoteAddress: UInt32
        var remotePort: UInt16
    }

    var random: SeededRandom
    var counters = TCPCounters()
    var listeners: [UInt16: TCPListener] = [:]
    /// Live connections (not CLOSED), in creation order.
    var live: [TCPConnection] = []
    var byTuple: [FourTuple: TCPConnection] = [:]
    /// Every connection the application holds, live or closed, by id.
    var held: [TCPConnectionID: TCPConnection] = [:]
    var nextID = 0
    /// Tests only: every new connection's ISS (to run transfers across the 2^32 wrap).
    var fixedInitialSequenceNumber: UInt32?

    init(random: SeededRandom) { self.random = random }
}

extension Host {
    // MARK: Application calls

    /// Listens on `port` (RFC 9293 §3.9.1 passive OPEN). `.sink` connections count and check
    /// `TCPBulkPattern` data and are held at once; `.buffer` ones wait for `tcpAccept`.
    public func tcpListen(port: UInt16, receiveMode: TCPReceiveMode = .sink,
                         congestionControl: TCPCongestionControlAlgorithm? = nil) {
        tcp.listeners[port] = TCPListener(port: port, receiveMode: receiveMode,
                                          congestionControl: congestionControl ?? configuration.tcp.congestionControl)
    }

    /// Stops listening on `port`; connections already made go on.
    public func tcpStopListening(port: UInt16) { tcp.listeners[port] = nil }

    /// Takes the oldest established connection a `.buffer` listener on `port` made.
    public func tcpAccept(port: UInt16) -> TCPConnectionID? {
        guard tcp.listeners[port] != nil, !tcp.listeners[port]!.acceptQueue.isEmpty else { return nil }
        return tcp.listeners[port]!.acceptQueue.removeFirst()
    }

    /// Every connection the application holds (connected, accepted, or made by a sink listener), in order.
    public var tcpConnectionIDs: [TCPConnectionID] { tcp.held.keys.sorted() }

    /// Opens a connection to `remote:port` (RFC 9293 §3.9.1 active OPEN): sends the SYN. Nil
    /// without an address.
    @discardableResult
    public func tcpConnect(to remote: IPv4Address, port: UInt16, from sourcePort: UInt16? = nil,
                           congestionControl: TCPCongestionControlAlgorithm? = nil,
                           receiveMode: TCPReceiveMode = .buffer, now: Instant) -> TCPConnectionID? {
        guard let own = address?.address else { return nil }
        var local = sourcePort ?? ephemeralPort()
        if sourcePort == nil {
            // Skip ephemeral ports in use towards the same peer.
            var tries = 0
            while tcp.byTuple[.init(localAddress: own.rawValue, localPort: local, remoteAddress: remote.rawValue, remotePort: port)] != nil,
                  tries < 28232 {
                local = ephemeralPort(); tries += 1
            }
        }
        let tuple = TCPHostState.FourTuple(localAddress: own.rawValue, localPort: local, remoteAddress: remote.rawValue, remotePort: port)
        guard tcp.byTuple[tuple] == nil else { return nil }
        let connection = makeConnection(local: (own, local), remote: (remote, port),
                                        congestionControl: congestionControl ?? configuration.tcp.congestionControl,
                                        receiveMode: receiveMode, listenerPort: nil)
        tcp.held[connection.id] = connection
        connection.open(now: now) { self.transmitTCP(connection, $0, $1, now: now) }
        settle(connection, now: now)
        return connection.id
    }

    /// Queues `bytes` for sending (RFC 9293 SEND); returns how many fit in the send buffer.
    @discardableResult
    public func tcpWrite(_ id: TCPConnectionID, _ bytes: [UInt8], now: Instant) -> Int {
        guard let c = tcp.held[id] else { return 0 }
        let n = bytes.withUnsafeBytes { buffer in c.write(buffer, now: now) { self.transmitTCP(c, $0, $1, now: now) } }
        settle(c, now: now)
        return n
    }

    /// Sends `bytes` of `TCPBulkPattern` as fast as the windows allow, then closes if `close`.
    public func tcpSendBulk(_ id: TCPConnectionID, bytes: UInt64, close: Bool = true, now: Instant) {
        guard let c = tcp.held[id] else { return }
        c.sendBulk(bytes, closeWhenDone: close, now: now) { self.transmitTCP(c, $0, $1, now: now) }
        settle(c, now: now)
    }

    /// Takes up to `maximum` received bytes (`.buffer` mode).
    public func tcpRead(_ id: TCPConnectionID, maximum: Int = .max, now: Instant) -> [UInt8] {
        guard let c = tcp.held[id] else { return [] }
        let bytes = c.read(maximum: maximum, now: now) { self.transmitTCP(c, $0, $1, now: now) }
        settle(c, now: now)
        return bytes
    }

    /// CLOSE: a FIN after the queued data.
    public func tcpClose(_ id: TCPConnectionID, now: Instant) {
        guard let c = tcp.held[id] else { return }
        c.close(now: now) { self.transmitTCP(c, $0, $1, now: now) }
        settle(c, now: now)
    }

    /// ABORT: a RST, and the connection is CLOSED.
    public func tcpAbort(_ id: TCPConnectionID, now: Instant) {
        guard let c = tcp.held[id] else { return }
        c.abort(now: now) { self.transmitTCP(c, $0, $1, now: now) }
        settle(c, now: now)
    }

    /// What connection `id` looks like now.
    public func tcpInfo(_ id: TCPConnectionID) -> TCPConnectionInfo? { tcp.held[id]?.info() }

    /// What connection `id` measured (`tcpInfo(id)?.stats`, without building the rest).
    public func tcpStats(_ id: TCPConnectionID) -> TCPConnectionStats? { tcp.held[id]?.stats }

    /// Host-wide TCP counters.
    public var tcpCounters: TCPCounters { tcp.counters }

    /// Connections not yet CLOSED (including half-open ones no application holds).
    public var tcpLiveConnectionCount: Int { tcp.live.count }

    // MARK: Driver side

    func pollTCP(now: Instant) {
        var i = 0
        while i < tcp.live.count {
            let c = tcp.live[i]
            if let d = c.nextDeadline(), d <= now {
                c.poll(now: now) { self.transmitTCP(c, $0, $1, now: now) }
                if settle(c, now: now) { continue }
            }
            i += 1
        }
    }

    func nextTCPDeadline() -> Instant? {
        var earliest: Instant?
        var i = 0
        while i < tcp.live.count {
            earliest = Instant.earliest(earliest, tcp.live[i].nextDeadline())
            i += 1
        }
        return earliest
    }

    /// Handles a TCP segment (the IP payload) addressed to this host.
    func receiveTCP(_ segment: UnsafeRawBufferPointer, ip: IPv4Header, unicast: Bool, now: Instant) {
        tcp.counters.segmentsReceived += 1
        let header: TCPHeader
        do { header = try TCPHeader(parsing: segment, source: ip.source, destination: ip.destination) } catch {
            tcp.counters.drops.count(.malformed)
            return
        }
        // RFC 1122 §4.2.3.10: segments to broadcast or multicast addresses are not for TCP.
        guard unicast, !ip.source.isMulticast, !ip.source.isLimitedBroadcast, ip.source != .any else {
            tcp.counters.drops.count(.notForUs)
            return
        }
        let options: TCPOptions
        do { options = try TCPOptions(parsing: header.options) } catch {
            tcp.counters.drops.count(.badOptions)
            return
        }
        let payload = segment.slice(from: header.headerLength)
        let incoming = TCPIncomingSegment(header: header, options: options, payload: payload)
        let tuple = TCPHostState.FourTuple(localAddress: ip.destination.rawValue, localPort: header.destinationPort,
                                           remoteAddress: ip.source.rawValue, remotePort: header.sourcePort)
        if let c = tcp.byTuple[tuple] {
            let acknowledged = c.sndUna, expected = c.rcvNxt
            let drop = c.receive(incoming, now: now) { self.transmitTCP(c, $0, $1, now: now) }
            count(drop)
            // Forward progress confirms the next hop's ARP entry (HostARPCache.confirm).
            if c.sndUna != acknowledged || c.rcvNxt != expected, case .neighbor(let next)? = nextHop(ip.source) {
                arp.confirm(next, now: now)
            }
            settle(c, now: now)
            return
        }
        if tcp.listeners[header.destinationPort] != nil {
            receiveInListen(incoming, ip: ip, tuple: tuple, now: now)
            return
        }
        // RFC 9293 §3.10.7.1, CLOSED: "An incoming segment not containing a RST causes a RST to be sent".
        tcp.counters.drops.count(.noConnection)
        sendResetReply(to: incoming, ip: ip, now: now)
    }

    /// RFC 9293 §3.10.7.2 (LISTEN).
    private func receiveInListen(_ seg: TCPIncomingSegment, ip: IPv4Header, tuple: TCPHostState.FourTuple, now: Instant) {
        let flags = seg.flags
        // "First, check for a RST: An incoming RST segment could not be valid ... ignored."
        if flags.contains(.rst) { tcp.counters.drops.count(.unexpected); return }
        // "Second, check for an ACK: Any acknowledgment is bad if it arrives on a connection still
        // in the LISTEN state. An acceptable reset segment should be formed".
        if flags.contains(.ack) {
            tcp.counters.drops.count(.badACK)
            sendResetReply(to: seg, ip: ip, now: now)
            return
        }
        guard flags.contains(.syn) else { tcp.counters.drops.count(.unexpected); return }
        let port = seg.header.destinationPort
        let listener = tcp.listeners[port]!
        guard listener.halfOpen < max(configuration.tcp.synBacklog, 0) else {
            tcp.counters.drops.count(.synBacklogFull)
            return
        }
        guard listener.acceptQueue.count < max(configuration.tcp.acceptQueueLimit, 0) else {
            tcp.counters.drops.count(.acceptQueueFull)
            return
        }
        let c = makeConnection(local: (ip.destination, port), remote: (ip.source, seg.header.sourcePort),
                               congestionControl: listener.congestionControl, receiveMode: listener.receiveMode,
                               listenerPort: port)
        tcp.listeners[port]!.halfOpen += 1
        // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>".
        c.irs = seg.sequence
        c.rcvNxt = seg.sequence + 1
        c.lastACKSent = c.rcvNxt
        c.adoptSYNOptions(seg.options, synACK: false)
        c.setSendWindow(Int(seg.header.window))
        c.sndWl1 = seg.sequence
        tcp.counters.segmentsProcessed += 1
        c.sendSYN(now: now) { self.transmitTCP(c, $0, $1, now: now) }
        settle(c, now: now)
    }

    /// An ICMP error quoting one of our TCP segments (`inner`: the quoted TCP header's first
    /// bytes). Fragmentation needed lowers the connection's segment size (RFC 1191 §6.1, PMTUD);
    /// the quoted sequence number must lie in SND.UNA..<SND.MAX (RFC 5927 §4.1), so a blind
    /// attacker cannot shrink it. Returns whether a connection took it.
    @discardableResult
    func receiveTCPICMPError(_ icmp: ICMPv4Message, quoted: IPv4Header, inner: UnsafeRawBufferPointer, now: Instant) -> Bool {
        guard inner.count >= 8, icmp.type == .destinationUnreachable,
              icmp.code == ICMPv4UnreachableCode.fragmentationNeeded else { return false }
        let tuple = TCPHostState.FourTuple(localAddress: quoted.source.rawValue, localPort: inner.u16(0),
                                           remoteAddress: quoted.destination.rawValue, remotePort: inner.u16(2))
        guard let c = tcp.byTuple[tuple] else { return false }
        let taken = c.pathMTUReduced(to: Int(icmp.nextHopMTU), quotedSequence: TCPSequenceNumber(inner.u32(4)), now: now) {
            self.transmitTCP(c, $0, $1, now: now)
        }
        settle(c, now: now)
        return taken
    }

    private func makeConnection(local: (IPv4Address, UInt16), remote: (IPv4Address, UInt16),
                                congestionControl: TCPCongestionControlAlgorithm, receiveMode: TCPReceiveMode,
                                listenerPort: UInt16?) -> TCPConnection {
        let id = TCPConnectionID(rawValue: tcp.nextID)
        tcp.nextID += 1
        let c = TCPConnection(id: id, local: local, remote: remote, configuration: configuration.tcp,
                              congestionControl: congestionControl, receiveMode: receiveMode,
                              listenerPort: listenerPort, interfaceMTU: configuration.mtu, random: &tcp.random,
                              initialSequenceNumber: tcp.fixedInitialSequenceNumber)
        tcp.live.append(c)
        tcp.byTuple[.init(localAddress: local.0.rawValue, localPort: local.1, remoteAddress: remote.0.rawValue, remotePort: remote.1)] = c
        return c
    }

    private func count(_ drop: TCPDropReason?) {
        if let drop { tcp.counters.drops.count(drop) } else { tcp.counters.segmentsProcessed += 1 }
    }

    /// After any call into `c`: folds its counters into the host's, moves a passive connection
    /// from half-open to accepted, and forgets a CLOSED one. Returns true if `c` left `live`.
    @discardableResult
    private func settle(_ c: TCPConnection, now: Instant) -> Bool {
        let d = c.counterDeltas
        // Field by field (the struct's == also compares every drop reason, and only these move).
        if d.segmentsSent | d.segmentsRetransmitted | d.resetsSent | d.connectionsOpened | d.connectionsEstablished
            | d.connectionsClosed | d.challengeACKsSent != 0 {
            tcp.counters.segmentsSent += d.segmentsSent
            tcp.counters.segmentsRetransmitted += d.segmentsRetransmitted
            tcp.counters.resetsSent += d.resetsSent
            tcp.counters.connectionsOpened += d.connectionsOpened
            tcp.counters.connectionsEstablished += d.connectionsEstablished
            tcp.counters.connectionsClosed += d.connectionsClosed
            tcp.counters.challengeACKsSent += d.challengeACKsSent
            c.counterDeltas = TCPCounters()
        }
        if let port = c.listenerPort, !c.owned, c.state != .synReceived {
            // Out of SYN-RECEIVED: no longer half-open.
            if tcp.listeners[port] != nil { tcp.listeners[port]!.halfOpen -= 1 }
            if c.state != .closed {
                c.owned = true
                tcp.counters.connectionsAccepted += 1
                tcp.held[c.id] = c
                if c.receiveMode == .buffer, tcp.listeners[port] != nil { tcp.listeners[port]!.acceptQueue.append(c.id) }
            }
        }
        guard c.state == .closed else { return false }
        if let i = tcp.live.firstIndex(where: { $0 === c }) { tcp.live.remove(at: i) }
        let tuple = TCPHostState.FourTuple(localAddress: c.localAddress.rawValue, localPort: c.localPort,
                                           remoteAddress: c.remoteAddress.rawValue, remotePort: c.remotePort)
        if tcp.byTuple[tuple] === c { tcp.byTuple[tuple] = nil }
        return true
    }

    /// Puts one segment of `c` on the wire.
    private func transmitTCP(_ c: TCPConnection, _ header: TCPHeader, _ payload: UnsafeRawBufferPointer, now: Instant) {
        sendTCPSegment(header, payload: payload, from: c.localAddress, to: c.remoteAddress, now: now)
    }

    /// RFC 9293 §3.10.7.1: "If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
    /// <CTL=RST,ACK>. If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>". Never in reply to a RST.
    private func sendResetReply(to seg: TCPIncomingSegment, ip: IPv4Header, now: Instant) {
        guard !seg.flags.contains(.rst) else { return }
        let header: TCPHeader
        if seg.flags.contains(.ack) {
            header = TCPHeader(sourcePort: seg.header.destinationPort, destinationPort: seg.header.sourcePort,
                               sequenceNumber: seg.header.acknowledgmentNumber, flags: .rst, window: 0)
        } else {
            header = TCPHeader(sourcePort: seg.header.destinationPort, destinationPort: seg.header.sourcePort,
                               sequenceNumber: 0, acknowledgmentNumber: (seg.sequence + seg.length).rawValue,
                               flags: TCPFlags.rst.union(.ack), window: 0)
        }
        tcp.counters.resetsSent += 1
        tcp.counters.segmentsSent += 1
        sendTCPSegment(header, payload: UnsafeRawBufferPointer(start: nil, count: 0), from: ip.destination, to: ip.source, now: now)
    }

    /// Wraps a segment in IPv4 and Ethernet, writing the payload straight into the frame.
    private func sendTCPSegment(_ header: TCPHeader, payload: UnsafeRawBufferPointer, from source: IPv4Address,
                                to destination: IPv4Address, now: Instant) {
        let segmentLength = header.headerLength + payload.count
        let datagramLength = IPv4Constants.minimumHeaderLength + segmentLength
        var ip = ipHeader(to: destination, from: source, protocol: .tcp, payloadLength: segmentLength)
        // RFC 1191 §3: path MTU discovery sends every datagram with DF set.
        ip.dontFragment = true
        sendIPv4(to: destination, datagramLength: datagramLength, now: now) { frame, ethernet throws(WireError) in
            let offset = ethernet.headerLength + ip.headerLength + header.headerLength
            try frame.requireSpace(offset + payload.count)
            frame.copyBytes(payload, at: offset)
            return try IPv4Frame.emitTCP(into: frame, ethernet: ethernet, ip: ip, tcp: header, payloadLength: payload.count)
        }
    }
}
