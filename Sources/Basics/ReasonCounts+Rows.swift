// Every counter of a `ReasonCounts`, zero or not, named by its reason: what the metrics export
// reads (a series that exists from the start, as Prometheus prefers, rather than one that appears
// with the first drop).

/// A value holding counters by reason, readable without knowing the reason type.
public protocol ReasonCountsRows {
    /// Every reason in declaration order with its count.
    var rows: [(reason: String, count: UInt64)] { get }
}

extension ReasonCounts: ReasonCountsRows {
    public var rows: [(reason: String, count: UInt64)] {
        Reason.allCases.map { ("\($0)", self[$0]) }
    }
}
