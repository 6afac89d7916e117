// A WireGuard interface as `sluice wg up` reads it: wg-quick's configuration file (wg(8) "CONFIGURATION FILE
// FORMAT" plus wg-quick(8)'s Address and MTU), IPv4 only, and a [Sluice] section of test knobs.
//
//   [Interface]                         [Peer]                        [Sluice]   (ours; wg-quick rejects it)
//   PrivateKey = <base64>               PublicKey = <base64>          RekeyAfterMessages = 1000
//   PrivateKeyFile = <path>  (ours)     PresharedKey = <base64>       RejectAfterMessages = 2000
//   ListenPort = 51820                  PresharedKeyFile = <path>     HandshakeInterval = 6
//   Address = 10.0.0.1/24, 10.1.0.1/24  Endpoint = 192.0.2.1:51820    StatusInterval = 10
//   MTU = 1420                          AllowedIPs = 10.0.0.2/32      TUNOffload = off
//                                                                     UDPOffload = off
//                                       PersistentKeepalive = 25

import Basics
import Crypto
import Glibc
import Wire
import WireGuard

/// The `[Interface]` section.
public struct InterfaceSettings: Sendable {
    /// wg(8) PrivateKey (or our PrivateKeyFile).
    public var privateKey: SecretKey
    /// wg(8) ListenPort; nil lets the kernel choose.
    public var listenPort: UInt16?
    /// wg-quick(8) Address: the interface's IPv4 addresses with their prefix lengths.
    public var addresses: [IPv4Network]
    /// wg-quick(8) MTU; nil means `TunnelConfiguration.defaultMTU`.
    public var mtu: Int?
}

/// The `[Sluice]` section: knobs for tests, which shorten the protocol's limits on this side only.
public struct SluiceSettings: Sendable, Equatable {
    /// WireGuardLimits.rekeyAfterMessages: start a new handshake after this many messages on one session.
    public var rekeyAfterMessages: UInt64?
    /// WireGuardLimits.rejectAfterMessages: never send or accept more than this many on one session.
    public var rejectAfterMessages: UInt64?
    /// Start a handshake with every peer this often (≥ 5 s, Rekey-Timeout): a forced rekey driven by the driver.
    public var handshakeInterval: Duration?
    /// Print a status line this often (0 or absent: only on SIGUSR1).
    public var statusInterval: Duration?
    /// TUN offloads: TCP segmentation of super-packets read, TCP coalescing of packets written (default on).
    public var tunOffload: Bool
    /// UDP offloads: UDP_SEGMENT for runs of datagrams sent, UDP_GRO for datagrams received (default on).
    public var udpOffload: Bool

    public init(rekeyAfterMessages: UInt64? = nil, rejectAfterMessages: UInt64? = nil,
                handshakeInterval: Duration? = nil, statusInterval: Duration? = nil, tunOffload: Bool = true,
                udpOffload: Bool = true) {
        self.rekeyAfterMessages = rekeyAfterMessages; self.rejectAfterMessages = rejectAfterMessages
        self.handshakeInterval = handshakeInterval; self.statusInterval = statusInterval; self.tunOffload = tunOffload
        self.udpOffload = udpOffload
    }
}

/// A parsed configuration file.
public struct TunnelConfiguration: Sendable {
    /// wg-quick's default MTU when none is given (1500 − 80 for the IPv6 + UDP + WireGuard overhead).
    public static let defaultMTU = 1420

    public var interface: InterfaceSettings
    /// The `[Peer]` sections, in file order.
    public var peers: [PeerConfiguration]
    public var sluice: SluiceSettings
    /// Lines accepted without effect (DNS, PostUp, IPv6 entries, …).
    public var warnings: [TunnelConfigWarning]

    /// An interface with no key, address or peer: what `sluice wg NAME` starts with before wg(8) configures it
    /// through the UAPI socket.
    public static var userspace: TunnelConfiguration {
        TunnelConfiguration(interface: InterfaceSettings(privateKey: SecretKey(), listenPort: nil, addresses: [], mtu: nil),
                            peers: [], sluice: SluiceSettings(), warnings: [])
    }

    /// The MTU the interface gets.
    public var mtu: Int { interface.mtu ?? Self.defaultMTU }

    /// The WireGuardDevice settings this file describes.
    public var deviceConfiguration: DeviceConfiguration {
        var limits = WireGuardLimits()
        if let n = sluice.rekeyAfterMessages { limits.rekeyAfterMessages = n }
        if let n = sluice.rejectAfterMessages { limits.rejectAfterMessages = n }
        return DeviceConfiguration(privateKey: interface.privateKey, limits: limits, mtu: mtu)
    }

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(TunnelConfigError) -> TunnelConfiguration {
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path) } catch {
            throw TunnelConfigError(file: path, line: nil, message: "cannot read the configuration: \(error)",
                                    fix: "check the path and that this user may read it")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TunnelConfigError(file: path, line: nil, message: "the file is not UTF-8 text")
        }
        return try TunnelConfigurationParser(file: path).parse(text)
    }

    /// Parses `text`, naming `file` in errors; key files named in it are read relative to `file`'s directory.
    public static func parse(_ text: String, file: String) throws(TunnelConfigError) -> TunnelConfiguration {
        try TunnelConfigurationParser(file: file).parse(text)
    }
}

/// Whole-file reads through Glibc (Tunnel does not import Foundation).
enum HostFile {
    struct ReadError: Error, CustomStringConvertible {
        var errno: CInt
        var description: String { String(cString: strerror(errno)) }
    }

    static func read(_ path: String) throws(ReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(errno: errno)
            }
            if n == 0 { return out }
            out += chunk[0..<n]
            if out.count > 1 << 20 { throw ReadError(errno: EFBIG) }
        }
    }
}
