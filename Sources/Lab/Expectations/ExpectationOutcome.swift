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
    /// Each value measured and the bound it was held to, for the reports' failure summary.
    public var checks: [CheckResult]

    public init(name: String, index: Int, location: ScenarioLocation, passed: Bool, message: String, frames: [FrameReference] = [],
                checks: [CheckResult] = []) {
        self.name = name; self.index = index; self.location = location; self.passed = passed
        self.message = message; self.frames = frames; self.checks = checks
    }
}

/// One comparison behind a verdict: a measured value and the bound it had to meet, as text
/// ("rtt.avg", "34.2ms", "≤ 20ms").
public struct CheckResult: Equatable, Sendable {
    /// What was measured ("rtt.avg", "'icmp' frames in lan", "pairs").
    public var subject: String
    public var measured: String
    public var bound: String
    public var passed: Bool
    /// The measured number in its unit's base (nanoseconds, bits per second), when it is one.
    public var value: Double?

    public init(subject: String, measured: String, bound: String, passed: Bool, value: Double? = nil) {
        self.subject = subject; self.measured = measured; self.bound = bound; self.passed = passed; self.value = value
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
    /// Why a named action has no result ("waiting for 'lease1', which did not finish").
    public var notRun: [String: String]

    public init(start: Instant = .zero, captures: [String: [CaptureRecord]] = [:], results: [String: ActionResult] = [:],
                notRun: [String: String] = [:]) {
        self.start = start; self.captures = captures; self.results = results; self.notRun = notRun
    }
}
