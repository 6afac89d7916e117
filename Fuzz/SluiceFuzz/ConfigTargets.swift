// Fuzz targets over configuration text: `bridge-yaml` (layer 4, Engine: bridge.yml → BridgeConfig,
// through YAMLSchema and Yams), `machine-yaml` (layer 4, QEMU: machine.yml → MachineConfig → the
// QEMU command line), `wg-quick` (layer 4, Tunnel: a wg-quick file → TunnelConfiguration) and
// `scenario-yaml` (layer 5, Lab: a scenario file → Scenario, with its inline bridge configurations,
// timeline, impairments, expectations and BPF filters).
// Each must either parse or throw its located error; none may trap or hang.
import Basics
import Crypto
import Engine
import Lab
import QEMU
import Tunnel

enum BridgeConfigTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self)
        if let config = try? BridgeConfig.parse(text, file: "fuzz.yml") {
            _ = config.name
        }
    }

    static func seeds() -> [[UInt8]] {
        var out: [[UInt8]] = []
        if let sample = PcapReaderTarget.readFile("fixtures/configs/oathgate-sample.yml") { out.append(sample) }
        out.append(Array("""
            name: lab
            router:
                ipv4: 10.0.0.1/24
                dhcp:
                    start: 10.0.0.100
                    end: 10.0.0.200
                dns: false
            virtio:
                queues: 2
            """.utf8))
        out.append(Array("name: x\nswitch: {}\n".utf8))
        return out
    }
}

enum MachineConfigTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self)
        // Every named file "exists": the file system is not part of the input.
        guard let config = try? MachineConfig.parse(text, file: "/fuzz/machine.yml", fileExists: { _ in true }) else { return }
        let line = QEMUCommandLine(machine: config)
        precondition(!line.arguments.isEmpty, "a parsed machine gives an empty QEMU command line")
    }

    static func seeds() -> [[UInt8]] {
        ["oathgate-runner.yml", "test-guest-bridged.yml", "test-guest.yml"].compactMap {
            PcapReaderTarget.readFile("fixtures/machines/\($0)")
        }
    }
}

enum TunnelConfigTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self)
        // PrivateKeyFile / PresharedKeyFile read the named file: a fuzzed name could be /dev/zero or a
        // FIFO and hang the run, so inputs naming a key file are skipped (docs/fuzzing.md says so).
        if text.lowercased().contains("file") { return }
        if let config = try? TunnelConfiguration.parse(text, file: "/nonexistent/fuzz/wg0.conf") {
            _ = config.peers.count
        }
    }

    static func seeds() -> [[UInt8]] {
        var g = SeededRandom(seed: 19, component: "fuzz-wg-quick")
        let ours = KeyPair.deterministic(using: &g), theirs = KeyPair.deterministic(using: &g)
        let psk = SecretKey.deterministic(using: &g)
        return [Array("""
            # a comment line
            [Interface]
            PrivateKey = \(ours.privateKey.base64)
            ListenPort = 51820
            Address = 10.7.0.1/24, 10.8.0.1/16   # two addresses
            Address = fd00::1/64
            MTU = 1380
            DNS = 1.1.1.1
            PostUp = iptables -A FORWARD -i %i -j ACCEPT

            [peer]
            publickey = \(theirs.publicKey.base64)
            PresharedKey = \(psk.base64)
            Endpoint = 192.0.2.2:51821
            AllowedIPs = 10.7.0.2/32, 172.16.0.0/12
            AllowedIPs = ::/0
            PersistentKeepalive = 25

            [Sluice]
            RekeyAfterMessages = 100
            RejectAfterMessages = 1000
            HandshakeInterval = 7
            StatusInterval = 3
            TunOffload = on
            UDPOffload = off
            """.utf8)]
    }
}

enum ScenarioTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self)
        // A scenario names files (bridge configs, pcaps to replay) that the parser opens: a fuzzed name
        // could reach /dev/zero or /proc and hang the run, so inputs naming such places are skipped.
        for place in ["dev", "proc", "sys", "fd/"] where text.contains(place) { return }
        if let scenario = try? Scenario.parse(text, file: "/nonexistent/fuzz/scenario.yml") {
            _ = scenario.duration
        }
    }

    static func seeds() -> [[UInt8]] {
        let names = ["dhcp-five-hosts", "impairment-timeline", "routed-ping-subnets", "shaped-links", "tcp-nat-wireguard",
                     "wan-wireguard", "udp-rate-limit", "link-down-recovery", "tcp-jitter-bursty-loss"]
        return names.compactMap { PcapReaderTarget.readFile("scenarios/\($0).yml") }
    }
}
