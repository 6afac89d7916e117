// `sluice bench mesh`: iperf3 TCP through two `sluice mesh up` agents, on the direct path and through one relay,
// beside `sluice wg up` ⇄ `sluice wg up` (TunnelBenchmark's pair) in the same run, each MTU measured in turn
// (ratios, not absolute numbers, are the result on a shared machine). Needs root, iperf3, nft and ip.
//
//   ns lan: bridge br0 ── ns a 192.0.2.1 (mesh 10.99.0.1), ns b 192.0.2.2 (10.99.0.2), ns r 192.0.2.3 (10.99.0.3, relay)
//
// The PKI (a root, one certificate per node; r with the relay capability) is made by the binary's own
// `sluice mesh ca`, one registry.json lists the three. The relayed row blocks UDP between a and b with nftables in
// a's namespace, so a → b goes a → r → b (end-to-end session nested in the hop sessions). The underlay's MTU is
// the mesh's + 200 (IPv4 20, UDP 8, end-to-end transport 32, relay envelope 68, hop transport 32, rounded up): the
// relayed packets are never fragmented either.
import Crypto
import Foundation

/// One MTU's results, Gbit/s received by the iperf3 server (best of the rounds).
public struct MeshBenchmarkRow: Sendable {
    public var mtu: Int
    public var wireguardGbps: Double
    public var directGbps: Double
    public var relayedGbps: Double
    public var directRatio: Double? { wireguardGbps > 0 ? directGbps / wireguardGbps : nil }
    public var relayedRatio: Double? { wireguardGbps > 0 ? relayedGbps / wireguardGbps : nil }
}

public enum MeshBenchmark {
    static let tools = ["ip", "iperf3", "nft"]

    /// Why this machine cannot run it (not root, a tool missing), or nil.
    public static func cannotRun() -> String? {
        if getuid() != 0 { return "needs root (network namespaces, TUN devices)" }
        let missing = tools.filter { Subprocess.executable($0) == nil }
        if !missing.isEmpty { return "missing \(missing.joined(separator: ", ")) (apt-get install iperf3 nftables iproute2)" }
        return nil
    }

    /// Measures every MTU: `seconds` of iperf3 per measurement, best of `rounds`. `sluice` is the binary that runs
    /// `mesh up`, `mesh ca` and `wg up`; `progress` hears what is being measured.
    public static func run(mtus: [Int], seconds: Int, rounds: Int, sluice: String,
                           progress: (String) -> Void = { _ in }) throws(TunnelBenchmarkError) -> [MeshBenchmarkRow] {
        if let why = cannotRun() { throw TunnelBenchmarkError(description: why) }
        do {
            return try mtus.map { mtu throws(RealBackendError) in
                progress("MTU \(mtu): sluice wg up ⇄ sluice wg up")
                let wg = try TunnelBenchmark.withPair(.sluice, mtu: mtu, sluice: sluice) { pair throws(RealBackendError) in
                    try TunnelBenchmark.best(rounds) { () throws(RealBackendError) in try pair.iperf3(to: "203.0.113.2", seconds: seconds) }
                }
                let mesh = try MeshTrio(mtu: mtu, sluice: sluice)
                defer { mesh.tearDown() }
                progress("MTU \(mtu): sluice mesh up, a ⇄ b direct")
                let direct = try TunnelBenchmark.best(rounds) { () throws(RealBackendError) in try mesh.iperf3(seconds: seconds) }
                progress("MTU \(mtu): sluice mesh up, a → r → b (direct path blocked)")
                try mesh.blockDirect()
                let relayed = try TunnelBenchmark.best(rounds) { () throws(RealBackendError) in try mesh.iperf3(seconds: seconds) }
                guard try mesh.relayedThroughR() else {
                    throw RealBackendError("a's status does not show b relayed through r: \(mesh.status("a").suffix(800))")
                }
                return MeshBenchmarkRow(mtu: mtu, wireguardGbps: wg, directGbps: direct, relayedGbps: relayed)
            }
        } catch {
            throw TunnelBenchmarkError(description: error.description)
        }
    }
}

/// Three namespaces on a bridge, each running `sluice mesh up`.
final class MeshTrio {
    let lan: NetworkNamespace
    var nodes: [String: NetworkNamespace] = [:]
    let directory: String
    let sluice: String
    var processes: [Subprocess] = []
    static let names = ["a", "b", "r"]
    static let underlay = ["a": "192.0.2.1", "b": "192.0.2.2", "r": "192.0.2.3"]
    static let overlay = ["a": "10.99.0.1", "b": "10.99.0.2", "r": "10.99.0.3"]

