// Room: HostStack — layer 2. A small sans-IO IPv4 host: ARP (with optional RFC 5227 probe and
// announce), a DHCPv4 client (RFC 2131), static addressing, ICMP echo client and server, UDP
// send/echo/flood, and TCP (RFC 9293: NewReno and CUBIC, SACK, timestamps, window scaling).
// Frames in, frames out, time passed in. It plays the guest in the simulator and in tests; it
// never touches fds, threads or clocks.
//
// Driving a host — the simulator's event loop, or a test's pump:
//
//     let vm = Host(name: "vm1", mac: mac, random: SeededRandom(seed: seed, component: "vm1"))
//     vm.receive(frame, now: t)                          // each frame the link delivers
//     while let d = vm.nextDeadline(), d <= t { vm.poll(now: t) }
//     vm.drainOutgoing { link.transmit($0, at: t) }      // after every receive, poll or action
//
// Lab verbs map to actions: "dhcp" → `startDHCP(now:)`, "release" → `releaseDHCP(now:)`,
// "address 10.0.0.5/24 via 10.0.0.1" → `configureStatic(address:gateway:now:)`,
// "ping vm2 count 20" → `ping(_:count:interval:size:timeout:timeToLive:now:)` then
// `pingResult(_:)`, "udp flood" → `startUDPFloodReceiver(port:)` on the receiver and
// `startUDPFlood(to:port:size:rate:duration:now:)` on the sender, read back with
// `floodReceiverStats(port:)` and `floodStats(_:)`, "tcp" → `tcpListen(port:)` on the receiver
// and `tcpConnect(to:port:congestionControl:now:)` + `tcpSendBulk(_:bytes:now:)` on the sender,
// read back with `tcpInfo(_:)` (stats, samples of cwnd/RTT/bytes over time) and `tcpCounters`.
// Reports read `events`, `counters`, `lease`.
//
// Files, one concept each: Host (driver interface, addressing), HostARP / HostARPCache /
// AddressConflictDetection (RFC 826, RFC 5227), HostIPv4 (routing, ICMP errors sent), HostICMP /
// PingSession / ICMPErrorReport (RFC 792), HostUDP / UDPFlood, HostDHCP / DHCPClient /
// DHCPClientLease / DHCPClientConstants (RFC 2131), HostTCP and TCP/ (one file per RFC 9293
// concept: TCPConnection{,Input,Output,Timers}, TCPListener, TCPSendBuffer, TCPReassemblyQueue,
// TCPSACKScoreboard, TCPRetransmissionTimer, TCPCongestionControl, TCPCounters, ...),
// HostConfiguration, HostEvent, HostCounters, OutgoingFrames.
