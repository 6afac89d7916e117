import ArgumentParser
import Foundation
import HostIO
import Tunnel

/// `sluice wg`: WireGuard keys and a userspace WireGuard interface (benchmarks: `sluice bench wireguard|tunnel`).
struct WG: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wg",
        abstract: "WireGuard: keys (as wg(8) makes them) and a userspace interface on a TUN device.",
        subcommands: [GenKey.self, PubKey.self, GenPSK.self, Up.self, Interface.self])

    /// Writes `text` and a newline to standard error.
    static func warn(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// `wg genkey`: a new private key on standard output.
    struct GenKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "genkey", abstract: "Print a new private key (base64), like wg genkey.")
        func run() throws {
            warnIfWorldReadable()
            print(KeyText.generatePrivateKey())
        }
    }

    /// `wg genpsk`: a new preshared key on standard output.
    struct GenPSK: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "genpsk", abstract: "Print a new preshared key (base64), like wg genpsk.")
        func run() throws {
            warnIfWorldReadable()
            print(KeyText.generatePresharedKey())
        }
    }

    /// `wg pubkey`: the public key of the private key on standard input.
    struct PubKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pubkey", abstract: "Read a private key on standard input and print its public key, like wg pubkey.")
        func run() throws {
            let input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            do { print(try KeyText.publicKey(fromPrivateKeyInput: input)) } catch {
                WG.warn("sluice wg pubkey: \(error)")
                throw ExitCode(1)
            }
        }
    }

    /// `sluice wg up wg0.conf`: the interface, in the foreground.
    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "up",
            abstract: "Create a TUN interface from a wg-quick style file and run WireGuard on it until SIGINT/SIGTERM.",
            discussion: """
            Creates the TUN device in the current network namespace, assigns the [Interface] Address list and MTU, \
            brings it up, routes each peer's AllowedIPs to it and serves the UDP ListenPort. SIGUSR1 prints a \
            status line per peer (endpoint, latest handshake, bytes); [Sluice] StatusInterval prints it periodically. \
            SIGINT or SIGTERM removes the interface and exits 0. See docs/wireguard.md.
            """)

        @Argument(help: "The configuration file (wg-quick format: [Interface], [Peer]…, optional [Sluice]).")
        var config: String

        @Option(name: .long, help: "The interface name.")
        var name: String = "wg0"

        func run() throws {
            let configuration: TunnelConfiguration
            do { configuration = try TunnelConfiguration.load(path: config) } catch {
                WG.warn("\(error)")
                throw ExitCode(2)
            }
            for w in configuration.warnings { WG.warn("\(w)") }
            do {
                let tunnel = try WireGuardTunnel(configuration: configuration, name: name) { line in
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
                // Type=notify units (sluice-wg@.service): the interface is up and routed.
                ServiceManagerNotifier(environment: ProcessInfo.processInfo.environment).notify("READY=1\nSTATUS=\(name) up")
                try tunnel.run()
            } catch {
                WG.warn("sluice wg up: \(error)")
                throw ExitCode(1)
            }
        }
    }
}

/// wg(8) genkey's warning: a key written to a file others can read.
private func warnIfWorldReadable() {
    var st = stat()
    guard fstat(STDOUT_FILENO, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_mode & 0o007 != 0 else { return }
    WG.warn("Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.")
}
