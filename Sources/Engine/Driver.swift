// The driver contract: the whole of what a driver (the `sluice bridge` reactor, the simulator,
// the lab's netns and qemu backends, the mesh agent next) needs to run a Bridge, and all it may
// call. docs/driver-contract.md tells it step by step, with each driver as an example.
//
//   1. Build:    `Bridge(config:wanSetup:)`. The bridge opens nothing.
//   2. Connect:  `connect(BridgeOutputs)` once, before the first event: where guest
//                notifications and the WAN's datagrams/frames go. Frames to an external port go
//                to the closure given with that port (`attachExternal`).
//   3. Attach:   ports (`attachGuest`, `attachExternal`) and capture taps the driver built
//                (`addTap`); `start(now:)` once the uplink is open.
//   4. Events:   hand it what happened, with the time: `serviceGuestTransmit` /
//                `serviceTransmit(of:on:now:)`, `receive(_:from:now:)`, `receiveWANDatagram`,
//                `receiveWANFrame`. Every output an event causes is handed over (through the
//                outputs) before the call returns: nothing waits in the engine for a flush.
//   5. Service:  after each event (or each batch of events of one wakeup), `service(now:)`: it runs
//                the timers due by `now` and returns when to call it next (nil: no timer). Arm one
//                timer there; when it fires, call `service(now:)` again and re-arm.
//   (Reconfigure: between events, `reconfigure(_:addedTaps:wanEndpoint:now:)` applies a reload
//                (Bridge+Reconfigure.swift), then `service(now:)` as after an event.)
//   6. Shut down: `removeTaps()` and close each (the driver opened the files).
//
// `deadline` is `service`'s answer without running anything: for a driver that arms its timer
// apart from the event that changed it (the simulator re-arms a touched node after the event
// and runs the timer as an event of its own; docs/driver-contract.md, determinism).
import Basics
import Capture
import Datapath
import Wire

/// Where the bridge's outputs go, supplied once by the driver (`Bridge.connect`). The closures
/// are stored once and called per packet: each gets bytes valid only during the call.
public struct BridgeOutputs {
    /// A guest should be interrupted: its receive or transmit queue has used buffers it asked to
    /// hear about. The real driver writes the call eventfd; the simulator flags the guest.
    public var notifyGuest: (PortID) -> Void
    /// One UDP datagram for the WAN's socket (wireguard and udp WANs).
    public var sendWANDatagram: (UnsafeRawBufferPointer, SocketAddressV4) -> Void
    /// One Ethernet frame for the WAN's TAP uplink (tap WANs).
    public var transmitWANFrame: (UnsafeRawBufferPointer) -> Void
    /// The records of the DHCP server on this segment index changed (`Bridge.dhcpServers[i]
    /// .leases`): called before the reply that follows from the change is sent, so a driver that
    /// keeps leases on disk writes them first. The simulator keeps none.
    public var commitLeases: (Int) -> Void

    /// Outputs that go where the closures say; those left out are dropped (a bridge without a
    /// WAN never calls the WAN's).
    public init(notifyGuest: @escaping (PortID) -> Void = { _ in },
                sendWANDatagram: @escaping (UnsafeRawBufferPointer, SocketAddressV4) -> Void = { _, _ in },
                transmitWANFrame: @escaping (UnsafeRawBufferPointer) -> Void = { _ in },
                commitLeases: @escaping (Int) -> Void = { _ in }) {
        self.notifyGuest = notifyGuest
        self.sendWANDatagram = sendWANDatagram
        self.transmitWANFrame = transmitWANFrame
        self.commitLeases = commitLeases
    }
}

extension Bridge {
    /// Step 2: where the outputs go. Once, before the first event.
    public func connect(_ outputs: BridgeOutputs) {
        precondition(!connected, "Bridge.connect is called once, before the first event")
        connected = true
        notifyGuest = outputs.notifyGuest
        commitLeases = outputs.commitLeases
        wan?.sendDatagram = outputs.sendWANDatagram
        wan?.transmitFrame = outputs.transmitWANFrame
    }

    /// Step 3: the uplink is open. A WireGuard WAN with `keepalive:` handshakes at once (as `wg`
    /// does), so a peer behind NAT hears from us before we have traffic for it. Nothing for a
    /// bridge without a WAN. Call `service(now:)` after it, as after an event.
    public func start(now: Instant) {
        wan?.start(now: now)
    }

    /// Step 5: runs the timers due by `now` (ARP retries, DHCP lease expiry, MAC aging, WireGuard
    /// and NAT timers) and returns when to call it next; nil when no timer is pending.
    public func service(now: Instant) -> Instant? {
        var next = nextDeadline()  // read once when nothing is due: this runs after every event
        if let due = next, due <= now {
            poll(now: now)
            next = nextDeadline()
        }
        return next == .distantFuture ? nil : next
    }

    /// When `service(now:)` has timer work next, without running any; nil when none is pending.
    public var deadline: Instant? {
        let d = nextDeadline()
        return d == .distantFuture ? nil : d
    }
}
