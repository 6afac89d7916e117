// Lab room, replay: splitting a two-sided capture into its client and server sides, as tcpprep
// does, so each side can be played into its own node. Three ways, chosen by the user:
//   - auto: per conversation (protocol and both endpoints), the side that opened it is the
//     client: the sender of a TCP SYN without ACK (the receiver of a SYN+ACK), of a DHCP message
//     from port 68 (port 67 is the server), of an ICMP echo request (an echo reply comes from the
//     server), otherwise of the conversation's first frame.
//   - cidr: frames whose IPv4 source lies in one of the networks are the client's.
//   - mac: frames whose Ethernet source is one of the addresses are the client's.
// Frames without an IPv4 conversation (ARP, IPv6, …) follow the side their source MAC was seen
// on in IPv4 frames (the first side it was seen on); a MAC never seen is the client's. With cidr,
// an ARP frame's sender address decides first.
import Capture
import Wire

/// One side of a two-sided capture.
public enum ReplaySide: String, Equatable, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case client, server
    public var description: String { rawValue }
}

/// How a capture is split into its client and server sides (`--split`).
public enum ReplaySplit: Equatable, Sendable, CustomStringConvertible {
    case auto
    case cidr([IPv4Network])
    case mac([MACAddress])

    /// `auto`, `cidr:10.0.0.0/8[,192.168.0.0/16…]` or `mac:02:00:00:00:00:01[,…]`.
    public init(parsing text: String) throws(ReplayOptionError) {
        if text == "auto" { self = .auto; return }
        let fix = "write auto, cidr:10.0.0.0/8 (client networks, comma-separated) or mac:02:00:00:00:00:01 (client MACs)"
        guard let colon = text.firstIndex(of: ":") else { throw ReplayOptionError("--split \(text): unknown split", fix: fix) }
        let kind = text[..<colon], list = text[text.index(after: colon)...].split(separator: ",")
        guard !list.isEmpty else { throw ReplayOptionError("--split \(text): nothing after '\(kind):'", fix: fix) }
        switch kind {
        case "cidr":
            var networks: [IPv4Network] = []
            for item in list {
                guard item.contains("/"), let n = IPv4Network(item) else {
                    throw ReplayOptionError("--split \(text): '\(item)' is not an IPv4 network", fix: "write it as address/prefix, e.g. 10.0.0.0/8")
                }
                networks.append(n)
            }
            self = .cidr(networks)
        case "mac":
            var macs: [MACAddress] = []
            for item in list {
                guard let m = MACAddress(item) else {
                    throw ReplayOptionError("--split \(text): '\(item)' is not a MAC address", fix: "write it as 02:00:00:00:00:01")
                }
                macs.append(m)
            }
            self = .mac(macs)
        default:
            throw ReplayOptionError("--split \(text): unknown split '\(kind)'", fix: fix)
        }
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .cidr(let n): "cidr:" + n.map(\.description).joined(separator: ",")
        case .mac(let m): "mac:" + m.map(\.description).joined(separator: ",")
        }
    }

    /// The side of each frame, in order.
    public func sides(of frames: [CaptureRecord]) -> [ReplaySide?] {
        var sides = [ReplaySide?](repeating: nil, count: frames.count)
        var conversations: [ReplayConversation: ReplayEndpoint] = [:]
        var sideOfMAC: [MACAddress: ReplaySide] = [:]
        // IPv4 frames (and, by their source, the MACs) first; the rest by their source MAC.
        for (k, record) in frames.enumerated() {
            guard let f = ReplayFrameView(record.bytes) else { continue }
            let side: ReplaySide?
            switch self {
            case .mac(let list):
                side = list.contains(f.source) ? .client : .server
            case .cidr(let networks):
                if let ip = f.ipv4 {
                    side = networks.contains { $0.contains(ip.source) } ? .client : .server
                } else if let sender = f.arpSender {
                    side = networks.contains { $0.contains(sender) } ? .client : .server
                } else {
                    side = nil
                }
            case .auto:
                side = f.ipv4.map { Self.autoSide($0, &conversations) }
            }
            sides[k] = side
            if let side, f.ipv4 != nil, sideOfMAC[f.source] == nil { sideOfMAC[f.source] = side }
        }
        for (k, record) in frames.enumerated() where sides[k] == nil {
            let source = ReplayFrameView(record.bytes)?.source
            sides[k] = source.flatMap { sideOfMAC[$0] } ?? .client
        }
        return sides
    }

    /// Auto's rule for one IPv4 frame (see the top of the file).
    static func autoSide(_ ip: ReplayFrameView.IPv4, _ conversations: inout [ReplayConversation: ReplayEndpoint]) -> ReplaySide {
        // DHCP clients broadcast from 0.0.0.0 and are answered at their new address: port 68 is
        // the client whatever the addresses.
        if ip.protocol == IPProtocol.udp.rawValue, [ip.sourcePort, ip.destinationPort].sorted() == [67, 68] {
            return ip.sourcePort == 68 ? .client : .server
        }
        let source = ReplayEndpoint(address: ip.source, port: ip.sourcePort)
        let destination = ReplayEndpoint(address: ip.destination, port: ip.destinationPort)
        let key = ReplayConversation(protocol: ip.protocol, source, destination)
        if let opener = conversations[key] { return opener == source ? .client : .server }
        let opener: ReplayEndpoint
        switch (ip.protocol, ip.sourcePort, ip.destinationPort) {
        case (IPProtocol.tcp.rawValue, _, _) where ip.tcpFlags & 0x12 == 0x12: opener = destination  // SYN+ACK
        case (IPProtocol.icmp.rawValue, _, _) where ip.icmpType == 0: opener = destination          // echo reply
        default: opener = source
        }
        conversations[key] = opener
        return opener == source ? .client : .server
    }
}

/// An address and port (0 for protocols without ports).
struct ReplayEndpoint: Hashable {
    var address: IPv4Address
    var port: UInt16
}

/// A conversation: its protocol and its two endpoints, in either direction.
struct ReplayConversation: Hashable {
    var proto: UInt8
    var low: ReplayEndpoint, high: ReplayEndpoint

    init(protocol proto: UInt8, _ a: ReplayEndpoint, _ b: ReplayEndpoint) {
        self.proto = proto
        let aFirst = (a.address.rawValue, a.port) <= (b.address.rawValue, b.port)
        low = aFirst ? a : b
        high = aFirst ? b : a
    }
}

/// A wrong replay option: what is wrong and how to write it.
public struct ReplayOptionError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var fix: String
    public init(_ message: String, fix: String) { self.message = message; self.fix = fix }
    public var description: String { "\(message) (\(fix))" }
}
