// Congestion control: the congestion window and slow-start threshold (RFC 5681 §3.1), grown by
// NewReno's rules (RFC 5681, RFC 6582) or CUBIC's (RFC 9438), selected per connection by an enum
// (no existential on the per-ACK path). Loss recovery itself (which segment to resend, window
// inflation) is the connection's (TCPLossRecovery); this file only answers "how big may cwnd be".

import Basics

/// cwnd and ssthresh in bytes, and how they grow and shrink.
struct TCPCongestionControl: Sendable {
    let algorithm: TCPCongestionControlAlgorithm
    /// Congestion window, bytes.
    var cwnd: Int
    /// Slow-start threshold, bytes. RFC 5681 §3.1: "The initial value of ssthresh SHOULD be set
    /// arbitrarily high".
    var ssthresh = Int.max
    /// Bytes acked in congestion avoidance not yet turned into window (RFC 5681 §3.1's counter).
    private var bytesAckedInAvoidance = 0
    private var cubic = CUBICState()

    init(algorithm: TCPCongestionControlAlgorithm, initialWindow: Int) {
        self.algorithm = algorithm
        cwnd = initialWindow
    }

    var inSlowStart: Bool { cwnd < ssthresh }

    /// CUBIC's W_max in segments (for tests and reports).
    var cubicWMax: Double { cubic.wMax }

    /// A cap far above any window the 30-bit scaled TCP window allows, so sums never overflow.
    static let maximumWindow = 1 << 31

    /// New data was acknowledged outside loss recovery: grow cwnd.
    mutating func onAcknowledged(_ acked: Int, mss: Int, now: Instant, smoothedRTT: Int64?) {
        guard acked > 0 else { return }
        if inSlowStart {
            // RFC 5681 (2) with RFC 3465's L = 2·SMSS: cwnd += min(N, SMSS) per ACK, here up to 2·SMSS.
            cwnd = min(cwnd + min(acked, 2 * mss), Self.maximumWindow)
            return
        }
        switch algorithm {
        case .newReno:
            // RFC 5681 §3.1: "cwnd += SMSS*SMSS/cwnd" per ACK; counted in bytes acked.
            bytesAckedInAvoidance += acked
            if bytesAckedInAvoidance >= cwnd {
                bytesAckedInAvoidance -= cwnd
                cwnd = min(cwnd + mss, Self.maximumWindow)
            }
        case .cubic:
            cwnd = min(cubic.onAcknowledged(acked, cwnd: cwnd, mss: mss, now: now, smoothedRTT: smoothedRTT), Self.maximumWindow)
        }
    }

    /// A loss detected by duplicate ACKs (entering fast recovery): RFC 5681 (4) / RFC 9438 §4.6.
    /// Sets ssthresh and returns it; the caller sets cwnd (with NewReno's inflation).
    mutating func onCongestionEvent(flightSize: Int, mss: Int, now: Instant) -> Int {
        bytesAckedInAvoidance = 0
        switch algorithm {
        case .newReno:
            // RFC 5681 (4): "ssthresh = max (FlightSize / 2, 2*SMSS)".
            ssthresh = max(flightSize / 2, 2 * mss)
        case .cubic:
            ssthresh = max(cubic.onCongestionEvent(cwnd: cwnd, mss: mss), 2 * mss)
        }
        return ssthresh
    }

    /// A retransmission timeout: RFC 5681 (4) for ssthresh, then "cwnd to no more than ... 1 full-sized segment".
    mutating func onTimeout(flightSize: Int, mss: Int) {
        bytesAckedInAvoidance = 0
        switch algorithm {
        case .newReno: ssthresh = max(flightSize / 2, 2 * mss)
        case .cubic: ssthresh = max(cubic.onCongestionEvent(cwnd: cwnd, mss: mss), 2 * mss)
        }
        cwnd = mss
    }
}

/// RFC 9438 §4's state, window in segments (Double) as the RFC writes it.
struct CUBICState: Sendable {
    /// RFC 9438 §4.1.1: C = 0.4, β_cubic = 0.7.
    static let c = 0.4
    static let beta = 0.7
    /// RFC 9438 §4.3: α_cubic = 3 · (1 − β) / (1 + β).
    static let alpha = 3 * (1 - beta) / (1 + beta)

    /// W_max (segments): the window before the last reduction.
    var wMax = 0.0
    /// The previous W_max, for fast convergence (RFC 9438 §4.7).
    var lastWMax = 0.0
    /// K (seconds).
    var k = 0.0
    /// When the current congestion-avoidance epoch began.
    var epochStart: Instant?
    /// W_est (segments), the Reno-friendly estimate (RFC 9438 §4.3).
    var wEst = 0.0
    /// cwnd (segments) at the epoch's start.
    var cwndEpoch = 0.0

    /// RFC 9438 §4.2 (concave/convex) and §4.3 (Reno-friendly region), per ACK of `acked` bytes.
    mutating func onAcknowledged(_ acked: Int, cwnd: Int, mss: Int, now: Instant, smoothedRTT: Int64?) -> Int {
        let segments = Double(cwnd) / Double(mss)
        if epochStart == nil {
            epochStart = now
            cwndEpoch = segments
            wEst = segments
            if wMax <= segments {
                // After slow start (or when above W_max): start on the convex part, K = 0.
                k = 0
                wMax = segments
            } else {
                k = cubeRoot((wMax - segments) / Self.c)
            }
        }
        let rtt = Double(smoothedRTT ?? 100_000_000) / 1e9
        let t = Double((now - epochStart!).nanosecondsClamped) / 1e9
        // W_cubic(t + RTT) = C·(t + RTT − K)³ + W_max (RFC 9438 §4.2, the target one RTT ahead).
        let d = t + rtt - k
        var target = Self.c * d * d * d + wMax
        // §4.2: target clamped to [cwnd, 1.5·cwnd].
        target = min(max(target, segments), 1.5 * segments)
        let ackedSegments = Double(acked) / Double(mss)
        // §4.3: W_est += α_cubic · segments_acked / cwnd.
        wEst += Self.alpha * ackedSegments / segments
        let next: Double
        if wEst > target {
            // §4.3: "cwnd SHOULD be set to W_est" in the Reno-friendly region.
            next = wEst
        } else {
            // §4.4/4.5: cwnd += (target − cwnd) / cwnd per ACK.
            next = segments + (target - segments) / segments * ackedSegments
        }
        let bytes = Int(next * Double(mss))
        return max(cwnd, min(bytes, Int.max / 4))
    }

    /// RFC 9438 §4.6 and §4.7 (fast convergence); returns the new ssthresh in bytes.
    mutating func onCongestionEvent(cwnd: Int, mss: Int) -> Int {
        let segments = Double(cwnd) / Double(mss)
        epochStart = nil
        if segments < lastWMax {
            // §4.7: "W_max = cwnd * (1 + β_cubic) / 2".
            wMax = segments * (1 + Self.beta) / 2
        } else {
            wMax = segments
        }
        lastWMax = segments
        let reduced = segments * Self.beta
        return Int(reduced * Double(mss))
    }
}

/// The real cube root (K = ∛((W_max − cwnd_epoch)/C), RFC 9438 Figure 2) by Newton's method,
/// without Foundation.
private func cubeRoot(_ x: Double) -> Double {
    guard x > 0 else { return 0 }
    var y = max(x / 3, 1.0)
    for _ in 0..<200 {
        let next = y - (y * y * y - x) / (3 * y * y)
        if abs(next - y) <= 1e-12 * max(1, abs(y)) { return next }
        y = next
    }
    return y
}
