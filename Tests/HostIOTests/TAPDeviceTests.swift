import CShims
import Basics
import Glibc
import Testing
@testable import HostIO

/// Why TAP tests cannot run here, or nil when they can.
func tapUnavailableReason() -> String? {
    if geteuid() != 0 { return "not root (CAP_NET_ADMIN is needed to create a TAP device)" }
    if access("/dev/net/tun", R_OK | W_OK) != 0 { return "/dev/net/tun is missing or not accessible" }
    return nil
}

@Suite struct TAPDeviceTests {
    /// Opens a TAP, brings it up with an address, and has the kernel answer an ARP request
    /// written into it: frames go both ways through the descriptor.
    @Test func kernelAnswersARPThroughTheTAP() throws {
        if let reason = tapUnavailableReason() {
            print("TAPDeviceTests skipped: \(reason)")
            return
        }
        let tap = try TAPDevice(name: "sluicet%d")
        #expect(tap.name.hasPrefix("sluicet"))
        #expect(NetworkInterface.index(of: tap.name) != nil)
        #expect(try NetworkInterface.isUp(tap.name) == false)
        try tap.setUp()
        #expect(try NetworkInterface.isUp(tap.name))
        try NetworkInterface.setMTU(tap.name, 1400)
        // 198.18.0.0/15 is for benchmarking (RFC 2544): no clash with real networks.
        let hostAddress: UInt32 = 0xC612_4D01, ourAddress: UInt32 = 0xC612_4D02   // 198.18.77.1, .2
        try NetworkInterface.setIPv4Address(tap.name, address: hostAddress, prefixLength: 30)

        let ourMAC: [UInt8] = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x02]
        var request: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + ourMAC + [0x08, 0x06]
        request += [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01] + ourMAC + bytes(ourAddress)
        request += [0, 0, 0, 0, 0, 0] + bytes(hostAddress)
        #expect(try request.withUnsafeBytes { try tap.write($0) } == request.count)

        let reactor = try Reactor()
        var reply: [UInt8]?
        var buffer = [UInt8](repeating: 0, count: 2048)
        _ = try reactor.register(tap.descriptor, interest: .read) { _ in
            while let n = try? buffer.withUnsafeMutableBytes({ try tap.read(into: $0) }) {
                let frame = Array(buffer.prefix(n))
                // Other traffic (IPv6 router solicitations, MLD) may come first: wait for ARP.
                if frame.count >= 42, frame[12] == 0x08, frame[13] == 0x06, frame[21] == 2 { reply = frame }
            }
        }
        let start = reactor.clock.now()
        while reply == nil, reactor.clock.now() - start < .seconds(3) {
            try reactor.runOnce(timeout: .milliseconds(100))
        }
        let frame = try #require(reply, "no ARP reply from the kernel within 3 s")
        #expect(Array(frame[0..<6]) == ourMAC)              // to us
        #expect(Array(frame[28..<32]) == bytes(hostAddress)) // sender IP: the TAP's address
        #expect(Array(frame[32..<38]) == ourMAC)             // target hardware address
    }

    @Test func opensWithAVirtioNetHeader() throws {
        if let reason = tapUnavailableReason() {
            print("TAPDeviceTests skipped: \(reason)")
            return
        }
        let tap = try TAPDevice(virtioNetHeaderSize: 12)
        #expect(tap.virtioNetHeaderSize == 12)
        var size: CInt = 0
        #expect(sluice_tun_get_vnet_hdr_size(tap.descriptor.rawValue, &size) == 0)
        #expect(size == 12)
        try tap.setOffload(SLUICE_TUN_F_CSUM)
    }

    private func bytes(_ address: UInt32) -> [UInt8] {
        [UInt8(address >> 24), UInt8(address >> 16 & 0xFF), UInt8(address >> 8 & 0xFF), UInt8(address & 0xFF)]
    }
}
