// A generated scenario for measuring the simulator at scale (`sluice bench sim`, the scale tests,
// fixtures/scale/): N hosts on ⌈N/100⌉ router bridges, each bridge its own /24 with a DHCP pool;
// every host takes a lease at 0s, then pings its bridge's router 5 times, then sends a 100 pps
// UDP flow to the next host on its bridge. The per-node work is the same at every N, so wall time
// against N shows how the simulator grows.

/// The text of a scale scenario (YAML, as a user would write it).
public enum ScaleScenario {
    /// Hosts per bridge.
    public static let hostsPerBridge = 100

    /// The scenario for `hosts` hosts (1...25,000: 250 bridges of 100), `duration` seconds long.
    public static func text(hosts: Int, duration: Int = 10, seed: UInt64 = 1) -> String {
        let n = max(1, min(hosts, 25_000))
        let bridges = (n + hostsPerBridge - 1) / hostsPerBridge
        var s = """
        name: scale-\(n)
        description: \(n) hosts on \(bridges) bridge(s); each takes a DHCP lease, pings its router, then sends a UDP flow to a neighbour.
        seed: \(seed)
        duration: \(duration)s
        nodes:

        """
        for b in 0..<bridges {
            let net = "10.\(b / 250 + 1).\(b % 250)"
            s += "  br\(b): { kind: bridge, config: { router: { ipv4: \(net).1/24, dhcp: { start: \(net).10, end: \(net).250 } } } }\n"
        }
        func bridge(of h: Int) -> Int { h / hostsPerBridge }
        for h in 0..<n { s += "  h\(h): { kind: host, attach: br\(bridge(of: h)) }\n" }
        s += "timeline:\n"
        for h in 0..<n {
            // The next host on the same bridge (wrapping); itself when alone.
            let first = bridge(of: h) * hostsPerBridge, count = min(hostsPerBridge, n - first)
            let peer = first + (h - first + 1) % count
            s += "  - { at: 0s, do: dhcp, node: h\(h), as: d\(h) }\n"
            s += "  - { after: d\(h), do: ping, node: h\(h), to: br\(bridge(of: h)), count: 5, interval: 200ms, as: p\(h) }\n"
            s += "  - { after: p\(h), do: udp, node: h\(h), to: h\(peer), port: 5001, rate: 100pps, size: 200, duration: 2s, as: u\(h) }\n"
        }
        s += "expect:\n"
        for h in 0..<n { s += "  - { action: p\(h), received: 5 }\n" }
        return s
    }
}
