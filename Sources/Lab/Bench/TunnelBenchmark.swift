// `sluice bench tunnel`: iperf3 TCP through a WireGuard tunnel between two network namespaces,
// sluice ⇄ sluice (`sluice wg up` on both ends) beside wireguard-go ⇄ wireguard-go and the bare
// veth underneath, each MTU measured in the same run (ratios, not absolute numbers, are the result
// on a shared machine). Needs root, iperf3, wireguard-go and wg (wireguard-tools).
//
//   ns a: veth 192.0.2.1/24, tunnel 203.0.113.1/24, UDP 51820 ═ veth ═ ns b: 192.0.2.2/24, 203.0.113.2/24, UDP 51821
//
// The veth's MTU is the tunnel's + 80 (IPv4 20 + UDP 8 + WireGuard 32, rounded up), so the
// tunnel's packets are never fragmented.
import Crypto
import Foundation

/// One MTU's results, Gbit/s received by the iperf3 server (best of the rounds).
public struct TunnelBenchmarkRow: Sendable {
    public var mtu: Int
    public var vethGbps: Double
    public var wireguardGoGbps: Double
    public var sluiceGbps: Double
    /// sluice / wireguard-go (nil when wireguard-go moved nothing).
    public var ratio: Double? { wireguardGoGbps > 0 ? sluiceGbps / wireguardGoGbps : nil }
}

/// Why the benchmark could not run.
public struct TunnelBenchmarkError: Error, CustomStringConvertible {
    public var description: String
}

public enum TunnelBenchmark {
    /// Which WireGuard runs at both ends.
    enum Implementation: String { case sluice, wireguardGo = "wireguard-go" }

    static let tools = ["ip", "iperf3", "wireguard-go", "wg"]

    /// Why this machine cannot run it (not root, a tool missing), or nil.
    public static func cannotRun() -> String? {
        if getuid() != 0 { return "needs root (network namespaces, TUN devices)" }
        let missing = tools.filter { Subprocess.executable($0) == nil }
        if !missing.isEmpty { return "missing \(missing.joined(separator: ", ")) (apt-get install iperf3 wireguard-go wireguard-tools)" }
        return nil
    }

    /// Measures every MTU: `seconds` of iperf3 per measurement, best of `rounds`. `sluice` is the
    /// binary that runs `wg up`; `progress` hears what is being measured.
    public static func run(mtus: [Int], seconds: Int, rounds: Int, sluice: String,
                           progress: (String) -> Void = { _ in }) throws(TunnelBenchmarkError) -> [TunnelBenchmarkRow] {
        if let why = cannotRun() { throw TunnelBenchmarkError(description: why) }
        do {
            return try mtus.map { mtu throws(RealBackendError) in
                progress("MTU \(mtu): wireguard-go ⇄ wireguard-go (and the bare veth)")
                let (veth, wireguardGo) = try withPair(.wireguardGo, mtu: mtu, sluice: sluice) { pair throws(RealBackendError) in
                    (try best(rounds) { () throws(RealBackendError) in try pair.iperf3(to: "192.0.2.2", seconds: seconds) },
                     try best(rounds) { () throws(RealBackendError) in try pair.iperf3(to: "203.0.113.2", seconds: seconds) })
                }
                progress("MTU \(mtu): sluice ⇄ sluice")
                let ours = try withPair(.sluice, mtu: mtu, sluice: sluice) { pair throws(RealBackendError) in
                    try best(rounds) { () throws(RealBackendError) in try pair.iperf3(to: "203.0.113.2", seconds: seconds) }
                }
                return TunnelBenchmarkRow(mtu: mtu, vethGbps: veth, wireguardGoGbps: wireguardGo, sluiceGbps: ours)
            }
        } catch {
            throw TunnelBenchmarkError(description: error.description)
        }
    }

    static func best(_ rounds: Int, _ measure: () throws(RealBackendError) -> Double) throws(RealBackendError) -> Double {
        var best = 0.0
        for _ in 0..<max(1, rounds) { best = max(best, try measure()) }
        return best
    }

    /// Builds the two namespaces with `kind` at both ends, runs `body`, and tears everything down.
    static func withPair<T>(_ kind: Implementation, mtu: Int, sluice: String,
                            _ body: (TunnelPair) throws(RealBackendError) -> T) throws(RealBackendError) -> T {
        let pair = try TunnelPair(kind, mtu: mtu, sluice: sluice)
        defer { pair.tearDown() }
        return try body(pair)
    }
}

/// Two namespaces joined by a veth, a WireGuard tunnel across it, and the processes that run it.
final class TunnelPair {
    let a: NetworkNamespace, b: NetworkNamespace
    let directory: String
    var processes: [Subprocess] = []

    static let underlay = ["192.0.2.1", "192.0.2.2"]
    static let tunnel = ["203.0.113.1", "203.0.113.2"]
    static let ports = [51820, 51821]

