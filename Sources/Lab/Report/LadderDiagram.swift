// Report room (layer 6, Lab): a ladder (sequence) diagram of one capture — who sent which message
// to whom, in capture order — decoded from the pcap's frames with Wire's parsers: DHCP exchanges,
// WireGuard handshakes, ARP, ICMP. Lanes are named after the scenario's nodes where the addresses
// say who they are (MACs and static addresses from the topology, leased addresses learnt from the
// frames). Plain values, so a saved run keeps its ladders; drawn by LadderDiagram+SVG.swift.
import Basics
import Capture
import Wire

/// The messages of one protocol family seen in one capture, ready to draw.
public struct LadderDiagram: Equatable, Sendable {
    /// One arrow of the ladder.
    public struct Message: Equatable, Sendable {
        /// Wireshark's frame number in the capture (1-based).
        public var frame: Int
        /// Nanoseconds since the run started.
        public var nanoseconds: Int
        /// Indices into `lanes`.
        public var from: Int
        public var to: Int
        /// "DHCPDISCOVER", "handshake initiation".
        public var label: String
        /// "xid 0x1a2b3c4d, yiaddr 10.0.0.100"; may be empty.
        public var detail: String

        public init(frame: Int, nanoseconds: Int, from: Int, to: Int, label: String, detail: String) {
            self.frame = frame; self.nanoseconds = nanoseconds; self.from = from; self.to = to; self.label = label; self.detail = detail
        }
    }

    /// The capture's name.
    public var capture: String
    /// "DHCP", "WireGuard", "ARP", "ICMP".
    public var protocolName: String
    /// Lane names, in order of first appearance.
    public var lanes: [String]
    public var messages: [Message]
    /// Messages of this protocol after the first `limit` (or needing more lanes than fit), not drawn.
    public var omitted: Int

    public init(capture: String, protocolName: String, lanes: [String], messages: [Message], omitted: Int) {
        self.capture = capture; self.protocolName = protocolName; self.lanes = lanes; self.messages = messages; self.omitted = omitted
    }

    /// The most lanes one diagram draws; messages needing more are counted in `omitted`.
    public static let maximumLanes = 8
}

extension LadderDiagram {
    /// The ladders `request` asks for in one capture's frames (`start`: the run's time zero). A
    /// protocol with no message in the capture gives no ladder.
    static func ladders(capture: String, records: [CaptureRecord], start: Instant, request: LadderRequest,
                        topology: ReportTopology) -> [LadderDiagram] {
        guard !request.protocols.isEmpty, !records.isEmpty else { return [] }
        let names = AddressBook(topology: topology, records: records)
        return request.protocols.compactMap { p in
            var builder = Builder(capture: capture, protocolName: p.displayName, limit: request.messages)
            for (i, r) in records.enumerated() {
                guard let m = Self.decode(p, r, names: names) else { continue }
                builder.add(frame: i + 1, nanoseconds: Int(clamping: Int64(clamping: r.time.nanoseconds) &- Int64(clamping: start.nanoseconds)),
                            from: m.from, to: m.to, label: m.label, detail: m.detail)
            }
            return builder.diagram
        }
    }

    /// The ladders of every capture of a run, in capture order: each capture's `ladder:` request,
    /// or the automatic one (DHCP and WireGuard, when present).
    static func ladders(captures: [ScenarioCapture], records: [String: [CaptureRecord]], start: Instant,
                        topology: ReportTopology) -> [LadderDiagram] {
        captures.flatMap { c in
            ladders(capture: c.name, records: records[c.name] ?? [], start: start, request: c.ladder ?? .automatic, topology: topology)
        }
    }

    struct Decoded { var from: String; var to: String; var label: String; var detail: String }

    static func decode(_ p: LadderProtocol, _ r: CaptureRecord, names: AddressBook) -> Decoded? {
        r.bytes.withUnsafeBytes { frame -> Decoded? in
            switch p {
            case .arp: return arp(frame, names: names)
            case .dhcp: return dhcp(frame, names: names)
            case .wireguard: return wireguard(frame, names: names)
            case .icmp: return icmp(frame, names: names)
            }
        }
    }

    static func arp(_ frame: UnsafeRawBufferPointer, names: AddressBook) -> Decoded? {
        guard let eth = try? EthernetHeader(parsing: frame), eth.etherType == .arp, frame.count >= eth.headerLength,
              let a = try? ARPPacket(parsing: frame.slice(from: eth.headerLength)) else { return nil }
        let from = names.name(mac: a.senderHardwareAddress, ip: a.senderProtocolAddress)
        if a.operation == .request {
            let to = a.isGratuitous ? "broadcast" : names.name(ip: a.targetProtocolAddress)
            return Decoded(from: from, to: to, label: a.isGratuitous ? "gratuitous \(a.senderProtocolAddress)" : "who-has \(a.targetProtocolAddress)",
                           detail: "tell \(a.senderProtocolAddress) (\(a.senderHardwareAddress))")
        }
        let to = names.name(mac: a.targetHardwareAddress, ip: a.targetProtocolAddress)
        return Decoded(from: from, to: to, label: "is-at \(a.senderHardwareAddress)", detail: "\(a.senderProtocolAddress) is at \(a.senderHardwareAddress)")
    }

