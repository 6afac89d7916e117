// Fuzz harness (outside the layers: a test tool over layers 1–4). libFuzzer's entry points: the
// target named by SLUICE_FUZZ_TARGET gets every input. With SLUICE_FUZZ_WRITE_SEEDS=<dir> the
// binary instead writes that target's seed inputs (valid messages made by the real encoders) into
// <dir> and exits — ci/fuzz.sh `seed` uses it to fill fixtures/fuzz/<target>/. docs/fuzzing.md.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One fuzz target: what it feeds the input to, and the valid inputs it starts from.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let run: @Sendable (UnsafeRawBufferPointer) -> Void
    let seeds: @Sendable () -> [[UInt8]]
}

let fuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "wire-frame", summary: "an Ethernet frame through Ethernet/VLAN, ARP, IPv4, ICMP, UDP, TCP (+options), DHCPv4",
               run: WireFrameTarget.run, seeds: WireFrameTarget.seeds),
    FuzzTarget(name: "checksum-incremental", summary: "differential: RFC 1624 incremental checksum update vs recomputation",
               run: ChecksumTarget.run, seeds: ChecksumTarget.seeds),
    FuzzTarget(name: "nat-rewrite", summary: "differential: NAT rewrites (incremental checksums) vs Wire's full checksum verification",
               run: NATTarget.run, seeds: NATTarget.seeds),
    FuzzTarget(name: "wireguard-receive", summary: "datagrams into a WireGuard device with one peer (fixed keys), optionally after a handshake",
               run: WireGuardReceiveTarget.run, seeds: WireGuardReceiveTarget.seeds),
    FuzzTarget(name: "virtio-queue", summary: "virtio-net transmit and receive over guest memory the input fills (rings, descriptors, headers)",
               run: VirtioQueueTarget.run, seeds: VirtioQueueTarget.seeds),
    FuzzTarget(name: "vhost-user", summary: "a vhost-user message stream (fds stubbed) through the reader and the connection state machine",
               run: VhostUserTarget.run, seeds: VhostUserTarget.seeds),
    FuzzTarget(name: "pcap-reader", summary: "a pcap file through the capture reader",
               run: PcapReaderTarget.run, seeds: PcapReaderTarget.seeds),
    FuzzTarget(name: "bridge-yaml", summary: "bridge.yml text through the bridge configuration parser",
               run: BridgeConfigTarget.run, seeds: BridgeConfigTarget.seeds),
    FuzzTarget(name: "machine-yaml", summary: "machine.yml text through the machine parser and the QEMU command line built from it",
               run: MachineConfigTarget.run, seeds: MachineConfigTarget.seeds),
    FuzzTarget(name: "wg-quick", summary: "wg-quick configuration text through the tunnel configuration parser",
               run: TunnelConfigTarget.run, seeds: TunnelConfigTarget.seeds),
    FuzzTarget(name: "scenario-yaml", summary: "scenario text through the scenario parser and its checks (files it names are skipped)",
               run: ScenarioTarget.run, seeds: ScenarioTarget.seeds),
    FuzzTarget(name: "bridge-frames", summary: "frames on four ports and datagrams on a UDP WAN into a whole bridge (switch, router, DHCP, NAT)",
               run: BridgeFramesTarget.run, seeds: BridgeFramesTarget.seeds),
    FuzzTarget(name: "mesh-certificate", summary: "mesh certificates, revocation lists and armoured files, then the chain check",
               run: MeshCertificateTarget.run, seeds: MeshCertificateTarget.seeds),
    FuzzTarget(name: "mesh-handshake", summary: "datagrams into a mesh node's handshaker (initiation, response, cookie, transport)",
               run: MeshHandshakeTarget.run, seeds: MeshHandshakeTarget.seeds),
    FuzzTarget(name: "noise-wireguard", summary: "differential: generic Noise IKpsk2 vs WireGuard's handshake on the same (flipped) message 1",
               run: NoiseWireGuardTarget.run, seeds: NoiseWireGuardTarget.seeds),
    FuzzTarget(name: "babel-router", summary: "Babel packets from three neighbours into the mesh's routing (BabelRouter), with its timers",
               run: BabelRouterTarget.run, seeds: BabelRouterTarget.seeds),
    FuzzTarget(name: "mesh-registry", summary: "aronet's registry.json (both dialects) through MeshRegistry's JSON reader and checks",
               run: MeshRegistryTarget.run, seeds: MeshRegistryTarget.seeds),
    FuzzTarget(name: "ipv6-frame", summary: "an Ethernet frame through IPv6, its extension headers, ICMPv6, NDP (+options), UDP/TCP over IPv6, DHCPv6",
               run: IPv6FrameTarget.run, seeds: IPv6FrameTarget.seeds),
    FuzzTarget(name: "dhcpv6", summary: "a DHCPv6 message (client/server or relay) with every typed option accessor; parsed messages re-encode byte for byte",
               run: DHCPv6Target.run, seeds: DHCPv6Target.seeds),
    FuzzTarget(name: "wg-uapi", summary: "a set=1 transaction of WireGuard's configuration protocol (wg set, syncconf) parsed, checked, applied",
               run: WireGuardUAPITarget.run, seeds: WireGuardUAPITarget.seeds),
    FuzzTarget(name: "socks5-server", summary: "a client's segments into the SOCKS5 server machine (RFC 1928/1929); the input as a UDP request header too",
               run: SOCKS5ServerTarget.run, seeds: SOCKS5ServerTarget.seeds),
    FuzzTarget(name: "http-connect", summary: "a client's segments into the HTTP CONNECT server machine (head, Proxy-Authorization Basic)",
               run: HTTPConnectTarget.run, seeds: HTTPConnectTarget.seeds),
    FuzzTarget(name: "tls-client-hello", summary: "segments into the TLS ClientHello peeker (records reassembled, SNI and ALPN extracted)",
               run: TLSClientHelloTarget.run, seeds: TLSClientHelloTarget.seeds),
    FuzzTarget(name: "gate-yaml", summary: "gate.yml text through the streams gateway's rule parser, then one route",
               run: GateYAMLTarget.run, seeds: GateYAMLTarget.seeds),
]

nonisolated(unsafe) private var selectedTarget: FuzzTarget?

private func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

private func fail(_ message: String) -> Never {
    let line = "sluice-fuzz: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let names = fuzzTargets.map(\.name).joined(separator: ", ")
    guard let name = environment("SLUICE_FUZZ_TARGET") else { fail("set SLUICE_FUZZ_TARGET to one of: \(names)") }
    if name == "list" {
        for t in fuzzTargets { print("\(t.name)\t\(t.summary)") }
        exit(0)
    }
    guard let target = fuzzTargets.first(where: { $0.name == name }) else {
        fail("no target '\(name)'; the targets are: \(names)")
    }
    selectedTarget = target
    if let directory = environment("SLUICE_FUZZ_WRITE_SEEDS") {
        let seeds = target.seeds()
        for (i, seed) in seeds.enumerated() {
            let path = "\(directory)/seed-\(String(i + 1).leftPadded(to: 3))"
            guard let file = fopen(path, "wb") else { fail("cannot write \(path)") }
            _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
        }
        print("sluice-fuzz: wrote \(seeds.count) seeds for \(name) into \(directory)")
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let target = selectedTarget else { fail("LLVMFuzzerInitialize did not run") }
    target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
