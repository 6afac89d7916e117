// Room: Sim — layer 3. The deterministic discrete-event kernel: an event heap ordered by
// (deadline, sequence), a virtual clock, seeded randomness split per component by stable name,
// link models with per-direction impairments, and simulated guests (a HostStack host behind an
// in-memory virtio driver). No wall clock, no threads, no Task scheduling, no Set/Dictionary order.