    init(mtu: Int, sluice: String) throws(RealBackendError) {
        self.sluice = sluice
        let tag = "\(getpid() % 100000)"
        lan = try NetworkNamespace(name: NetworkNamespace.name(for: "benchlan"))
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-mesh-\(getpid())").path
        do throws(RealBackendError) {
            try? FileManager.default.removeItem(atPath: directory)
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw RealBackendError("cannot create \(directory): \(error)")
            }
            try lan.ip(["link", "add", "br0", "type", "bridge"])
            try lan.ip(["link", "set", "br0", "mtu", "\(mtu + 200)", "up"])
            for n in Self.names {
                let ns = try NetworkNamespace(name: NetworkNamespace.name(for: "bench\(n)"))
                nodes[n] = ns
                let outer = "sbm\(tag)\(n)"
                try Subprocess.run(["ip", "link", "add", outer, "netns", lan.name, "type", "veth", "peer", "name", "eth0", "netns", ns.name])
                try lan.ip(["link", "set", outer, "mtu", "\(mtu + 200)", "master", "br0", "up"])
                try ns.ip(["addr", "add", "\(Self.underlay[n]!)/24", "dev", "eth0"])
                try ns.ip(["link", "set", "eth0", "mtu", "\(mtu + 200)", "up"])
                try ns.ip(["link", "set", "lo", "up"])
            }
            // The PKI and the registry.
            try Subprocess.run([sluice, "mesh", "ca", "init", "--name", "root", "--addresses", "10.99.0.0/16", "--groups", "*",
                                "--capabilities", "relay", "--days", "2", "--out", "\(directory)/root"])
            var entries: [String] = []
            for n in Self.names {
                let key = KeyPair.random()
                try write("\(directory)/\(n).key", key.privateKey.base64 + "\n")
                var sign = [sluice, "mesh", "ca", "sign", "--ca-key", "\(directory)/root/ca.key", "--ca-cert", "\(directory)/root/ca.crt",
                            "--public-key", key.publicKey.base64, "--name", n, "--addresses", "\(Self.overlay[n]!)/24",
                            "--days", "1", "--out", "\(directory)/\(n).crt"]
                if n == "r" { sign += ["--capabilities", "relay"] }
                try Subprocess.run(sign)
                entries.append("""
                { "common_name": "\(n)", "endpoints": [ { "serial_number": 0, "address": "\(Self.underlay[n]!)", "port": 51820 } ],
                  "remarks": { "network": "fd99::\(n == "a" ? 1 : n == "b" ? 2 : 3)/128" },
                  "sluice": { "public_key": "\(key.publicKey.base64)", "addresses": ["\(Self.overlay[n]!)/24"], "relay": \(n == "r") } }
                """)
                try write("\(directory)/\(n).yml", """
                private-key: \(n).key
                certificate: \(n).crt
                roots: root/ca.crt
                registry: registry.json
                listen-port: 51820
                tun: mesh0
                mtu: \(mtu)
                relay: \(n == "r")
                control: \(directory)/\(n).sock
                """)
            }
            try write("\(directory)/registry.json", """
            [ { "organization": "bench",
                "public_key": "DqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=",
                "nodes": [ \(entries.joined(separator: ",\n")) ] } ]
            """)
            for n in Self.names {
                processes.append(try Subprocess(nodes[n]!.command([sluice, "mesh", "up", "\(directory)/\(n).yml"])))
            }
            try waitFor("the three agents' control sockets") {
                Self.names.allSatisfy { FileManager.default.fileExists(atPath: "\(directory)/\($0).sock") }
            }
            // Sessions first (the handshake is not measured): every pair pings.
            for x in Self.names { for y in Self.names where x != y {
                _ = try nodes[x]!.exec(["ping", "-c", "2", "-i", "0.2", "-W", "3", Self.overlay[y]!])
            } }
        } catch {
            tearDown()
            throw error
        }
    }

    /// nftables in a's namespace drops UDP between a and b; waits until a ping goes through (the relay).
    func blockDirect() throws(RealBackendError) {
        let a = nodes["a"]!
        _ = try a.exec(["nft", "add", "table", "inet", "meshblock"])
        _ = try a.exec(["nft", "add", "chain", "inet", "meshblock", "out", "{ type filter hook output priority 0; }"])
        _ = try a.exec(["nft", "add", "chain", "inet", "meshblock", "in", "{ type filter hook input priority 0; }"])
        _ = try a.exec(["nft", "add", "rule", "inet", "meshblock", "out", "ip", "daddr", Self.underlay["b"]!, "udp", "dport", "51820", "drop"])
        _ = try a.exec(["nft", "add", "rule", "inet", "meshblock", "in", "ip", "saddr", Self.underlay["b"]!, "udp", "sport", "51820", "drop"])
        for _ in 0..<30 {
            if (try? a.exec(["ping", "-c", "1", "-W", "1", Self.overlay["b"]!])) != nil, (try? relayedThroughR()) == true { return }
        }
        throw RealBackendError("a → b did not recover through r within 30 s of blocking the direct path")
    }

    func status(_ n: String) -> String {
        (try? nodes[n]!.exec([sluice, "mesh", "status", "--control", "\(directory)/\(n).sock"])) ?? ""
    }

    func relayedThroughR() throws(RealBackendError) -> Bool { status("a").contains("CN=b: relayed via O=bench,CN=r") }

    /// Gbit/s received by an iperf3 server on b's overlay address, from a client in a, over `seconds`.
    func iperf3(seconds: Int) throws(RealBackendError) -> Double {
        try TunnelBenchmark.iperf3(from: nodes["a"]!, to: nodes["b"]!, at: Self.overlay["b"]!, seconds: seconds)
    }

    func tearDown() {
        for p in processes { p.stop() }
        processes.removeAll()
        for ns in nodes.values { ns.delete() }
        lan.delete()
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
