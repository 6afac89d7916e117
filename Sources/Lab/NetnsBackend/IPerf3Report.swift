// A `do: udp` flow on netns is iperf3 -u: a server in the target host's namespace for the whole
// run, a client in the sender's for the action. The client's JSON (`--json --get-server-output`)
// holds both sides; this turns it into HostStack's flow statistics so the flow is checked and
// charted like a simulated one. iperf3 measures jitter, not one-way delay, so `latency.*` has no
// value on netns.
//
// From iperf3 3.12's JSON:
//   start.connected[0].local_port              the client's UDP source port
//   end.sum_sent.{packets, bytes}              what the client sent
//   end.sum_received.{packets, lost_packets, bytes, start, end}
//                                              what the server counted: `packets` is the highest
//                                              sequence number seen, `lost_packets` the gaps below it
//   server_output_json.end.streams[0].udp.out_of_order
//                                              datagrams that arrived after a later one (the
//                                              client's own stream entry says 0)
//   server_output_json.intervals[].sum.{end, bits_per_second}
//                                              the server's per-interval receive rate (the chart)
import Basics
import Foundation
import HostStack
import Wire

/// The iperf3 command lines of a flow.
enum IPerf3 {
    /// The server: serves one test after another on `port` for the whole run; reports every 0.1 s.
    static func server(port: Int) -> [String] {
        ["iperf3", "--server", "--port", "\(port)", "--json", "--interval", "0.1"]
    }

    /// The client for `flow` to `target`: `blocks` datagrams of `size` payload bytes at the rate.
    static func client(_ flow: UDPFlowAction, target: IPv4Address) -> [String] {
        ["iperf3", "--client", target.description, "--port", "\(flow.port)", "--udp",
         "--bitrate", "\(Int(bitsPerSecond(flow).rounded()))", "--length", "\(flow.size)",
         "--blockcount", "\(blocks(flow))", "--json", "--get-server-output"]
    }

    /// The client for a `do: tcp` flow: -n bytes or -t whole seconds (iperf3 reads -t as an
    /// integer, so a fractional duration is rounded up), -P streams, -R, -C cubic|reno (both are
    /// built into every Linux kernel); intervals every 0.1 s for the chart.
    static func client(_ flow: TCPFlowAction, target: IPv4Address) -> [String] {
        var args = ["iperf3", "--client", target.description, "--port", "\(flow.port)", "--parallel", "\(flow.streams)",
                    "--congestion", flow.congestion == .cubic ? "cubic" : "reno", "--json", "--interval", "0.1"]
        switch flow.amount {
        case .bytes(let b): args += ["--bytes", "\(b)"]
        case .duration(let d): args += ["--time", "\(max(1, (d.nanosecondsClamped + 999_999_999) / 1_000_000_000))"]
        }
        if flow.reverse { args.append("--reverse") }
        return args
    }

    /// Payload bits per second (iperf3's -b counts UDP payload, as `rate:` does).
    static func bitsPerSecond(_ flow: UDPFlowAction) -> Double {
        switch flow.rate {
        case .bitsPerSecond(let b): b
        case .packetsPerSecond(let p): p * Double(flow.size) * 8
        }
    }

    /// Datagrams in the flow: those whose send times fall before its end (as the simulator counts).
    static func blocks(_ flow: UDPFlowAction) -> Int {
        let perSecond = bitsPerSecond(flow) / (Double(flow.size) * 8)
        let seconds = Double(flow.duration.nanosecondsClamped) / 1e9
        return max(1, Int(min((seconds * perSecond).rounded(.up), Double(Int32.max))))
    }
}

/// A finished iperf3 client's JSON, read.
struct IPerf3Report {
    var sender: UDPFloodSenderStats
    var receiver: UDPFloodStreamStats?
    var throughput: [ThroughputSample]
    /// iperf3's own error text ("unable to connect to server…"), if it gave one.
    var error: String?

