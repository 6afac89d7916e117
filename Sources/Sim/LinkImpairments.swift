// What one direction of a link does to the frames it carries (docs/scenarios.md, Impairments:
// per direction and seeded — delay, jitter, loss, duplicate, reorder, corrupt, rate, MTU).
//
// The knobs follow Linux netem/tbf where they overlap, with two deliberate differences:
// - Jitter never reorders. A frame's delivery time is clamped to no earlier than the previous
//   frame's on the same direction; only frames picked by `reorder` overtake or are overtaken.
//   So `LinkCounters.reordered` is exactly the number of frames sent out of turn.
// - Normal jitter is the Irwin–Hall sum of 12 uniforms (mean 0, σ 1, tails cut at ±6σ), not
//   Box–Muller: no libm calls, so the same seed gives bit-identical times on every platform.

/// The impairments of one direction of a link. The default is a perfect cable: no delay, no loss,
/// unlimited rate, no MTU check.
public struct LinkImpairments: Equatable, Sendable {
    /// Fixed one-way propagation delay.
    public var delay: Duration = .zero
    /// Random variation added to `delay` per frame (the result is never below zero).
    public var jitter: Jitter = .none
    /// Which frames are lost on the wire.
    public var loss: LossModel = .none
    /// Probability that a frame is delivered twice (the copy right after the original).
    public var duplicate: Double = 0
    /// Probability that a frame is sent out of turn: exempt from FIFO order, its delay changed by
    /// `reorderDelay`, so frames sent after it within that time arrive first (or, when negative,
    /// it arrives before frames sent earlier).
    public var reorder: Double = 0
    /// Extra delay of a reordered frame. Negative values speed it up, never to before it was
    /// sent: `-delay` gives netem's `reorder` (the chosen frames skip the delay and overtake).
    public var reorderDelay: Duration = .milliseconds(10)
    /// Probability that one random bit of a frame is flipped.
    public var corrupt: Double = 0
    /// Spare the 14-byte Ethernet header from corruption (the default), so a corrupted frame still
    /// reaches its destination and is caught there by a checksum. Frames of 14 bytes or fewer are
    /// corrupted anywhere.
    public var corruptionSparesEthernetHeader = true
    /// A rate limit with its queue; nil is unlimited.
    public var rate: RateLimit? = nil
    /// Largest payload (IP MTU): frames longer than `mtu + 14` bytes are dropped. nil: no limit.
    public var mtu: Int? = nil

    /// A perfect direction.
    public init() {}

    /// A direction with the given impairments.
    public init(delay: Duration = .zero, jitter: Jitter = .none, loss: LossModel = .none,
                duplicate: Double = 0, reorder: Double = 0, reorderDelay: Duration = .milliseconds(10),
                corrupt: Double = 0, rate: RateLimit? = nil, mtu: Int? = nil) {
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
        self.duplicate = duplicate
        self.reorder = reorder
        self.reorderDelay = reorderDelay
        self.corrupt = corrupt
        self.rate = rate
        self.mtu = mtu
    }

    /// Bytes of the Ethernet header the MTU check adds to `mtu` (untagged frames, no FCS).
    public static let ethernetHeaderLength = 14
}

/// How delivery times vary around the link delay.
public enum Jitter: Equatable, Sendable {
    /// Every frame takes exactly `delay`.
    case none
    /// Uniform in `delay - d … delay + d` (netem's `delay D d`).
    case uniform(Duration)
    /// Normal around `delay` with this standard deviation, tails cut at ±6σ (Irwin–Hall, n = 12).
    case normal(standardDeviation: Duration)
}

/// Which frames a direction loses.
public enum LossModel: Equatable, Sendable {
    /// None.
    case none
    /// Each frame independently with probability `p`.
    case random(Double)
    /// The Gilbert–Elliott two-state channel: before each frame the channel moves good→bad with
    /// probability `goodToBad` and bad→good with `badToGood`, then loses the frame with
    /// `lossInGood` or `lossInBad`. Mean loss is πG·lossInGood + πB·lossInBad with
    /// πB = goodToBad / (goodToBad + badToGood); bursts last 1/badToGood frames on average.
    case gilbertElliott(goodToBad: Double, badToGood: Double, lossInGood: Double, lossInBad: Double)

    /// The long-run fraction of frames lost.
    public var meanLoss: Double {
        switch self {
        case .none: return 0
        case .random(let p): return p
        case .gilbertElliott(let p, let r, let lossInGood, let lossInBad):
            guard p + r > 0 else { return lossInGood }
            let bad = p / (p + r)
            return (1 - bad) * lossInGood + bad * lossInBad
        }
    }
}

/// A token bucket in front of the wire, with a bounded FIFO queue.
///
/// Tokens (bytes) accrue at `bitsPerSecond / 8` per second up to the bucket depth: `burst`, but
/// never less than the frame at hand (so with `burst` 0, back-to-back frames leave spaced exactly
/// `size × 8 / bitsPerSecond` apart and an idle link sends the first at once). A frame that must
/// wait joins the queue; when the queue is at `queueLimit` it is dropped (tail drop).
public struct RateLimit: Equatable, Sendable {
    /// The rate, bits per second (> 0).
    public var bitsPerSecond: UInt64
    /// Bucket depth in bytes.
    public var burst: Int
    /// How much may wait.
    public var queueLimit: QueueLimit

    /// A rate limit; the default queue holds 1000 frames (Linux's txqueuelen).
    public init(bitsPerSecond: UInt64, burst: Int = 0, queueLimit: QueueLimit = .packets(1000)) {
        precondition(bitsPerSecond > 0, "a rate limit needs a positive rate")
        self.bitsPerSecond = bitsPerSecond
        self.burst = max(burst, 0)
        self.queueLimit = queueLimit
    }
}

/// The size of a rate limiter's queue.
public enum QueueLimit: Equatable, Sendable {
    /// At most this many frames waiting.
    case packets(Int)
    /// At most this many bytes waiting.
    case bytes(Int)
}
