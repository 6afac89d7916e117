// A Linux network namespace (ip-netns(8)) standing for one scenario host. Named
// `sl<pid>-<host>` so that runs in parallel never collide and a namespace left behind by a run
// that was killed outright can be recognised (its pid is gone) and removed by the next run.
import Foundation

/// One named network namespace, created by this process.
final class NetworkNamespace {
    /// The `ip netns` name.
    let name: String
    private(set) var deleted = false

    /// The prefix of every namespace the lab creates.
    static let prefix = "sl"

    /// The namespace name for `host` in this process's runs.
    static func name(for host: String, pid: Int32 = getpid()) -> String { "\(prefix)\(pid)-\(host)" }

    /// Creates the namespace (with its loopback up and IPv6 off, so that the captures hold only
    /// what a simulated IPv4 host would send).
    init(name: String) throws(RealBackendError) {
        self.name = name
        try Subprocess.run(["ip", "netns", "add", name])
        do {
            try Subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"])
            for key in ["all", "default"] {
                try exec(["busybox", "sysctl", "-q", "-w", "net.ipv6.conf.\(key).disable_ipv6=1"])
            }
        } catch {
            delete()
            throw error
        }
    }

    deinit { delete() }

    /// Removes the namespace (its interfaces go with it). Safe to call twice.
    func delete() {
        guard !deleted else { return }
        deleted = true
        _ = try? Subprocess.run(["ip", "netns", "delete", name])
    }

    /// `command` run inside the namespace (argv for Subprocess).
    func command(_ command: [String]) -> [String] { ["ip", "netns", "exec", name] + command }

    /// Runs `command` inside the namespace to the end.
    @discardableResult
    func exec(_ command: [String]) throws(RealBackendError) -> String {
        try Subprocess.run(self.command(command))
    }

    /// `ip -n <name> args…`.
    @discardableResult
    func ip(_ arguments: [String]) throws(RealBackendError) -> String {
        try Subprocess.run(["ip", "-n", name] + arguments)
    }

    /// Deletes lab namespaces whose creating process no longer exists (a run killed with SIGKILL
    /// cannot clean up after itself). Returns the names removed.
    @discardableResult
    static func removeStale() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/run/netns") else { return [] }
        var removed: [String] = []
        for n in names.sorted() where n.hasPrefix(prefix) {
            let rest = n.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]) else { continue }
            guard pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            if (try? Subprocess.run(["ip", "netns", "delete", n])) != nil { removed.append(n) }
        }
        return removed
    }
}
