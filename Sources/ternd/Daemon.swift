import Dispatch
import Logging
import Synchronization
import TernBroker
import TernNet
import TernStorage

#if canImport(Glibc)
import Glibc
#endif

/// Process concerns of the daemon: start the broker, wait for SIGTERM/SIGINT, stop it cleanly.
final class Daemon: Sendable {
    private let config: BrokerConfig
    private let logger: Logger
    private let signalQueue = DispatchQueue(label: "ternd.signals")
    private let stopping = Atomic<Bool>(false)
    private let notifier: SystemdNotifier
    private let watchdogInterval: Duration?

    init(config: BrokerConfig, logger: Logger, environment: [String: String]) {
        self.config = config
        self.logger = logger
        self.notifier = SystemdNotifier(environment: environment)
        self.watchdogInterval = SystemdNotifier.watchdogInterval(environment: environment)
    }

    func run() -> Never {
        let started = ContinuousClock.now
        let broker: Broker
        do {
            broker = try Broker(config: config, logger: logger)
        } catch {
            logger.critical("cannot open the data directory", metadata: ["error": "\(error)"])
            TerndCommand.fail("cannot open the data directory: \(error)", code: TerndExit.dataDirectory)
        }
        // Signal handling is in place before any listener accepts, so a SIGTERM that follows the
        // port accepting is never lost; starting runs on the signal queue, so a stop requested
        // while listeners are still being bound waits until they are all up.
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
            source.setEventHandler { [self] in self.handleSignal(signalNumber, broker: broker) }
            source.resume()
            sources.append(source)
        }
        signalQueue.sync { start(broker, startedAt: started) }
        while true {
            withExtendedLifetime(sources) { _ = pause() }
        }
    }

    /// Binds the listeners and reports readiness (log line, sd_notify, watchdog).
    private func start(_ broker: Broker, startedAt started: ContinuousClock.Instant) {
        do {
            try broker.start()
        } catch {
            logger.critical("cannot start listeners", metadata: ["error": "\(error)"])
            try? broker.shutdown()
            TerndCommand.fail("cannot start listeners: \(error)", code: TerndExit.listener)
        }
        let elapsed = ContinuousClock.now - started
        // Logs are recovered and every listener accepts: tell systemd (Type=notify).
        let listening = config.listeners.map(\.host).enumerated().map { "\($1):\(broker.boundPorts[$0])" }
        notifier.notify("READY=1\nSTATUS=serving on \(listening.joined(separator: ", "))")
        if let watchdogInterval { scheduleWatchdog(every: watchdogInterval / 2) }
        logger.info(
            "ternd ready",
            metadata: [
                "version": "\(Broker.version)", "node_id": "\(config.nodeId)",
                "log_dirs": "\(config.logDirs.joined(separator: ","))",
                "startup_ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            ])
    }

    /// Pings the systemd watchdog while the process is not stopping.
    private func scheduleWatchdog(every interval: Duration) {
        let nanoseconds = interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000
        signalQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(max(nanoseconds, 1_000_000)))) { [self] in
            guard !stopping.load(ordering: .relaxed) else { return }
            notifier.notify("WATCHDOG=1")
            scheduleWatchdog(every: interval)
        }
    }

    private func handleSignal(_ signalNumber: Int32, broker: Broker) {
        if stopping.exchange(true, ordering: .relaxed) {
            logger.warning("second signal: exiting at once")
            exit(TerndExit.software)
        }
        logger.info("stopping", metadata: ["signal": "\(signalNumber == SIGTERM ? "SIGTERM" : "SIGINT")"])
        notifier.notify("STOPPING=1\nSTATUS=stopping: finishing in-flight requests and flushing logs")
        // Shut down off the signal queue so a second signal is still seen while we flush.
        DispatchQueue.global().async { [self] in
            do {
                try broker.shutdown()
                exit(TerndExit.ok)
            } catch {
                logger.error("shutdown failed", metadata: ["error": "\(error)"])
                exit(TerndExit.software)
            }
        }
    }
}
