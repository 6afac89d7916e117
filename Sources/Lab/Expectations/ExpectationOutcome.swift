// The verdict on one expectation: pass or fail, a message with the measured values, and on a
// failure the frames (capture, number, time) that broke it.
import Basics
import Capture

/// A frame of a capture, as a failure names it: Wireshark's frame number (1-based) and the time
/// since the run started.
public struct FrameReference: Equatable, Sendable, CustomStringConvertible {
    public var capture: String
    /// 0-based position in the capture.
    public var index: Int
    public var time: Instant

    public init(capture: String, index: Int, time: Instant) { self.capture = capture; self.index = index; self.time = time }

    /// The number Wireshark shows for it.
    public var number: Int { index + 1 }

    public var description: String { "frame \(number) at \(Format.time(time))" }
}

/// What the data before run-time said about one expectation.
public struct ExpectationOutcome: Sendable {
    public var name: String
    public var index: Int
    public var location: ScenarioLocation
    public var passed: Bool
    /// What was measured, and on failure why it falls short ("received 12, expected ≥ 15; lost
    /// probes: seq 3 sent at 5.002000s, …").
    public var message: String
    /// The frames that broke the expectation (empty when it passed or frames are not involved).
    public var frames: [FrameReference]

    public init(name: String, index: Int, location: ScenarioLocation, passed: Bool, message: String, frames: [FrameReference] = []) {
        self.name = name; self.index = index; self.location = location; self.passed = passed
        self.message = message; self.frames = frames
    }
}

/// What a run observed: captured frames per capture name and results per `as:` name.
public struct RunObservations: Sendable {
    /// Capture times are measured from here (the run's `Instant.zero` in the simulator).
    public var start: Instant
    /// Frames of each capture, in capture order.
    public var captures: [String: [CaptureRecord]]
    /// Results of the named timeline actions that ran.
    public var results: [String: ActionResult]

    public init(start: Instant = .zero, captures: [String: [CaptureRecord]] = [:], results: [String: ActionResult] = [:]) {
        self.start = start; self.captures = captures; self.results = results
    }
}
