// What the real bridge does to run as a service (docs/operating.md): its DHCP leases kept in a
// lease database across restarts (LeaseDatabase.swift), its sockets created with the mode, owner
// and group bridge.yml gives and checked against the peers it allows, and the service manager
// told when it is ready and that it is alive (ServiceManagerNotify.swift in HostIO).
import Basics
import Datapath
import Engine
import Foundation
import HostIO

/// The daemon's service state (one stored property of BridgeDaemon).
struct DaemonServiceState {
    var leaseDatabase: LeaseDatabase?
    /// What the file holds: a change appends only the records it changed (LeaseDatabase.swift).
    var leaseJournal = LeaseJournal()
    /// Writes to the lease database (snapshots, appends), for the metrics and the measurements.
    var leaseSnapshots: UInt64 = 0
    var leaseAppends: UInt64 = 0
    /// Whether the last write failed (logged once until one succeeds).
    var leaseWriteFailing = false
    var wall = WallClock.monotonic
    var notifier = ServiceManagerNotifier(environment: ProcessInfo.processInfo.environment)
    var watchdog: Reactor.Timer?
}

extension BridgeDaemon {
    // MARK: Lease database

    /// Loads the lease database at `path` into the bridge's DHCP servers (reporting damage and
    /// records refused), then writes it back as the servers now hold it.
    func openLeaseDatabase(_ path: String) {
        let database = LeaseDatabase(path: path)
        service.leaseDatabase = database
        service.wall = WallClock.system(at: reactor.clock.now())
        var entries: [LeaseDatabase.Entry] = []
        do {
            switch try database.load(wall: service.wall) {
            case .none:
                note(.info, "lease database: none yet", ["path": "\(path)"])
            case .entries(let e, let torn):
                entries = e
                if let torn {
                    // A crash while appending a change: the change is lost, nothing else (the client
                    // never got the reply it caused). The snapshot written below drops the torn line.
                    note(.warning, "lease database: torn last line ignored", ["path": "\(path)", "line": "\(torn.line)", "reason": "\(torn.message)"])
                }
            case .damaged(let e, let problems, let aside):
                entries = e
                for p in problems.prefix(10) { note(.warning, "lease database: bad line", ["path": "\(path)", "line": "\(p.line)", "reason": "\(p.message)"]) }
                if problems.count > 10 { note(.warning, "lease database: more bad lines", ["path": "\(path)", "count": "\(problems.count - 10)"]) }
                note(.warning, "lease database: damaged", ["path": "\(path)", "moved_aside": "\(aside ?? "(could not move it aside)")",
                                                           "kept": "\(e.count)"])
            }
        } catch {
            note(.error, "lease database: unreadable, starting without leases", ["path": "\(path)", "reason": "\(error)"])
        }
        var restored = 0
        for (s, segment) in bridge.segments.enumerated() {
            let mine = entries.filter { $0.segment == segment.name }.map(\.lease)
            guard !mine.isEmpty else { continue }
            let refused = bridge.restoreLeases(mine, segment: s)
            restored += mine.count - refused.count
            for r in refused { note(.warning, "lease not restored", ["segment": "\(segment.name)", "reason": "\(r.refusal)", "path": "\(path)", "address": "\(r.lease.address)"]) }
        }
        let known = Set(bridge.segments.map(\.name))
        for e in entries where !known.contains(e.segment) {
            note(.warning, "lease not restored", ["segment": "\(e.segment)", "reason": "the bridge has no such segment", "path": "\(path)", "address": "\(e.lease.address)"])
        }
        if !entries.isEmpty { note(.info, "lease database: restored", ["path": "\(path)", "records": "\(restored)"]) }
        writeLeases()
    }

    /// Writes the records of the DHCP server on segment `segment` (of every server when nil) that
    /// changed since the last write: appended to the log, or as a new snapshot when the log needs
    /// compacting (LeaseJournal).
    func writeLeases(segment: Int? = nil) {
        guard let database = service.leaseDatabase else { return }
        var entries: [LeaseDatabase.Entry] = []
        var covered: Set<String>?
        if let segment, bridge.dhcpServers.indices.contains(segment) {
            covered = [bridge.segments[segment].name]
        }
        for (i, server) in bridge.dhcpServers.enumerated() where segment == nil || segment == i {
            guard let server else { continue }
            for lease in server.leases { entries.append(.init(segment: bridge.segments[i].name, lease: lease)) }
        }
        let write = service.leaseJournal.plan(entries, segments: covered, wall: service.wall)
        do {
            switch write {
            case .nothing: return
            case .append(let lines):
                try database.append(lines)
                service.leaseAppends &+= 1
            case .snapshot(let text):
                try database.write(text)
                service.leaseSnapshots &+= 1
            }
            service.leaseJournal.written()
            if service.leaseWriteFailing { note(.notice, "lease database: written again", ["path": "\(database.path)"]) }
            service.leaseWriteFailing = false
        } catch {
            service.leaseJournal.failed()
            if !service.leaseWriteFailing { note(.error, "lease database: cannot write (leases are kept in memory)", ["path": "\(database.path)", "reason": "\(error)"]) }
            service.leaseWriteFailing = true
        }
    }

