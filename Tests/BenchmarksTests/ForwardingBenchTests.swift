// The forwarding benchmark's harness delivers every frame on every path once warmed up, so the
// rates `sluice bench forward` prints are rates of frames that really arrived.
import Testing
import Benchmarks
import Engine

@Test(arguments: ForwardingBench.Path.allCases, [64, 1500])
func theBenchmarkDeliversEveryFrame(path: ForwardingBench.Path, size: Int) throws {
    let bench = try ForwardingBench(path: path, frameSize: size, batch: 16)
    for _ in 0..<4 { #expect(bench.step() == 16) }
    if path == .wan {
        // The frames crossed both bridges' WANs encrypted: WireGuard counted them on each side.
        let sent = try #require(bench.bridge.wan?.tunnel?.counters.transportSent)
        let received = try #require(bench.farBridge?.wan?.tunnel?.counters.transportReceived)
        #expect(sent >= 64 && received >= 64)
    }
}
