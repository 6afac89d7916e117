// The DHCP client of RFC 2131 §4.4, as a value-type state machine: it is handed messages and
// the time, and hands back actions (send this, bind that lease, drop the address) for the host
// to carry out. It never builds frames and never reads a clock.
//
//   STOPPED ─start─▶ SELECTING ─OFFER─▶ REQUESTING ─ACK─▶ (CHECKING) ─▶ BOUND ─T1─▶ RENEWING
//      ▲   (lease held: start ─▶ REBOOTING ─ACK─▶ BOUND)                  ▲  ACK ◀──┘   │T2
//      └─ release                     NAK, lease expiry ─▶ INIT ─▶ SELECTING  └─ACK─ REBINDING

import Basics
import Wire

/// The client states of RFC 2131 §4.4 (Figure 5), named as the RFC names them, plus STOPPED
/// (not started, or released) and CHECKING (RFC 2131 §3.1 step 5: probing the ACKed address
/// before using it).
public enum DHCPClientState: String, Sendable, CustomStringConvertible {
    case stopped = "STOPPED"
    case initial = "INIT"
    case selecting = "SELECTING"
    case requesting = "REQUESTING"
    case checking = "CHECKING"
    case bound = "BOUND"
    case renewing = "RENEWING"
    case rebinding = "REBINDING"
    case rebooting = "REBOOTING"

    public var description: String { rawValue }

    /// BOUND, RENEWING or REBINDING: the address is in use.
    public var holdsAddress: Bool { self == .bound || self == .renewing || self == .rebinding }
}

/// Why a lease ended.
public enum DHCPLeaseLoss: String, Sendable, CustomStringConvertible {
    /// The lease time ran out without an ACK (RFC 2131 §4.4.5).
    case expired
    /// A server answered a REQUEST with DHCPNAK.
    case nak
    /// The host sent DHCPRELEASE.
    case released
    /// The address was found in use and DHCPDECLINE was sent.
    case declined
    /// The client was stopped; the lease is remembered for INIT-REBOOT.
    case stopped
    /// A renewal granted a different address, which replaces this one.
    case replaced

    public var description: String { rawValue }
}

/// The RFC 2131 client state machine.
struct DHCPClient {
    /// Where a message goes.
    enum Destination: Equatable {
        /// To 255.255.255.255:67 from `source` (0.0.0.0 before the client has an address).
        case broadcast(source: IPv4Address)
        /// Unicast to the server's address, from the client's address.
        case server(IPv4Address)
    }

    /// What the host must do, in order.
    enum Action: Equatable {
        case send(DHCPMessage, Destination)
        /// Probe the lease's address (RFC 5227) and report with `addressChecked`.
        case check(DHCPClientLease)
        /// Configure the lease (new, or `renewed` for the same address).
        case bind(DHCPClientLease, renewed: Bool)
        /// Stop using the lease's address.
        case unbind(DHCPClientLease, DHCPLeaseLoss)
        case stateChanged(from: DHCPClientState, to: DHCPClientState)
        case nakReceived(server: IPv4Address?, message: String?)
    }

    let mac: MACAddress
    let configuration: DHCPClientConfiguration
    /// Whether the host probes an ACKed address before binding it.
    let checksAddresses: Bool
    var random: SeededRandom

    private(set) var state: DHCPClientState = .stopped
    /// The lease in use (BOUND, RENEWING, REBINDING), or the one remembered for INIT-REBOOT.
    private(set) var lease: DHCPClientLease?
    /// The lease being checked (CHECKING).
    private var candidate: DHCPClientLease?
    /// The offer being requested (REQUESTING): address and server identifier.
    private var offer: (address: IPv4Address, server: IPv4Address)?
    /// Transaction id of the exchange under way.
    private(set) var xid: UInt32 = 0
    /// When the acquisition or renewal began ('secs' counts from here).
    private var transactionStart = Instant.zero
    /// First transmission of the current DHCPREQUEST (the lease is counted from it).
    private var requestSentAt = Instant.zero
    /// Transmissions of the current message.
    private var transmissions = 0
    /// The message being retransmitted, and where to.
    private var outstanding: (message: DHCPMessage, destination: Destination)?
    /// Next timer: retransmission, T1, T2, expiry or restart.
    private(set) var deadline: Instant?