    // MARK: Sockets

    /// A reason the directory of `path` is unsafe for a socket (world-writable without the sticky
    /// bit: anyone could replace the socket), or nil.
    public static func unsafeSocketDirectory(for path: String) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        var st = stat()
        guard stat(directory.isEmpty ? "." : directory, &st) == 0 else { return nil }  // bind reports a missing one
        if st.st_mode & S_IWOTH != 0 && st.st_mode & S_ISVTX == 0 {
            return "directory \(directory.isEmpty ? "." : directory) is world-writable without the sticky bit"
        }
        return nil
    }

    /// Creates a listening socket with `create` under a umask that lets only its owner in, then
    /// gives it `access`'s mode, owner and group.
    func makeSocket<T>(_ path: String, _ access: SocketAccess, _ create: () throws -> T) throws -> T {
        if let problem = Self.unsafeSocketDirectory(for: path) {
            throw DaemonError.socket(path, problem + "; fix: put the socket in a directory only the bridge's user can write (e.g. /run/sluice), or chmod +t it")
        }
        let uid = try access.owner.map { owner in try Self.userID(owner) }
        let gid = try access.group.map { group in try Self.groupID(group) }
        let old = umask(0o177)
        defer { umask(old) }
        let socket = try create()
        if uid != nil || gid != nil, chown(path, uid ?? UInt32.max, gid ?? UInt32.max) != 0 {
            throw DaemonError.socket(path, "chown: \(String(cString: strerror(errno)))")
        }
        guard chmod(path, mode_t(access.mode & 0o777)) == 0 else {
            throw DaemonError.socket(path, "chmod: \(String(cString: strerror(errno)))")
        }
        return socket
    }

    /// Whether a peer may stay connected to a socket with `access` (always, without allow-lists).
    func admits(_ stream: UnixStream, _ access: SocketAccess, socket path: String) -> Bool {
        guard access.checksPeers else { return true }
        guard let peer = stream.peerCredentials() else {
            note(.warning, "connection refused", ["socket": "\(path)", "reason": "no peer credentials"], guestCaused: true)
            return false
        }
        if peer.uid == 0 || peer.uid == getuid() { return true }
        let users = (access.allowedUsers ?? []).compactMap { try? Self.userID($0) }
        let groups = (access.allowedGroups ?? []).compactMap { try? Self.groupID($0) }
        if users.contains(peer.uid) || groups.contains(peer.gid) { return true }
        note(.warning, "connection refused", ["socket": "\(path)", "reason": "not in allow-users/allow-groups", "uid": "\(peer.uid)", "gid": "\(peer.gid)", "pid": "\(peer.pid)"], guestCaused: true)
        return false
    }

    static func userID(_ name: String) throws -> UInt32 {
        if let n = UInt32(name) { return n }
        guard let pw = getpwnam(name) else { throw DaemonError.socket(name, "no user named '\(name)'") }
        return pw.pointee.pw_uid
    }

    static func groupID(_ name: String) throws -> UInt32 {
        if let n = UInt32(name) { return n }
        guard let gr = getgrnam(name) else { throw DaemonError.socket(name, "no group named '\(name)'") }
        return gr.pointee.gr_gid
    }

    // MARK: Service manager

    /// Tells the service manager the bridge serves (READY=1) and starts the watchdog pings.
    func notifyReady() {
        service.notifier.notify("READY=1\nSTATUS=serving bridge \(config.name)\nMAINPID=\(getpid())")
        guard let interval = service.notifier.watchdogInterval else { return }
        note(.info, "watchdog", ["interval": "\(interval)"])
        scheduleWatchdog(interval)
    }

    func scheduleWatchdog(_ interval: Duration) {
        service.watchdog = reactor.schedule(at: reactor.clock.now() + interval) { [unowned self] in
            // The reactor thread is the one that must be alive: the ping runs on it.
            self.service.notifier.notify("WATCHDOG=1")
            self.scheduleWatchdog(interval)
        }
    }

    /// STOPPING=1 and no more watchdog pings.
    func notifyStopping() {
        if let w = service.watchdog { reactor.cancel(w) }
        service.watchdog = nil
        service.notifier.notify("STOPPING=1")
    }
}