    /// The UDP payload of an IPv4 frame with its ports and addresses.
    static func udp(_ frame: UnsafeRawBufferPointer) -> (ip: IPv4Frame.Parsed, udp: UDPHeader, payload: UnsafeRawBufferPointer)? {
        guard let parsed = try? IPv4Frame.parse(frame), parsed.ip.protocol == .udp, !parsed.ip.isFragment,
              parsed.payloadRange.upperBound <= frame.count else { return nil }
        let datagram = frame.slice(parsed.payloadRange)
        guard let u = try? UDPHeader(parsing: datagram, source: parsed.ip.source, destination: parsed.ip.destination),
              Int(u.length) <= datagram.count else { return nil }
        return (parsed, u, datagram.slice(u.payloadRange))
    }

    static func dhcp(_ frame: UnsafeRawBufferPointer, names: AddressBook) -> Decoded? {
        guard let d = udp(frame) else { return nil }
        let (ip, u, payload) = (d.ip, d.udp, d.payload)
        let ports: [UInt16] = [UDPConstants.bootpServerPort, UDPConstants.bootpClientPort]
        guard ports.contains(u.sourcePort), ports.contains(u.destinationPort),
              let m = try? DHCPMessage(parsing: payload), let type = m.messageType else { return nil }
        let client = m.clientMAC.map { names.name(mac: $0) } ?? "client"
        let label = type.description.hasPrefix("DHCP") ? String(type.description.dropFirst(4)) : type.description
        var detail = transaction(m.xid)
        let fromClient = u.sourcePort == UDPConstants.bootpClientPort
        let server: String
        if fromClient {
            if let id = m.options.serverIdentifier { server = names.name(ip: id) }
            else if ip.ip.destination != .broadcast { server = names.name(mac: ip.ethernet.destination, ip: ip.ip.destination) }
            else { server = names.dhcpServer ?? "DHCP server" }
            if let want = m.options.requestedIPAddress { detail += ", requested \(want)" }
            if m.ciaddr != .any { detail += ", ciaddr \(m.ciaddr)" }
        } else {
            server = names.name(mac: ip.ethernet.source, ip: ip.ip.source)
            if m.yiaddr != .any { detail += ", yiaddr \(m.yiaddr)" }
            if let t = m.options.leaseTime { detail += ", lease \(t)s" }
        }
        let address = fromClient ? (m.options.requestedIPAddress ?? (m.ciaddr != .any ? m.ciaddr : nil)) : (m.yiaddr != .any ? m.yiaddr : nil)
        let text = label + (address.map { " \($0)" } ?? "")
        return fromClient ? Decoded(from: client, to: server, label: text, detail: detail)
                          : Decoded(from: server, to: client, label: text, detail: detail)
    }

    /// WireGuard's message types (whitepaper §5.4): the first byte, then three reserved zero bytes,
    /// with each type's fixed length (a transport message: 16 bytes of header, then the encrypted
    /// payload and its 16-byte tag; an empty payload is a keepalive).
    static func wireguard(_ frame: UnsafeRawBufferPointer, names: AddressBook) -> Decoded? {
        guard let d = udp(frame) else { return nil }
        let (ip, u, payload) = (d.ip, d.udp, d.payload)
        guard payload.count >= 4, payload[1] == 0, payload[2] == 0, payload[3] == 0 else { return nil }
        let label: String
        switch (payload[0], payload.count) {
        case (1, 148): label = "handshake initiation"
        case (2, 92): label = "handshake response"
        case (3, 64): label = "cookie reply"
        case (4, 32): label = "keepalive"
        default: return nil  // transport data: many, and not part of the handshake
        }
        var detail = "\(ip.ip.source):\(u.sourcePort) → \(ip.ip.destination):\(u.destinationPort)"
        if payload.count >= 8 {
            let sender = UInt32(payload[4]) | UInt32(payload[5]) << 8 | UInt32(payload[6]) << 16 | UInt32(payload[7]) << 24
            detail += payload[0] == 4 || payload[0] == 3 ? ", receiver index \(sender)" : ", sender index \(sender)"
        }
        return Decoded(from: names.name(ip: ip.ip.source), to: names.name(ip: ip.ip.destination), label: label, detail: detail)
    }

