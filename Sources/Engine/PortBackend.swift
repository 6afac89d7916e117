// What sits behind a port: a guest's virtio-net queues, the router, or an external sink (a TAP, a
// simulated link, a test). An enum, not an existential: the hot path switches on it.
import Datapath
import Virtio

/// The device-side virtio-net queue pair of a guest, over any mapping of its memory.
public typealias GuestNIC = VirtioNetQueuePair<GuestMemoryRegions>

enum PortBackend {
    /// A guest NIC: frames to the port go into its receive queue.
    case virtio(GuestNIC)
    /// The router's interface `interface` on the port's segment.
    case router(interface: Int)
    /// Anything else: frames to the port are handed to the closure (valid only during the call).
    case external((UnsafeRawBufferPointer) -> Void)
    /// A port that was detached; its id is never reused.
    case detached
}
