import ArgumentParser
import CMallocCounter
import Engine
import Foundation

/// `sluice bench`: in-process forwarding throughput by frame size and path, each beside a memcpy
/// of the same bytes measured in the same run, with heap allocations per frame.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure in-process forwarding (virtio → switch/router → virtio) against memcpy.",
        discussion: """
        Two in-memory virtio guests on one bridge. Each round, guest A submits a batch of frames,
        the bridge forwards them and guest B takes them. 'engine' columns time and count only the
        bridge's own work; 'loop' columns include the simulated guests' work too. The memcpy
        reference copies the same number of bytes per frame through a ring of buffers.
        """)

    @Option(name: .long, parsing: .upToNextOption, help: "Frame sizes in bytes (Ethernet header included), comma-separated.")
    var sizes: [String] = ["64,1500"]

    @Option(name: .long, help: "Paths: l2 (switch) and/or l3 (router), comma-separated.")
    var path: String = "l2,l3"

    @Option(name: .long, help: "Seconds of measurement per row.")
    var seconds: Double = 1.0

    @Option(name: .long, help: "Frames per batch (one notification per batch).")
    var batch: Int = 64

    @Option(name: .long, help: "Also write the table as Markdown to this file.")
    var markdown: String?

    func run() throws {
        let frameSizes = try sizes.flatMap { $0.split(separator: ",") }.map { s -> Int in
            guard let v = Int(s), (60...9000).contains(v) else { throw ValidationError("frame size '\(s)' must be 60...9000") }
            return v
        }
        let paths = try path.split(separator: ",").map { s -> ForwardingBench.Path in
            guard let p = ForwardingBench.Path(rawValue: String(s)) else { throw ValidationError("unknown path '\(s)'; use l2, l3") }
            return p
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
