// How a scenario becomes QEMU test guests. A guest's commands are fixed on its kernel command line
// at boot (ci/guest/init runs each `sluice.run.<name>="…"` after its DHCP, in order, and prints
// SLUICE-RUN / SLUICE-RESULT around it), so the timeline is mapped, per host, to:
//
//   address: dhcp       the guest's own DHCP at boot (the `dhcp` action at 0s is that one)
//   address: A/P        a first command `ip addr add A/P dev eth0; ip route add default via G`
//   ping                `ping -c N -i I -W T -s S [-t TTL] <target>` (busybox), in the order the
//                       timeline would start them; a ping to another guest on the same segment
//                       first waits (arping, so no ICMP of its own reaches the captures) until
//                       that guest answers
//   tcp, udp            `sluice-flow <iperf3 client arguments>` (ci/guest/sluice-flow): the same
//                       iperf3 command lines as netns (IPerf3.client), tried again while the
//                       server's guest is still booting (on the same segment, after the ping's
//                       ARP wait); its JSON is read from the console
//   (a flow's receiver) `iperf3 --server --port PORT … --daemon` once per port, first of all
//                       (before a static address: listening before it answers ARP)
//   last, `linger`      `sleep` — with more than one guest, each stays up (to answer the others)
//                       until the run sees every guest reach its linger and stops them all
//
// A guest pinged from another segment boots first: the pinging guest is started once it
// lingers (ready), so a ping across the router finds its target up without a probe of its own.
//
// Targets must be known at boot: a static address, a router address, or a guest that takes its
// lease by DHCP — which then gets a reservation in the bridge's pool, so its address is known.
// What cannot be mapped (a ping to a host with no address at all, a flow to something that is
// not a guest) is reported as not run.
import Basics
import Engine
import Foundation
import QEMU
import Wire

struct QEMUGuestPlan {
    /// One command on a guest's kernel command line.
    struct Command {
        /// Its SLUICE-RUN name.
        var name: String
        /// The timeline entry it carries out (nil: the static address).
        var entry: Int?
        var text: String
        /// The ping's or flow's target, for reading its output.
        var target: IPv4Address?
    }

    struct Guest {
        var host: String
        var spec: HostNode
        /// Whether the guest takes a lease at boot.
        var dhcp: Bool
        /// The `dhcp` timeline entry that stands for the boot lease, if the file has one.
        var dhcpEntry: Int?
        var commands: [Command]
        var cmdline: String
        /// Its own vhost-user socket (on its segment): the port its link's impairments go on.
        var socket: String
        /// The scenario link that is its cable (host–bridge), and whether the host is its first end.
        var link: (index: Int, hostIsA: Bool)?
        /// Guests on other segments it pings: it is booted once they are ready (unless they wait
        /// for it too).
        var waitsFor: [String] = []
        /// Whether its last command is `linger` (more than one guest).
        var lingers = false
    }



    /// The bridge node's name and its config, with reservations and vhost-user sockets added.
    var bridgeName: String
    var bridgeConfig: BridgeConfig
    var guests: [Guest] = []
    /// Timeline entries that will not run, and why.
    var notRun: [Int: String] = [:]
    /// What was changed to make the plan work ("vm2 reserved 10.0.0.100"), for the run log.
    var notes: [String] = []

    /// The marker a ping command prints once its wait for the target is over.
    static let pingStartMarker = "SLUICE-PING-START"
    /// The marker ci/guest/sluice-flow prints before each iperf3 attempt (the last one counts).
    static let flowStartMarker = "SLUICE-FLOW-START"

    /// The guest a flow's iperf3 server runs in, and its port.
    static func server(of action: TimelineAction, in scenario: Scenario) -> (host: String, port: Int)? {
        switch action {
        case .tcp(let t):
            guard case .node(let n, _) = t.to, scenario.node(named: n)?.host != nil else { return nil }
            return (n, t.port)
        case .udp(let u):
            return scenario.receiver(of: u).map { ($0, u.port) }
        default:
            return nil
        }
    }

