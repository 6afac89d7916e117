// Room: Tunnel — layer 4. A userspace WireGuard interface on a TUN device (`sluice wg up`): the
// wg-quick style config, the TUN + UDP socket driver of a WireGuardDevice on the HostIO reactor.
