// swift-tools-version:6.0
//
// Sluice — a userspace network datapath for virtual machines, and a lab that runs it.
// Layering (docs/architecture.md): each target depends only on targets of a lower layer.
//   0  CShims, CSodium, CPcap, CMallocCounter      C the Swift code cannot call directly (CShims: every glibc call Swift's Glibc module lacks)
//   1  Basics, Wire, Crypto, YAMLSchema             time, randomness, wire formats, libsodium + BLAKE2s, located YAML
//   2  Virtio, Datapath, HostStack, Noise, WireGuard, Streams  sans-IO virtqueue, switch, router, DHCP, hosts, Noise, WireGuard;
//                                                  the streams gateway's SOCKS5/HTTP CONNECT/ClientHello parsers and rules
//   3  Capture, Sim, HostIO, VhostUser, Mesh        pcap/BPF; simulator kernel; epoll, sockets, batched UDP, TUN/TAP, signalfd; vhost-user;
//                                                  the mesh's certificates and handshake (sans-IO, over Noise and WireGuard)
//   4  Engine; QEMU; Tunnel                         bridge from bridge.yml (port impairments: Sim's link model); QEMU runner; WireGuard on TUN
//   5  BridgeDaemon                                 the real driver: epoll, vhost-user, TAP around a Bridge
//   6  Lab; Benchmarks                              scenarios on sim, netns (HostIO TAPs) and qemu (BridgeDaemon + QEMU);
//                                                  the `sluice bench` harnesses, outside the production modules
//   7  sluice                                       the command-line tool
// Each target's `dependencies:` are exactly the modules its sources import (ci/check-imports.sh).
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        // Layer 0 — C.
        .target(name: "CShims", path: "Sources/CShims"),
        .systemLibrary(
            name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(
            name: "CPcap", path: "Sources/CPcap", pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]),
        .target(name: "CMallocCounter", path: "Sources/CMallocCounter"),

        // Layer 1 — values, no I/O.
        .target(name: "Basics"),
        .target(name: "Wire"),
        .target(name: "Crypto", dependencies: ["CSodium"]),
        .target(name: "YAMLSchema", dependencies: [.product(name: "Yams", package: "Yams")]),

        // Layer 2 — sans-IO state machines.
        .target(name: "Virtio"),
        .target(name: "Datapath", dependencies: ["Basics", "Wire"]),

        .target(name: "HostStack", dependencies: ["Basics", "Wire"]),
        .target(name: "Noise", dependencies: ["Crypto"]),
        .target(name: "WireGuard", dependencies: ["Basics", "Wire", "Crypto"]),
        .target(name: "Streams", dependencies: ["Wire", "YAMLSchema"]),

        // Layer 3 — system libraries.
        .target(name: "Capture", dependencies: ["Basics", "CPcap"]),
        .target(name: "HostIO", dependencies: ["Basics", "Wire", "CShims"]),
        .target(name: "VhostUser", dependencies: ["Basics", "Virtio", "HostIO"]),

        .target(name: "Sim", dependencies: ["Basics", "Wire", "Virtio", "HostStack"]),
        .target(name: "Mesh", dependencies: ["Basics", "Wire", "Crypto", "Noise", "WireGuard"]),

        // Layer 4 — composition.
        .target(
            name: "Engine",
            dependencies: ["Basics", "Wire", "Virtio", "Datapath", "Capture", "YAMLSchema", "WireGuard", "Crypto", "Sim"]),

        .target(
            name: "Lab",  // layer 6 (above BridgeDaemon), declared here with the other composition targets
            dependencies: ["Basics", "Wire", "Virtio", "Datapath", "HostStack", "Sim", "Engine", "Capture", "YAMLSchema",
                           "HostIO", "BridgeDaemon", "QEMU", "Crypto", "Mesh", .product(name: "Yams", package: "Yams")]),

        .target(
            name: "Benchmarks",  // layer 6, beside Lab: the `sluice bench` harnesses
            dependencies: ["Basics", "Wire", "Crypto", "Virtio", "Datapath", "Engine", "WireGuard", "HostIO", "CSodium"]),

        .target(name: "QEMU", dependencies: ["YAMLSchema", "HostIO"]),
        .target(name: "Tunnel", dependencies: ["Basics", "Wire", "Crypto", "WireGuard", "HostIO", "Mesh"]),

        // Layer 5 — the real driver of a bridge.
        .target(
            name: "BridgeDaemon",
            dependencies: ["Basics", "Wire", "Virtio", "Datapath", "Engine", "VhostUser", "HostIO", "Capture", "Tunnel", "WireGuard",
                           .product(name: "Logging", package: "swift-log")]),

        // Layer 7 — the tool.
        .executableTarget(
            name: "sluice",
            dependencies: [
                "Basics", "Capture", "YAMLSchema", "Engine", "BridgeDaemon", "Lab", "Benchmarks", "QEMU", "Tunnel", "CMallocCounter", "Mesh", "Crypto", "Wire",
                "HostIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "BasicsTests", dependencies: ["Basics"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "StreamsTests", dependencies: ["Streams", "Wire", "YAMLSchema"]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "NoiseTests", dependencies: ["Noise", "Crypto"]),
        .testTarget(name: "MeshTests", dependencies: ["Mesh", "WireGuard", "Noise", "Crypto", "Wire", "Basics"]),
        .testTarget(name: "WireGuardTests", dependencies: ["WireGuard", "Noise", "Crypto", "Wire", "Basics"]),
        .testTarget(name: "HostIOTests", dependencies: ["HostIO", "CShims", "Basics", "Wire"]),
        .testTarget(name: "VhostUserTests", dependencies: ["VhostUser", "HostIO", "Virtio", "CShims", "Basics"]),
        .testTarget(name: "YAMLSchemaTests", dependencies: ["YAMLSchema"]),
        .testTarget(name: "VirtioTests", dependencies: ["Virtio", "Basics"]),
        .testTarget(name: "DatapathTests", dependencies: ["Datapath", "Wire", "Basics", "CShims"]),
        .testTarget(name: "HostStackTests", dependencies: ["HostStack", "Wire", "Basics"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "Basics"]),
        .testTarget(name: "SimTests", dependencies: ["Sim", "HostStack", "Virtio", "Wire", "Basics"]),
        .testTarget(name: "LabTests", dependencies: ["Lab", "Engine", "HostStack", "QEMU", "Capture", "YAMLSchema", "Wire", "Basics", "HostIO"]),
        // Runs the `sluice` executable (built with the tests) in network namespaces; imports no bridge module.
        .testTarget(name: "BridgeDaemonTests", dependencies: ["QEMU", "BridgeDaemon", "Datapath", "Basics", "Wire"]),
        .testTarget(name: "TunnelTests", dependencies: ["Tunnel", "WireGuard", "Crypto", "HostIO", "Basics", "Wire", "Mesh"]),
        .testTarget(name: "QEMUTests", dependencies: ["QEMU", "YAMLSchema"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "Engine"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "HostStack", "Datapath", "Virtio", "Wire", "Capture", "Basics", "Crypto", "YAMLSchema", "WireGuard", "Sim"]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CSodium", "CPcap"]),
    ],
    swiftLanguageModes: [.v6]
)

// The fuzz harness (docs/fuzzing.md): one libFuzzer executable whose target is named by
// SLUICE_FUZZ_TARGET. Declared only when SLUICE_FUZZ=1, which ci/fuzz.sh sets for its own build
// folder (.build-fuzz, built with `--sanitize fuzzer --sanitize address`): the normal build and
// tests never see it, and it has no `main` of its own (libFuzzer supplies one).
if Context.environment["SLUICE_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "SluiceFuzz",
            dependencies: ["Basics", "Wire", "Crypto", "WireGuard", "Datapath", "Virtio", "VhostUser", "HostIO", "CShims", "Capture", "Engine", "QEMU", "Tunnel", "Lab", "Mesh", "Noise", "Streams"],
            path: "Fuzz/SluiceFuzz"))
}