    static func icmp(_ frame: UnsafeRawBufferPointer, names: AddressBook) -> Decoded? {
        guard let parsed = try? IPv4Frame.parse(frame), parsed.ip.protocol == .icmp, !parsed.ip.isFragment,
              parsed.payloadRange.upperBound <= frame.count,
              let m = try? ICMPv4Message(parsing: frame.slice(parsed.payloadRange)) else { return nil }
        let label: String
        switch m.type {
        case .echoRequest: label = "echo request seq \(m.sequenceNumber)"
        case .echoReply: label = "echo reply seq \(m.sequenceNumber)"
        case .destinationUnreachable: label = "destination unreachable (code \(m.code))"
        case .timeExceeded: label = "time exceeded"
        default: label = "ICMP type \(m.type.rawValue)"
        }
        return Decoded(from: names.name(mac: parsed.ethernet.source, ip: parsed.ip.source),
                       to: names.name(mac: parsed.ethernet.destination, ip: parsed.ip.destination),
                       label: label, detail: "\(parsed.ip.source) → \(parsed.ip.destination), ttl \(parsed.ip.timeToLive)")
    }

    /// Collects messages, giving each new name a lane, up to the limits.
    struct Builder {
        var capture: String
        var protocolName: String
        var limit: Int
        var lanes: [String] = []
        var messages: [Message] = []
        var omitted = 0

        init(capture: String, protocolName: String, limit: Int) {
            self.capture = capture; self.protocolName = protocolName; self.limit = limit
        }

        mutating func add(frame: Int, nanoseconds: Int, from: String, to: String, label: String, detail: String) {
            let newLanes = [from, to].reduce(into: [String]()) { acc, n in if !lanes.contains(n) && !acc.contains(n) { acc.append(n) } }
            guard messages.count < limit, lanes.count + newLanes.count <= LadderDiagram.maximumLanes else { omitted += 1; return }
            lanes += newLanes
            messages.append(Message(frame: frame, nanoseconds: nanoseconds, from: lanes.firstIndex(of: from)!, to: lanes.firstIndex(of: to)!,
                                    label: label, detail: detail))
        }

        var diagram: LadderDiagram? {
            messages.isEmpty ? nil : LadderDiagram(capture: capture, protocolName: protocolName, lanes: lanes, messages: messages, omitted: omitted)
        }
    }
}

extension LadderProtocol {
    var displayName: String {
        switch self {
        case .dhcp: "DHCP"
        case .wireguard: "WireGuard"
        case .arp: "ARP"
        case .icmp: "ICMP"
        }
    }
}

extension LadderDiagram {
    /// "xid 0x0000abcd".
    static func transaction(_ xid: UInt32) -> String {
        let hex = String(xid, radix: 16)
        return "xid 0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    }
}

/// Who an address belongs to: the topology's MACs and static addresses, the WANs' underlay
/// addresses, and addresses learnt from the capture (a host's MAC sending from an IPv4 address,
/// a DHCP ACK's yiaddr for its client), so leased hosts get their names too.
struct AddressBook {
    var byMAC: [MACAddress: String] = [:]
    var byIP: [IPv4Address: String] = [:]
    /// The node answering DHCP in this capture, for broadcasts that name no server.
    var dhcpServer: String?

    init(topology: ReportTopology, records: [CaptureRecord]) {
        for o in topology.owners {
            if let ip = IPv4Address(o.address) { byIP[ip] = o.node } else if let mac = MACAddress(o.address) { byMAC[mac] = o.node }
        }
        let hosts = Set(topology.hosts.map(\.name))
        for r in records {
            r.bytes.withUnsafeBytes { frame in
                guard let parsed = try? IPv4Frame.parse(frame) else { return }
                if let owner = byMAC[parsed.ethernet.source], hosts.contains(owner), parsed.ip.source != .any, byIP[parsed.ip.source] == nil {
                    byIP[parsed.ip.source] = owner
                }
                guard let d = LadderDiagram.udp(frame), d.udp.sourcePort == UDPConstants.bootpServerPort,
                      let m = try? DHCPMessage(parsing: d.payload) else { return }
                if dhcpServer == nil { dhcpServer = byMAC[parsed.ethernet.source] ?? byIP[parsed.ip.source] ?? parsed.ip.source.description }
                if m.messageType == .ack, m.yiaddr != .any, let mac = m.clientMAC, let owner = byMAC[mac], byIP[m.yiaddr] == nil {
                    byIP[m.yiaddr] = owner
                }
            }
        }
    }

    func name(ip: IPv4Address) -> String {
        if ip == .broadcast { return "broadcast" }
        return byIP[ip] ?? ip.description
    }

    func name(mac: MACAddress) -> String { byMAC[mac] ?? mac.description }

    /// The node for an IPv4 address, else for the MAC (a routed frame's MAC is the router's, so
    /// the address comes first).
    func name(mac: MACAddress, ip: IPv4Address) -> String {
        if let n = byIP[ip] { return n }
        if ip == .broadcast { return "broadcast" }
        if ip == .any, let n = byMAC[mac] { return n }
        return ip == .any ? mac.description : ip.description
    }
}
