// Room: Engine — layer 4. Builds a running bridge from bridge.yml (config, switch, router, DHCP,
// virtio ports, captures) and exposes one poll(now:) for whichever driver runs it (real I/O or
// the simulator). Config/ holds the bridge.yml model and its parser; WAN/ the uplink (WireGuard,
// UDP or TAP, masqueraded by Datapath's NAT or routed) as the router's last interface.
