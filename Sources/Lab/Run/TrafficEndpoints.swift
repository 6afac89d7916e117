// Where a ping or a flow goes, worked out from the scenario the same way on every backend: a
// host's current address (the backend knows it), or a bridge's router address on the sender's
// segment; and which scenario host receives a flow.
import Wire

extension Scenario {
    /// Where traffic from `sender` to `target` goes now, `address(host)` being a host's current
    /// address; nil (with why) if it has none yet.
    func resolve(_ target: TrafficTarget, from sender: String,
                 address: (String) -> IPv4Address?) -> (address: IPv4Address?, why: String) {
        switch target {
        case .address(let a):
            return (a, a.description)
        case .node(let name, let segment):
            if node(named: name)?.host != nil {
                guard let a = address(name) else { return (nil, "\(name) has no address") }
                return (a, "\(a) (\(name))")
            }
            guard let config = node(named: name)?.bridge, let router = config.router else {
                return (nil, "\(name) has no router address")
            }
            var wanted = segment
            if wanted == nil, let s = node(named: sender)?.host?.attachment, s.bridge == name { wanted = s.segment }
            let interface = router.interfaces.first { $0.name == wanted } ?? router.interfaces[0]
            return (interface.ipv4.address, "\(interface.ipv4.address) (\(name).\(interface.name))")
        }
    }

    /// The host of the scenario that counts a flow's datagrams, if the target is one: a host
    /// named as the target, or the host whose static address it is.
    func receiver(of flow: UDPFlowAction) -> String? {
        switch flow.to {
        case .node(let n, _):
            return node(named: n)?.host != nil ? n : nil
        case .address(let a):
            return nodes.first { if case .static(let net, _)? = $0.host?.address { return net.address == a }; return false }?.name
        }
    }

    /// Whether the timeline starts `host`'s DHCP client itself (`do: dhcp` on it); otherwise an
    /// `address: dhcp` host starts it at 0s.
    func timelineStartsDHCP(on host: String) -> Bool {
        timeline.contains { if case .dhcp(host) = $0.action { return true }; return false }
    }
}
