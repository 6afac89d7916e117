// Room: Capture — layer 3. pcap files (write/read, nanosecond timestamps) and BPF filters through libpcap;
// capture taps that sit on any port.