    init(_ kind: TunnelBenchmark.Implementation, mtu: Int, sluice: String) throws(RealBackendError) {
        let tag = "\(getpid() % 100000)"
        a = try NetworkNamespace(name: NetworkNamespace.name(for: "bencha"))
        b = try NetworkNamespace(name: NetworkNamespace.name(for: "benchb"))
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-tunnel-\(getpid())").path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RealBackendError("cannot create \(directory): \(error)")
        }
        do {
            let veth = ["sbv\(tag)a", "sbv\(tag)b"]
            try Subprocess.run(["ip", "link", "add", veth[0], "netns", a.name, "type", "veth", "peer", "name", veth[1], "netns", b.name])
            for (i, ns) in [a, b].enumerated() {
                try ns.ip(["addr", "add", "\(Self.underlay[i])/24", "dev", veth[i]])
                try ns.ip(["link", "set", veth[i], "mtu", "\(mtu + 80)", "up"])
            }
            let keys = [KeyPair.random(), KeyPair.random()]
            for (i, ns) in [a, b].enumerated() {
                let other = 1 - i
                let interface = "sbw\(tag)\(i == 0 ? "a" : "b")"
                let peer = (publicKey: keys[other].publicKey.base64, endpoint: "\(Self.underlay[other]):\(Self.ports[other])",
                            allowedIPs: "\(Self.tunnel[other])/32")
                switch kind {
                case .sluice:
                    let file = "\(directory)/\(interface).conf"
                    try write(file, """
                    [Interface]
                    PrivateKey = \(keys[i].privateKey.base64)
                    ListenPort = \(Self.ports[i])
                    Address = \(Self.tunnel[i])/24
                    MTU = \(mtu)

                    [Peer]
                    PublicKey = \(peer.publicKey)
                    Endpoint = \(peer.endpoint)
                    AllowedIPs = \(peer.allowedIPs)
                    """)
                    processes.append(try Subprocess(ns.command([sluice, "wg", "up", file, "--name", interface])))
                    try waitFor("\(interface) in \(ns.name)") { (try? ns.ip(["link", "show", interface]))?.contains("UP") == true }
                case .wireguardGo:
                    processes.append(try Subprocess(ns.command(["env", "WG_PROCESS_FOREGROUND=1", "wireguard-go", "-f", interface])))
                    try waitFor("wireguard-go's socket for \(interface)") {
                        FileManager.default.fileExists(atPath: "/var/run/wireguard/\(interface).sock")
                    }
                    let file = "\(directory)/\(interface).conf"
                    try write(file, """
                    [Interface]
                    PrivateKey = \(keys[i].privateKey.base64)
                    ListenPort = \(Self.ports[i])

                    [Peer]
                    PublicKey = \(peer.publicKey)
                    Endpoint = \(peer.endpoint)
                    AllowedIPs = \(peer.allowedIPs)
                    """)
                    try ns.exec(["wg", "setconf", interface, file])
                    try ns.ip(["addr", "add", "\(Self.tunnel[i])/24", "dev", interface])
                    try ns.ip(["link", "set", interface, "mtu", "\(mtu)", "up"])
                }
            }
            // The first packet makes the handshake; the measurement should not.
            try a.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", Self.tunnel[1]])
        } catch {
            tearDown()
            throw error
        }
    }

    /// Gbit/s received by an iperf3 server at `target` in b, from a client in a, over `seconds`.
    func iperf3(to target: String, seconds: Int) throws(RealBackendError) -> Double {
        try TunnelBenchmark.iperf3(from: a, to: b, at: target, seconds: seconds)
    }

    func tearDown() {
        for p in processes { p.stop() }
        processes.removeAll()
        a.delete(); b.delete()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func write(_ path: String, _ text: String) throws(RealBackendError) {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw RealBackendError("cannot write \(path): \(error)")
        }
    }

    private func waitFor(_ what: String, _ ready: () -> Bool) throws(RealBackendError) {
        for _ in 0..<100 {
            if ready() { return }
            for p in processes where p.poll() {
                throw RealBackendError("\(p.command.joined(separator: " ")) exited (\(p.exitCode ?? -1)): \(p.output.suffix(500))")
            }
            usleep(100_000)
        }
        throw RealBackendError("\(what) did not come up within 10 s")
    }
}

extension TunnelBenchmark {
    /// Gbit/s received by an iperf3 server at `target` in `server`'s namespace, from a client in `client`'s, over
    /// `seconds` (the client retries while the server starts listening). `sluice bench tunnel` and `sluice bench mesh`.
    static func iperf3(from client: NetworkNamespace, to server: NetworkNamespace, at target: String,
                       seconds: Int) throws(RealBackendError) -> Double {
        let listener = try Subprocess(server.command(["iperf3", "-s", "-1", "-B", target]))
        defer { listener.stop() }
        var output = ""
        for _ in 0..<25 {   // until the server listens
            usleep(200_000)
            let run = try Subprocess(client.command(["iperf3", "-c", target, "-t", "\(seconds)", "-J"]))
            guard run.wait(timeout: .seconds(Int64(seconds) + 30)) else {
                run.stop(SIGKILL)
                throw RealBackendError("iperf3 to \(target) did not finish")
            }
            output = run.output
            if run.exitCode == 0 { break }
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
              let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
              let bps = received["bits_per_second"] as? Double else {
            throw RealBackendError("iperf3 to \(target) printed no result: \(output.suffix(500))")
        }
        return bps / 1e9
    }
}
