// bridge.yml's `metrics:` section (docs/config.md): where the bridge serves its counters in the
// Prometheus text format over HTTP. The driver opens the listener; the engine only knows where.
import Wire
import YAMLSchema

/// `metrics: { listen: 127.0.0.1:9464 }`.
public struct MetricsConfig: Equatable, Sendable {
    /// The IPv4 address and TCP port the HTTP listener binds (answers `GET /metrics` only); port 0
    /// lets the system pick one (the log's "metrics listening" line says which).
    public var listen: SocketAddressV4

    public init(listen: SocketAddressV4) { self.listen = listen }

    /// The port in examples (in Prometheus's range of exporter ports).
    public static let examplePort: UInt16 = 9464

    static func parse(_ value: YAMLValue) throws(ConfigError) -> MetricsConfig {
        let m = try value.mapping(allowed: ["listen"])
        let v = try m.required("listen", example: "127.0.0.1:\(examplePort)")
        let text = try v.string()
        guard let colon = text.lastIndex(of: ":"), let address = IPv4Address(String(text[..<colon])),
              let port = UInt16(text[text.index(after: colon)...]) else {
            throw v.error("'\(text)' is not an IPv4 address and TCP port",
                          fix: "write e.g. listen: 127.0.0.1:\(examplePort) (0.0.0.0:\(examplePort) for every interface)")
        }
        return MetricsConfig(listen: SocketAddressV4(address: address, port: port))
    }
}
