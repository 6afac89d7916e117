// IPv4 Address Conflict Detection (RFC 5227): probe an address before using it, announce it
// once claimed, and decide how to answer a conflict afterwards. A value type driven by the host.

import Basics
import Wire

/// The probe/announce timers of RFC 5227 §2.1 and §2.3.
struct AddressConflictDetection {
    enum Phase: Equatable {
        case idle
        /// Sending probes; `sent` so far.
        case probing(sent: Int)
        /// After the last probe, ANNOUNCE_WAIT before the address is ours.
        case waiting
        /// Sending announcements; `sent` so far.
        case announcing(sent: Int)
    }

    enum Action: Equatable {
        case sendProbe(IPv4Address)
        case sendAnnouncement(IPv4Address)
        /// No conflict: the address may be used.
        case claimed(IPv4Address)
    }

    let configuration: AddressConflictDetectionConfiguration
    var random: SeededRandom
    private(set) var phase = Phase.idle
    /// The address being probed or announced.
    private(set) var address: IPv4Address?
    private(set) var deadline: Instant?
    /// When the address was last defended (RFC 5227 §2.4 (b)).
    private var lastDefense: Instant?

    init(configuration: AddressConflictDetectionConfiguration, random: SeededRandom) {
        self.configuration = configuration; self.random = random
    }

    /// True while probing or waiting: the address is not yet ours.
    var isProbing: Bool {
        switch phase { case .probing, .waiting: true; default: false }
    }

    /// Starts probing `candidate`. RFC 5227 §2.1.1: "When ready to begin probing, the host should
    /// then wait for a random time interval selected uniformly in the range zero to PROBE_WAIT
    /// seconds". Without probing configured, the address is claimed at once.
    mutating func startProbing(_ candidate: IPv4Address, now: Instant) -> [Action] {
        address = candidate
        lastDefense = nil
        guard configuration.probes, configuration.probeCount > 0 else {
            phase = .idle; deadline = nil
            return [.claimed(candidate)]
        }
        phase = .probing(sent: 0)
        deadline = now + uniform(.zero, configuration.probeWait)
        return []
    }

    /// Starts announcing the claimed `claimed` address. RFC 5227 §2.3: "the host MUST then
    /// announce its claimed address by broadcasting ANNOUNCE_NUM ARP Announcements, spaced
    /// ANNOUNCE_INTERVAL seconds apart."
    mutating func startAnnouncing(_ claimed: IPv4Address, now: Instant) -> [Action] {
        address = claimed
        guard configuration.announceCount > 0 else { phase = .idle; deadline = nil; return [] }
        phase = .announcing(sent: 1)
        deadline = configuration.announceCount > 1 ? now + configuration.announceInterval : nil
        if deadline == nil { phase = .idle }
        return [.sendAnnouncement(claimed)]
    }

    /// Stops probing or announcing.
    mutating func cancel() {
        phase = .idle; deadline = nil; address = nil
    }

    /// Runs the timer if due.
    mutating func poll(now: Instant) -> [Action] {
        guard let due = deadline, due <= now, let candidate = address else { return [] }
        switch phase {
        case .idle:
            deadline = nil
            return []
        case .probing(let sent):
            // RFC 5227 §2.1.1: "the host should ... send PROBE_NUM probe packets, each of these
            // probe packets spaced randomly and uniformly, PROBE_MIN to PROBE_MAX seconds apart."
            let count = sent + 1
            if count < configuration.probeCount {
                phase = .probing(sent: count)
                deadline = now + uniform(configuration.probeMinimum, configuration.probeMaximum)
            } else {
                // "... until ANNOUNCE_WAIT seconds after the last probe packet is sent".
                phase = .waiting
                deadline = now + configuration.announceWait
            }
            return [.sendProbe(candidate)]
        case .waiting:
            phase = .idle
            deadline = nil
            return [.claimed(candidate)]
        case .announcing(let sent):
            let count = sent + 1
            if count < configuration.announceCount {
                phase = .announcing(sent: count)
                deadline = now + configuration.announceInterval
            } else {
                phase = .idle
                deadline = nil
            }
            return [.sendAnnouncement(candidate)]
        }
    }

    /// Whether `packet`, seen while probing, shows the candidate in use. RFC 5227 §2.1.1: "If
    /// during this period ... the host receives any ARP packet (Request *or* Reply) ... where the
    /// packet's 'sender IP address' is the address being probed for, then the host MUST treat
    /// this address as being in use by some other host ... In addition, if during this period the
    /// host receives any ARP Probe where the packet's 'target IP address' is the address being
    /// probed for, and the packet's 'sender hardware address' is not the hardware address of any
    /// of the host's interfaces, then the host SHOULD similarly treat this as an address conflict".
    func conflictWhileProbing(_ packet: ARPPacket, ownMAC: MACAddress) -> Bool {
        guard isProbing, let candidate = address, packet.senderHardwareAddress != ownMAC else { return false }
        if packet.senderProtocolAddress == candidate { return true }
        return packet.senderProtocolAddress == .any && packet.targetProtocolAddress == candidate
    }

    /// RFC 5227 §2.4 (b), paraphrased: a host that has seen no other conflicting ARP packet
    /// within the last DEFEND_INTERVAL records the time and broadcasts one ARP Announcement to
    /// defend its address; a second conflict within DEFEND_INTERVAL means it must stop using it.
    /// Returns true to defend, false to give the address up.
    mutating func shouldDefend(now: Instant) -> Bool {
        if let last = lastDefense, now - last < configuration.defendInterval { return false }
        lastDefense = now
        return true
    }

    /// A uniform instant offset in [low, high], from the injected generator.
    private mutating func uniform(_ low: Duration, _ high: Duration) -> Duration {
        let lo = low.nanosecondsClamped, hi = high.nanosecondsClamped
        guard hi > lo else { return low }
        return .nanoseconds(lo + Int64(random.next() % UInt64(hi - lo + 1)))
    }
}
