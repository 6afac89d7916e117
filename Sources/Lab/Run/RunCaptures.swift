// The captures of a run, whichever backend taps them: each scenario capture's tap with its pcap
// file sink, opened the same way everywhere, closed by the backend (through the tap) and read
// back at the end for the expectations and the report.
import Basics
import Capture
import Foundation

/// A scenario capture's tap and the pcap it writes.
struct CaptureRuntime {
    let spec: ScenarioCapture
    let tap: CaptureTap
    let path: String

    /// Opens `<directory>/<name>.pcap` (timestamps moved by `epochOffset` nanoseconds) and a tap
    /// writing to it, with the capture's filter; the caller attaches the tap where it belongs.
    init(_ spec: ScenarioCapture, directory: String, epochOffset: UInt64) throws(CaptureError) {
        let path = (directory as NSString).appendingPathComponent("\(spec.name).pcap")
        let filter = try spec.filter.map { f throws(CaptureError) in try BPFFilter(f) }
        self.spec = spec
        self.tap = CaptureTap(name: spec.name, filter: filter, sink: try .file(path: path, epochOffsetNanoseconds: epochOffset))
        self.path = path
    }

    /// What the tap recorded and missed, for the report's counters.
    var counterTable: CounterTable {
        CounterTable(title: "capture \(spec.name)", rows: [.init("recorded", Int(tap.recorded)),
                                                          .init("filtered out", Int(tap.filteredOut)),
                                                          .init("write failures", Int(tap.writeFailures))])
    }
}

/// What a run's captures hold once their pcaps are closed.
struct CapturedFrames {
    /// One per capture, for the report.
    var files: [CaptureFile] = []
    /// Each capture's frames by name, for the expectations.
    var records: [String: [CaptureRecord]] = [:]

    /// Reads back every capture's pcap (an unreadable one counts as empty); `place` says where
    /// each was taken, for the report.
    init(_ captures: [CaptureRuntime], place: (ScenarioCapture) -> String) {
        for c in captures {
            let frames = (try? PcapReader(path: c.path).readAll()) ?? []
            records[c.spec.name] = frames
            files.append(CaptureFile(name: c.spec.name, at: place(c.spec), filter: c.spec.filter, path: c.path, frames: frames.count))
        }
    }
}
