// Room: HostStack — layer 2. A small sans-IO IPv4 host: ARP (with optional RFC 5227 probe and
// announce), a DHCPv4 client (RFC 2131), static addressing, ICMP echo client and server, UDP
// send/echo/flood. Frames in, frames out, time passed in. It plays the guest in the simulator and
// in tests; it never touches fds, threads or clocks.
