// Reloading bridge.yml while the bridge runs (SIGHUP, or `sluice bridge bridge.yml --reload`
// through the control socket; docs/operating.md). The daemon reads the file, the engine says
// what changed and refuses what cannot change live (BridgeReconfiguration.swift); the daemon opens
// new capture files and resolves a new WAN endpoint, then the bridge applies it all at one point
// in time (Bridge+Reconfigure.swift). On any failure nothing changes and the old configuration
// keeps running.
import Basics
import Capture
import Engine
import Foundation
import Wire

extension BridgeDaemon {
    /// Reloads `configPath`: whether it was applied (or had nothing to apply), and a message (the
    /// changes, or the located error with its fix).
    @discardableResult
    public func reload() -> (applied: Bool, message: String) {
        let outcome = attemptReload()
        if outcome.applied {
            reloadsApplied &+= 1
            note(.notice, "reload applied", ["reason": "\(outcome.message)"])
        } else {
            reloadsRefused &+= 1
            note(.error, "reload refused", ["reason": "\(outcome.message)"])
        }
        return outcome
    }

    private func attemptReload() -> (applied: Bool, message: String) {
        guard let path = configPath else { return (false, "the bridge was not started from a file") }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return (false, "\(path): cannot read the file as UTF-8 text\n  fix: check the path and its permissions")
        }
        let change: BridgeReconfiguration
        do { change = try bridge.config.reconfiguration(toText: text, file: path) } catch { return (false, "\(error)") }
        if change.isEmpty { return (true, "no changes") }
        var opened: [CaptureTap] = []
        do {
            for c in change.capturesAdded { opened.append(try openCapture(c)) }
            let endpoint = try change.wanEndpoint.map { e in try e.socketAddress ?? Self.resolve(e) }
            let removed = try bridge.reconfigure(change, addedTaps: opened, wanEndpoint: endpoint, now: reactor.clock.now())
            for tap in removed { try? tap.close() }
        } catch {
            for tap in opened { try? tap.close() }
            return (false, "\(path): \(error)")
        }
        config = change.config
        writeLeases()  // records the change dropped or shortened, if any
        if change.impairmentsChanged { applyReloadedImpairments() }
        afterEvent(now: reactor.clock.now())  // deadlines may have moved (aging, leases)
        return (true, change.summary.joined(separator: "; "))
    }

    /// Opens the pcap file of one capture (as `openConfiguredCaptures` does at start).
    func openCapture(_ c: CaptureConfig) throws -> CaptureTap {
        let path = c.file.hasPrefix("/") ? c.file : "\(captureDirectory)/\(c.file)"
        do {
            let filter = try c.filter.map { f throws(CaptureError) in try BPFFilter(f) }
            let sink = try CaptureSink.file(path: path, epochOffsetNanoseconds: captureEpoch)
            return CaptureTap(name: "\(c.segment):\(c.file)", filter: filter, sink: sink)
        } catch {
            throw EngineError.capture(path: path, "\(error)")
        }
    }
}