    /// Reads `json`, the client's output for `flow` to `target`, started at `startedAt` (capture time).
    init(json: String, flow: UDPFlowAction, target: IPv4Address, startedAt: Instant) throws(RealBackendError) {
        guard let start = json.firstIndex(of: "{"),
              let object = try? JSONSerialization.jsonObject(with: Data(json[start...].utf8)) as? [String: Any] else {
            throw RealBackendError("iperf3 printed no JSON: \(json.prefix(300))")
        }
        error = object["error"] as? String
        let begin = object["start"] as? [String: Any]
        let connected = (begin?["connected"] as? [[String: Any]])?.first
        let sourcePort = UInt16(truncatingIfNeeded: Self.int(connected?["local_port"]))
        let end = object["end"] as? [String: Any] ?? [:]
        let sent = end["sum_sent"] as? [String: Any] ?? end["sum"] as? [String: Any] ?? [:]
        let scheduled = IPerf3.blocks(flow)
        sender = UDPFloodSenderStats.measured(target: target, port: UInt16(flow.port), sourcePort: sourcePort, stream: 0, size: flow.size,
                                     startedAt: startedAt, endsAt: startedAt + flow.duration, scheduled: scheduled,
                                     sent: Self.int(sent["packets"]), bytes: Self.int(sent["bytes"]),
                                     notSent: max(0, scheduled - Self.int(sent["packets"])))
        if let received = end["sum_received"] as? [String: Any], Self.int(received["packets"]) > 0 {
            let highest = Self.int(received["packets"])
            let lost = Self.int(received["lost_packets"])
            // Out-of-order datagrams are the receiver's count: the server's stream, not the client's.
            let serverEnd = (object["server_output_json"] as? [String: Any])?["end"] as? [String: Any]
            let stream = ((serverEnd?["streams"] as? [[String: Any]])?.first?["udp"]) as? [String: Any]
                ?? ((end["streams"] as? [[String: Any]])?.first?["udp"]) as? [String: Any]
            let from = startedAt + Saturating.duration(seconds: Self.double(received["start"]))
            let to = startedAt + Saturating.duration(seconds: Self.double(received["end"]))
            receiver = UDPFloodStreamStats.measured(source: IPv4Address(rawValue: 0), sourcePort: sourcePort, stream: 0,
                                           packets: max(0, highest &- lost), bytes: Self.int(received["bytes"]),
                                           duplicates: 0, outOfOrder: Self.int(stream?["out_of_order"]),
                                           highestSequence: UInt64(max(highest, 1) - 1), firstArrival: from, lastArrival: to)
        }
        throughput = []
        let server = object["server_output_json"] as? [String: Any]
        for interval in server?["intervals"] as? [[String: Any]] ?? [] {
            guard let sum = interval["sum"] as? [String: Any] else { continue }
            throughput.append(ThroughputSample(time: startedAt + Saturating.duration(seconds: Self.double(sum["end"])),
                                               bitsPerSecond: Self.double(sum["bits_per_second"])))
        }
    }

    var result: UDPFlowResult { UDPFlowResult(sender: sender, receiver: receiver, throughput: throughput) }

    static func int(_ v: Any?) -> Int {
        if let i = v as? Int { return i }
        if let d = v as? Double { return Saturating.int(d) }
        if let n = v as? NSNumber { return n.intValue }
        return 0
    }

    static func double(_ v: Any?) -> Double {
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        if let n = v as? NSNumber { return n.doubleValue }
        return 0
    }
}

/// A finished TCP iperf3 client's JSON, read into the sim's result (iperf3 3.12):
///   end.streams[].sender.{bytes, retransmits, min_rtt, max_rtt, mean_rtt (µs), end}
///   end.streams[].receiver.{bytes, end}      bytes delivered per stream
///   intervals[].sum.{end, bits_per_second}   the chart; intervals[].streams[0].snd_cwnd, rtt
/// With --reverse the client receives: the sender's RTTs and cwnd are the server's and absent.
struct IPerf3TCPReport {
    var result: TCPFlowResult
    var error: String?

    init(json: String, flow: TCPFlowAction, startedAt: Instant, exitedCleanly: Bool) throws(RealBackendError) {
        guard let start = json.firstIndex(of: "{"),
              let object = try? JSONSerialization.jsonObject(with: Data(json[start...].utf8)) as? [String: Any] else {
            throw RealBackendError("iperf3 printed no JSON: \(json.prefix(300))")
        }
        error = object["error"] as? String
        let end = object["end"] as? [String: Any] ?? [:]
        func micro(_ v: Any?) -> Duration? {
            let us = IPerf3Report.double(v)
            return us > 0 ? .nanoseconds(Int64(us * 1000)) : nil
        }
        var streams: [TCPFlowResult.Stream] = []
        var seconds = 0.0
        for s in end["streams"] as? [[String: Any]] ?? [] {
            let sender = s["sender"] as? [String: Any] ?? [:]
            let receiver = s["receiver"] as? [String: Any] ?? [:]
            seconds = max(seconds, IPerf3Report.double(receiver["end"]), IPerf3Report.double(sender["end"]))
            streams.append(TCPFlowResult.Stream(bytesReceived: UInt64(max(0, IPerf3Report.int(receiver["bytes"]))),
                                                retransmissions: IPerf3Report.int(sender["retransmits"]), finishedAt: nil,
                                                minimumRTT: micro(sender["min_rtt"]), maximumRTT: micro(sender["max_rtt"])))
        }
        var throughput: [ThroughputSample] = []
        var cwnd: [(time: Instant, bytes: Int)] = []
        var rtts: [Duration] = []
        for interval in object["intervals"] as? [[String: Any]] ?? [] {
            guard let sum = interval["sum"] as? [String: Any] else { continue }
            let time = startedAt + .nanoseconds(Int64(IPerf3Report.double(sum["end"]) * 1e9))
            throughput.append(ThroughputSample(time: time, bitsPerSecond: IPerf3Report.double(sum["bits_per_second"])))
            for (k, st) in (interval["streams"] as? [[String: Any]] ?? []).enumerated() {
                if let r = micro(st["rtt"]) { rtts.append(r) }
                if k == 0, st["snd_cwnd"] != nil { cwnd.append((time, IPerf3Report.int(st["snd_cwnd"]))) }
            }
        }
        let done = exitedCleanly && error == nil && !streams.isEmpty
        let endedAt = startedAt + .nanoseconds(Int64(seconds * 1e9))
        result = TCPFlowResult(startedAt: startedAt, finishedAt: done ? endedAt : nil, endedAt: endedAt, streams: streams,
                               rttSamples: rtts, throughput: throughput, congestionWindow: cwnd)
    }
}
