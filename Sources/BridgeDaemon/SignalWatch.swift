// SIGINT and SIGTERM delivered through a signalfd on the reactor, so shutdown runs on the
// reactor's thread like every other event.
import CShims
import HostIO

final class SignalWatch {
    let reactor: Reactor
    var registration: Reactor.Registration?
    /// Called with "SIGINT" or "SIGTERM" on the reactor's thread.
    var handler: (String) -> Void = { _ in }

    init(reactor: Reactor) {
        self.reactor = reactor
        let fd = sluice_signalfd_termination()
        guard fd >= 0 else { return }
        let descriptor = FileDescriptor(adopting: fd)
        registration = try? reactor.register(descriptor, interest: .read) { [unowned self] _ in
            while true {
                let signal = sluice_signalfd_read(descriptor.rawValue)
                guard signal > 0 else { return }
                self.handler(signal == 2 ? "SIGINT" : "SIGTERM")
            }
        }
    }

    func cancel() {
        if let registration { reactor.deregister(registration) }
        registration = nil
    }
}
