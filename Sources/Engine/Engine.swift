// Room: Engine — layer 4. Builds a running bridge from bridge.yml (config, switch, router, DHCP,
// virtio ports, capture taps the driver supplies) and exposes one driver contract (Driver.swift,
// docs/driver-contract.md) for whichever driver runs it (real I/O, the simulator, the lab). No
// files, sockets or clocks here: the driver opens captures and hands over the time. Config/ holds
// the bridge.yml model and its parser; WAN/ the uplink (WireGuard, UDP or TAP, masqueraded by
// Datapath's NAT or routed) as the router's last interface.
