// The host's ARP (RFC 826): answering for its address, learning, resolving, and the RFC 5227
// probes, announcements and conflict handling around it.

import Basics
import Wire

extension Host {
    /// Handles an ARP packet (the Ethernet payload).
    func receiveARP(_ packet: UnsafeRawBufferPointer, now: Instant) {
        let arpPacket: ARPPacket
        do { arpPacket = try ARPPacket(parsing: packet) } catch { countDrop(error); return }
        if arpPacket.operation == .request { counters.arpRequestsReceived += 1 } else { counters.arpRepliesReceived += 1 }
        let sender = arpPacket.senderProtocolAddress, senderMAC = arpPacket.senderHardwareAddress

        // RFC 5227 §2.1.1: a conflict while probing.
        if let acd = conflictDetection, acd.conflictWhileProbing(arpPacket, ownMAC: mac) {
            probeConflict(claimant: senderMAC, now: now)
            // Fall through: the packet still teaches us a mapping.
        }
        // RFC 5227 §2.4: at any time, an ARP packet (request or reply) whose sender IP address is
        // ours but whose sender hardware address is not is a conflicting ARP packet.
        if let own = address, sender == own.address, senderMAC != mac {
            inUseConflict(claimant: senderMAC, now: now)
            return
        }

        // RFC 826: "If the pair <protocol type, sender protocol address> is already in my
        // translation table, update the sender hardware address field of the entry with the new
        // information in the packet and set Merge_flag to true. ?Am I the target protocol
        // address? Yes: If Merge_flag is false, add the triplet ... to the translation table."
        // Probes (sender 0.0.0.0) teach nothing.
        let ownAddress = address?.address
        let forUs = ownAddress != nil && arpPacket.targetProtocolAddress == ownAddress
        if sender != .any, !sender.isLimitedBroadcast, senderMAC.isUnicast, arp.knows(sender) || forUs {
            for frame in arp.update(sender, mac: senderMAC, now: now) { emitFrame(frame) }
        }

        // RFC 826: "?Is the opcode ares_op$REQUEST? Yes: Swap hardware and protocol fields,
        // putting the local hardware and protocol addresses in the sender fields. Set the ar$op
        // field to ares_op$REPLY. Send the packet to the (new) target hardware address".
        if arpPacket.operation == .request, forUs, senderMAC.isUnicast {
            sendARP(arpPacket.reply(with: mac), to: senderMAC)
            counters.arpRepliesSent += 1
        }
    }

    /// Broadcasts "who has `target`? tell us".
    func sendARPRequest(for target: IPv4Address, now: Instant) {
        sendARP(ARPPacket.request(from: mac, address?.address ?? .any, asking: target), to: .broadcast)
        counters.arpRequestsSent += 1
    }

    func sendARP(_ packet: ARPPacket, to destination: MACAddress) {
        let ethernet = EthernetHeader(destination: destination, source: mac, etherType: .arp)
        emitFrame(maximumLength: EthernetHeader.untaggedLength + ARPConstants.packetLength) { frame throws(WireError) in
            let offset = try ethernet.emit(into: frame)
            return offset + (try packet.emit(into: frame.slice(from: offset)))
        }
    }

    // MARK: RFC 5227

    /// Carries out the conflict detector's actions.
    func perform(_ actions: [AddressConflictDetection.Action], now: Instant) {
        for action in actions {
            switch action {
            case .sendProbe(let candidate):
                // RFC 5227 §2.1.1: "'sender hardware address' field MUST contain the hardware
                // address of the interface sending the packet. The 'sender IP address' field MUST
                // be set to all zeroes ... The 'target hardware address' field is ignored and
                // SHOULD be set to all zeroes. The 'target IP address' field MUST be set to the
                // address being probed."
                sendARP(ARPPacket.request(from: mac, .any, asking: candidate), to: .broadcast)
                counters.arpProbesSent += 1
            case .sendAnnouncement(let claimed):
                sendAnnouncement(claimed)
            case .claimed(let claimed):
                guard let pending = pendingAddress, pending.network.address == claimed else { continue }
                if pending.source == .dhcp {
                    perform(dhcp.addressChecked(conflict: false, now: now), now: now)
                } else {
                    apply(pending, now: now)
                }
            }
        }
    }

    /// RFC 5227 §2.3: "An ARP Announcement is identical to the ARP Probe described above, except
    /// that now the sender and target IP address fields contain the IP address being announced."
    func sendAnnouncement(_ claimed: IPv4Address) {
        sendARP(ARPPacket.request(from: mac, claimed, asking: claimed), to: .broadcast)
        counters.arpAnnouncementsSent += 1
    }

    /// The probed address is taken: give it up (declining it if DHCP offered it).
    func probeConflict(claimant: MACAddress, now: Instant) {
        guard let pending = pendingAddress else { return }
        pendingAddress = nil
        conflictDetection?.cancel()
        log(.addressConflict(AddressConflict(address: pending.network.address, claimant: claimant,
                                             phase: .probing, response: .abandoned)), now)
        if pending.source == .dhcp { perform(dhcp.addressChecked(conflict: true, now: now), now: now) }
    }

    /// Someone else uses our configured address: note it, and with RFC 5227 configured defend
    /// once per DEFEND_INTERVAL, else give the address up.
    func inUseConflict(claimant: MACAddress, now: Instant) {
        guard let own = address else { return }
        func note(_ response: AddressConflict.Response) {
            log(.addressConflict(AddressConflict(address: own.address, claimant: claimant, phase: .inUse, response: response)), now)
        }
        guard var acd = conflictDetection else { note(.ignored); return }
        let defend = acd.shouldDefend(now: now)
        conflictDetection = acd
        if defend {
            note(.defended)
            sendAnnouncement(own.address)
            return
        }
        note(.relinquished)
        if addressSource == .dhcp {
            perform(dhcp.addressConflict(now: now), now: now)
        } else {
            unconfigure(now: now)
        }
    }
}
