// Every drop-reason enum fits the inline counters its component keeps (Basics' ReasonCounts).
import Basics
import Datapath
import Engine
import Testing
import WireGuard

@Test func everyDropReasonFitsItsCounters() {
    #expect(ReasonCounts<PortDropReason>.fits)
    #expect(ReasonCounts<RouterDropReason>.fits)
    #expect(ReasonCounts<NATDropReason>.fits)
    #expect(ReasonCounts<DHCPDropReason>.fits)
    #expect(ReasonCounts<WANDropReason>.fits)
    #expect(ReasonCounts<WireGuardDropReason>.fits)
}
