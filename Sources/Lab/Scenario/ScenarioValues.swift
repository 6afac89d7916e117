// Typed reads of the scenario format's own scalars (addresses, bit rates, address sets, bounds),
// each failing with the value's location and what to write instead.
import Foundation
import Wire
import Yams
import YAMLSchema

enum ScenarioValues {
    /// The value at `key` of a mapping node, without checking the mapping's other keys (to find
    /// the `do:` or `action:` that decides which keys are allowed).
    static func peek(_ value: YAMLValue, _ key: String) -> YAMLValue? {
        guard case .mapping(let m) = value.node else { return nil }
        for (k, v) in m {
            if case .scalar(let s) = k, s.string == key {
                return YAMLValue(node: v, path: value.path.isEmpty ? key : "\(value.path).\(key)", file: value.file)
            }
        }
        return nil
    }

    /// A name for a node, capture, link or action: letters, digits, '-' and '_' (no dots: a dot
    /// separates a bridge from its segment).
    static func identifier(_ v: YAMLValue, what: String) throws(ConfigError) -> String {
        let s = try v.string()
        guard isIdentifier(s) else {
            throw v.error("'\(s)' is not a valid \(what) name", fix: "use letters, digits, '-' and '_' only (e.g. vm1, br0, lan-a)")
        }
        return s
    }

    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || $0 == "-" || $0 == "_" }
    }

    static func address(_ v: YAMLValue) throws(ConfigError) -> IPv4Address {
        let s = try v.string()
        guard let a = IPv4Address(s) else { throw v.error("'\(s)' is not an IPv4 address", fix: "write four decimal octets, e.g. 10.0.0.5") }
        return a
    }

    /// An address with its prefix length ("10.0.0.5/24").
    static func interfaceAddress(_ v: YAMLValue) throws(ConfigError) -> IPv4Network {
        let s = try v.string()
        guard s.contains("/"), let n = IPv4Network(s) else {
            throw v.error("'\(s)' is not an address with a prefix length", fix: "write e.g. 10.0.0.5/24, or 'dhcp'")
        }
        guard n.prefixLength <= 30 ? (n.address != n.networkAddress && n.address != n.broadcastAddress) : true else {
            throw v.error("\(n.address) is the network or broadcast address of \(n)", fix: "use a host address inside the subnet")
        }
        return n
    }

    static func mac(_ v: YAMLValue) throws(ConfigError) -> MACAddress {
        let s = try v.string()
        guard let m = MACAddress(s), !m.isMulticast, m != .zero else {
            throw v.error("'\(s)' is not a unicast MAC address", fix: "write six hex octets, e.g. 52:54:00:12:34:56")
        }
        return m
    }

    // MARK: Rates

    /// "100mbit", "1gbit", "512kbit", "9600bit" (decimal multiples, as tc writes them) in bits per second.
    static func parseBitRate(_ text: String) -> Double? {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("tbit", 1e12), ("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            guard let v = Double(s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v > 0, v.isFinite else { return nil }
            return v * scale
        }
        return nil
    }

    /// The fastest rate a link or flow may be given: 100 tbit/s (a rate of 1e300tbit overflowed
    /// the link model's integer rate and trapped).
    static let maximumBitRate = 1e14
    /// The fastest packet rate a flow may be given.
    static let maximumPacketRate = 1e9

    static func bitRate(_ v: YAMLValue) throws(ConfigError) -> Double {
        let s = try v.scalar()
        if let r = parseBitRate(s) {
            guard r <= maximumBitRate else { throw v.error("'\(s)' is out of range", fix: "use at most 100tbit") }
            return r
        }
        if s.lowercased().hasSuffix("bps") {
            throw v.error("'\(s)' is ambiguous", fix: "write the rate in bits: 100mbit, 1gbit, 512kbit (tc reads 'mbps' as megabytes per second)")
        }
        throw v.error("'\(s)' is not a bit rate", fix: "write a number and a unit: bit, kbit, mbit, gbit (e.g. 100mbit)")
    }

    /// A UDP flow's rate: bits ("10mbit") or packets ("1000pps") per second.
    static func flowRate(_ v: YAMLValue) throws(ConfigError) -> FlowRate {
        let s = try v.scalar().trimmingCharacters(in: .whitespaces).lowercased()
        if s.hasSuffix("pps") {
            guard let p = Double(s.dropLast(3).trimmingCharacters(in: .whitespaces)), p > 0, p.isFinite else {
                throw v.error("'\(s)' is not a packet rate", fix: "write e.g. 1000pps")
            }
            guard p <= maximumPacketRate else { throw v.error("'\(s)' is out of range", fix: "use at most 1000000000pps") }
            return .packetsPerSecond(p)
        }
        if let r = parseBitRate(s), r > maximumBitRate { throw v.error("'\(s)' is out of range", fix: "use at most 100tbit") }
        do { return .bitsPerSecond(try bitRate(v)) } catch {
            throw v.error("'\(s)' is not a rate", fix: "write bits per second (10mbit, 512kbit) or packets per second (1000pps)")
        }
    }

    // MARK: Byte counts

    /// "10MB", "1.5GB", "64KiB", "1000" (bytes; KB/MB/GB decimal, KiB/MiB/GiB binary, K/M/G binary
    /// as iperf3 -n reads them) within `range`.
    static func byteCount(_ v: YAMLValue, in range: ClosedRange<UInt64>) throws(ConfigError) -> UInt64 {
        let s = try v.scalar().trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("KB", 1e3), ("kB", 1e3), ("MB", 1e6), ("GB", 1e9),
                                         ("K", 1024), ("M", 1_048_576), ("G", 1_073_741_824), ("B", 1)]
        var number = s, scale = 1.0
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            number = String(s.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            scale = factor
            break
        }
        guard let x = Double(number), x.isFinite, x > 0 else {
            throw v.error("'\(s)' is not a byte count", fix: "write e.g. 10MB, 512KB, 1GiB or a number of bytes")
        }
        let bytes = (x * scale).rounded()
        guard bytes >= Double(range.lowerBound), bytes <= Double(range.upperBound) else {
            throw v.error("\(s) is out of range", fix: "give \(range.lowerBound) to \(range.upperBound) bytes (at most \(Format.number(Double(range.upperBound) / 1e9))GB)")
        }
        return UInt64(bytes)
    }

    // MARK: Address sets

    /// "10.0.0.100-10.0.0.120", "10.0.0.0/24", "10.0.0.7", or a list of those.
    static func addressSet(_ v: YAMLValue) throws(ConfigError) -> AddressSet {
        if case .sequence = v.node {
            var ranges: [ClosedRange<UInt32>] = []
            var texts: [String] = []
            for item in try v.list() {
                let set = try addressSet(item)
                ranges += set.ranges
                texts.append(set.text)
            }
            guard !ranges.isEmpty else { throw v.error("an empty list of addresses matches nothing", fix: "list at least one address, range or prefix") }
            return AddressSet(ranges: ranges, text: texts.joined(separator: ", "))
        }
        let s = try v.string().trimmingCharacters(in: .whitespaces)
        if let dash = s.firstIndex(of: "-") {
            let lo = IPv4Address(s[..<dash].trimmingCharacters(in: .whitespaces))
            let hi = IPv4Address(s[s.index(after: dash)...].trimmingCharacters(in: .whitespaces))
            guard let lo, let hi else { throw v.error("'\(s)' is not an address range", fix: "write first-last, e.g. 10.0.0.100-10.0.0.120") }
            guard lo <= hi else { throw v.error("the range \(s) is empty: \(lo) is after \(hi)", fix: "swap the ends") }
            return AddressSet(ranges: [lo.rawValue...hi.rawValue], text: s)
        }
        if s.contains("/") {
            guard let n = IPv4Network(s) else { throw v.error("'\(s)' is not an IPv4 prefix", fix: "write e.g. 10.0.0.0/24") }
            return AddressSet(ranges: [n.networkAddress.rawValue...n.broadcastAddress.rawValue], text: s)
        }
        guard let a = IPv4Address(s) else {
            throw v.error("'\(s)' is not an address, range or prefix", fix: "write 10.0.0.7, 10.0.0.100-10.0.0.120 or 10.0.0.0/24")
        }
        return AddressSet(ranges: [a.rawValue...a.rawValue], text: s)
    }

    // MARK: Bounds

    /// One value of `unit`, in the unit's base (nanoseconds, bits per second, a fraction).
    static func quantity(_ v: YAMLValue, unit: ValueUnit) throws(ConfigError) -> Double {
        switch unit {
        case .count: return Double(try v.int(in: 0...Int(Int32.max)))
        case .fraction: return try v.fraction()
        case .duration: return Double(try v.duration().nanosecondsClamped)
        case .bitRate: return try bitRate(v)
        case .bool: return try v.bool() ? 1 : 0
        case .address, .addressList:
            throw v.error("addresses are not compared by size", fix: "use equals: or in:")
        }
    }

    /// The comparisons written in `m` (`ge: 15`, `le: 20ms`, …) among its other keys.
    static func comparisons(_ m: YAMLMapping, unit: ValueUnit) throws(ConfigError) -> [Comparison] {
        var list: [Comparison] = []
        for op in ComparisonOperator.allCases {
            if let v = m[op.rawValue] { list.append(Comparison(op, try quantity(v, unit: unit))) }
        }
        return list
    }

    /// A bound: `{ ge: 15, le: 20 }`, or a bare value meaning `eq`.
    static func bound(_ v: YAMLValue, unit: ValueUnit) throws(ConfigError) -> [Comparison] {
        guard case .mapping = v.node else { return [Comparison(.eq, try quantity(v, unit: unit))] }
        let m = try v.mapping(allowed: ComparisonOperator.allCases.map(\.rawValue))
        let list = try comparisons(m, unit: unit)
        guard !list.isEmpty else { throw v.error("no bound given", fix: "write one or more of ge, gt, le, lt, eq, ne, e.g. { ge: 15 }") }
        return list
    }

    /// The condition on one value of `unit`, written as a bare value or a mapping.
    static func condition(_ v: YAMLValue, unit: ValueUnit) throws(ConfigError) -> Condition {
        switch unit {
        case .count, .fraction, .duration, .bitRate:
            return .compare(try bound(v, unit: unit))
        case .bool:
            if case .mapping = v.node {
                let m = try v.mapping(allowed: ["eq"])
                return .isTrue(try m.required("eq", example: "true").bool())
            }
            return .isTrue(try v.bool())
        case .address:
            guard case .mapping = v.node else { return .equalsAddress(try address(v)) }
            let m = try v.mapping(allowed: ["equals", "in"])
            return try addressCondition(m, at: v)
        case .addressList:
            if case .sequence = v.node { return .equalsList(try v.list().map { x throws(ConfigError) in try address(x) }) }
            guard case .mapping = v.node else { return .contains(try address(v)) }
            let m = try v.mapping(allowed: ["equals", "contains"])
            return try addressListCondition(m, at: v)
        }
    }

    /// `equals:` or `in:` among the keys of `m`.
    static func addressCondition(_ m: YAMLMapping, at v: YAMLValue) throws(ConfigError) -> Condition {
        switch (m["equals"], m["in"]) {
        case (let e?, nil): return .equalsAddress(try address(e))
        case (nil, let i?): return .within(try addressSet(i))
        case (.some, .some): throw v.error("both equals: and in: given", fix: "keep one")
        case (nil, nil): throw v.error("no condition given", fix: "write equals: 10.0.0.1 or in: 10.0.0.100-10.0.0.120")
        }
    }

    /// `equals: [list]` or `contains:` among the keys of `m`.
    static func addressListCondition(_ m: YAMLMapping, at v: YAMLValue) throws(ConfigError) -> Condition {
        switch (m["equals"], m["contains"]) {
        case (let e?, nil):
            if case .sequence = e.node { return .equalsList(try e.list().map { x throws(ConfigError) in try address(x) }) }
            return .equalsList([try address(e)])
        case (nil, let c?): return .contains(try address(c))
        case (.some, .some): throw v.error("both equals: and contains: given", fix: "keep one")
        case (nil, nil): throw v.error("no condition given", fix: "write contains: 192.0.2.53 or equals: [192.0.2.53]")
        }
    }

    /// "≥ 15", "in 10.0.0.100-10.0.0.120", for generated expectation names and messages.
    static func describe(_ c: Condition, unit: ValueUnit) -> String {
        switch c {
        case .compare(let list): Format.comparisons(list, unit: unit)
        case .isTrue(let b): "is \(b)"
        case .equalsAddress(let a): "= \(a)"
        case .within(let s): "in \(s)"
        case .equalsList(let l): "= [\(l.map(\.description).joined(separator: ", "))]"
        case .contains(let a): "contains \(a)"
        }
    }
}
