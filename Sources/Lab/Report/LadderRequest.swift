// Report room (layer 6, Lab): what a capture's `ladder:` key asks for — which protocols' messages
// the report draws as a ladder (sequence) diagram and how many at most — and its parsing, range
// checked with located errors like the rest of the scenario file (docs/scenarios.md, Reports).
import Yams
import YAMLSchema

/// Protocols a ladder diagram can show, each decoded with Wire's parsers.
public enum LadderProtocol: String, Sendable, CaseIterable, Equatable {
    /// DHCP messages (DISCOVER, OFFER, REQUEST, ACK …) between clients and servers.
    case dhcp
    /// WireGuard handshake messages (initiation, response, cookie reply) and keepalives.
    case wireguard
    /// ARP requests and replies.
    case arp
    /// ICMP messages (echo request/reply, unreachable, time exceeded).
    case icmp
}

/// A capture's `ladder:`: `dhcp`, `[dhcp, arp]`, `{ show: [wireguard], messages: 40 }` or `none`.
public struct LadderRequest: Equatable, Sendable {
    /// What to draw; empty draws no ladder for this capture.
    public var protocols: [LadderProtocol]
    /// The first this many messages are drawn; later ones are counted.
    public var messages: Int

    public static let defaultMessages = 16
    public static let messageRange = 1...500
    /// What a capture without `ladder:` gets: a DHCP and a WireGuard ladder when it holds such messages.
    public static let automatic = LadderRequest(protocols: [.dhcp, .wireguard], messages: defaultMessages)

    public init(protocols: [LadderProtocol], messages: Int = LadderRequest.defaultMessages) {
        self.protocols = protocols; self.messages = messages
    }

    static let fix = "write ladder: dhcp, ladder: [dhcp, arp], ladder: { show: [wireguard], messages: 40 } or ladder: none; protocols: "
        + LadderProtocol.allCases.map(\.rawValue).joined(separator: ", ")

    /// Parses a `ladder:` value.
    public init(parsing v: YAMLValue) throws(ConfigError) {
        switch v.node {
        case .mapping:
            let m = try v.mapping(allowed: ["show", "messages"])
            let show = try m.required("show", example: "[dhcp]")
            self.init(protocols: try Self.protocols(show))
            if let n = m["messages"] {
                let text = (try? n.scalar()) ?? ""
                guard let count = Int(text), Self.messageRange.contains(count) else {
                    throw n.error("messages: '\(text)' is not a whole number in \(Self.messageRange.lowerBound)...\(Self.messageRange.upperBound)",
                                  fix: "give how many messages the diagram draws, e.g. messages: 40")
                }
                messages = count
            }
        default:
            self.init(protocols: try Self.protocols(v))
        }
    }

    static func protocols(_ v: YAMLValue) throws(ConfigError) -> [LadderProtocol] {
        if case .sequence = v.node {
            var out: [LadderProtocol] = []
            for item in try v.list() {
                let p = try one(item)
                guard let p else { throw item.error("'none' inside a list", fix: "write ladder: none on its own") }
                if !out.contains(p) { out.append(p) }
            }
            guard !out.isEmpty else { throw v.error("an empty list of protocols", fix: fix) }
            return out
        }
        return try one(v).map { [$0] } ?? []
    }

    /// One protocol name; nil for `none`/`false`.
    static func one(_ v: YAMLValue) throws(ConfigError) -> LadderProtocol? {
        let s = try v.scalar()
        if ["none", "false", "off", "no"].contains(s.lowercased()) { return nil }
        guard let p = LadderProtocol(rawValue: s.lowercased()) else {
            throw v.error("'\(s)' is not a protocol a ladder can show",
                          fix: didYouMean(s.lowercased(), in: LadderProtocol.allCases.map(\.rawValue)) + fix)
        }
        return p
    }
}
