import ServiceLifecycle
import TernBroker

/// Pings the systemd watchdog (`WATCHDOG=1`) every half of `$WATCHDOG_USEC` while the broker
/// serves requests; stops at graceful shutdown. Without a watchdog interval it only waits.
struct WatchdogService: Service, CustomStringConvertible {
    let notifier: SystemdNotifier
    let interval: Duration?
    let broker: Broker

    var description: String { "watchdog" }

    func run() async throws {
        guard let interval else {
            try? await gracefulShutdown()
            return
        }
        let period = interval / 2
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if broker.isServing { notifier.notify("WATCHDOG=1") }
                try await Task.sleep(for: max(period, .milliseconds(1)))
            }
        }
    }
}
