// The neighbor cache: IPv4 address → MAC address per interface, with expiry (RFC 826 "translation
// table"; RFC 1122 §2.3.2.1 "a mechanism to flush out-of-date cache entries").
import Basics
import Wire

/// Learned neighbors, bounded and expiring. Entries past their lifetime are ignored on lookup
/// (which sends the caller back to ARP) and removed by `purgeExpired`.
struct ARPCache {
    struct Key: Hashable {
        var interface: Int
        var address: IPv4Address
    }
    struct Entry {
        var mac: MACAddress
        var expires: Instant
    }

    private(set) var entries: [Key: Entry] = [:]
    let capacity: Int
    let lifetime: Duration
    /// Reused scratch for purging, so purges do not allocate either.
    private var expiredKeys: [Key] = []

    init(capacity: Int, lifetime: Duration) {
        self.capacity = capacity; self.lifetime = lifetime
        entries.reserveCapacity(capacity)
        expiredKeys.reserveCapacity(capacity)
    }

    /// The MAC address of a neighbor, unless unknown or expired.
    @inline(__always) func lookup(interface: Int, address: IPv4Address, now: Instant) -> MACAddress? {
        guard let entry = entries[Key(interface: interface, address: address)], entry.expires > now else { return nil }
        return entry.mac
    }

    /// RFC 826: "If the pair <protocol type, sender protocol address> is already in my translation
    /// table, update the sender hardware address field of the entry with the new information in
    /// the packet and set Merge_flag to true." Returns the merge flag.
    mutating func refresh(interface: Int, address: IPv4Address, mac: MACAddress, now: Instant) -> Bool {
        let key = Key(interface: interface, address: address)
        guard entries[key] != nil else { return false }
        entries[key] = Entry(mac: mac, expires: now + lifetime)
        return true
    }

    /// RFC 826: "If Merge_flag is false, add the triplet <protocol type, sender protocol address,
    /// sender hardware address> to the translation table." When full, expired entries go first,
    /// then the one that would expire soonest.
    mutating func insert(interface: Int, address: IPv4Address, mac: MACAddress, now: Instant) {
        let key = Key(interface: interface, address: address)
        if entries[key] == nil, entries.count >= capacity {
            purgeExpired(now: now)
            if entries.count >= capacity, let victim = soonestToExpire() { entries[victim] = nil }
        }
        entries[key] = Entry(mac: mac, expires: now + lifetime)
    }

    /// Removes every entry expired at `now`.
    mutating func purgeExpired(now: Instant) {
        expiredKeys.removeAll(keepingCapacity: true)
        for (key, entry) in entries where entry.expires <= now { expiredKeys.append(key) }
        for key in expiredKeys { entries[key] = nil }
    }

    /// The entry expiring first; ties broken by (interface, address) so the choice never depends
    /// on the dictionary's per-process iteration order.
    private func soonestToExpire() -> Key? {
        var best: (Instant, Int, UInt32, Key)?
        for (key, entry) in entries {
            let rank = (entry.expires, key.interface, key.address.rawValue, key)
            if best == nil || (rank.0, rank.1, rank.2) < (best!.0, best!.1, best!.2) { best = rank }
        }
        return best?.3
    }
}
