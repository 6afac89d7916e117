// Room: Sim — layer 3. The deterministic discrete-event kernel: an event heap ordered by
// (deadline, sequence), a virtual clock, seeded randomness split per component by stable name,
// link models with per-direction impairments, and simulated guests (a HostStack host behind an
// in-memory virtio driver). No wall clock, no threads, no Task scheduling, no Set/Dictionary order.
//
// Files, one concept each: Simulation (the kernel: clock, agenda, node timers, randomness; a
// usage example at its top), EventHeap (the (deadline, sequence) min-heap), SimNode (what has
// timers), Link / LinkImpairments / LinkCounters (a cable with per-direction delay, jitter, loss,
// duplicate, reorder, corrupt, rate and MTU), SimulatedGuest (a HostStack host on an in-memory
// virtio NIC, joined to it by a Link).
//
// Plugging in a bridge (done by the Lab, which sees Engine; docs/driver-contract.md): a SimNode
// whose `nextDeadline()` is the bridge's `deadline` and whose `poll(now:)` is its
// `service(now:)`, registered with `Simulation.add(_:name:)`;
// every event that hands the bridge a frame calls `Simulation.touch(_:)` on it (a Link does so
// itself when given `attachB(touching:)`). Guests: `bridge.attachGuest(name:nic: guest.makeDevice())`,
// `guest.kick = { now in bridge.serviceGuestTransmit(port, now: now); sim.touch(bridgeNode) }`,
// and `BridgeOutputs(notifyGuest: { port in guestOf[port].notify() })` given to `bridge.connect`. Two bridges: one Link, each
// end an `attachExternal` port whose transmit closure calls `link.aToB.send` / `link.bToA.send`
// and whose arrivals (`attachB` / `attachA`) call `bridge.receive(frame, from: port, now:)`.
