// Configuring the tunnel interface: what wg-quick(8) does with `ip`, minus DNS, hooks and policy routing.
// The MTU, the first address and the up flag go through HostIO's socket ioctls (SIOCSIFMTU, SIOCSIFADDR,
// SIOCSIFNETMASK, SIOCSIFFLAGS); further addresses and the AllowedIPs routes through `ip address add` and
// `ip route replace`, since the ioctls carry one address per interface and Glibc's module lacks struct rtentry.

import Glibc
import HostIO
import Wire

/// A step of interface set-up that failed.
struct LinkSetupError: Error, CustomStringConvertible {
    var step: String
    var reason: String
    var description: String { "\(step): \(reason)" }
}

/// Addresses, MTU, up, routes.
enum LinkSetup {
    /// The routes `configuration` needs on interface `name`: every AllowedIPs network not already covered by an
    /// Address's own subnet (the kernel adds that route), and none that would capture a peer's own endpoint.
    /// Returns the routes, and a warning for each one skipped.
    static func routes(for configuration: TunnelConfiguration) -> (routes: [IPv4Network], skipped: [String]) {
        var routes: [IPv4Network] = []
        var skipped: [String] = []
        let endpoints = configuration.peers.compactMap(\.endpoint)
        for peer in configuration.peers {
            for network in peer.allowedIPs {
                let normalized = IPv4Network(address: network.networkAddress, prefixLength: network.prefixLength)!
                if configuration.interface.addresses.contains(where: {
                    $0.prefixLength <= normalized.prefixLength && $0.contains(normalized.address)
                }) { continue }
                if let e = endpoints.first(where: { normalized.contains($0.address) }) {
                    skipped.append("route \(normalized) not installed: it covers the endpoint \(e) and would loop the tunnel into itself")
                    continue
                }
                if !routes.contains(normalized) { routes.append(normalized) }
            }
        }
        return (routes, skipped)
    }

    /// Sets the MTU, the addresses, brings `name` up and installs `routes`.
    static func configure(_ name: String, configuration: TunnelConfiguration, routes: [IPv4Network]) throws(LinkSetupError) {
        do { try NetworkInterface.setMTU(name, configuration.mtu) } catch {
            throw LinkSetupError(step: "set MTU \(configuration.mtu) on \(name)", reason: "\(error)")
        }
        for (i, address) in configuration.interface.addresses.enumerated() {
            if i == 0 {
                do { try NetworkInterface.setIPv4Address(name, address: address.address.rawValue, prefixLength: address.prefixLength) } catch {
                    throw LinkSetupError(step: "assign \(address) to \(name)", reason: "\(error)")
                }
            } else {
                try ip(["address", "add", "\(address)", "dev", name])
            }
        }
        disableIPv6(name)
        do { try NetworkInterface.setUp(name) } catch {
            throw LinkSetupError(step: "bring \(name) up", reason: "\(error)")
        }
        for route in routes { try ip(["route", "replace", "\(route)", "dev", name]) }
    }

    /// Turns IPv6 off on the interface (net.ipv6.conf.NAME.disable_ipv6): the tunnel carries IPv4 only, so router
    /// solicitations and MLD reports would only be dropped. Best effort: a kernel without IPv6 has no such file.
    static func disableIPv6(_ name: String) {
        let fd = open("/proc/sys/net/ipv6/conf/\(name)/disable_ipv6", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = Glibc.write(fd, "1", 1)
        close(fd)
    }

    /// Runs `ip arguments…` and waits for it; throws with its exit status when it fails.
    static func ip(_ arguments: [String]) throws(LinkSetupError) {
        let step = "ip " + arguments.joined(separator: " ")
        let status = Spawn.run(["ip"] + arguments)
        switch status {
        case .exited(0): return
        case .exited(let code): throw LinkSetupError(step: step, reason: "exited with status \(code)")
        case .signalled(let signal): throw LinkSetupError(step: step, reason: "killed by signal \(signal)")
        case .failedToStart(let errno): throw LinkSetupError(step: step, reason: "cannot start: \(Errno(rawValue: errno))")
        }
    }
}

/// posix_spawnp and waitpid: runs a program found on PATH with this process's standard streams.
enum Spawn {
    enum Status: Equatable { case exited(CInt), signalled(CInt), failedToStart(CInt) }

    static func run(_ argv: [String]) -> Status {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], nil, nil, &cArgs, environ)
        guard rc == 0 else { return .failedToStart(rc) }
        var status: CInt = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .failedToStart(errno) }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (they are macros).
        if status & 0x7F == 0 { return .exited((status >> 8) & 0xFF) }
        return .signalled(status & 0x7F)
    }
}
