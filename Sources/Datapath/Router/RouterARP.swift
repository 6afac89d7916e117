// ARP on the router's Ethernet interfaces (RFC 826): answering for its own addresses, learning neighbors,
// resolving next hops with retries, and holding datagrams until they resolve.
import Basics
import Wire

extension Router {
    /// RFC 826 "Packet Reception", for the arrival interface's address (`mac` is its MAC).
    func receiveARP<O: RouterOutput>(
        _ payload: UnsafeRawBufferPointer, on interface: Int, mac: MACAddress, now: Instant, output: inout O
    ) -> RouterDisposition {
        let arp: ARPPacket
        do { arp = try ARPPacket(parsing: payload) } catch {
            if case .unsupported = error { return drop(.arpUnsupported) }
            return drop(.arpMalformed)
        }
        if arp.operation == .request { counters.arp.requestsReceived &+= 1 } else { counters.arp.repliesReceived &+= 1 }
        let senderMAC = arp.senderHardwareAddress
        guard senderMAC.isUnicast, senderMAC != .zero else { return drop(.arpMalformed) }
        let local = interfaces[interface]
        let sender = arp.senderProtocolAddress
        guard sender != local.address else { return drop(.arpAddressConflict) }
        // Only addresses that can be neighbors on this link are learned (not 0.0.0.0 probes,
        // not the network or broadcast address, not strangers from another subnet).
        let learnable = local.network.contains(sender) && sender != local.network.networkAddress
            && sender != local.network.broadcastAddress
        var merged = false
        if learnable { merged = cache.refresh(interface: interface, address: sender, mac: senderMAC, now: now) }
        // RFC 826: "?Am I the target protocol address? Yes: If Merge_flag is false, add the triplet".
        let forUs = arp.targetProtocolAddress == local.address
        if forUs, learnable, !merged { cache.insert(interface: interface, address: sender, mac: senderMAC, now: now) }
        if learnable, merged || forUs {
            counters.arp.cacheUpdates &+= 1
            flushWaiting(for: sender, mac: senderMAC, on: interface, output: &output)
        }
        // "?Is the opcode ares_op$REQUEST? Yes: Swap hardware and protocol fields ... Send the
        // packet to the (new) target hardware address on the same hardware on which the request was received."
        guard forUs, arp.operation == .request else { return .consumed }
        sendARP(arp.reply(with: mac), to: senderMAC, on: interface, output: &output)
        counters.arp.repliesSent &+= 1
        return .answered
    }

    /// Holds `datagram` (TTL already decremented) until `nextHop` resolves, starting resolution
    /// with a first request if none is under way.
    func enqueue<O: RouterOutput>(
        _ datagram: UnsafeRawBufferPointer, nextHop: IPv4Address, on interface: Int, arrival: Arrival,
        now: Instant, output: inout O
    ) -> RouterDisposition {
        let r: Int
        if let existing = waiting.find(interface: interface, target: nextHop) {
            r = existing
        } else {
            guard let started = waiting.start(interface: interface, target: nextHop,
                                              nextAttempt: now + configuration.arp.retryInterval) else {
                return drop(.arpQueueOverflow)
            }
            r = started
            sendARPRequest(for: nextHop, on: interface, output: &output)
        }
        let (queued, droppedOldest) = waiting.append(r, datagram: datagram, arrivalInterface: arrival.interface,
                                                     arrivalMAC: arrival.mac)
        if droppedOldest { counters.drops[.arpQueueOverflow] &+= 1 }
        guard queued else { return drop(.arpQueueOverflow) }
        counters.queuedForARP &+= 1
        return .queued
    }

    /// Sends every datagram waiting for `address`, now known to be at `mac`, oldest first.
    func flushWaiting<O: RouterOutput>(for address: IPv4Address, mac: MACAddress, on interface: Int, output: inout O) {
        guard let r = waiting.find(interface: interface, target: address), let source = interfaces[interface].mac else { return }
        for k in 0..<waiting.resolutions[r].count {
            let frame = waiting.frame(waiting.slot(r, k))
            EthernetHeader.rewriteAddresses(in: frame, source: source, destination: mac)
            frame.setU16(12, EtherType.ipv4.rawValue)
            output.send(UnsafeRawBufferPointer(frame), on: interface)
            counters.forwarded &+= 1
        }
        waiting.finish(r)
    }

    /// The neighbor never answered: drop its datagrams, telling each source "host unreachable"
    /// (RFC 1812 §5.2.7.1 lists it for an unreachable host on a connected network).
    func giveUp<O: RouterOutput>(_ r: Int, now: Instant, output: inout O) {
        counters.arp.resolutionFailures &+= 1
        for k in 0..<waiting.resolutions[r].count {
            let slot = waiting.slot(r, k)
            let datagram = UnsafeRawBufferPointer(waiting.frame(slot).slice(from: EthernetHeader.untaggedLength))
            counters.drops[.arpResolutionFailed] &+= 1
            guard let header = try? IPv4Header(parsing: datagram) else { continue }
            let arrival = Arrival(interface: waiting.slotArrivalInterface[slot], mac: waiting.slotArrivalMAC[slot],
                                  linkBroadcast: false)
            sendICMPError(.destinationUnreachable(code: ICMPv4UnreachableCode.host), about: datagram, header: header,
                          arrival: arrival, now: now, output: &output)
        }
        waiting.finish(r)
    }

    /// Broadcasts "who has `target`? tell <interface address>" (Ethernet interfaces only).
    func sendARPRequest<O: RouterOutput>(for target: IPv4Address, on interface: Int, output: inout O) {
        let local = interfaces[interface]
        guard let mac = local.mac else { return }
        sendARP(.request(from: mac, local.address, asking: target), to: .broadcast, on: interface, output: &output)
        counters.arp.requestsSent &+= 1
    }

    func sendARP<O: RouterOutput>(_ packet: ARPPacket, to mac: MACAddress, on interface: Int, output: inout O) {
        guard let source = interfaces[interface].mac else { return }
        let ethernet = EthernetHeader(destination: mac, source: source, etherType: .arp)
        // Cannot fail: the scratch buffer is far larger than 42 bytes.
        guard let h = try? ethernet.emit(into: scratch), let a = try? packet.emit(into: scratch.slice(from: h)) else { return }
        output.send(UnsafeRawBufferPointer(scratch.slice(0..<h + a)), on: interface)
    }
}
