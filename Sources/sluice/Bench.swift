import ArgumentParser
import CMallocCounter
import Engine
import Foundation
import Benchmarks
import Lab
import Tunnel

/// `sluice bench`: the performance targets, each measured beside a reference in the same run
/// (ratios are the result on a shared machine; no wall-clock assertions anywhere in the tests).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks, each beside a reference measured in the same run.",
        subcommands: [BenchForward.self, BenchWireGuard.self, BenchTunnel.self, BenchMesh.self, BenchSim.self, BenchLoad.self],
        defaultSubcommand: BenchForward.self)
}

/// `sluice bench forward` (the default): in-process forwarding throughput by frame size and path,
/// each beside a memcpy of the same bytes measured in the same run, with heap allocations per frame.
struct BenchForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Measure in-process forwarding (virtio → switch/router → virtio) against memcpy.",
        discussion: """
        Two in-memory virtio guests on one bridge. Each round, guest A submits a batch of frames, \
        the bridge forwards them and guest B takes them. 'engine' columns time and count only the \
        bridge's own work; 'loop' columns include the simulated guests' work too. The memcpy \
        reference copies the same number of bytes per frame through a ring of buffers.
        """)

    @Option(name: .long, parsing: .upToNextOption, help: "Frame sizes in bytes (Ethernet header included), comma-separated.")
    var sizes: [String] = ["64,1500"]

    @Option(name: .long, help: "Paths: l2 (switch), l3 (router) and/or wan (two bridges over WireGuard), comma-separated.")
    var path: String = "l2,l3"

    @Option(name: .long, help: "Seconds of measurement per row.")
    var seconds: Double = 1.0

    @Option(name: .long, help: "Frames per batch (one notification per batch).")
    var batch: Int = 64

    @Option(name: .long, help: "Also write the table as Markdown to this file.")
    var markdown: String?

    func run() throws {
        let frameSizes = try commaSeparatedIntegers(sizes.joined(separator: ","), in: 60...9000, naming: "frame size")
        let paths = try path.split(separator: ",").map { s -> ForwardingBench.Path in
            guard let p = ForwardingBench.Path(rawValue: String(s)) else { throw ValidationError("unknown path '\(s)'; use l2, l3, wan") }
            return p
        }
        guard (1...256).contains(batch) else { throw ValidationError("--batch must be 1...256 (the guests' queues hold 256)") }
        guard seconds.isFinite, (0.01...3600).contains(seconds) else { throw ValidationError("--seconds must be 0.01...3600") }
        if paths.contains(.wan), let big = frameSizes.first(where: { $0 > 8934 }) {
            throw ValidationError("frame size \(big) is too big for the wan path (the WAN's MTU is 8920: at most 8934 bytes with the Ethernet header)")
        }
        guard sluice_malloc_counter_active() == 1 else { throw ValidationError("allocation counter not linked") }
        #if DEBUG
        print("note: this is a debug build; build with -c release for meaningful numbers")
        #endif
        var rows: [[String]] = []
        let header = ["path", "frame B", "engine Mfps", "engine Gbit/s", "loop Gbit/s", "memcpy Gbit/s",
                      "engine/memcpy", "allocs/frame engine", "allocs/frame loop"]
        print(header.joined(separator: " | "))
        for p in paths {
            for size in frameSizes {
                let r = try measure(path: p, size: size)
                let row = [p.rawValue, "\(size)", fmt(r.engineFPS / 1e6, 3), fmt(r.engineGbps, 2), fmt(r.loopGbps, 2),
                           fmt(r.memcpyGbps, 2), fmt(r.engineGbps / r.memcpyGbps, 3), fmt(r.engineAllocs, 4), fmt(r.loopAllocs, 2)]
                rows.append(row)
                print(row.joined(separator: " | "))
            }
        }
        if let markdown {
            var md = "| " + header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: header.count) + "\n"
            for r in rows { md += "| " + r.joined(separator: " | ") + " |\n" }
            try md.write(toFile: markdown, atomically: true, encoding: .utf8)
        }
    }

    struct Result { var engineFPS, engineGbps, loopGbps, memcpyGbps, engineAllocs, loopAllocs: Double }

    func measure(path: ForwardingBench.Path, size: Int) throws -> Result {
        let bench = try ForwardingBench(path: path, frameSize: size, batch: batch)
        for _ in 0..<200 { guard bench.step() == batch else { throw ValidationError("bench warm-up lost frames on \(path) at \(size) B") } }
        let clock = ContinuousClock()
        var engineTime = Duration.zero
        var engineAllocs: UInt64 = 0
        var frames = 0
        let loopAllocsStart = sluice_malloc_count()
        let start = clock.now
        let budget = Duration.milliseconds(Int64(seconds * 1000))
        while clock.now - start < budget {
            for _ in 0..<16 {
                frames += bench.step { work in
                    let a = sluice_malloc_count()
                    let t = clock.now
                    work()
                    engineTime += clock.now - t
                    engineAllocs += sluice_malloc_count() - a
                }
            }
        }
        let loopTime = clock.now - start
        let loopAllocs = sluice_malloc_count() - loopAllocsStart
        let bits = Double(frames) * Double(size) * 8
        let memcpy = memcpyGbps(size: size, frames: max(frames, 100_000))
        return Result(engineFPS: Double(frames) / engineTime.seconds, engineGbps: bits / engineTime.seconds / 1e9,
                      loopGbps: bits / loopTime.seconds / 1e9, memcpyGbps: memcpy,
                      engineAllocs: Double(engineAllocs) / Double(frames), loopAllocs: Double(loopAllocs) / Double(frames))
    }

    /// memcpy of `size` bytes per frame from a ring of 256 source buffers into a ring of 256
    /// destination buffers (the working set of a 256-entry virtqueue on each side).
    func memcpyGbps(size: Int, frames: Int) -> Double {
        let slots = 256
        let src = UnsafeMutableRawPointer.allocate(byteCount: slots * 2048 + size, alignment: 64)
        let dst = UnsafeMutableRawPointer.allocate(byteCount: slots * 2048 + size, alignment: 64)
        defer { src.deallocate(); dst.deallocate() }
        memset(src, 0x5A, slots * 2048 + size); memset(dst, 0, slots * 2048 + size)
        let stride = max(2048, (size + 63) & ~63)
        let srcBig = size > 2048 ? UnsafeMutableRawPointer.allocate(byteCount: slots * stride, alignment: 64) : src
        let dstBig = size > 2048 ? UnsafeMutableRawPointer.allocate(byteCount: slots * stride, alignment: 64) : dst
        defer { if size > 2048 { srcBig.deallocate(); dstBig.deallocate() } }
        let clock = ContinuousClock()
        let start = clock.now
        var checksum: UInt8 = 0
        for i in 0..<frames {
            let slot = (i % slots) * stride
            memcpy(dstBig + slot, srcBig + slot, size)
            checksum &+= dstBig.load(fromByteOffset: slot + size - 1, as: UInt8.self)
        }
        let elapsed = clock.now - start
        if checksum == 1 { print("") }  // keeps the copies observable
        return Double(frames) * Double(size) * 8 / elapsed.seconds / 1e9
    }

    func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// `sluice bench wireguard`: WireGuard's transport path in process against bare libsodium.
