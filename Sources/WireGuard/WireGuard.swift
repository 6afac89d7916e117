// Room: WireGuard — layer 2. WireGuard per the whitepaper, sans-IO: handshake (Noise IKpsk2), cookies, transport
// data with counters and a replay window, timers, allowed-IPs, peers. Time and randomness are passed in.
//
// Entry point: `WireGuardDevice` (receive / send / poll / nextDeadline). Files follow wireguard-go's device/:
// WireGuardConstants (constants.go), messages (noise-protocol.go), NoiseIK (the handshake), Cookie* (cookie.go),
// ReplayWindow (replay/), Keypair (keypair.go), AllowedIPs (allowedips.go), PeerTimers (timers.go),
// DeviceReceive (receive.go), DeviceSend (send.go).
