// Room: Wire — layer 1. Wire formats as values: addresses (MAC, IPv4), the Internet checksum, and
// parse/emit of Ethernet (with 802.1Q), ARP, IPv4, ICMPv4, UDP, TCP (with its options) and DHCPv4;
// IPv6 addresses, the IPv6 header and its extension header walk, ICMPv6, NDP, UDP/TCP over IPv6 and
// DHCPv6 (docs/ipv6.md). Parsers read a bounds-checked raw buffer and throw a small `WireError`,
// never trap on hostile bytes; emitters write into caller memory without allocating (NDP and DHCPv6
// messages, control traffic, keep their options in arrays). No state machines, no I/O, no time: those live in
// Datapath, HostStack and WireGuard, which use these codecs.