    init(_ scenario: Scenario, socketDirectory: String) throws(RealBackendError) {
        guard let bridgeNode = scenario.nodes.first(where: { $0.bridge != nil }), var config = bridgeNode.bridge else {
            throw RealBackendError("the scenario has no bridge")
        }
        bridgeName = bridgeNode.name
        config.name = bridgeNode.name
        let hosts = scenario.nodes.compactMap { n in n.host.map { (name: n.name, spec: $0) } }

        // Addresses known at boot; a DHCP guest that another guest pings is given a reservation.
        var known: [String: IPv4Address] = [:]
        for h in hosts { if case .static(let net, _) = h.spec.address { known[h.name] = net.address } }
        var targets: [String] = []
        for entry in scenario.timeline {
            let to: TrafficTarget? = switch entry.action {
            case .ping(let p): p.to
            case .tcp(let t): t.to
            case .udp(let u): u.to
            default: nil
            }
            if case .node(let n, _)? = to, known[n] == nil, hosts.contains(where: { $0.name == n }), !targets.contains(n) { targets.append(n) }
        }
        for h in hosts where targets.contains(h.name) {
            guard case .dhcp = h.spec.address, let router = config.router,
                  let i = router.interfaces.firstIndex(where: { $0.name == h.spec.attachment.segment }),
                  var dhcp = router.interfaces[i].dhcp else { continue }
            var taken = Set(dhcp.reservations.map(\.ipv4.rawValue)).union(known.values.map(\.rawValue))
            taken.insert(router.interfaces[i].ipv4.address.rawValue)
            if let existing = dhcp.reservations.first(where: { $0.mac == h.spec.mac }) {
                known[h.name] = existing.ipv4
                continue
            }
            guard let free = (dhcp.start.rawValue...dhcp.end.rawValue).first(where: { !taken.contains($0) }) else { continue }
            let address = IPv4Address(rawValue: free)
            dhcp.reservations.append(.init(mac: h.spec.mac, ipv4: address))
            config.router!.interfaces[i].dhcp = dhcp
            known[h.name] = address
            notes.append("\(h.name) (\(h.spec.mac)) reserved \(address) in \(bridgeName).\(h.spec.attachment.segment)'s pool, so guests that ping it know its address at boot")
        }

        // One vhost-user socket per guest, on its segment, with its link's impairments on the port
        // (the link's forward direction is the guest's transmit when the guest is its first end).
        var cables: [String: (index: Int, hostIsA: Bool)] = [:]
        for link in scenario.links {
            switch (link.a, link.b) {
            case (.host(let h), .bridge): cables[h] = (link.index, true)
            case (.bridge, .host(let h)): cables[h] = (link.index, false)
            default: break
            }
        }
        config.vhostUser = hosts.map { h in
            var socket = VhostUserSocketConfig(path: Self.socket(h.name, in: socketDirectory), segment: h.spec.attachment.segment)
            if let cable = cables[h.name] {
                let link = scenario.links[cable.index]
                let impairment = Self.portImpairment(forward: link.forward, reverse: link.reverse, hostIsA: cable.hostIsA, up: link.initiallyUp)
                socket.impair = impairment.isNone ? nil : impairment
            }
            return socket
        }
        config.taps = []
        config.control = nil
        bridgeConfig = config

        let order = Self.estimatedStarts(scenario)
        for h in hosts {
            var guest = Guest(host: h.name, spec: h.spec, dhcp: false, dhcpEntry: nil, commands: [], cmdline: "",
                              socket: Self.socket(h.name, in: socketDirectory), link: cables[h.name])
            // An iperf3 server per port this guest receives flows on (it serves one test after another),
            // listening before its static address answers ARP, so a sender's first try finds it.
            var ports: [Int] = []
            for entry in scenario.timeline {
                if let (host, port) = Self.server(of: entry.action, in: scenario), host == h.name, !ports.contains(port) { ports.append(port) }
            }
            for port in ports {
                // netns's server (0.1 s intervals: a udp flow's chart comes from them), as a daemon.
                let text = (IPerf3.server(port: port) + ["--daemon"]).joined(separator: " ")
                guest.commands.append(Command(name: "iperf3-\(port)", entry: nil, text: text, target: nil))
            }
            switch h.spec.address {
            case .dhcp:
                guest.dhcp = true
            case .static(let net, let gateway):
                var text = "ip addr add \(net) dev eth0"
                if let gateway { text += " && ip route add default via \(gateway)" }
                guest.commands.append(Command(name: "address", entry: nil, text: text, target: nil))
            case .none:
                break
            }
            let mine = scenario.timeline.filter { $0.action.node == h.name }.sorted { (order[$0.index], $0.index) < (order[$1.index], $1.index) }
            for entry in mine {
                switch entry.action {
                case .dhcp:
                    if guest.dhcp, guest.dhcpEntry == nil { guest.dhcpEntry = entry.index } else {
                        notRun[entry.index] = "a guest takes one lease, at boot"
                    }
                case .ping(let p):
                    guard let target = Self.address(p.to, from: h.spec, known: known, scenario: scenario, config: config) else {
                        notRun[entry.index] = "\(p.to) has no address known when the guest boots"
                        continue
                    }
                    var text = ""
                    if case .node(let n, _) = p.to, let other = hosts.first(where: { $0.name == n }), n != h.name {
                        if other.spec.attachment == h.spec.attachment {
                            // Wait (up to ~90 s) until the other guest is up and answers ARP.
                            text += "n=0; until arping -q -f -c 1 -w 1 -I eth0 \(target); do n=$((n+1)); [ $n -ge 90 ] && break; done; "
                        } else if !guest.waitsFor.contains(n) {
                            guest.waitsFor.append(n)   // across the router: boot once it is ready
                        }
                    }
                    text += "echo \(Self.pingStartMarker); ping -c \(p.count) -i \(NetnsScenarioRun.seconds(p.interval))"
                    text += " -W \(max(1, Int((Double(p.timeout.nanosecondsClamped) / 1e9).rounded(.up))))"
                    text += " -s \(p.size)" + (p.ttl.map { " -t \($0)" } ?? "") + " \(target)"
                    guest.commands.append(Command(name: "t\(entry.index)", entry: entry.index, text: text, target: target))
                case .tcp, .udp:
                    let to: TrafficTarget
                    let arguments: (IPv4Address) -> [String]
                    switch entry.action {
                    case .tcp(let t): to = t.to; arguments = { IPerf3.client(t, target: $0) }
                    case .udp(let u): to = u.to; arguments = { IPerf3.client(u, target: $0) }
                    default: continue
                    }
                    guard Self.server(of: entry.action, in: scenario) != nil else {
                        notRun[entry.index] = "no guest of the scenario receives at \(to) (iperf3 needs a server)"
                        continue
                    }
                    guard let target = Self.address(to, from: h.spec, known: known, scenario: scenario, config: config) else {
                        notRun[entry.index] = "\(to) has no address known when the guest boots"
                        continue
                    }
                    var text = ""
                    if case .node(let n, _) = to, let other = hosts.first(where: { $0.name == n }), n != h.name,
                       other.spec.attachment == h.spec.attachment {
                        // As for a ping: wait until the target's guest answers ARP, so few tries are refused.
                        text += "n=0; until arping -q -f -c 1 -w 1 -I eth0 \(target); do n=$((n+1)); [ $n -ge 90 ] && break; done; "
                    }
                    text += (["sluice-flow"] + arguments(target).dropFirst()).joined(separator: " ")
                    guest.commands.append(Command(name: "t\(entry.index)", entry: entry.index, text: text, target: target))
                default:
                    // Refused at load for qemu (LabBackend): release, and no others reach here.
                    notRun[entry.index] = "\(entry.action.kind.rawValue) cannot run in a QEMU guest"
                }
            }
            if hosts.count > 1 {
                guest.lingers = true
                guest.commands.append(Command(name: "linger", entry: nil, text: "sleep 3600", target: nil))
            }
            do {
                guest.cmdline = try TestGuest.cmdline(runs: guest.commands.map { ($0.name, $0.text) }, dhcp: guest.dhcp)
            } catch {
                throw RealBackendError("guest \(h.name): \(error)")
            }
            guests.append(guest)
        }
    }