struct BenchWireGuard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wireguard",
        abstract: "Measure WireGuard transport encrypt+decrypt in process against bare libsodium ChaCha20-Poly1305.",
        discussion: """
        Two WireGuard devices with a session: one encrypts a packet in place (allowed-IPs lookup, \
        padding, header, counter, timers, ChaCha20-Poly1305), the other decrypts it in place (index, \
        replay window, tag, allowed-IPs source check). The reference is libsodium's \
        crypto_aead_chacha20poly1305_ietf_encrypt + _decrypt of the same sizes.
        """)

    @Option(name: .long, help: "Packet sizes in bytes, comma-separated.")
    var sizes: String = "64,576,1420,8920"

    @Option(name: .long, help: "Seconds per measurement (each is repeated three times; the best counts).")
    var seconds: Double = 0.5

    func run() throws {
        let list = try commaSeparatedIntegers(sizes, in: 20...65535, naming: "size")
        #if DEBUG
        print("note: this is a debug build; build with -c release for meaningful numbers")
        #endif
        print("| packet B | sluice send+receive Gbit/s | Mpps | libsodium encrypt+decrypt Gbit/s | sluice / libsodium |")
        print("|---|---|---|---|---|")
        for row in TransportBenchmark.run(sizes: list, seconds: seconds) {
            print(String(format: "| %d | %.2f | %.3f | %.2f | %.0f %% |", row.packetSize, row.deviceGbps, row.deviceMpps,
                         row.libsodiumGbps, row.ratio * 100))
        }
    }
}

