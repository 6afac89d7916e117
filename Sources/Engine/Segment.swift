// One L2 broadcast domain of a bridge: a learning switch, the ports attached to it, the router's
// interface on it (if any) and the capture taps that see every frame entering it.
import Capture
import Datapath

public struct Segment {
    public let name: String
    public var learning: LearningSwitch
    /// Ports on this segment, in attachment order (flooding follows this order: deterministic).
    public internal(set) var ports: [PortID] = []
    /// The router's port on this segment, and its interface index.
    public let router: (port: PortID, interface: Int)?
    /// Taps recording every frame that enters this segment's switch (the driver's: it adds them
    /// with `Bridge.addTap` and takes them back with `Bridge.removeTaps`).
    var taps: [CaptureTap] = []

    init(name: String, learning: LearningSwitch, router: (port: PortID, interface: Int)?) {
        self.name = name; self.learning = learning; self.router = router
    }
}
