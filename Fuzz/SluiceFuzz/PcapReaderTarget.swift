// Fuzz target `pcap-reader` (layer 3, Capture): the input is a whole pcap file (header and
// records), read by `PcapReader` as replay and the report read captures, and every frame it
// yields is taken apart as `wire-frame` does. The file lives in /dev/shm (tmpfs) under this
// process's id, rewritten for each input.
import Basics
import Capture
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum PcapReaderTarget {
    /// At most this many records per input (a fuzzed file can hold many tiny ones).
    static let recordLimit = 4096

    nonisolated(unsafe) static let path: String = {
        let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        return "\(directory)/sluice-fuzz-pcap-\(getpid()).pcap"
    }()

    static func run(_ data: UnsafeRawBufferPointer) {
        guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
        if data.count > 0 { fwrite(data.baseAddress, 1, data.count, file) }
        fclose(file)
        for linkType in [LinkType.ethernet, LinkType.raw] {
            guard let reader = try? PcapReader(path: path, expecting: linkType) else { continue }
            var previous: Instant?
            for _ in 0..<recordLimit {
                guard let more = try? reader.nextFrame({ frame, originalLength, time -> Bool in
                    if linkType == .ethernet { WireFrameTarget.parseFrame(frame) }
                    _ = (originalLength, previous.map { time < $0 })
                    previous = time
                    return true
                }), more else { break }
            }
        }
    }

    /// The repository's real captures (fixtures/pcaps/, read relative to the working directory —
    /// ci/fuzz.sh runs from the repository root).
    static func captureFiles() -> [String] {
        guard let dir = opendir("fixtures/pcaps") else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasSuffix(".pcap") { names.append("fixtures/pcaps/\(name)") }
        }
        return names.sorted()
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n <= 0 { break }
            bytes += chunk.prefix(n)
        }
        return bytes
    }

    static func seeds() -> [[UInt8]] {
        // Whole captures are large; the seeds are each capture's header plus its first few records,
        // and one whole small capture, so the fuzzer starts from real files without slow inputs.
        var out: [[UInt8]] = []
        for file in captureFiles() {
            guard let bytes = readFile(file), bytes.count >= 24 else { continue }
            var end = 24, records = 0
            while end + 16 <= bytes.count, records < 8 {
                let caplen = Int(bytes[end + 8]) | Int(bytes[end + 9]) << 8 | Int(bytes[end + 10]) << 16 | Int(bytes[end + 11]) << 24
                guard caplen <= bytes.count - end - 16 else { break }
                end += 16 + caplen
                records += 1
            }
            out.append(Array(bytes.prefix(end)))
        }
        return out
    }
}

/// Every frame of the repository's captures, as `wire-frame` seeds (flags byte 0).
func pcapFrames() -> [[UInt8]] {
    var out: [[UInt8]] = []
    for file in PcapReaderTarget.captureFiles() {
        guard let reader = try? PcapReader(path: file) else { continue }
        while out.count < 64, let record = try? reader.next() { out.append([0] + record.bytes) }
    }
    return out
}
