// A participant with timers: the simulation asks it when it next needs the time and calls it
// then — the sans-IO `nextDeadline()` / `poll(now:)` pair every Sluice state machine has.

import Basics

/// Anything with timers the simulation drives: a simulated guest, a bridge adapter.
public protocol SimNode: AnyObject {
    /// The earliest instant at which `poll(now:)` has work; nil when idle.
    func nextDeadline() -> Instant?
    /// Runs every timer due at `now`.
    func poll(now: Instant)
}
