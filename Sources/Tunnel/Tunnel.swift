// Room: Tunnel — layer 4. A userspace WireGuard interface on a TUN device (`sluice wg up`): the
// wg-quick style config, the TUN + UDP socket driver of a WireGuardDevice on the HostIO reactor,
// and the TCP segmentation/coalescing its TUN offloads need. The system calls (TUN device, batched
// UDP, signalfd) are HostIO's; no C and no system bindings here.
