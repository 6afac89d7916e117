// What crossed the WAN, and why anything did not. Every packet the WAN refuses is counted under
// exactly one reason; the NAT and the WireGuard device keep their own finer counters beside these.

import Basics

/// Why the WAN dropped a packet, datagram or frame. Raw values index `WANCounters.drops`; append only.
public enum WANDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Not a well-formed IPv4 packet or Ethernet frame.
    case malformed
    /// Neither IPv4 nor (on a TAP WAN) ARP: IPv6, other EtherTypes, tagged frames.
    case unsupported
    /// A TAP frame addressed to another MAC (the uplink floods; only ours and broadcast count).
    case notForUs
    /// A plain-UDP datagram from somewhere other than the configured endpoint.
    case unexpectedSource
    /// No endpoint to send to yet (a WireGuard peer that has not reached us, an unresolved name).
    case noEndpoint
    /// Refused by the NAT (`Bridge.nat.counters` says why).
    case nat
    /// Refused by WireGuard (`WAN.tunnel.counters` says why).
    case tunnel
    /// Larger than the WAN's buffers, or truncated by the driver.
    case tooBig

    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .unsupported: "unsupported"
        case .notForUs: "not for us"
        case .unexpectedSource: "unexpected source"
        case .noEndpoint: "no endpoint"
        case .nat: "refused by NAT"
        case .tunnel: "refused by WireGuard"
        case .tooBig: "too big"
        }
    }
}

/// The WAN's counters. "Packets" are what the router sees (IP packets; frames on a TAP WAN);
/// "datagrams" are what the driver carries (WireGuard or UDP datagrams, handshakes and keepalives
/// included; frames on a TAP WAN).
public struct WANCounters: Equatable, Sendable {
    /// Packets from the router sent out of the WAN, and their bytes (IP, before encryption).
    public var txPackets: UInt64 = 0, txBytes: UInt64 = 0
    /// Packets received from the WAN and handed to the router, and their bytes.
    public var rxPackets: UInt64 = 0, rxBytes: UInt64 = 0
    /// Datagrams (or frames) handed to the driver, and their bytes.
    public var txDatagrams: UInt64 = 0, txDatagramBytes: UInt64 = 0
    /// Datagrams (or frames) the driver brought in, and their bytes.
    public var rxDatagrams: UInt64 = 0, rxDatagramBytes: UInt64 = 0
    public var drops = ReasonCounts<WANDropReason>()
    public init() {}
}
