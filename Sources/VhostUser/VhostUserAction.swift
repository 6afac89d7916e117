// What the connection state machine asks its driver (the I/O layer) to do, in order.

import HostIO
import Virtio

/// One step for the driver of a `VhostUserConnection`, to be carried out in the order given.
public enum VhostUserAction {
    /// Send these bytes (a reply) to the front end.
    case send([UInt8])
    /// Queue pair `index` runs: attach `nic` to the datapath. Its memory stays mapped while
    /// anything holds `nic`.
    case startQueuePair(index: Int, nic: VirtioNetQueuePair<GuestMemoryRegions>)
    /// Queue pair `index` stopped: detach it from the datapath now and drop every reference to
    /// its `nic` (the front end may unmap the memory once the reply that follows is sent).
    case stopQueuePair(index: Int)
    /// Watch `descriptor` for kicks on virtqueue `queue`, replacing any earlier one; nil: stop
    /// watching (the ring stopped, or the front end asked for polling).
    case watchKick(queue: Int, descriptor: FileDescriptor?)
    /// Close the connection for this reason (after sending what came before).
    case close(VhostUserError)
}

/// Which queue of a pair.
public enum VirtioNetQueueKind: Int, Sendable, CustomStringConvertible {
    /// receiveqN, virtqueue 2N (the device writes).
    case receive = 0
    /// transmitqN, virtqueue 2N+1 (the device reads).
    case transmit = 1

    /// The virtqueue index of this queue in pair `pair`.
    public func queue(inPair pair: Int) -> Int { 2 * pair + rawValue }

    public var description: String { self == .receive ? "receive" : "transmit" }
}