    init(mac: MACAddress, configuration: DHCPClientConfiguration, checksAddresses: Bool, random: SeededRandom) {
        self.mac = mac; self.configuration = configuration
        self.checksAddresses = checksAddresses; self.random = random
    }

    // MARK: Actions from the user

    /// Starts acquisition: INIT-REBOOT with a remembered unexpired lease, else SELECTING. Does
    /// nothing while the client is already running (INIT included).
    mutating func start(now: Instant) -> [Action] {
        // INIT is a resting state only while waiting out the backoff after a DECLINE; the RFC's
        // ten seconds are kept even if the user asks again.
        guard state == .stopped else { return [] }
        var actions: [Action] = []
        if configuration.usesInitReboot, let held = lease, now < held.expiresAt {
            beginRebooting(held, now: now, &actions)
        } else {
            lease = nil
            beginSelecting(now: now, &actions)
        }
        return actions
    }

    /// Sends DHCPRELEASE for the lease in use and stops (RFC 2131 §4.4.6: "the client sends a
    /// DHCPRELEASE message to the server" and gives up the lease).
    mutating func release(now: Instant) -> [Action] {
        var actions: [Action] = []
        if state.holdsAddress, let held = lease {
            // RFC 2131 Table 5, DHCPRELEASE: 'ciaddr' the client's address; option 54 MUST;
            // options 50 and 55 MUST NOT.
            xid = randomXID()
            var m = message(.release, now: now, parameterRequest: false)
            m.ciaddr = held.address.address
            m.options.serverIdentifier = held.serverIdentifier
            actions.append(.send(m, .server(held.serverIdentifier)))
            actions.append(.unbind(held, .released))
        }
        lease = nil; candidate = nil; offer = nil; outstanding = nil; deadline = nil
        setState(.stopped, &actions)
        return actions
    }

    /// Stops without telling the server; the lease is kept for INIT-REBOOT.
    mutating func stop(now: Instant) -> [Action] {
        var actions: [Action] = []
        if state.holdsAddress, let held = lease { actions.append(.unbind(held, .stopped)) }
        lease = lease.flatMap { now < $0.expiresAt ? $0 : nil }
        candidate = nil; offer = nil; outstanding = nil; deadline = nil
        setState(.stopped, &actions)
        return actions
    }

    // MARK: Messages from servers

    /// Handles a BOOTREPLY. Returns nil when the message is not for the exchange under way
    /// (wrong xid or chaddr, unexpected type, unusable contents).
    mutating func receive(_ m: DHCPMessage, now: Instant) -> [Action]? {
        // RFC 2131 §4.4.1: the client matches replies by 'xid'; 'chaddr' names the client.
        guard m.op == .bootReply, m.xid == xid, m.clientMAC == mac, let type = m.messageType else { return nil }
        var actions: [Action] = []
        switch (state, type) {
        case (.selecting, .offer):
            // RFC 2131 Table 3: an OFFER carries option 54 ("MUST"); 'yiaddr' is the offer.
            guard m.yiaddr != .any, let server = m.options.serverIdentifier else { return nil }
            offer = (m.yiaddr, server)
            setState(.requesting, &actions)
            // RFC 2131 §4.4.1 / Table 5, DHCPREQUEST in SELECTING: 'ciaddr' 0, option 50 MUST
            // be the offered address, option 54 MUST be the chosen server; the xid is the OFFER's.
            var r = message(.request, now: now, parameterRequest: true)
            r.options.requestedIPAddress = m.yiaddr
            r.options.serverIdentifier = server
            requestSentAt = now
            transmissions = 0
            transmit(r, .broadcast(source: .any), now: now, &actions)

        case (.requesting, .ack), (.rebooting, .ack):
            guard let granted = DHCPClientLease(ack: m, requestSentAt: requestSentAt, fallbackServer: offer?.server) else { return nil }
            outstanding = nil
            offer = nil
            accept(granted, now: now, &actions)

        case (.renewing, .ack), (.rebinding, .ack):
            guard let held = lease,
                  let granted = DHCPClientLease(ack: m, requestSentAt: requestSentAt, fallbackServer: held.serverIdentifier)
            else { return nil }
            outstanding = nil
            if granted.address == held.address {
                bind(granted, renewed: true, now: now, &actions)
            } else {
                // A different address: give up the old one and take the new one afresh.
                actions.append(.unbind(held, .replaced))
                lease = nil
                accept(granted, now: now, &actions)
            }

        case (.requesting, .nak), (.rebooting, .nak), (.renewing, .nak), (.rebinding, .nak):
            // RFC 2131 §3.1 step 5: "If the client receives a DHCPNAK message, the client
            // restarts the configuration process." In RENEWING and REBINDING, Figure 5 takes a
            // DHCPNAK to INIT, halting the network (the address is dropped).
            actions.append(.nakReceived(server: m.options.serverIdentifier, message: m.options.message))
            if state.holdsAddress, let held = lease { actions.append(.unbind(held, .nak)) }
            lease = nil
            setState(.initial, &actions)
            beginSelecting(now: now, &actions)

        default:
            return nil
        }
        return actions
    }