/// `sluice bench tunnel`: iperf3 through WireGuard between two namespaces, sluice against wireguard-go.
struct BenchTunnel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tunnel",
        abstract: "Measure iperf3 TCP through sluice wg up ⇄ sluice wg up against wireguard-go ⇄ wireguard-go, by MTU.",
        discussion: """
        Two network namespaces joined by a veth; for each MTU, a tunnel of each implementation is \
        built across it and iperf3 runs from side a to side b (and once over the bare veth). \
        Needs root, iperf3, wireguard-go and wireguard-tools.
        """)

    @OptionGroup var options: TunnelBenchOptions

    func run() throws {
        let rows = try options.measure("tunnel", mtus: 576...65000, cannotRun: TunnelBenchmark.cannotRun(), TunnelBenchmark.run)
        var md = "| MTU | veth Gbit/s | wireguard-go ⇄ wireguard-go Gbit/s | sluice ⇄ sluice Gbit/s | sluice / wireguard-go |\n|---|---|---|---|---|\n"
        for r in rows {
            md += String(format: "| %d | %.2f | %.2f | %.2f | %@ |\n", r.mtu, r.vethGbps, r.wireguardGoGbps, r.sluiceGbps,
                         r.ratio.map { String(format: "%.2f×", $0) } ?? "n/a")
        }
        print(md, terminator: "")
        if let markdown = options.markdown { try md.write(toFile: markdown, atomically: true, encoding: .utf8) }
    }
}

/// What `sluice bench tunnel` and `sluice bench mesh` share: MTUs, seconds and rounds of iperf3, a Markdown copy.
struct TunnelBenchOptions: ParsableArguments {
    @Option(name: .long, help: "Tunnel MTUs, comma-separated.")
    var mtus: String = "1420,8920"

    @Option(name: .long, help: "Seconds of iperf3 per measurement.")
    var seconds: Int = 10

    @Option(name: .long, help: "Measurements per row; the best counts.")
    var rounds: Int = 2

    @Option(name: .long, help: "Also write the table as Markdown to this file.")
    var markdown: String?

