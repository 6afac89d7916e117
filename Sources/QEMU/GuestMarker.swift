// The lines the test guest's /init (ci/guest/init) and udhcpc script print on the serial console.
// They are the contract between the guest and the host side (tests, the lab's qemu backend);
// docs/machine.md lists them.

/// One SLUICE-* marker line from the test guest.
public enum GuestMarker: Equatable, Sendable {
    /// `SLUICE-INIT-START <kernel release>`: /init is running.
    case initStarted(kernel: String)
    /// `SLUICE-MODULES-OK <names…>`: the virtio modules that loaded (built-in ones are not listed).
    case modulesLoaded([String])
    /// `SLUICE-MODULE-FAIL <name>`: insmod failed.
    case moduleFailed(String)
    /// `SLUICE-NET-UP <interface> <mac>`: the NIC exists and is up.
    case networkUp(interface: String, mac: String)
    /// `SLUICE-NET-NONE`: no eth0 appeared.
    case noNetwork
    /// `SLUICE-DHCP-OK <address>/<prefix>`: the first lease is applied.
    case dhcpBound(String)
    /// `SLUICE-DHCP-RENEW <address>/<prefix>`: a later lease (renewal or rebinding).
    case dhcpRenewed(String)
    /// `SLUICE-DHCP-LEASE <address>/<prefix> server=… router=… dns=… lease=…`: a lease udhcpc
    /// applied, as its script saw it (lists comma-separated; `-` for what the server did not send).
    case dhcpLease(address: String, fields: [String: String])
    /// `SLUICE-DHCP-FAIL <interface>`: udhcpc gave up.
    case dhcpFailed(interface: String)
    /// `SLUICE-RUN <name>`: a command starts.
    case runStarted(String)
    /// `SLUICE-RESULT <name> <exit code>`: a command finished.
    case result(name: String, exitCode: Int)
    /// `SLUICE-DONE`: every command ran; power-off follows.
    case done

    public static let prefix = "SLUICE-"

    /// The marker in a console line; it may follow other output on the same line (firmware text,
    /// a kernel message). Nil for any other line.
    public init?(line: String) {
        guard let start = line.range(of: GuestMarker.prefix) else { return nil }
        let words = line[start.lowerBound...].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let args = Array(words.dropFirst())
        switch words.first {
        case "SLUICE-INIT-START": self = .initStarted(kernel: args.first ?? "")
        case "SLUICE-MODULES-OK": self = .modulesLoaded(args)
        case "SLUICE-MODULE-FAIL" where args.count == 1: self = .moduleFailed(args[0])
        case "SLUICE-NET-UP" where args.count == 2: self = .networkUp(interface: args[0], mac: args[1])
        case "SLUICE-NET-NONE": self = .noNetwork
        case "SLUICE-DHCP-OK" where args.count == 1: self = .dhcpBound(args[0])
        case "SLUICE-DHCP-RENEW" where args.count == 1: self = .dhcpRenewed(args[0])
        case "SLUICE-DHCP-LEASE" where !args.isEmpty:
            var fields: [String: String] = [:]
            for a in args.dropFirst() {
                guard let eq = a.firstIndex(of: "="), eq != a.startIndex else { return nil }
                fields[String(a[..<eq])] = String(a[a.index(after: eq)...])
            }
            self = .dhcpLease(address: args[0], fields: fields)
        case "SLUICE-DHCP-FAIL" where args.count == 1: self = .dhcpFailed(interface: args[0])
        case "SLUICE-RUN" where args.count == 1: self = .runStarted(args[0])
        case "SLUICE-RESULT" where args.count == 2:
            guard let code = Int(args[1]) else { return nil }
            self = .result(name: args[0], exitCode: code)
        case "SLUICE-DONE": self = .done
        default: return nil
        }
    }

    /// The line the guest prints for this marker.
    public var line: String {
        switch self {
        case .initStarted(let k): "SLUICE-INIT-START \(k)"
        case .modulesLoaded(let names): (["SLUICE-MODULES-OK"] + names).joined(separator: " ")
        case .moduleFailed(let n): "SLUICE-MODULE-FAIL \(n)"
        case .networkUp(let i, let mac): "SLUICE-NET-UP \(i) \(mac)"
        case .noNetwork: "SLUICE-NET-NONE"
        case .dhcpBound(let a): "SLUICE-DHCP-OK \(a)"
        case .dhcpRenewed(let a): "SLUICE-DHCP-RENEW \(a)"
        case .dhcpLease(let a, let fields):
            (["SLUICE-DHCP-LEASE", a] + fields.keys.sorted().map { "\($0)=\(fields[$0]!)" }).joined(separator: " ")
        case .dhcpFailed(let i): "SLUICE-DHCP-FAIL \(i)"
        case .runStarted(let n): "SLUICE-RUN \(n)"
        case .result(let n, let c): "SLUICE-RESULT \(n) \(c)"
        case .done: "SLUICE-DONE"
        }
    }
}