    // MARK: Reports from the host

    /// The RFC 5227 probe of a CHECKING address finished. RFC 2131 §3.1 step 5: "If the client
    /// detects that the address is already in use (e.g., through the use of ARP), the client MUST
    /// send a DHCPDECLINE message to the server and restarts the configuration process."
    mutating func addressChecked(conflict: Bool, now: Instant) -> [Action] {
        guard state == .checking, let granted = candidate else { return [] }
        candidate = nil
        var actions: [Action] = []
        if conflict {
            decline(granted, now: now, &actions)
        } else {
            bind(granted, renewed: false, now: now, &actions)
        }
        return actions
    }

    /// Another host claims the bound address and the host will not defend it any more (RFC 5227
    /// §2.4: a second conflict within DEFEND_INTERVAL means ceasing to use the address): decline
    /// it and start over.
    mutating func addressConflict(now: Instant) -> [Action] {
        guard state.holdsAddress, let held = lease else { return [] }
        var actions: [Action] = [.unbind(held, .declined)]
        lease = nil
        decline(held, now: now, &actions)
        return actions
    }

    // MARK: Timers

    /// Runs the timer if due: retransmission, T1, T2, expiry, or the restart after DECLINE.
    mutating func poll(now: Instant) -> [Action] {
        guard let due = deadline, due <= now else { return [] }
        var actions: [Action] = []
        switch state {
        case .stopped, .checking:
            deadline = nil
        case .initial:
            beginSelecting(now: now, &actions)
        case .selecting:
            // RFC 2131 §4.1: retransmit with doubling delays up to 64 s. SELECTING never gives up.
            retransmit(now: now, &actions)
        case .requesting, .rebooting:
            if transmissions >= configuration.requestTransmissions {
                offer = nil
                if state == .rebooting { lease = nil }
                setState(.initial, &actions)
                beginSelecting(now: now, &actions)
            } else {
                retransmit(now: now, &actions)
            }
        case .bound, .renewing, .rebinding:
            guard let held = lease else { deadline = nil; break }
            if now >= held.expiresAt {
                // RFC 2131 §4.4.5: "If the lease expires before the client receives a DHCPACK,
                // the client moves to INIT state, MUST immediately stop any other network
                // processing and requests network initialization parameters as if the client
                // were uninitialized."
                actions.append(.unbind(held, .expired))
                lease = nil
                setState(.initial, &actions)
                beginSelecting(now: now, &actions)
            } else if now >= held.rebindAt {
                if state != .rebinding {
                    // RFC 2131 §4.4.5: "If no DHCPACK arrives before time T2, the client moves
                    // to REBINDING state and sends (via broadcast) a DHCPREQUEST message".
                    setState(.rebinding, &actions)
                    beginRefresh(held, now: now, &actions)
                } else {
                    resendRefresh(held, now: now, &actions)
                }
            } else if now >= held.renewAt {
                if state == .bound {
                    // RFC 2131 §4.4.5: "At time T1 the client moves to RENEWING state and sends
                    // (via unicast) a DHCPREQUEST message to the server to extend its lease."
                    setState(.renewing, &actions)
                    beginRefresh(held, now: now, &actions)
                } else {
                    resendRefresh(held, now: now, &actions)
                }
            } else {
                deadline = held.renewAt
            }
        }
        return actions
    }