    /// The vhost-user socket of guest `host`.
    static func socket(_ host: String, in directory: String) -> String { "\(directory)/\(host).sock" }

    /// A host's link as its port's impairments: ingress is what the guest sends.
    static func portImpairment(forward: LinkImpairments, reverse: LinkImpairments, hostIsA: Bool, up: Bool) -> PortImpairment {
        PortImpairment(ingress: (hostIsA ? forward : reverse).simulated, egress: (hostIsA ? reverse : forward).simulated, up: up)
    }

    /// A ping target's address, if known at boot.
    static func address(_ target: TrafficTarget, from sender: HostNode, known: [String: IPv4Address], scenario: Scenario,
                        config: BridgeConfig) -> IPv4Address? {
        switch target {
        case .address(let a): return a
        case .node(let name, let segment):
            if let a = known[name] { return a }
            guard scenario.node(named: name)?.bridge != nil, let router = config.router else { return nil }
            let wanted = segment ?? (sender.attachment.bridge == name ? sender.attachment.segment : nil)
            return (router.interfaces.first { $0.name == wanted } ?? router.interfaces[0]).ipv4.address
        }
    }

    /// When each entry would start on sim, roughly (an action's own length: a ping's probes and
    /// last timeout; everything else at once): the order a guest runs its commands in.
    static func estimatedStarts(_ scenario: Scenario) -> [Duration] {
        var starts: [Duration?] = Array(repeating: nil, count: scenario.timeline.count)
        func start(_ i: Int, _ depth: Int) -> Duration {
            if let s = starts[i] { return s }
            var s: Duration = .zero
            switch scenario.timeline[i].trigger {
            case .at(let t): s = t
            case .after(let name, let delay):
                if depth < 64, let e = scenario.entry(named: name) { s = start(e.index, depth + 1) + length(e) + delay }
            }
            starts[i] = s
            return s
        }
        func length(_ e: TimelineEntry) -> Duration {
            switch e.action {
            case .ping(let p): return p.interval * (p.count - 1) + p.timeout
            case .udp(let u): return u.duration
            case .tcp(let t): if case .duration(let d) = t.amount { return d }; return .zero
            default: return .zero
            }
        }
        return scenario.timeline.indices.map { start($0, 0) }
    }
}
