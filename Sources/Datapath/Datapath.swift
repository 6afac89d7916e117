// Room: Datapath — layer 2. Packet buffers and ports, the learning switch, the IPv4 router (ARP, ICMP,
// forwarding) and the DHCPv4 server. Sans-IO: time is passed in, frames in and frames out. No fds, threads or clocks.