    // MARK: Steps

    private mutating func beginSelecting(now: Instant, _ actions: inout [Action]) {
        // RFC 2131 §4.4.1: "The client generates and records a random transaction identifier".
        xid = randomXID()
        transactionStart = now
        transmissions = 0
        offer = nil
        setState(.selecting, &actions)
        transmit(message(.discover, now: now, parameterRequest: true), .broadcast(source: .any), now: now, &actions)
    }

    private mutating func beginRebooting(_ held: DHCPClientLease, now: Instant, _ actions: inout [Action]) {
        // RFC 2131 §3.2 / Table 5, DHCPREQUEST in INIT-REBOOT: 'ciaddr' 0, option 50 MUST be the
        // previous address, option 54 MUST NOT; broadcast.
        xid = randomXID()
        transactionStart = now
        requestSentAt = now
        transmissions = 0
        setState(.rebooting, &actions)
        var r = message(.request, now: now, parameterRequest: true)
        r.options.requestedIPAddress = held.address.address
        transmit(r, .broadcast(source: .any), now: now, &actions)
    }

    /// The first REQUEST of RENEWING (unicast) or REBINDING (broadcast). Table 5: 'ciaddr' the
    /// client's address; options 50 and 54 MUST NOT be sent.
    private mutating func beginRefresh(_ held: DHCPClientLease, now: Instant, _ actions: inout [Action]) {
        xid = randomXID()
        transactionStart = now
        requestSentAt = now
        transmissions = 0
        var r = message(.request, now: now, parameterRequest: true)
        r.ciaddr = held.address.address
        let destination: Destination = state == .renewing
            ? .server(held.serverIdentifier) : .broadcast(source: held.address.address)
        outstanding = (r, destination)
        actions.append(.send(r, destination))
        transmissions = 1
        deadline = refreshDeadline(held, now: now)
    }

    private mutating func resendRefresh(_ held: DHCPClientLease, now: Instant, _ actions: inout [Action]) {
        guard let (sent, destination) = outstanding else { beginRefresh(held, now: now, &actions); return }
        var m = sent
        m.secs = secs(now)
        outstanding = (m, destination)
        actions.append(.send(m, destination))
        transmissions += 1
        deadline = refreshDeadline(held, now: now)
    }

    /// RFC 2131 §4.4.5: half the time left until T2 (RENEWING) or expiry (REBINDING), at least the
    /// configured minimum — but never past that next state change.
    private func refreshDeadline(_ held: DHCPClientLease, now: Instant) -> Instant {
        let limit = state == .renewing ? held.rebindAt : held.expiresAt
        let wait = max((limit - now) / 2, configuration.renewRetransmissionMinimum)
        return min(now + wait, limit)
    }

    /// A new address: probe it first (CHECKING) if the host does, else bind it.
    private mutating func accept(_ granted: DHCPClientLease, now: Instant, _ actions: inout [Action]) {
        guard checksAddresses else { bind(granted, renewed: false, now: now, &actions); return }
        candidate = granted
        deadline = nil
        setState(.checking, &actions)
        actions.append(.check(granted))
    }

    private mutating func bind(_ granted: DHCPClientLease, renewed: Bool, now: Instant, _ actions: inout [Action]) {
        lease = granted
        setState(.bound, &actions)
        actions.append(.bind(granted, renewed: renewed))
        deadline = granted.leaseTime == nil ? nil : granted.renewAt
    }

