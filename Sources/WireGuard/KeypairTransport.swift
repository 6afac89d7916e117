// Room: WireGuard — layer 2. A session's transport (whitepaper §5.4.6, §6) for protocols that derive the keys with
// a handshake of their own — the mesh's certificate handshake (Sources/Mesh) — and then carry data exactly as
// WireGuard does: the same Keypair (counters, Reject-After-* limits, Rekey-After-* deadlines), the same 2048-bit
// replay window, the same type-4 header, padding and ChaCha20-Poly1305 sealing in place. The device's own send and
// receive paths (DeviceSend.swift, DeviceReceive.swift) call the same two functions: one transport.

import Basics
import Crypto
import Wire

/// What opening one transport message gave.
public enum TransportOpenResult: Sendable, Equatable {
    /// The plaintext (padding included) is `buffer[range]`; an empty range is a keepalive.
    case plaintext(Range<Int>)
    case dropped(WireGuardDropReason)
}

extension Keypair {
    /// A session from keys a handshake derived elsewhere (T^send, T^recv of §5.4.5). `localIndex` is the index this
    /// side handed out (peers address their messages to it), `remoteIndex` the peer's.
    public static func session(sendKey: SecretKey, receiveKey: SecretKey, isInitiator: Bool, created: Instant,
                               localIndex: UInt32, remoteIndex: UInt32,
                               limits: WireGuardLimits = .init()) -> Keypair {
        Keypair(sendKey: sendKey.copy(), receiveKey: receiveKey.copy(), isInitiator: isInitiator, created: created,
                localIndex: localIndex, remoteIndex: remoteIndex, rekeyAfterTime: limits.rekeyAfterTime)
    }

    /// N_send: the counter the next message will carry.
    public var nextSendCounter: UInt64 { sendCounter }

    /// True from Reject-After-Time on: the session neither sends nor accepts (§6.2).
    public func isExpired(now: Instant) -> Bool { now >= rejectAfter }

    /// §6.2: a new handshake is due — after Rekey-After-Messages sent, or (initiator only) Rekey-After-Time.
    public func needsRekey(now: Instant, limits: WireGuardLimits = .init()) -> Bool {
        sendCounter > limits.rekeyAfterMessages || (isInitiator && now > rekeyAfter)
    }

    /// Seals the packet at `buffer[16..<16 + count]` in place into a transport message at `buffer[0...]` (header,
    /// padding to 16 within `mtu`, tag) and returns its length; nil when the session may not send (Reject-After-Time
    /// or Reject-After-Messages reached) or the buffer is too small. Each call uses a fresh counter.
    @inline(__always)
    public func seal(packet buffer: UnsafeMutableRawBufferPointer, count: Int, now: Instant,
                     limits: WireGuardLimits = .init(), mtu: Int? = nil) -> Int? {
        let h = TransportHeader.size
        guard count >= 0, buffer.count >= h + count, now < rejectAfter,
              sendCounter < limits.rejectAfterMessages else { return nil }
        let padded = TransportHeader.paddedLength(count, mtu: mtu)
        guard buffer.count >= h + padded + WireGuardConstants.tagSize else { return nil }
        let counter = sendCounter
        sendCounter += 1
        for i in (h + count)..<(h + padded) { buffer[i] = 0 }
        TransportHeader(receiver: remoteIndex, counter: counter).write(to: buffer)
        let sealed = ChaCha20Poly1305.seal(key: sendKey, counter: counter,
                                           buffer: buffer.slice(h..<(h + padded + WireGuardConstants.tagSize)),
                                           plaintextCount: padded)
        return h + sealed
    }

    /// Opens the transport message `buffer[0..<count]` addressed to this session, in place: the replay window is
    /// checked before and moved only after authentication, as on the device's receive path.
    @inline(__always)
    public func open(message buffer: UnsafeMutableRawBufferPointer, count: Int, now: Instant,
                     limits: WireGuardLimits = .init()) -> TransportOpenResult {
        let h = TransportHeader.size
        guard count >= WireGuardConstants.messageKeepaliveSize, count <= buffer.count else { return .dropped(.badSize) }
        guard MessageType(of: UnsafeRawBufferPointer(buffer)) == .transportData else { return .dropped(.unknownMessageType) }
        guard buffer.le32(4) == localIndex else { return .dropped(.unknownIndex) }
        guard now < rejectAfter else { return .dropped(.expiredKeypair) }
        let counter = buffer.le64(8)
        guard replay.wouldAccept(counter, limit: limits.rejectAfterMessages) else { return .dropped(.replayedCounter) }
        guard let plain = ChaCha20Poly1305.open(key: receiveKey, counter: counter, buffer: buffer.slice(h..<count),
                                                ciphertextCount: count - h) else { return .dropped(.decryptFailed) }
        guard replay.validate(counter, limit: limits.rejectAfterMessages) else { return .dropped(.replayedCounter) }
        return .plaintext(h..<(h + plain))
    }

    /// Wipes both keys now; the caller forgets the session (a revoked peer's sessions are closed this way).
    public func wipeKeys() { wipe() }
}
