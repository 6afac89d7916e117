// Room: Basics — layer 1. Values every other room shares and nothing else: `Instant` (a point on
// a monotonic timeline, the `now` every state machine is handed), `WallClock` (Unix time at an
// instant, handed in where a protocol needs it), `RandomSource` and `SeededRandom` (randomness as
// an input; the deterministic generator split per component by name) and `ReasonCounts` (drop
// counters by reason, inline). No I/O, no clocks, no system randomness, no dependencies: a type
// belongs here only if several rooms need it and it is a plain value (docs/architecture.md, Time
// and Determinism).
