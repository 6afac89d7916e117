// machine.yml → MachineConfig, with every error located to file:line:column (docs/architecture.md, Bad input).
import Foundation
import YAMLSchema

extension MachineConfig {
    /// The keys `machine:` accepts: Oathgate's four, then Sluice's extensions.
    static let keys = ["cpu", "memory", "kernel", "disk", "initrd", "cmdline", "accel", "cpus",
                       "networks", "console", "extra-args"]

    /// Reads and validates a machine.yml file; relative paths in it resolve against its directory.
    public static func load(path: String) throws(ConfigError) -> MachineConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError.unreadableFile(path)
        }
        return try parse(text, file: path)
    }

    /// Parses and validates machine.yml text. `file` names it in errors; relative paths resolve
    /// against `baseDirectory` (default: `file`'s directory); `fileExists` checks the kernel,
    /// initrd, disk and the console log's directory.
    public static func parse(
        _ text: String, file: String = "machine.yml", baseDirectory: String? = nil,
        fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
    ) throws(ConfigError) -> MachineConfig {
        let base = baseDirectory ?? URL(fileURLWithPath: file).deletingLastPathComponent().path
        let root = try YAMLValue.parse(text, file: file)
        let top = try root.mapping(allowed: ["machine"])
        let machine = try top.required("machine", example: "{ cpu: q35, memory: 512m, kernel: ./vmlinuz }")
        let m = try machine.mapping(allowed: keys)
        var config = MachineConfig()

        /// A path value resolved against `base`, which must name an existing file.
        func existingFile(_ v: YAMLValue) throws(ConfigError) -> String {
            let path = resolve(try v.string(), against: base)
            guard fileExists(path) else {
                throw v.error("no file at \(path)", fix: "check the path; relative paths are taken from the machine file's directory (\(base))")
            }
            return path
        }

        if let v = m["cpu"] {
            let s = try v.string()
            guard !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "._-=,".contains($0) }) else {
                throw v.error("'\(s)' is not a QEMU machine type", fix: "use e.g. q35 or pc ('qemu-system-x86_64 -machine help' lists them)")
            }
            guard !s.contains("accel=") else {
                throw v.error("the accelerator is not part of cpu", fix: "remove 'accel=…' here and write accel: kvm or accel: tcg")
            }
            config.machineType = s
        }
        if let v = m["memory"] { config.memoryMiB = try memory(v) }
        if let v = m["cpus"] { config.cpus = try v.int(in: 1...256) }
        if let v = m["accel"] {
            let s = try v.string().lowercased()
            guard let a = Accelerator(rawValue: s) else {
                throw v.error("unknown accelerator '\(s)'", fix: "use tcg (default; works everywhere) or kvm (needs /dev/kvm)")
            }
            config.accel = a
        }
        if let v = m["kernel"] { config.kernel = try existingFile(v) }
        if let v = m["disk"] { config.disk = try existingFile(v) }
        for key in ["initrd", "cmdline"] where m[key] != nil && config.kernel == nil {
            throw try m.required(key).error("\(key) needs a kernel", fix: "add kernel: <path to the kernel image>, or remove \(key)")
        }
        if let v = m["initrd"] { config.initrd = try existingFile(v) }
        if let v = m["cmdline"] { config.cmdline = try v.string() }
        if config.kernel == nil && config.disk == nil {
            throw machine.error("nothing to boot", fix: "add kernel: <path> (direct kernel boot) or disk: <image> (boots through the firmware)")
        }
        if let v = m["networks"] { config.networks = try networks(v, base: base) }
        if let v = m["console"] {
            let s = try v.string()
            if s == "stdio" {
                config.console = .stdio
            } else {
                let path = resolve(s, against: base)
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
                guard fileExists(directory) else {
                    throw v.error("no directory \(directory) for the console log", fix: "create it, or write console: stdio")
                }
                config.console = .file(path)
            }
        }
        if let v = m["extra-args"] {
            guard case .sequence = v.node else {
                throw v.error("expected a list of arguments", fix: "write one argument per item, e.g. extra-args: [-no-reboot, -device, virtio-rng-pci]")
            }
            config.extraArgs = try v.list().map { a throws(ConfigError) in try a.string() }
        }
        return config
    }

    /// "512m", "1g", "2048M", "1GiB", "4096" (a bare number is MiB, as for QEMU's -m).
    static func memory(_ v: YAMLValue) throws(ConfigError) -> Int {
        let text = try v.string()
        var s = text.lowercased().trimmingCharacters(in: .whitespaces)
        for suffix in ["ib", "b"] where s.hasSuffix(suffix) && s.count > suffix.count + 1 { s.removeLast(suffix.count); break }
        var scale = 1
        if s.hasSuffix("g") { scale = 1024; s.removeLast() } else if s.hasSuffix("m") { s.removeLast() }
        guard let n = Int(s), n > 0, n <= 1_048_576 / scale else {
            throw v.error("'\(text)' is not a memory size", fix: "write MiB or GiB with a unit, e.g. 512m or 2g")
        }
        let mib = n * scale
        guard mib >= 16 else { throw v.error("\(mib) MiB is too little to boot Linux", fix: "use at least 64m; the test guest runs in 256m") }
        return mib
    }

    static func networks(_ value: YAMLValue, base: String) throws(ConfigError) -> [NetworkAttachment] {
        var result: [NetworkAttachment] = []
        for item in try value.list() {
            let n = try item.mapping(allowed: ["socket", "mac", "queues", "reconnect"])
            let socketValue = try n.required("socket", example: "/run/sluice/br0.sock")
            let socket = resolve(try socketValue.string(), against: base)
            // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
            guard socket.utf8.count <= 107 else {
                throw socketValue.error("the socket path is \(socket.utf8.count) bytes; a Unix socket path has at most 107",
                                        fix: "use a shorter path, e.g. under /run or /tmp")
            }
            if result.contains(where: { $0.socket == socket }) {
                throw socketValue.error("socket \(socket) is used by an earlier network", fix: "each network needs its own vhost-user socket")
            }
            var attachment = NetworkAttachment(socket: socket)
            if let v = n["mac"] {
                let s = try v.string()
                guard let mac = normalizedMAC(s) else {
                    throw v.error("'\(s)' is not a unicast MAC address", fix: "write six hex octets with an even first octet, e.g. 52:54:00:12:34:56")
                }
                attachment.mac = mac
            }
            if let v = n["queues"] { attachment.queues = try v.int(in: 1...16) }
            if let v = n["reconnect"] { attachment.reconnect = try v.int(in: 0...3600) }
            if let earlier = result.first(where: { $0.mac == attachment.mac }) {
                throw (n["mac"] ?? item).error("MAC \(attachment.mac) is also used by the network on \(earlier.socket)",
                                               fix: "give each network its own mac")
            }
            result.append(attachment)
        }
        return result
    }
}

/// "52:54:00:AB:cd:01" or "52-54-00-ab-cd-01" → "52:54:00:ab:cd:01"; nil unless six hex octets of a unicast address.
func normalizedMAC(_ text: String) -> String? {
    let parts = text.split(separator: text.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
    guard parts.count == 6 else { return nil }
    var octets: [UInt8] = []
    for p in parts {
        guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
        octets.append(b)
    }
    guard octets[0] & 1 == 0 else { return nil }   // the I/G bit: set means multicast
    return octets.map(hex2).joined(separator: ":")
}

/// `path` made absolute against `base` ("~/" is the home directory), with "." and ".." removed.
func resolve(_ path: String, against base: String) -> String {
    if path.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"] {
        return URL(fileURLWithPath: home).appendingPathComponent(String(path.dropFirst(2))).standardizedFileURL.path
    }
    if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL.path }
    return URL(fileURLWithPath: base, isDirectory: true).appendingPathComponent(path).standardizedFileURL.path
}
