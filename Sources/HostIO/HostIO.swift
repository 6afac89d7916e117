// Room: HostIO — layer 3. The real driver's system layer: an epoll reactor, file descriptors and errno as
// small values, unix/UDP sockets, TAP devices, eventfds, the monotonic clock, network-namespace helpers.
//
// What is here: `Errno` and `SystemCall` (every call goes through it; EINTR retried there only,
// EAGAIN returned as nil), `FileDescriptor` (closed exactly once), `Reactor` (epoll, level-triggered,
// timers from deadlines, runs on the calling thread), `MonotonicClock`, `EventFD`, `UnixListener` /
// `UnixStream` (non-blocking, close-on-exec, SCM_RIGHTS), `UDPSocket` and `SocketAddress`,
// `TAPDevice` and `NetworkInterface` (up/down, MTU, IPv4 address through ioctls, no `ip` process),
// `TUNDevice` and its virtio-net `TUNPacketHeader`, `DatagramBatch` (recvmmsg/sendmmsg with UDP
// GSO/GRO, used by `sluice wg up` and `sluice bridge`'s WAN), `SignalFD` (signals on the reactor).
// C the Swift code cannot call directly (epoll, accept4, recvmmsg/sendmmsg, signalfd, ioctls) is
// bound in one place: CShims' `sluice_` wrappers — no dlsym or @_silgen_name here.
// Not yet: network-namespace helpers.
