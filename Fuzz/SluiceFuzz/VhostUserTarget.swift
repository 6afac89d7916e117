// Fuzz target `vhost-user` (layer 3, VhostUser): a front end's byte stream into the message reader
// and every complete message into the connection state machine, as the server does. Descriptors
// are stubbed with real but harmless ones: duplicates of one 4 MiB memfd (SET_MEM_TABLE maps them)
// or fresh eventfds (kick, call, err). The connection is closed at the end and its memory retired.
//
// Input: chunks — a control byte (bits 0–1: descriptors to attach, 0–3; bit 2: eventfds instead
// of memfd duplicates), a 16-bit little-endian length, and that many stream bytes. The stream is
// handed to the reader in pieces no longer than it asks for.
import CShims
import HostIO
import VhostUser
import Virtio
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum VhostUserTarget {
    static let memorySize = 4 << 20

    /// One memfd for the whole run; each stub descriptor is a dup of it.
    nonisolated(unsafe) static let memfd: CInt = {
        let fd = sluice_memfd_create("sluice-fuzz-guest", SLUICE_MFD_CLOEXEC)
        guard fd >= 0, ftruncate(fd, off_t(memorySize)) == 0 else { fatalError("memfd for the vhost-user target: errno \(errno)") }
        return fd
    }()

    static func stubs(_ control: UInt8) -> [FileDescriptor] {
        (0..<Int(control & 3)).compactMap { _ in
            if control & 4 != 0 { return try? EventFD().descriptor }
            let fd = dup(memfd)
            return fd >= 0 ? FileDescriptor(adopting: fd) : nil
        }
    }

    /// SLUICE_FUZZ_VERBOSE=1 prints each message and the connection's actions (to see what an input does).
    static let verbose = getenv("SLUICE_FUZZ_VERBOSE") != nil

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let connection = VhostUserConnection()
        var reader = VhostUserMessageReader()
        var messages = 0
        session: while !input.isEmpty, messages < 64 {
            let control = input.u8()
            var chunk = FuzzInput(input.record())
            var attached = stubs(control)
            repeat {
                let piece = chunk.take(reader.bytesWanted)
                do {
                    if let (message, descriptors) = try reader.append(piece, descriptors: attached) {
                        messages += 1
                        let actions = connection.handle(message, descriptors: descriptors)
                        if verbose { print(message.header.knownRequest.map { "\($0)" } ?? "\(message.header.request)", descriptors.count, actions) }
                        if actions.contains(where: { if case .close = $0 { true } else { false } }) { break session }
                    }
                } catch {
                    _ = connection.close(error)
                    break session
                }
                attached = []
            } while !chunk.isEmpty
        }
        _ = reader.endOfStream()
        _ = (connection.negotiatedFeatures, connection.runningQueuePairs, connection.memoryRegions, connection.descriptorCount)
        _ = connection.close(.peerClosed)
        _ = connection.releaseUnusedMemory()
        _ = connection.takeRetiredMemory()
    }

    // MARK: Seeds

    /// A chunk carrying `message`, with `descriptors` stubs of the given kind.
    static func chunk(_ request: VhostUserRequest, _ payload: [UInt8] = [], descriptors: UInt8 = 0, eventfd: Bool = false,
                      needReply: Bool = false) -> [UInt8] {
        let flags = VhostUserSpec.version | (needReply ? VhostUserSpec.needReplyFlag : 0)
        let bytes = VhostUserMessage(request: request, flags: flags, payload: payload).bytes
        return [descriptors | (eventfd ? 4 : 0)] + records([bytes])
    }

    static func seeds() -> [[UInt8]] {
        let region = VhostUserMemoryRegion(guestPhysicalAddress: 0, size: UInt64(memorySize), userAddress: 0x7F00_0000_0000, mmapOffset: 0)
        let features = VirtioFeatures.deviceDefault.rawValue | 1 << 30
        let negotiate = chunk(.getFeatures) + chunk(.getProtocolFeatures)
            + chunk(.setProtocolFeatures, VhostUserU64.encode(VhostUserProtocolFeatures([.multipleQueues, .replyAck, .resetDevice, .configureMemorySlots]).rawValue))
            + chunk(.setOwner) + chunk(.setFeatures, VhostUserU64.encode(features))
        var start: [UInt8] = []
        for queue in 0..<2 {
            let base = UInt64(0x10_0000 + queue * 0x4000)
            start += chunk(.setVringCall, VhostUserU64.encode(UInt64(queue)), descriptors: 1, eventfd: true)
            start += chunk(.setVringNum, VhostUserVringState(index: UInt32(queue), num: 256).bytes)
            start += chunk(.setVringBase, VhostUserVringState(index: UInt32(queue), num: 0).bytes)
            start += chunk(.setVringAddr, VhostUserVringAddress(index: UInt32(queue), descriptor: region.userAddress + base,
                                                                used: region.userAddress + base + 0x2000,
                                                                available: region.userAddress + base + 0x1000).bytes)
            start += chunk(.setVringKick, VhostUserU64.encode(UInt64(queue)), descriptors: 1, eventfd: true)
            start += chunk(.setVringEnable, VhostUserVringState(index: UInt32(queue), num: 1).bytes)
        }
        let table = chunk(.setMemTable, VhostUserMemoryRegion.encodeTable([region]), descriptors: 1, needReply: true)
        let stop = chunk(.getVringBase, VhostUserVringState(index: 0, num: 0).bytes) + chunk(.getVringBase, VhostUserVringState(index: 1, num: 0).bytes)
        return [
            negotiate,
            negotiate + table,
            negotiate + table + start,
            negotiate + table + start + stop + chunk(.resetDevice, needReply: true) + table,
            negotiate + chunk(.addMemReg, region.singleBytes, descriptors: 1) + chunk(.getMaxMemSlots) + chunk(.remMemReg, region.singleBytes),
            negotiate + table + chunk(.setVringKick, VhostUserU64.encode(0 | VhostUserSpec.vringInvalidFDFlag)) + chunk(.getQueueNum),
        ]
    }
}
