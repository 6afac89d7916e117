// Room: WireGuard — layer 2. WireGuard per the whitepaper, sans-IO: handshake (Noise IKpsk2), cookies, transport
// data with counters and a replay window, timers, allowed-IPs, peers. Time and randomness are passed in.
