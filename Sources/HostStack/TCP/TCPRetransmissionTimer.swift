// The retransmission timeout (RFC 6298): a smoothed RTT and its variation from RTT samples, the
// RTO derived from them, and its exponential backoff. Samples come from timestamps (RFC 7323 §4),
// or from one timed segment at a time with Karn's rule (RFC 6298 §3: "RTT samples MUST NOT be made
// using segments that were retransmitted").

import Basics

/// RFC 6298 §2's estimator. Durations in nanoseconds (Int64) to keep the arithmetic exact.
struct TCPRTTEstimator: Sendable {
    /// RFC 6298 (2.3): alpha = 1/8, beta = 1/4; K = 4; G (clock granularity) = 1 ms here.
    static let granularity: Int64 = 1_000_000

    private(set) var smoothedRTT: Int64?
    private(set) var rttVariance: Int64 = 0
    private(set) var latestRTT: Int64?
    private(set) var minimumRTT: Int64?
    /// The RTO before backoff.
    private(set) var baseRTO: Int64
    /// Timeouts in a row (RFC 6298 (5.5) "back off the timer"); reset by a new sample.
    private(set) var backoffCount = 0
    let minimumRTO: Int64
    let maximumRTO: Int64

    init(configuration: TCPConfiguration) {
        baseRTO = configuration.initialRTO.nanosecondsClamped
        minimumRTO = max(1, configuration.minimumRTO.nanosecondsClamped)
        maximumRTO = max(minimumRTO, configuration.maximumRTO.nanosecondsClamped)
        baseRTO = min(max(baseRTO, minimumRTO), maximumRTO)
    }

    /// RFC 6298 (2.2)/(2.3) for one sample `r` (nanoseconds, > 0).
    mutating func sample(_ r: Int64) {
        let r = max(r, 1)
        latestRTT = r
        minimumRTT = min(minimumRTT ?? r, r)
        if let srtt = smoothedRTT {
            // RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|; SRTT <- (1 - alpha) * SRTT + alpha * R'
            rttVariance = rttVariance - rttVariance / 4 + abs(srtt - r) / 4
            smoothedRTT = srtt - srtt / 8 + r / 8
        } else {
            // SRTT <- R; RTTVAR <- R/2
            smoothedRTT = r
            rttVariance = r / 2
        }
        // RTO <- SRTT + max (G, K*RTTVAR), then (2.4) and (2.5).
        let rto = smoothedRTT! &+ max(Self.granularity, 4 &* rttVariance)
        baseRTO = min(max(rto, minimumRTO), maximumRTO)
        backoffCount = 0
    }

    /// The current RTO, backed off: RFC 6298 (5.5) "RTO <- RTO * 2", up to the maximum.
    var rto: Duration {
        var v = baseRTO
        for _ in 0..<min(backoffCount, 40) where v < maximumRTO { v = v &* 2 }
        return .nanoseconds(min(v, maximumRTO))
    }

    /// RFC 6298 (5.5).
    mutating func backOff() { backoffCount += 1 }
    /// After a timeout with no new sample, (5.7) allows keeping the backed-off value; a new ACK
    /// clears it here only through `sample`.
    mutating func resetBackoff() { backoffCount = 0 }
}