    /// Checks the options, says why the benchmark cannot run here (exit 2) or failed (exit 1), and runs it.
    func measure<Row>(_ name: String, mtus range: ClosedRange<Int>, cannotRun: String?,
                      _ run: ([Int], Int, Int, String, (String) -> Void) throws -> [Row]) throws -> [Row] {
        let list = try commaSeparatedIntegers(mtus, in: range, naming: "MTU")
        guard (1...600).contains(seconds), (1...10).contains(rounds) else { throw ValidationError("--seconds 1...600, --rounds 1...10") }
        if let why = cannotRun {
            FileHandle.standardError.write(Data("sluice bench \(name): cannot run: \(why)\n".utf8))
            throw ExitCode(2)
        }
        #if DEBUG
        print("note: this is a debug build; build with -c release for meaningful numbers")
        #endif
        do {
            return try run(list, seconds, rounds, CommandLine.selfExecutable) { FileHandle.standardError.write(Data("… \($0)\n".utf8)) }
        } catch {
            FileHandle.standardError.write(Data("sluice bench \(name): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// `sluice bench mesh`: iperf3 through two `sluice mesh up` agents, direct and through one relay, beside
/// `sluice wg up` ⇄ `sluice wg up`, by MTU (Sources/Lab/Bench/MeshBenchmark.swift).
struct BenchMesh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Measure iperf3 TCP through sluice mesh up (direct, and through one relay) against sluice wg up, by MTU.",
        discussion: """
        Three network namespaces (a, b and the relay r) on a bridge run `sluice mesh up` from one PKI and \
        registry.json; iperf3 runs from a to b on the direct path, then with UDP between a and b blocked \
        by nftables (through r). Beside it, two namespaces run `sluice wg up` ⇄ `sluice wg up` (as in \
        `sluice bench tunnel`). Ratios are to sluice WireGuard. Needs root, iperf3, nftables.
        """)

    @OptionGroup var options: TunnelBenchOptions

    func run() throws {
        let rows = try options.measure("mesh", mtus: 576...9000, cannotRun: MeshBenchmark.cannotRun(), MeshBenchmark.run)
        func ratio(_ r: Double?) -> String { r.map { String(format: "%.0f %%", $0 * 100) } ?? "n/a" }
        var md = "| MTU | sluice wg Gbit/s | mesh direct Gbit/s | mesh via relay Gbit/s | direct / wg (≥ 95 %) | relay / wg (≥ 45 %) |\n"
            + "|---|---|---|---|---|---|\n"
        for r in rows {
            md += String(format: "| %d | %.2f | %.2f | %.2f | ", r.mtu, r.wireguardGbps, r.directGbps, r.relayedGbps)
                + "\(ratio(r.directRatio)) | \(ratio(r.relayedRatio)) |\n"
        }
        print(md, terminator: "")
        if let markdown = options.markdown { try md.write(toFile: markdown, atomically: true, encoding: .utf8) }
    }
}

/// "64,1500" → [64, 1500], each in `range`; a validation error names the first bad item.
func commaSeparatedIntegers(_ text: String, in range: ClosedRange<Int>, naming what: String) throws -> [Int] {
    try text.split(separator: ",").map { item in
        guard let v = Int(item), range.contains(v) else {
            throw ValidationError("\(what) '\(item)' must be \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }
}

extension CommandLine {
    /// This program's own path (for running `sluice wg up` as a child).
    static var selfExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}

/// `sluice bench sim`: the simulator at 10, 100 and 1,000 hosts (the generated scale scenario:
/// N hosts on N/100 router bridges, each taking a DHCP lease, pinging its router, then sending a
/// UDP flow to a neighbour), with the growth exponent of wall time against hosts.
struct BenchSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Measure the simulator as topologies grow: events/s, simulated s per wall s, memory per node.",
        discussion: """
        Each size parses the generated scenario, builds it, runs it and evaluates its expectations \
        (one per host: its 5 pings answered). 'wall s' covers all of that, 'events/s' the event \
        loop alone. The growth exponent is the log-log slope of wall time against hosts (1 is \
        linear). Memory per node is the growth of the peak resident set over the size, per host \
        (sizes run in increasing order). --write FILE writes the scenario for the largest size. \
        The TCP row then moves --tcp-megabytes between two simulated hosts through a bridge (CUBIC, \
        10 Gbit/s cables with 1 ms of delay) and reports the simulated TCP goodput per wall second \
        of the event loop (the target is at least 1 Gbit/s on one core, release build).
        """)

    @Option(name: .long, help: "Host counts, comma-separated (1...25000).")
    var hosts: String = "10,100,1000"

    @Option(name: .long, help: "Simulated seconds per run.")
    var duration: Int = 10

    func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    @Option(name: .long, help: "Write the largest size's scenario to this file instead of running.")
    var write: String?

    @Option(name: .long, help: "Also write the table as Markdown to this file.")
    var markdown: String?

    @Option(name: .long, help: "Megabytes of the TCP row's transfer between two simulated hosts (0 skips it; at most 10000).")
    var tcpMegabytes: Int = 500

    func run() throws {
        let sizes = try commaSeparatedIntegers(hosts, in: 1...25_000, naming: "host count").sorted()
        guard (0...10_000).contains(tcpMegabytes) else { throw ValidationError("--tcp-megabytes must be 0...10000") }
        guard (1...3600).contains(duration) else { throw ValidationError("--duration must be 1...3600 (seconds)") }
        if let write {
            try ScaleScenario.text(hosts: sizes.last ?? 1000, duration: duration).write(toFile: write, atomically: true, encoding: .utf8)
            print("wrote \(write)")
            return
        }
        #if DEBUG
        print("note: this is a debug build; build with -c release for meaningful numbers")
        #endif
        let directory = NSTemporaryDirectory() + "sluice-bench-sim-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let header = ["hosts", "bridges", "events", "sim s", "wall s", "events/s", "sim s/wall s", "max RSS +MB", "kB/host", "parse/build/finish s", "passed"]
        print(header.joined(separator: " | "))
        var results: [SimBenchmarkResult] = []
        var rows: [[String]] = []
        for n in sizes {
            let r = try SimBenchmark.run(hosts: n, duration: duration, directory: directory)
            results.append(r)
            let row = ["\(n)", "\((n + 99) / 100)", "\(r.events)", fmt(r.simulatedSeconds, 1), fmt(r.wallSeconds, 3),
                       fmt(r.eventsPerSecond, 0), fmt(r.simulatedPerWallSecond, 2), fmt(Double(r.maxRSSGrowthKB) / 1024, 1),
                       fmt(Double(r.maxRSSGrowthKB) / Double(n), 1),
                       "\(fmt(r.parseSeconds, 2))/\(fmt(r.buildSeconds, 2))/\(fmt(r.finishSeconds, 2))", "\(r.passed)/\(r.expectations)"]
            rows.append(row)
            print(row.joined(separator: " | "))
        }
        let exponent = SimBenchmark.growthExponent(results)
        let line = exponent.map { "growth exponent (log-log slope of wall time vs hosts): \(fmt($0, 2))" } ?? "growth exponent: needs two sizes"
        print(line)
        var tcpLine: String?
        if tcpMegabytes > 0 {
            let t = try SimBenchmark.tcp(bytes: UInt64(tcpMegabytes) * 1_000_000, directory: directory)
            let line = "TCP: \(t.bytesDelivered) bytes between 2 simulated hosts in \(fmt(t.simulatedSeconds, 2)) sim s, "
                + "\(t.events) events in \(fmt(t.runSeconds, 2)) wall s (\(fmt(t.cpuSeconds, 2)) CPU s): "
                + "\(fmt(t.bitsPerWallSecond / 1e9, 2)) Gbit/s of simulated TCP per wall second (target ≥ 1), "
                + "\(fmt(t.bitsPerCPUSecond / 1e9, 2)) per CPU second\(t.completed ? "" : ", NOT COMPLETED")"
            print(line)
            tcpLine = line
        }
        if let markdown {
            var md = "| " + header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: header.count) + "\n"
            for r in rows { md += "| " + r.joined(separator: " | ") + " |\n" }
            md += "\n" + line + "\n"
            if let tcpLine { md += "\n" + tcpLine + "\n" }
            try md.write(toFile: markdown, atomically: true, encoding: .utf8)
        }
    }
}
