// Room: Datapath — layer 2. Packet buffers and ports, the learning switch, the IPv4 router (Ethernet and
// point-to-point interfaces; ARP, ICMP, forwarding) and the DHCPv4 server. Sans-IO: time is passed in,
// frames and packets in and out. No fds, threads or clocks.
