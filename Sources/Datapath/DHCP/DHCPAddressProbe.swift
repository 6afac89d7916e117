// Probing an address before offering it (RFC 2131 §2.2: "the allocating server SHOULD probe the
// reused address before allocating the address, e.g., with an ICMP echo request, and the client
// SHOULD probe the newly received address, e.g., with ARP"). The server probes with ARP, as
// dnsmasq pings: sans-IO, it asks the driver to send "who has <address>?" (`takeAddressProbes`),
// holds the offer, and either hears of an answer (`addressAnswered`: the address is in use, it is
// held out and another is chosen) or reaches the probe's deadline (`finishProbes`: the offer goes).
//
// Probed: an address the client does not already hold (offered or bound to it) and that is not
// reserved for it. A client's own binding, restored from a lease database or not, is offered at
// once: the host answering for it would be the client itself.

import Basics
import Wire

/// An offer held back until its ARP probe times out.
struct DHCPAddressProbe: Sendable {
    var address: IPv4Address
    var client: DHCPClientIdentity
    /// The latest DHCPDISCOVER of the client: the offer answers it.
    var request: DHCPMessage
    var deadline: Instant
}

extension DHCPServer {
    /// Addresses whose probe must be sent now ("who has <address>?" on the server's segment),
    /// in the order they were chosen; the list is emptied.
    public mutating func takeAddressProbes() -> [IPv4Address] {
        defer { addressProbesToSend = [] }
        return addressProbesToSend
    }

    /// Offers waiting for their probe to end.
    public var probesInFlight: Int { probes.count }

    /// Whether `address` is being probed (a host claiming it now is in conflict).
    public func isProbing(_ address: IPv4Address) -> Bool { probes.contains { $0.address == address } }

    /// A host on the segment claimed `address` (an ARP packet with it as the sender's address)
    /// at `now`. When it is being probed, the conflict is counted, the address is held out for
    /// the decline hold time, and the client's DHCPDISCOVER is answered again with another
    /// address: nil when that one is probed in turn (or none is left), else the offer.
    public mutating func addressAnswered(_ address: IPv4Address, now: Instant) -> DHCPReply? {
        guard let i = probes.firstIndex(where: { $0.address == address }) else { return nil }
        let probe = probes.remove(at: i)
        counters.conflicts &+= 1
        conflictHolds[address] = now + configuration.declineHoldTime
        guard let client = Client(probe.request, server: self) else { return nil }
        return discover(probe.request, client, now: now)
    }

    /// Sends the offers whose probe went unanswered until `now`, earliest deadline first (ties by
    /// address). Call at `nextDeadline()`.
    public mutating func finishProbes(now: Instant) -> [DHCPReply] {
        guard probes.contains(where: { $0.deadline <= now }) else { return [] }
        expire(now: now)
        let due = probes.filter { $0.deadline <= now }.sorted { ($0.deadline, $0.address) < ($1.deadline, $1.address) }
        probes.removeAll { $0.deadline <= now }
        var replies: [DHCPReply] = []
        for probe in due {
            guard let client = Client(probe.request, server: self), isAvailable(probe.address, to: client),
                  let reply = offer(probe.address, answering: probe.request, client, now: now) else { continue }
            replies.append(reply)
        }
        return replies
    }

    // MARK: Used by the server

    /// Whether a probe for `client` is under way; if so its DHCPDISCOVER replaces the one held.
    mutating func deferWhileProbing(_ message: DHCPMessage, _ client: Client) -> Bool {
        guard let i = probes.firstIndex(where: { $0.client == client.identity }) else { return false }
        probes[i].request = message
        return true
    }

    /// Starts probing `address` before it is offered to `client`, when probing is configured
    /// and the address is new to the client. Returns whether the offer is held back.
    mutating func startProbe(of address: IPv4Address, answering message: DHCPMessage, _ client: Client, now: Instant) -> Bool {
        guard let timeout = configuration.probeTimeout, client.reservedAddress != address else { return false }
        if let record = table[address], record.client == client.identity, record.state == .offered || record.state == .bound {
            return false
        }
        probes.append(DHCPAddressProbe(address: address, client: client.identity, request: message, deadline: now + timeout))
        addressProbesToSend.append(address)
        counters.probesSent &+= 1
        return true
    }

    /// Whether `address` is out of reach of `client` because of a probe: it answered one
    /// (held out for everyone) or it is being probed for another client.
    func isProbeHeld(_ address: IPv4Address, from client: Client) -> Bool {
        if conflictHolds[address] != nil { return true }
        return probes.contains { $0.address == address && $0.client != client.identity }
    }

    /// Returns addresses whose conflict hold ended by `now` to use.
    mutating func endConflictHolds(now: Instant) {
        guard !conflictHolds.isEmpty else { return }
        conflictHolds = conflictHolds.filter { $0.value > now }
    }
}
