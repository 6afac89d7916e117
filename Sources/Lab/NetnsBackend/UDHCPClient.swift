// A netns host's DHCP client: busybox udhcpc running in the host's namespace, in the foreground
// for the whole run (so it renews like a real client), with an event script that applies each
// lease to the interface and prints it on one line the run parses:
//
//   SLUICE-DHCP bound ip=10.0.0.100 mask=24 router=10.0.0.1 dns=192.0.2.53 lease=3600 serverid=10.0.0.1 domain=lab
//   SLUICE-DHCP deconfig
//   SLUICE-DHCP leasefail
//
// SIGUSR2 makes udhcpc release its lease (DHCPRELEASE) and wait; SIGUSR1 starts it over.
// The script never touches /etc/resolv.conf: outside `ip netns exec`'s /etc/netns/<ns> that file
// is the machine's own.
import Basics
import Foundation
import HostStack
import Wire

/// What the event script reported.
enum UDHCPEvent: Equatable {
    case bound(DHCPClientLease, renewed: Bool)
    case deconfigured
    case failed(String)
}

/// The running client of one host and what it has reported.
final class UDHCPClient {
    let host: String
    let process: Subprocess
    /// Events in order, with the monotonic time each line was read.
    private(set) var events: [(time: Instant, event: UDHCPEvent)] = []
    private var consumed = 0
    /// Whether a release was asked for (the client then waits until told to start over).
    var released = false

    /// The event script, written once per run.
    static let script = """
    #!/bin/sh
    # udhcpc event script of a Sluice lab netns host (written by the lab; see UDHCPClient.swift).
    case "$1" in
      deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        echo "SLUICE-DHCP deconfig" ;;
      bound|renew)
        prefix=${mask:-24}
        if ! ip -4 addr show dev "$interface" | grep -q " $ip/$prefix "; then
          ip -4 addr flush dev "$interface"
          ip -4 addr add "$ip/$prefix" dev "$interface"
        fi
        for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
        echo "SLUICE-DHCP $1 ip=$ip mask=$prefix router=$(echo $router | tr ' ' ,) dns=$(echo $dns | tr ' ' ,) lease=$lease serverid=$serverid domain=$domain" ;;
      leasefail|nak)
        echo "SLUICE-DHCP $1 $message" ;;
    esac
    exit 0

    """

    /// Starts udhcpc for `interface` in `namespace`; `requesting` asks for a remembered address.
    init(host: String, namespace: NetworkNamespace, interface: String, script: String, requesting: IPv4Address?) throws(RealBackendError) {
        self.host = host
        var command = ["busybox", "udhcpc", "-f", "-i", interface, "-s", script, "-t", "4", "-T", "1", "-A", "1"]
        if let requesting { command += ["-r", requesting.description] }
        process = try Subprocess(namespace.command(command))
    }

    /// Parses what arrived since the last call; returns the new events.
    func update(now: Instant, obtainedAt: (Instant) -> Instant) -> [(time: Instant, event: UDHCPEvent)] {
        process.poll()
        var fresh: [(Instant, UDHCPEvent)] = []
        let lines = process.lines
        while consumed < lines.count {
            let (time, text) = lines[consumed]
            consumed += 1
            if let e = Self.event(text, obtainedAt: obtainedAt(time)) { fresh.append((time, e)) }
        }
        events += fresh
        return fresh
    }

    /// The event on one line of output, if it is one of the script's.
    static func event(_ line: String, obtainedAt: Instant) -> UDHCPEvent? {
        guard let r = line.range(of: "SLUICE-DHCP ") else { return nil }
        let words = line[r.upperBound...].split(separator: " ")
        guard let kind = words.first else { return nil }
        switch kind {
        case "deconfig": return .deconfigured
        case "leasefail", "nak": return .failed(words.joined(separator: " "))
        case "bound", "renew":
            var fields: [Substring: Substring] = [:]
            for w in words.dropFirst() {
                guard let eq = w.firstIndex(of: "=") else { continue }
                fields[w[..<eq]] = w[w.index(after: eq)...]
            }
            func addresses(_ key: Substring) -> [IPv4Address] {
                (fields[key] ?? "").split(separator: ",").compactMap { IPv4Address($0) }
            }
            guard let ip = fields["ip"].flatMap({ IPv4Address($0) }),
                  let network = IPv4Network(address: ip, prefixLength: fields["mask"].flatMap { Int($0) } ?? 24) else { return nil }
            let routers = addresses("router")
            let server = fields["serverid"].flatMap { IPv4Address($0) } ?? routers.first ?? IPv4Address(rawValue: 0)
            let seconds = fields["lease"].flatMap { Int64($0) }
            let leaseTime = seconds.map { Duration.seconds($0) }
            let domain = fields["domain"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            // udhcpc does not pass T1/T2 to the script; these are RFC 2131's defaults (½, ⅞).
            let lease = DHCPClientLease(address: network, serverIdentifier: server, routers: routers,
                                  dnsServers: addresses("dns"), domainName: domain, leaseTime: leaseTime,
                                  renewalTime: leaseTime.map { $0 / 2 }, rebindingTime: leaseTime.map { $0 * 7 / 8 },
                                  obtainedAt: obtainedAt)
            return .bound(lease, renewed: kind == "renew")
        default: return nil
        }
    }

    /// The lease in force after every event so far.
    var currentLease: DHCPClientLease? {
        var lease: DHCPClientLease?
        for (_, e) in events {
            switch e {
            case .bound(let l, _): lease = l
            case .deconfigured: lease = nil
            case .failed: break
            }
        }
        return lease
    }

    /// The client's state as the lab reports it.
    var state: DHCPClientState {
        if process.exitCode != nil || released { return .stopped }
        return currentLease != nil ? .bound : .selecting
    }
}
