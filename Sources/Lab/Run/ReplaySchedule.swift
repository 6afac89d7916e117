// A `do: replay` entry's frames and when each is due, and how far the replay got. The pcap is
// read the same way on every backend and its frames keep the file's spacing (divided by the
// speed multiplier; loops follow one another, or everything at once at top speed); where the
// frames enter and on which clock they are scheduled is the backend's.
import Basics
import Capture

/// The frames of a replay, in the order they are played, with when each is due.
struct ReplaySchedule {
    let action: ReplayAction
    /// The pcap's frames, once.
    let frames: [CaptureRecord]

    /// Reads `action`'s pcap.
    init(_ action: ReplayAction) throws(CaptureError) {
        self.action = action
        frames = try PcapReader(path: action.path).readAll()
    }

    /// Frames played in all (the file once per loop).
    var total: Int { frames.count * action.loop }

    /// Every frame to play, loop after loop, with its offset from the replay's start.
    var deliveries: [(offset: Duration, record: CaptureRecord)] {
        guard let first = frames.first else { return [] }
        let span = frames.last!.time - first.time
        var out: [(offset: Duration, record: CaptureRecord)] = []
        out.reserveCapacity(total)
        for loop in 0..<action.loop {
            for record in frames {
                let offset: Duration
                switch action.speed {
                case .topSpeed: offset = .zero
                case .multiplier(let x):
                    let ns = Double(((record.time - first.time) + span * loop).nanosecondsClamped) / x
                    offset = .nanoseconds(Int64(ns.rounded()))
                }
                out.append((offset, record))
            }
        }
        return out
    }
}

/// How far a replay got: frames to play, and frames and bytes played so far.
struct ReplayProgress {
    var frames: Int
    var bytes = 0
    var played = 0

    init(frames: Int) { self.frames = frames }

    /// Counts `record` as played; true if it was the last.
    mutating func play(_ record: CaptureRecord) -> Bool {
        bytes += record.bytes.count
        played += 1
        return played == frames
    }

    func result(startedAt: Instant, finishedAt: Instant?) -> ReplayResult {
        ReplayResult(startedAt: startedAt, finishedAt: finishedAt, frames: played, bytes: bytes)
    }
}
