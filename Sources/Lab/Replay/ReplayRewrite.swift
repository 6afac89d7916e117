// Lab room, replay: what one replay entry does to a capture's frames before it plays them, as
// tcprewrite does: keep one side of a split capture, point unicast frames at the node that
// receives them (`--rewrite-mac`), and move addresses from one network to another (`--map`,
// tcprewrite's pseudo-NAT). Checksums are patched incrementally (RFC 1624): the IPv4 header's,
// and TCP's and UDP's, whose pseudo-header holds the addresses (a zero UDP checksum, "none",
// stays zero). ARP's sender and target addresses are mapped too, so the router hears of the
// mapped hosts. Addresses quoted inside ICMP errors are left as captured.
import Capture
import Wire

/// `--map [client:|server:]FROM=TO`: addresses in FROM become the same host in TO (prefixes of
/// equal length), in sources and destinations, of one side's frames or of both.
public struct ReplayAddressMap: Equatable, Sendable, CustomStringConvertible {
    public var from: IPv4Network
    public var to: IPv4Network
    /// Only this side's frames (nil: both).
    public var side: ReplaySide?

    public init(from: IPv4Network, to: IPv4Network, side: ReplaySide? = nil) { self.from = from; self.to = to; self.side = side }

    public init(parsing text: String) throws(ReplayOptionError) {
        var rest = Substring(text)
        var side: ReplaySide?
        for s in ReplaySide.allCases where rest.hasPrefix("\(s.rawValue):") {
            side = s
            rest = rest.dropFirst(s.rawValue.count + 1)
        }
        let fix = "write FROM=TO with networks of the same prefix, e.g. 192.168.1.0/24=10.0.1.0/24, optionally after client: or server:"
        let parts = rest.split(separator: "=", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw ReplayOptionError("--map \(text): not FROM=TO", fix: fix) }
        guard let from = IPv4Network(parts[0]), let to = IPv4Network(parts[1]) else {
            throw ReplayOptionError("--map \(text): '\(IPv4Network(parts[0]) == nil ? parts[0] : parts[1])' is not an IPv4 network", fix: fix)
        }
        guard from.prefixLength == to.prefixLength else {
            throw ReplayOptionError("--map \(text): /\(from.prefixLength) and /\(to.prefixLength) differ", fix: fix)
        }
        self.init(from: from, to: to, side: side)
    }

    /// `address` moved into `to`, if it lies in `from`.
    func map(_ address: IPv4Address) -> IPv4Address? {
        guard from.contains(address) else { return nil }
        return IPv4Address(rawValue: to.address.rawValue & to.mask | address.rawValue & ~to.mask)
    }

    public var description: String { (side.map { "\($0):" } ?? "") + "\(from)=\(to)" }
}

/// What a replay entry does to the capture's frames (nothing, by default).
public struct ReplayRewrite: Equatable, Sendable {
    /// Play only `side` of the capture, split this way (nil: every frame).
    public var split: ReplaySplit?
    public var side: ReplaySide = .client
    /// The destination MAC of unicast frames (nil: as captured).
    public var destinationMAC: MACAddress?
    /// Address maps, the first that matches an address wins.
    public var maps: [ReplayAddressMap] = []

    public init() {}

    public var isIdentity: Bool { split == nil && destinationMAC == nil && maps.isEmpty }

    /// What rewriting a capture did.
    public struct Tally: Equatable, Sendable {
        /// Frames kept (this entry's side) and left to the other side.
        public var kept = 0, otherSide = 0
        /// Frames whose destination MAC, or at least one address, was rewritten.
        public var macRewritten = 0, mapped = 0
    }

    /// The frames this entry plays, rewritten, their indices in `frames`, and what was done.
    public func apply(to frames: [CaptureRecord]) -> (frames: [CaptureRecord], indices: [Int], tally: Tally) {
        var tally = Tally()
        guard !isIdentity else { tally.kept = frames.count; return (frames, Array(frames.indices), tally) }
        let sides = split?.sides(of: frames)
        var out: [CaptureRecord] = []
        var indices: [Int] = []
        out.reserveCapacity(frames.count)
        for (k, record) in frames.enumerated() {
            let frameSide = sides?[k] ?? side
            if sides != nil, frameSide != side { tally.otherSide += 1; continue }
            var bytes = record.bytes
            if let view = ReplayFrameView(bytes) {
                if let mac = destinationMAC, view.destination.isUnicast, view.destination != mac {
                    for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: mac.rawValue >> (8 * (5 - UInt64(i)))) }
                    tally.macRewritten += 1
                }
                if !maps.isEmpty, rewriteAddresses(&bytes, view, side: frameSide) { tally.mapped += 1 }
            }
            tally.kept += 1
            indices.append(k)
            out.append(CaptureRecord(time: record.time, originalLength: record.originalLength, bytes: bytes))
        }
        return (out, indices, tally)
    }

    /// The first map for `side` that holds `address`, applied.
    func mapped(_ address: IPv4Address, side: ReplaySide) -> IPv4Address? {
        for m in maps where m.side == nil || m.side == side {
            if let a = m.map(address) { return a }
        }
        return nil
    }

    /// Maps the frame's IPv4 source and destination (or ARP addresses) in place; true if any moved.
    func rewriteAddresses(_ bytes: inout [UInt8], _ view: ReplayFrameView, side: ReplaySide) -> Bool {
        if let arp = view.arp {
            var changed = false
            for field in [14, 24] {
                guard let old = view.arpAddress(field), let new = mapped(old, side: side), new != old else { continue }
                ReplayFrameView.set32(&bytes, arp + field, new.rawValue)
                changed = true
            }
            return changed
        }
        guard let ip = view.ipv4 else { return false }
        var changed = false
        for (field, old) in [(12, ip.source), (16, ip.destination)] {
            guard let new = mapped(old, side: side), new != old else { continue }
            changed = true
            ReplayFrameView.set32(&bytes, ip.offset + field, new.rawValue)
            let headerSum = ReplayFrameView.u16(bytes, ip.offset + 10)
            ReplayFrameView.set16(&bytes, ip.offset + 10, InternetChecksum.update(headerSum, old: old.rawValue, new: new.rawValue))
            // The pseudo-header's address, in a transport header the frame holds whole enough.
            guard let t = ip.transport else { continue }
            let checksumAt: Int
            switch ip.protocol {
            case IPProtocol.tcp.rawValue: checksumAt = t + 16
            case IPProtocol.udp.rawValue: checksumAt = t + 6
            default: continue
            }
            guard checksumAt + 2 <= t + ip.transportLength else { continue }
            let sum = ReplayFrameView.u16(bytes, checksumAt)
            if ip.protocol == IPProtocol.udp.rawValue && sum == 0 { continue }  // RFC 768: no checksum
            var updated = InternetChecksum.update(sum, old: old.rawValue, new: new.rawValue)
            if ip.protocol == IPProtocol.udp.rawValue && updated == 0 { updated = 0xFFFF }
            ReplayFrameView.set16(&bytes, checksumAt, updated)
        }
        return changed
    }
}
