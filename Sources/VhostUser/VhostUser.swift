// Room: VhostUser — layer 3. The vhost-user protocol server (QEMU docs/interop/vhost-user.rst): messages,
// feature negotiation, memory table (mmap'd regions), vring setup, kick/call/err fds; drives Virtio's queues.
//
// What is here: `VhostUserSpec` (constants, request ids, protocol feature bits), `VhostUserMessage`
// and its payloads, `VhostUserMessageReader` (framing, descriptors kept with their message),
// `MappedGuestMemory` (mmap'd regions, unmapped only when no queue pair uses them),
// `VhostUserConnection` (the per-front-end state machine: message + fds in, `VhostUserAction`s out),
// `VhostUserServer` (listening socket, many front ends, kicks, calls, polling, on a HostIO Reactor),
// `VhostUserError` (why a connection was closed — the log line).
//
// Wiring into the Engine (the integrator's job): on `vhostUserQueuePairStarted` attach the nic
// (Bridge.attachGuest) and remember (guest, pair) ↔ PortID; on `vhostUserQueuePairStopped` detach
// it at once; on a transmit kick call Bridge.serviceGuestTransmit(port, now:); route
// Bridge.notifyGuest(port) to `server.notify(guest, pair:)`; schedule Bridge.poll at nextDeadline()
// with `reactor.schedule(at:)`.
