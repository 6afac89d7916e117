// Whitepaper §5.4.5–§5.4.6 and §6: a session's transport keys with its counters, and the three slots a peer
// keeps (wireguard-go keypair.go): current, previous (still accepted while the peer switches over) and next
// (the responder's new session, promoted once the initiator uses it).

import Basics
import Crypto

/// One session: send and receive keys, the send counter, the receive replay window and the two indices.
public final class Keypair {
    let sendKey: SecretKey
    let receiveKey: SecretKey
    /// N_send: the next counter to use.
    var sendCounter: UInt64 = 0
    var replay = ReplayWindow()
    /// True when this side sent the initiation (only the initiator rekeys after Rekey-After-Time, §6.2).
    public let isInitiator: Bool
    /// When the session was derived (monotonic time).
    public let created: Instant
    /// `created` + Reject-After-Time: from then on the session neither sends nor accepts packets (§6.2).
    /// The deadlines are computed once, so the per-packet checks compare two instants and do no Duration arithmetic.
    let rejectAfter: Instant
    /// `created` + Rekey-After-Time (`WireGuardLimits.rekeyAfterTime`): an initiator that sends after this starts
    /// a new handshake (§6.2).
    let rekeyAfter: Instant
    /// `created` + Reject-After-Time − Keepalive-Timeout − Rekey-Timeout: an initiator that receives after this
    /// starts its one last-minute handshake (§6.2).
    let lastMinuteRekeyAfter: Instant
    /// Our index (receivers put it in `receiver`) and the peer's.
    public let localIndex: UInt32
    public let remoteIndex: UInt32

    init(sendKey: SecretKey, receiveKey: SecretKey, isInitiator: Bool, created: Instant,
         localIndex: UInt32, remoteIndex: UInt32, rekeyAfterTime: Duration = WireGuardConstants.rekeyAfterTime) {
        self.sendKey = sendKey; self.receiveKey = receiveKey; self.isInitiator = isInitiator
        self.created = created; self.localIndex = localIndex; self.remoteIndex = remoteIndex
        rejectAfter = created + WireGuardConstants.rejectAfterTime
        rekeyAfter = created + rekeyAfterTime
        lastMinuteRekeyAfter = created + (WireGuardConstants.rejectAfterTime - WireGuardConstants.keepaliveTimeout
                                          - WireGuardConstants.rekeyTimeout)
    }

    /// Wipes both keys (they are freed when the last reference goes).
    func wipe() { sendKey.wipe(); receiveKey.wipe() }
}

/// A peer's three keypair slots.
struct Keypairs {
    var current: Keypair?
    var previous: Keypair?
    var next: Keypair?
}
