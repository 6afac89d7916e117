// The captures bridge.yml asks for (`captures:`), opened by the driver: the engine opens no files.
// Every driver that builds a bridge from a config (`sluice bridge`, the lab's sim and netns
// backends) opens them here and adds them to the bridge, and closes them when it shuts down.
import Capture
import Engine

extension Bridge {
    /// Opens a pcap file for each of `config.captures` (a relative name under `directory`; times
    /// moved by `epochOffsetNanoseconds`: the wall-clock time of `Instant.zero` for real runs, 0
    /// for simulations) and adds a tap writing to it to its segment. Returns the taps, for the
    /// driver to close at shutdown. On failure, the files already opened are closed again.
    public func openConfiguredCaptures(directory: String, epochOffsetNanoseconds: UInt64) throws(EngineError) -> [CaptureTap] {
        var taps: [CaptureTap] = []
        for c in config.captures {
            let path = c.file.hasPrefix("/") ? c.file : "\(directory)/\(c.file)"
            do throws(EngineError) {
                let filter: BPFFilter?
                let sink: CaptureSink
                do {
                    filter = try c.filter.map { f throws(CaptureError) in try BPFFilter(f) }
                    sink = try .file(path: path, epochOffsetNanoseconds: epochOffsetNanoseconds)
                } catch { throw EngineError.capture(path: path, "\(error)") }
                let tap = CaptureTap(name: "\(c.segment):\(c.file)", filter: filter, sink: sink)
                taps.append(tap)
                try addTap(tap, segment: c.segment)
            } catch {
                for tap in taps { try? tap.close() }
                throw error
            }
        }
        return taps
    }
}
