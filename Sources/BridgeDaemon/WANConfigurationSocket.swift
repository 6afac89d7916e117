// The bridge's WireGuard WAN on wg(8)'s UAPI socket (Tunnel's ConfigurationServer, the protocol of
// WireGuard/ConfigurationProtocol.swift): /var/run/wireguard/NAME.sock, NAME being the WAN's `interface:`
// (default: the bridge's name and "-wan"). `wg show` lists the WAN's peers, handshakes and transfer; `wg set`
// adds, changes and removes peers live (sessions of peers a change does not name carry on). The port stays the
// one bridge.yml gives (a different listen_port is refused with EINVAL); fwmark sets SO_MARK on the WAN's socket.
import Basics
import Engine
import HostIO
import Tunnel
import WireGuard

extension BridgeDaemon {
    /// The UAPI name of the WAN in `config`.
    static func wanInterfaceName(_ config: BridgeConfig, _ w: WireGuardWANConfig) -> String {
        w.interface ?? String("\(config.name)-wan".prefix(15))
    }

    /// Serves the WAN's UAPI socket; a failure is a warning (the bridge runs without it).
    func openWANConfigurationSocket(_ wan: WAN, _ uplink: WANUplink, _ w: WireGuardWANConfig) {
        guard let device = wan.tunnel, let socket = uplink.socket else { return }
        let port: UInt16
        if case .ipv4(let local)? = try? socket.localAddress() { port = local.port } else { port = 0 }
        let name = Self.wanInterfaceName(config, w)
        do {
            uplink.configurationServer = try ConfigurationServer(interface: name, reactor: reactor, handlers: .init(
                get: { [unowned self, unowned uplink] in
                    device.configurationText(socket: InterfaceSocketSettings(listenPort: port, fwmark: uplink.fwmark),
                                             now: reactor.clock.now())
                },
                set: { [unowned self, unowned uplink] set in
                    if let p = set.listenPort, p != 0, p != port {
                        return .invalid("the WAN's UDP port is bridge.yml's listen-port (\(port))")
                    }
                    do throws(ConfigurationProtocolError) { try device.check(set) } catch { return error }
                    if let mark = set.fwmark, mark != uplink.fwmark {
                        do { try uplink.socket?.setMark(mark) } catch { return .portInUse("cannot set fwmark \(mark): \(error)") }
                        uplink.fwmark = mark
                    }
                    let now = reactor.clock.now()
                    device.apply(set, now: now)
                    wan.flushTunnel()
                    afterEvent(now: now)
                    return nil
                }), log: log)
            note(.info, "WAN configuration socket", ["interface": "\(name)", "socket": "\(ConfigurationSocketPath.path(for: name))"])
        } catch {
            note(.warning, "WAN configuration socket not served: wg(8) will not see the WAN", ["reason": "\(error)"])
        }
    }
}
