// Why a vhost-user connection was closed (docs/architecture.md, Bad input: a malformed vhost-user
// message closes that connection and is logged; other guests go on; the guest may reconnect).

import HostIO
import Virtio

/// A reason to close one front end's connection. The description is the log line.
public enum VhostUserError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The front end closed the connection between messages (a normal disconnect).
    case peerClosed
    /// The stream ended inside a header.
    case truncatedHeader(received: Int)
    /// The stream ended inside a payload.
    case truncatedPayload(request: UInt32, expected: Int, received: Int)
    /// The header's version is not 1.
    case badVersion(request: UInt32, flags: UInt32)
    /// A payload larger than any this back end accepts.
    case payloadTooLarge(request: UInt32, size: UInt32)
    /// A request id this back end does not know.
    case unknownRequest(UInt32)
    /// A request that is only legal after a feature this back end did not offer or the front end did not accept.
    case notNegotiated(VhostUserRequest, needs: String)
    /// A payload of the wrong size for its request.
    case badPayloadSize(VhostUserRequest, size: Int, expected: String)
    /// SET_FEATURES with bits that were not offered.
    case unsupportedFeatures(acknowledged: UInt64, offered: UInt64)
    /// SET_PROTOCOL_FEATURES with bits that were not offered.
    case unsupportedProtocolFeatures(acknowledged: UInt64, offered: UInt64)
    /// A vring index past the device's queues.
    case vringIndexOutOfRange(VhostUserRequest, index: UInt64, queues: Int)
    /// A payload field with a value the spec does not allow.
    case badValue(VhostUserRequest, String)
    /// A message that needs file descriptors came with too few or too many.
    case descriptorCount(VhostUserRequest, expected: Int, received: Int)
    /// More descriptors arrived than a message may carry.
    case tooManyDescriptors(received: Int)
    /// A request that is not legal in the connection's current state.
    case outOfOrder(VhostUserRequest, String)
    /// A memory table or region that cannot be used.
    case badMemoryTable(String)
    /// mmap of a region's descriptor failed.
    case mapFailed(region: Int, Errno)
    /// A ring (a front-end user address and the ring's size) that no memory region covers.
    case ringAddressOutsideMemory(queue: Int, part: String, address: UInt64)
    /// The rings of a queue pair could not be set up over guest memory.
    case ringSetupFailed(pair: Int, VirtqueueSetupError)
    /// The socket failed.
    case io(Errno)
    /// The server was shut down.
    case serverClosed

    public var description: String {
        switch self {
        case .peerClosed: "front end closed the connection"
        case .truncatedHeader(let n): "connection ended inside a message header (\(n) of \(VhostUserSpec.headerSize) bytes)"
        case .truncatedPayload(let r, let e, let n): "connection ended inside the payload of request \(Self.name(r)) (\(n) of \(e) bytes)"
        case .badVersion(let r, let f): "request \(Self.name(r)) has version \(f & VhostUserSpec.versionMask), expected \(VhostUserSpec.version) (flags 0x\(String(f, radix: 16)))"
        case .payloadTooLarge(let r, let s): "request \(Self.name(r)) announces a \(s)-byte payload (at most \(VhostUserSpec.maxPayloadSize))"
        case .unknownRequest(let r): "unknown request \(r)"
        case .notNegotiated(let r, let needs): "\(r) without \(needs)"
        case .badPayloadSize(let r, let s, let e): "\(r) with a \(s)-byte payload (expected \(e))"
        case .unsupportedFeatures(let a, let o): "SET_FEATURES 0x\(String(a, radix: 16)) has bits 0x\(String(a & ~o, radix: 16)) that were not offered"
        case .unsupportedProtocolFeatures(let a, let o): "SET_PROTOCOL_FEATURES 0x\(String(a, radix: 16)) has bits 0x\(String(a & ~o, radix: 16)) that were not offered"
        case .vringIndexOutOfRange(let r, let i, let q): "\(r) for vring \(i), but the device has \(q) vrings"
        case .badValue(let r, let what): "\(r): \(what)"
        case .descriptorCount(let r, let e, let n): "\(r) came with \(n) file descriptors, expected \(e)"
        case .tooManyDescriptors(let n): "a message came with more than \(n) file descriptors"
        case .outOfOrder(let r, let why): "\(r) \(why)"
        case .badMemoryTable(let why): "unusable memory table: \(why)"
        case .mapFailed(let i, let e): "mmap of memory region \(i) failed: \(e)"
        case .ringAddressOutsideMemory(let q, let part, let a): "vring \(q) \(part) at user address 0x\(String(a, radix: 16)) is not inside a memory region"
        case .ringSetupFailed(let p, let e): "the vrings of queue pair \(p) cannot be set up: \(Self.describe(e))"
        case .io(let e): "socket error: \(e)"
        case .serverClosed: "server shut down"
        }
    }

    static func describe(_ error: VirtqueueSetupError) -> String {
        func part(_ p: VirtqueuePart) -> String {
            switch p {
            case .descriptorTable: "descriptor table"
            case .availableRing: "available ring"
            case .usedRing: "used ring"
            }
        }
        switch error {
        case .invalidQueueSize(let size): return "queue size \(size) is invalid"
        case .misaligned(let p, let a): return "\(part(p)) at guest address 0x\(String(a, radix: 16)) is misaligned"
        case .outsideGuestMemory(let p, let a): return "\(part(p)) at guest address 0x\(String(a, radix: 16)) is outside guest memory"
        }
    }

    static func name(_ request: UInt32) -> String {
        VhostUserRequest(rawValue: request)?.description ?? "\(request)"
    }
}
