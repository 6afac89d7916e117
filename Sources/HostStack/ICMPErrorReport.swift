// An ICMP error a host received (RFC 792; RFC 1122 §3.2.2), with what it says about the datagram
// it quotes: enough for a ping report line ("From 10.0.0.1 icmp_seq=3 Time to live exceeded").

import Basics
import Wire

/// One ICMP error message received, and the datagram of ours it quoted.
public struct ICMPErrorReport: Equatable, Sendable, CustomStringConvertible {
    /// When it arrived.
    public var time: Instant
    /// Who sent it (the reporting router or host).
    public var from: IPv4Address
    public var type: ICMPv4Type
    public var code: UInt8
    /// The quoted datagram's destination.
    public var originalDestination: IPv4Address
    /// The quoted datagram's protocol.
    public var originalProtocol: IPProtocol
    /// Identifier and sequence number when the quoted datagram was an echo request.
    public var echo: (identifier: UInt16, sequence: UInt16)? {
        get { echoFields.map { (UInt16(truncatingIfNeeded: $0 >> 16), UInt16(truncatingIfNeeded: $0)) } }
        set { echoFields = newValue.map { UInt32($0.identifier) << 16 | UInt32($0.sequence) } }
    }
    /// Source and destination ports when the quoted datagram was UDP.
    public var udpPorts: (source: UInt16, destination: UInt16)? {
        get { portFields.map { (UInt16(truncatingIfNeeded: $0 >> 16), UInt16(truncatingIfNeeded: $0)) } }
        set { portFields = newValue.map { UInt32($0.source) << 16 | UInt32($0.destination) } }
    }
    /// RFC 1191 §4: the next-hop MTU of a fragmentation-needed message.
    public var nextHopMTU: UInt16?

    // Tuples are not Equatable; keep the pairs packed.
    private var echoFields: UInt32?
    private var portFields: UInt32?

    public init(time: Instant, from: IPv4Address, type: ICMPv4Type, code: UInt8,
                originalDestination: IPv4Address, originalProtocol: IPProtocol) {
        self.time = time; self.from = from; self.type = type; self.code = code
        self.originalDestination = originalDestination; self.originalProtocol = originalProtocol
    }

    /// The message's name as ping prints it.
    public var name: String {
        switch (type.rawValue, code) {
        case (3, ICMPv4UnreachableCode.network): "Destination Net Unreachable"
        case (3, ICMPv4UnreachableCode.host): "Destination Host Unreachable"
        case (3, ICMPv4UnreachableCode.protocol): "Destination Protocol Unreachable"
        case (3, ICMPv4UnreachableCode.port): "Destination Port Unreachable"
        case (3, ICMPv4UnreachableCode.fragmentationNeeded): "Frag needed and DF set (mtu = \(nextHopMTU ?? 0))"
        case (3, ICMPv4UnreachableCode.communicationAdministrativelyProhibited): "Communication prohibited by filter"
        case (3, _): "Destination Unreachable, code \(code)"
        case (4, _): "Source Quench"
        case (5, _): "Redirect, code \(code)"
        case (11, ICMPv4TimeExceededCode.timeToLiveExceededInTransit): "Time to live exceeded"
        case (11, ICMPv4TimeExceededCode.fragmentReassemblyTimeExceeded): "Frag reassembly time exceeded"
        case (12, _): "Parameter problem, code \(code)"
        default: "ICMP type \(type.rawValue) code \(code)"
        }
    }

    public var description: String {
        var s = "From \(from)"
        if let echo { s += " icmp_seq=\(echo.sequence)" }
        if let ports = udpPorts { s += " udp \(ports.source)→\(originalDestination):\(ports.destination)" }
        return s + " " + name
    }

    public static func == (a: ICMPErrorReport, b: ICMPErrorReport) -> Bool {
        a.time == b.time && a.from == b.from && a.type == b.type && a.code == b.code
            && a.originalDestination == b.originalDestination && a.originalProtocol == b.originalProtocol
            && a.echoFields == b.echoFields && a.portFields == b.portFields && a.nextHopMTU == b.nextHopMTU
    }
}
