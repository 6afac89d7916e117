// Live reconfiguration of a learning switch (`sluice bridge --reload`): the aging time. The
// table's capacity is fixed for the switch's life (its storage is allocated once).
import Basics

extension LearningSwitch {
    /// Ages entries by `agingTime` from now on: entries already learned keep their last-seen
    /// time and expire by the new rule (`nextDeadline()` moves with it).
    public mutating func setAgingTime(_ agingTime: Duration) {
        precondition(agingTime >= .zero, "LearningSwitch: agingTime must not be negative")
        configuration.agingTime = agingTime
    }
}
