// Room: VhostUser — layer 3. The vhost-user protocol server (QEMU docs/interop/vhost-user.rst): messages,
// feature negotiation, memory table (mmap'd regions), vring setup, kick/call/err fds; drives Virtio's queues.
