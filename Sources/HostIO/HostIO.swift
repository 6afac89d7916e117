// Room: HostIO — layer 3. The real driver's system layer: an epoll reactor, file descriptors and errno as
// small values, unix/UDP sockets, TAP devices, eventfds, the monotonic clock, network-namespace helpers.
