// Room: Benchmarks — layer 6, beside Lab and just below the CLI. The in-process benchmark harnesses
// behind `sluice bench`, kept out of the production modules (Engine, Tunnel) they measure:
//   ForwardingBench      `sluice bench forward`: two in-memory virtio guests on one Bridge (Engine's public API)
//   TransportBenchmark   `sluice bench wireguard`: WireGuardDevice's transport path beside bare libsodium
// The harnesses do the work; the CLI owns the output. (`sluice bench tunnel`, which runs real
// processes in network namespaces, lives in Lab/Bench beside the lab's namespace machinery.)
