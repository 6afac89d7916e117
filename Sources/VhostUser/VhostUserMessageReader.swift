// Framing vhost-user messages out of a stream socket, sans-IO. The reader says how many bytes it
// wants next — the rest of the header, then the rest of the payload — so the I/O layer never reads
// past a message boundary, and file descriptors that arrive (SCM_RIGHTS travel with the first
// byte of the message they belong to) are attached to the message being read.

import HostIO

/// Reassembles messages from a byte stream with attached file descriptors.
public struct VhostUserMessageReader {
    private var headerBytes: [UInt8] = []
    private var header: VhostUserHeader?
    private var payload: [UInt8] = []
    private var descriptors: [FileDescriptor] = []

    public init() {}

    /// How many bytes to read next (never more than the current message still needs).
    public var bytesWanted: Int {
        if let header { return Int(header.size) - payload.count }
        return VhostUserSpec.headerSize - headerBytes.count
    }

    /// True between messages (an end of stream here is a clean disconnect).
    public var isAtMessageBoundary: Bool { header == nil && headerBytes.isEmpty && descriptors.isEmpty }

    /// Takes bytes read from the stream (at most `bytesWanted`) and descriptors that came with
    /// them. Returns a complete message and its descriptors, or nil while more is needed.
    public mutating func append(_ bytes: UnsafeRawBufferPointer,
                                descriptors received: [FileDescriptor]) throws(VhostUserError) -> (VhostUserMessage, [FileDescriptor])? {
        precondition(bytes.count <= bytesWanted, "read past the message boundary")
        descriptors += received
        guard descriptors.count <= VhostUserSpec.maxDescriptorsPerMessage else {
            throw .tooManyDescriptors(received: descriptors.count)
        }
        if header == nil {
            headerBytes += bytes
            guard headerBytes.count == VhostUserSpec.headerSize else { return nil }
            let parsed = VhostUserHeader(request: headerBytes.loadNative32(0), flags: headerBytes.loadNative32(4), size: headerBytes.loadNative32(8))
            headerBytes.removeAll(keepingCapacity: true)
            guard parsed.version == VhostUserSpec.version else { throw .badVersion(request: parsed.request, flags: parsed.flags) }
            guard parsed.size <= VhostUserSpec.maxPayloadSize else { throw .payloadTooLarge(request: parsed.request, size: parsed.size) }
            header = parsed
            payload.reserveCapacity(Int(parsed.size))
        } else {
            payload += bytes
        }
        guard let header, payload.count == Int(header.size) else { return nil }
        let message = VhostUserMessage(header: header, payload: payload)
        let attached = descriptors
        self.header = nil
        payload = []
        descriptors = []
        return (message, attached)
    }

    /// What an end of stream means now: nil between messages, else why the message is truncated.
    public func endOfStream() -> VhostUserError {
        if let header { return .truncatedPayload(request: header.request, expected: Int(header.size), received: payload.count) }
        if !headerBytes.isEmpty || !descriptors.isEmpty { return .truncatedHeader(received: headerBytes.count) }
        return .peerClosed
    }
}

extension [UInt8] {
    /// The native-order u32 at `offset` (the caller checked the length).
    func loadNative32(_ offset: Int) -> UInt32 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    }
}
