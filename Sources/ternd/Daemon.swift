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

    init(config: BrokerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
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
        do {
            try broker.start()
        } catch {
            logger.critical("cannot start listeners", metadata: ["error": "\(error)"])
            try? broker.shutdown()
            TerndCommand.fail("cannot start listeners: \(error)", code: TerndExit.listener)
        }
        let elapsed = ContinuousClock.now - started
        logger.info(
            "ternd ready",
            metadata: [
                "version": "\(Broker.version)", "node_id": "\(config.nodeId)",
                "log_dirs": "\(config.logDirs.joined(separator: ","))",
                "startup_ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            ])

        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
            source.setEventHandler { [self] in self.handleSignal(signalNumber, broker: broker) }
            source.resume()
            sources.append(source)
        }
        while true {
            withExtendedLifetime(sources) { _ = pause() }
        }
    }

    private func handleSignal(_ signalNumber: Int32, broker: Broker) {
        if stopping.exchange(true, ordering: .relaxed) {
            logger.warning("second signal: exiting at once")
            exit(TerndExit.software)
        }
        logger.info("stopping", metadata: ["signal": "\(signalNumber == SIGTERM ? "SIGTERM" : "SIGINT")"])
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
