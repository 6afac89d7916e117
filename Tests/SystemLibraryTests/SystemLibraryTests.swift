// The system-library targets link and answer: libsodium initialises, libpcap reports a version.
import Testing
import CSodium
import CPcap

@Test func libsodiumInitialises() {
    #expect(sodium_init() >= 0)
}

@Test func libpcapReportsItsVersion() {
    let version = String(cString: pcap_lib_version())
    #expect(version.hasPrefix("libpcap version"))
}