    private mutating func decline(_ refused: DHCPClientLease, now: Instant, _ actions: inout [Action]) {
        // RFC 2131 Table 5, DHCPDECLINE: 'ciaddr' 0; option 50 MUST (the address), option 54
        // MUST; option 55 MUST NOT. Broadcast from 0.0.0.0, as the client has no address.
        xid = randomXID()
        var m = message(.decline, now: now, parameterRequest: false)
        m.options.requestedIPAddress = refused.address.address
        m.options.serverIdentifier = refused.serverIdentifier
        actions.append(.send(m, .broadcast(source: .any)))
        outstanding = nil
        setState(.initial, &actions)
        deadline = now + configuration.declineBackoff
    }

    private mutating func transmit(_ m: DHCPMessage, _ destination: Destination, now: Instant, _ actions: inout [Action]) {
        outstanding = (m, destination)
        actions.append(.send(m, destination))
        transmissions += 1
        deadline = now + retransmissionDelay()
    }

    private mutating func retransmit(now: Instant, _ actions: inout [Action]) {
        guard let (sent, destination) = outstanding else { deadline = nil; return }
        var m = sent
        m.secs = secs(now)
        transmit(m, destination, now: now, &actions)
    }

    /// RFC 2131 §4.1: 4 s before the first retransmission, doubling to at most 64 s, each
    /// "randomized by the value of a uniform random number chosen from the range -1 to +1".
    /// `transmissions` counts the message just sent (1 ⇒ 4 s, 2 ⇒ 8 s, ...).
    mutating func retransmissionDelay() -> Duration {
        let doublings = min(max(transmissions - 1, 0), 4)
        let base = min(DHCPClientConstants.firstRetransmissionDelay * (1 << doublings),
                       DHCPClientConstants.maximumRetransmissionDelay)
        let jitter = DHCPClientConstants.retransmissionJitter.nanosecondsClamped
        let span = UInt64(2 * jitter + 1)
        let offset = Int64(random.next() % span) - jitter
        return base + .nanoseconds(offset)
    }

    // MARK: Messages

    private mutating func randomXID() -> UInt32 { UInt32(truncatingIfNeeded: random.next() >> 32) }

    /// RFC 2131 Table 5 'secs': "Filled in by client, seconds elapsed since client began address
    /// acquisition or renewal process."
    private func secs(_ now: Instant) -> UInt16 {
        let elapsed = (now - transactionStart).components.seconds
        return UInt16(clamping: max(elapsed, 0))
    }

    /// A BOOTREQUEST of `type` with this client's fixed fields and options 53, 61 (and 12, 55).
    private func message(_ type: DHCPMessageType, now: Instant, parameterRequest: Bool) -> DHCPMessage {
        var m = DHCPMessage(op: .bootRequest, xid: xid, secs: secs(now), chaddr: DHCPHardwareAddress(mac))
        // RFC 2131 §4.1: "A client that cannot receive unicast IP datagrams until its protocol
        // software has been configured with an IP address SHOULD set the BROADCAST bit in the
        // 'flags' field to 1 in any DHCPDISCOVER or DHCPREQUEST messages that client sends."
        // Whether this client is such a one is a configuration choice.
        m.isBroadcast = configuration.requestsBroadcast && (type == .discover || type == .request)
        m.messageType = type
        // RFC 2132 §9.14: "it MAY consist of a hardware type and hardware address. In this case
        // the type field SHOULD be one of the ARP hardware types".
        m.options.clientIdentifier = [DHCPClientConstants.clientIdentifierTypeEthernet] + mac.octets
        if type == .discover || type == .request {
            if let name = configuration.hostName { m.options.hostName = name }
            if parameterRequest { m.options.parameterRequestList = configuration.parameterRequestList }
        }
        return m
    }

    private mutating func setState(_ next: DHCPClientState, _ actions: inout [Action]) {
        guard next != state else { return }
        actions.append(.stateChanged(from: state, to: next))
        state = next
    }
}
