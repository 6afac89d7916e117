// Ports of the bridge: every device the datapath moves frames between.

/// A port's number in its `PortTable`: small, dense, reused lowest-first after removal.
public struct PortID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static func < (a: PortID, b: PortID) -> Bool { a.rawValue < b.rawValue }

    public var description: String { "port\(rawValue)" }
}

/// What sits behind a port.
public enum PortKind: UInt8, Sendable, CustomStringConvertible {
    /// A VM's virtio-net device (vhost-user).
    case virtioGuest
    /// A Linux TAP interface.
    case tap
    /// The built-in IPv4 router's interface on the switch.
    case router
    /// The uplink to the outside world.
    case wan

    public var description: String {
        switch self {
        case .virtioGuest: "virtio"
        case .tap: "tap"
        case .router: "router"
        case .wan: "wan"
        }
    }
}

/// One registered port: its identity, what it is, and its counters.
public struct Port: Sendable {
    public let id: PortID
    public let name: String
    public let kind: PortKind
    public var counters = PortCounters()

    public init(id: PortID, name: String, kind: PortKind) {
        self.id = id
        self.name = name
        self.kind = kind
    }
}
