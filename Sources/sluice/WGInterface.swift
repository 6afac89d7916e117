import ArgumentParser
import Foundation
import Tunnel

extension WG {
    /// `sluice wg NAME`: wg-quick's userspace implementation (as wireguard-go NAME).
    struct Interface: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "interface",
            abstract: "Create TUN interface NAME configured through wg(8)'s UAPI socket, like wireguard-go NAME.",
            discussion: """
            Also written `sluice wg NAME`. Creates the TUN device NAME with no key, address or peer and the socket \
            /var/run/wireguard/NAME.sock that wg(8) and wg-quick(8) use for userspace implementations (get/set of \
            the cross-platform configuration protocol), then, like wireguard-go, detaches into the background \
            once both exist (-f stays in the foreground). The daemon stops when the interface is deleted (ip link \
            delete, wg-quick down) or on SIGINT/SIGTERM, removing the socket. wg-quick runs it with \
            WG_QUICK_USERSPACE_IMPLEMENTATION=sluice-wg (ci/sluice-wg). See docs/wg-quick.md.
            """)

        @Flag(name: [.customShort("f"), .long], help: "Stay in the foreground.")
        var foreground = false

        @Argument(help: "The interface name.")
        var name: String

        /// The subcommands of `sluice wg`; any other first argument is an interface name.
        static let subcommandNames: Set<String> = ["genkey", "pubkey", "genpsk", "up", "interface", "help"]

        /// `wg NAME …` → `wg interface NAME …`; other arguments unchanged.
        static func rewritten(_ arguments: [String]) -> [String] {
            guard arguments.first == "wg", arguments.count >= 2 else { return arguments }
            let rest = arguments.dropFirst()
            guard let first = rest.first(where: { !$0.hasPrefix("-") }), !subcommandNames.contains(first) else { return arguments }
            return ["wg", "interface"] + rest
        }

        func run() throws {
            if !foreground {
                var path = [CChar](repeating: 0, count: 4096)
                let n = readlink("/proc/self/exe", &path, path.count - 1)
                guard n > 0 else {
                    WG.warn("sluice wg: cannot find my own executable: \(String(cString: strerror(errno)))")
                    throw ExitCode(1)
                }
                let executable = String(decoding: path[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if let failure = UserspaceDaemon.spawn(executable: executable, arguments: ["wg", "interface", "-f", name]) {
                    WG.warn("sluice wg: \(failure)")
                    throw ExitCode(1)
                }
                return
            }
            let tunnel: WireGuardTunnel
            do {
                tunnel = try WireGuardTunnel(configuration: .userspace, name: name, mode: .userspace) { line in
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
            } catch {
                UserspaceDaemon.notify("\(error)")
                WG.warn("sluice wg: \(error)")
                throw ExitCode(1)
            }
            UserspaceDaemon.notify(nil)
            do { try tunnel.run() } catch {
                WG.warn("sluice wg: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
