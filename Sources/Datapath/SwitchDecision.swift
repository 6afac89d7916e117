// What the learning switch decided for one frame. The driver carries it out: send a copy to one
// port, to every other port, or count the drop on the ingress port.

/// The learning switch's verdict on one frame. Trivial; no allocation.
public enum SwitchDecision: Equatable, Sendable {
    /// Deliver to this port only.
    case forward(PortID)
    /// Deliver to every port except the ingress (broadcast, multicast, unknown unicast).
    case flood(except: PortID)
    /// Deliver nowhere; count `PortDropReason` on the ingress port.
    case drop(PortDropReason)
}
