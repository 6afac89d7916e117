// Room: Virtio — layer 2. Sans-IO split virtqueue (virtio 1.2 §2.7), virtio-net header and features, and an
// in-memory guest driver. Reads and writes guest memory only through GuestMemory. No fds, threads or clocks.
