// The source table (RFC 8966 §3.2.5, §3.5.1): for each (prefix, router-id) we have advertised, the feasibility
// distance — the best (seqno, metric) we announced. An update is feasible when it is a retraction, when no entry
// exists, when its seqno is newer, or when its seqno is equal and its metric strictly smaller. Selecting only
// feasible routes is what keeps Babel loop-free, also while it converges.

import Basics

/// A feasibility distance: seqno, then metric.
struct FeasibilityDistance: Equatable, Sendable {
    var seqno: UInt16
    var metric: UInt16
    var lastUsed: Instant
}

struct SourceKey: Hashable, Sendable {
    var prefix: BabelPrefix
    var routerID: RouterID
}

/// The source table.
struct SourceTable: Sendable {
    private(set) var entries: [SourceKey: FeasibilityDistance] = [:]

    func distance(_ prefix: BabelPrefix, _ routerID: RouterID) -> FeasibilityDistance? {
        entries[SourceKey(prefix: prefix, routerID: routerID)]
    }

    /// §3.5.1: the feasibility condition.
    func isFeasible(_ prefix: BabelPrefix, _ routerID: RouterID, seqno: UInt16, metric: UInt16) -> Bool {
        if metric == BabelWire.infinity { return true }
        guard let fd = distance(prefix, routerID) else { return true }
        return Seqno.isNewer(seqno, than: fd.seqno) || (seqno == fd.seqno && metric < fd.metric)
    }

    /// §3.7.3: after advertising (prefix, router-id, seqno, metric) with a finite metric, the entry becomes that
    /// announcement when it is newer, or takes the smaller metric at the same seqno.
    mutating func advertised(_ prefix: BabelPrefix, _ routerID: RouterID, seqno: UInt16, metric: UInt16, now: Instant) {
        guard metric != BabelWire.infinity else { return }
        let key = SourceKey(prefix: prefix, routerID: routerID)
        if var fd = entries[key] {
            if Seqno.isNewer(seqno, than: fd.seqno) { fd.seqno = seqno; fd.metric = metric }
            else if seqno == fd.seqno, metric < fd.metric { fd.metric = metric }
            fd.lastUsed = now
            entries[key] = fd
        } else {
            entries[key] = FeasibilityDistance(seqno: seqno, metric: metric, lastUsed: now)
        }
    }

    /// §3.2.5: entries not advertised for `age` are forgotten.
    mutating func collect(now: Instant, age: Duration) {
        entries = entries.filter { now < $0.value.lastUsed + age }
    }
}
