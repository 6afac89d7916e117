// The backends a scenario can run on, and what each can honour. A scenario is checked against
// the table of every backend it lists when it is loaded (docs/scenarios.md, "What each backend
// honours": a backend that cannot honour a field says so when the file is loaded, not later).

/// Where a scenario runs.
public enum LabBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    /// In process: the real engine, simulated hosts, link models and a virtual clock.
    case sim
    /// Linux network namespaces attached to the bridge over TAP; links shaped with tc-netem.
    case netns
    /// QEMU guests over vhost-user; links shaped by the bridge's port impairments (Sim's link model).
    case qemu

    public var description: String { rawValue }
}

/// A scenario field that a backend may or may not honour.
public enum ScenarioFeature: String, Sendable, CaseIterable {
    case linkDelay = "link delay"
    case linkJitter = "link jitter"
    case linkRandomLoss = "random loss"
    case linkGilbertElliottLoss = "Gilbert-Elliott loss"
    case linkDuplicate = "link duplicate"
    case linkReorder = "link reorder"
    case linkCorrupt = "link corrupt"
    case linkRate = "link rate"
    case linkQueue = "link queue"
    case linkMTU = "link mtu"
    case linkInitiallyDown = "a link that starts down"
    case asymmetricLink = "per-direction impairments"
    case bridgeToBridgeLink = "a link between two bridges"
    case wanLink = "a WAN link between two bridges"
    case linkCapture = "a capture on a link"
    case multipleBridges = "more than one bridge"
    case staticAddress = "static host addresses"
    case hostMTU = "host mtu"
    case pingTTL = "ping ttl"
    case udpFlow = "udp flows"
    case tcpFlow = "tcp flows"
    case linkUpDown = "link-down / link-up"
    case impairChange = "impair"
    case replayIntoBridge = "replay into a bridge"
    case replayIntoHost = "replay into a host"
    case replayTopSpeed = "replay at top speed"
    case replayIntoWAN = "replay into a WAN"
    case release = "release"
    case dhcpAfterStart = "a dhcp action after 0s"
    case udpLatency = "a udp flow's one-way latency"
    case pingErrors = "ICMP errors counted by ping"
    case ipv6Hosts = "IPv6 hosts (ipv6:) and IPv6 pings (family: ipv6)"
}

/// Where in the file a feature was used.
public struct FeatureUse: Sendable {
    public var feature: ScenarioFeature
    public var location: ScenarioLocation
    /// The field as written ("links[0].corrupt"), for the message.
    public var field: String

    public init(feature: ScenarioFeature, location: ScenarioLocation, field: String) {
        self.feature = feature; self.location = location; self.field = field
    }
}

/// What one backend honours. The table is the single place to change when a backend learns a
/// feature; the loader rejects anything else with the field's location.
public struct BackendCapabilities: Sendable {
    public let backend: LabBackend
    /// Sorted by raw value; looked up, never iterated to decide anything.
    let unsupported: [ScenarioFeature]
    /// Why, per unsupported feature, for the fix text.
    let reasons: [(ScenarioFeature, String)]

    public func supports(_ feature: ScenarioFeature) -> Bool { !unsupported.contains(feature) }

    /// Why `feature` is not honoured, if it is not.
    public func reason(_ feature: ScenarioFeature) -> String? { reasons.first { $0.0 == feature }?.1 }

    public static func of(_ backend: LabBackend) -> BackendCapabilities {
        switch backend {
        case .sim:
            // Everything: the link models and hosts are ours.
            return BackendCapabilities(backend: .sim, unsupported: [], reasons: [])
        case .netns:
            // Nearly everything: the hosts are real kernels, but the bridges, their TAP ports and
            // the link models between them run in this process (Sim's link model on the real
            // clock), so every impairment, link state and replay target works as on sim.
            let reasons: [(ScenarioFeature, String)] = [
                (.udpLatency, "flows are iperf3's, which measures jitter, not one-way delay; check throughput, loss and reordering"),
                (.wanLink, "WAN links are wired by the sim backend only so far"),
                (.linkCapture, "captures on a link's wire are recorded by the sim backend only so far; capture at a bridge segment"),
                (.replayIntoWAN, "WAN links are wired by the sim backend only so far"),
                (.ipv6Hosts, "IPv6 in netns hosts is not wired yet (ping -6 to a link-local needs %iface); use the sim backend"),
            ]
            return BackendCapabilities(backend: .netns, unsupported: reasons.map(\.0), reasons: reasons)
        case .qemu:
            // The guest's NIC is served by the bridge straight out of guest memory (vhost-user);
            // its link's impairments, up/down and timeline changes are its port's in the bridge
            // (Engine's port impairments: Sim's link model, as on netns). Its commands are fixed at
            // boot; flows are the guest's iperf3 (ci/build-test-guest.sh copies Debian's in).
            let boot = "a guest's commands are fixed on its kernel command line at boot"
            let reasons: [(ScenarioFeature, String)] = [
                (.replayIntoHost, "a guest's NIC cannot be fed frames from outside; replay into a bridge segment instead"),
                (.bridgeToBridgeLink, "the qemu backend runs one bridge"),
                (.wanLink, "the qemu backend runs one bridge"),
                (.replayIntoWAN, "the qemu backend runs one bridge, without a WAN link"),
                (.linkCapture, "captures on a link's wire are recorded by the sim backend only so far; capture at a bridge segment"),
                (.multipleBridges, "the qemu backend runs one bridge"),
                (.hostMTU, "the guest image sets its own MTU"),
                // tcp and udp flows run the test guest's iperf3, as on netns.
                (.udpLatency, "flows are iperf3's, which measures jitter, not one-way delay; check throughput, loss and reordering"),
                (.pingErrors, "busybox ping ignores ICMP errors; check them in a capture (icmp[icmptype] = icmp-timxceed)"),
                (.release, boot + "; its DHCP client runs from boot to power-off"),
                (.dhcpAfterStart, boot + "; it takes its lease while booting (write at: 0s)"),
                (.ipv6Hosts, "the test guest's IPv6 is not wired into the qemu backend yet; use the sim backend"),
            ]
            return BackendCapabilities(backend: .qemu, unsupported: reasons.map(\.0), reasons: reasons)
        }
    }
}
