// A peer of the node engine as configuration names it (a mesh config or aronet's registry.json, docs/mesh.md):
// its key, an endpoint unless it sits behind NAT, and the addresses and prefixes the configuration routes to it
// and authorizes it to use as inner sources (beside its certificate's own).

import Crypto
import Wire

/// One configured peer.
public struct MeshPeer: Sendable, Equatable {
    /// The peer's Noise static key (its certificate binds it).
    public var key: PublicKey
    public var name: String
    /// Where to reach it; nil when it is behind NAT (then it is reached through a relay until it contacts us).
    public var endpoint: SocketAddressV4?
    /// Its overlay addresses (each owned as a single address).
    public var addresses: [OverlayNetwork]
    /// Prefixes routed to it and allowed as inner sources from it (authorized routes).
    public var prefixes: [OverlayNetwork]

    public init(key: PublicKey, name: String = "", endpoint: SocketAddressV4? = nil, addresses: [OverlayNetwork] = [],
                prefixes: [OverlayNetwork] = []) {
        self.key = key; self.name = name; self.endpoint = endpoint; self.addresses = addresses; self.prefixes = prefixes
    }
}

/// How a node engine behaves (timers the mesh adds to WireGuard's; WireGuard's own are WireGuardConstants).
public struct MeshNodeConfiguration: Sendable {
    public var peers: [MeshPeer]
    /// Offer relaying (effective only when this node's certificate carries the relay capability).
    public var relay: Bool
    /// The direct path to a peer is declared down after sending data on it for this long with no authenticated
    /// packet back. With `keepaliveInterval` below it, a peer that receives always answers in time.
    public var directPathTimeout: Duration
    /// While a direct path is down, it is probed this often; one answered probe brings it back.
    public var probeInterval: Duration
    /// A node that received data and sent nothing back for this long sends a keepalive: the acknowledgement the
    /// sender's failure detection waits for (WireGuard waits Keepalive-Timeout, 10 s — too slow to fail over).
    public var keepaliveInterval: Duration
    /// Hop limit of envelopes this node originates.
    public var hopLimit: UInt8
    /// Packets held per peer while a session is being set up (WireGuard's QueueStagedSize).
    public var stagedLimit: Int

    public init(peers: [MeshPeer] = [], relay: Bool = true, directPathTimeout: Duration = .seconds(2),
                probeInterval: Duration = .seconds(1), keepaliveInterval: Duration = .seconds(1), hopLimit: UInt8 = 8,
                stagedLimit: Int = 128) {
        self.peers = peers; self.relay = relay; self.directPathTimeout = directPathTimeout
        self.probeInterval = probeInterval; self.keepaliveInterval = keepaliveInterval; self.hopLimit = hopLimit
        self.stagedLimit = stagedLimit
    }
}
