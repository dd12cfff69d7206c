import Dispatch
import Logging
import ServiceLifecycle
import Synchronization
import TernBroker
import TernNet
import TernStorage

#if canImport(Glibc)
import Glibc
#endif

/// Process concerns of the daemon: open the broker (recovering its logs), bind its listeners and
/// the admin listener, report readiness, then run them as a `ServiceGroup` until SIGTERM/SIGINT
/// stops them gracefully (reverse order: watchdog, broker, admin).
///
/// The signals are handled by ``StopSignals`` rather than by the group's
/// `gracefulShutdownSignals`: its handler is installed before any listener binds (a SIGTERM right
/// after the port accepts is never lost), and a second signal must exit at once even while the
/// first shutdown is flushing. The first signal triggers the group's graceful shutdown.
final class Daemon: Sendable {
    private let config: BrokerConfig
    private let tls: ListenerTLS?
    private let bootstrapUsers: [SaslBootstrapUsers.Entry]
    private let logger: Logger
    private let signalQueue = DispatchQueue(label: "ternd.signals")
    private let stopping = Atomic<Bool>(false)
    private let notifier: SystemdNotifier
    private let watchdogInterval: Duration?
    private let metrics: MetricsExporter

    init(
        config: BrokerConfig, tls: ListenerTLS?, bootstrapUsers: [SaslBootstrapUsers.Entry], logger: Logger,
        environment: [String: String], metrics: MetricsExporter
    ) {
        self.config = config
        self.tls = tls
        self.bootstrapUsers = bootstrapUsers
        self.logger = logger
        self.metrics = metrics
        self.notifier = SystemdNotifier(environment: environment)
        self.watchdogInterval = SystemdNotifier.watchdogInterval(environment: environment)
    }

    func run() async -> Never {
        let started = ContinuousClock.now
        // Before any log is opened: a log directory another node (or cluster) owns is refused,
        // not recovered as this node's.
        var identity = checkLogDirIdentity()
        let broker: Broker
        do {
            broker = try Broker(config: config, logger: logger, tls: tls, bootstrapUsers: bootstrapUsers)
        } catch let error as ClusterNode.UnsupportedRoleError {
            TerndCommand.fail("configuration error: \(error)", code: TerndExit.config)
        } catch let error as ConfigError {
            // The replica fetchers' TLS files or inter-broker SASL credentials.
            logger.critical("configuration error", metadata: ["error": "\(error)"])
            TerndCommand.fail("configuration error: \(error)", code: TerndExit.config)
        } catch {
            logger.critical("cannot open the data directory", metadata: ["error": "\(error)"])
            TerndCommand.fail("cannot open the data directory: \(error)", code: TerndExit.dataDirectory)
        }
        do {
            try identity.writeMissing()
        } catch {
            logger.critical("cannot claim the data directory", metadata: ["error": "\(error)"])
            TerndCommand.fail("cannot claim the data directory: \(error)", code: TerndExit.dataDirectory)
        }
        // Once the metadata log names the cluster id, a log directory recording another one stops
        // the node: it must not serve another cluster's data.
        let logger = self.logger
        broker.cluster.useIdentity(identity) { error in
            logger.critical("log directory belongs to another cluster", metadata: ["error": "\(error)"])
            TerndCommand.fail("configuration error: \(error)", code: TerndExit.config)
        }
        let metrics = self.metrics
        let admin = AdminServer(
            listeners: config.adminListeners, broker: broker, renderMetrics: { metrics.render() }, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: AdminService(admin: admin)),
                    .init(service: BrokerService(broker: broker)),
                    .init(service: WatchdogService(notifier: notifier, interval: watchdogInterval, broker: broker)),
                ],
                logger: logger))

        // Signal handling is in place before any listener accepts (StopSignals.swift: installed
        // synchronously, so a SIGTERM right after the port accepts is never lost); starting runs
        // on the signal queue, so a stop requested while listeners are still being bound waits
        // until they are up. SIGHUP reloads the SSL listeners' certificates (and is otherwise
        // ignored rather than ending the process, its default).
        let signals = StopSignals.install(queue: signalQueue) { [self] signalNumber in
            if signalNumber == SIGHUP {
                self.reloadCertificates()
            } else {
                self.handleSignal(signalNumber, broker: broker, group: group)
            }
        }
        if signals == nil {
            TerndCommand.fail("cannot create the signal pipe", code: TerndExit.software)
        }
        signalQueue.sync { start(broker, admin, startedAt: started) }
        tls?.startWatching(intervalMs: Int64(config["ssl.reload.check.interval.ms"] ?? "") ?? 30_000)

        do {
            try await group.run()
        } catch {
            logger.error("shutdown failed", metadata: ["error": "\(error)"])
            exit(TerndExit.software)
        }
        withExtendedLifetime(signals) {}
        exit(TerndExit.ok)
    }

    /// Reads every log directory's `meta.properties` and checks it against `node.id`: exits 78
    /// when a directory belongs to another node or cluster, 73 when a file is unreadable or corrupt.
    private func checkLogDirIdentity() -> LogDirIdentity {
        do {
            return try LogDirIdentity.load(logDirs: config.logDirs, nodeId: config.nodeId)
        } catch {
            logger.critical("cannot use the log directories", metadata: ["error": "\(error)"])
            if error.code == .mismatch {
                TerndCommand.fail("configuration error: \(error)", code: TerndExit.config)
            }
            TerndCommand.fail("cannot use the data directory: \(error)", code: TerndExit.dataDirectory)
        }
    }

    /// Binds the broker's and the admin listeners and reports readiness (log line, sd_notify).
    private func start(_ broker: Broker, _ admin: AdminServer, startedAt started: ContinuousClock.Instant) {
        do {
            try broker.start()
            try admin.start()
        } catch {
            logger.critical("cannot start listeners", metadata: ["error": "\(error)"])
            admin.shutdown(timeout: .zero)
            try? broker.shutdown()
            TerndCommand.fail("cannot start listeners: \(error)", code: TerndExit.listener)
        }
        let elapsed = ContinuousClock.now - started
        // Logs are recovered and every listener accepts: tell systemd (Type=notify).
        let listening = config.listeners.map(\.host).enumerated().map { "\($1):\(broker.boundPorts[$0])" }
        var status = "serving on \(listening.joined(separator: ", "))"
        if !admin.boundAddresses.isEmpty {
            status += "; admin on http://\(admin.boundAddresses.joined(separator: ", http://"))"
        }
        notifier.notify("READY=1\nSTATUS=\(status)")
        logger.info(
            "ternd ready",
            metadata: [
                "version": "\(Broker.version)", "node_id": "\(config.nodeId)",
                "log_dirs": "\(config.logDirs.joined(separator: ","))",
                "startup_ms":
                    "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            ])
    }

    private func reloadCertificates() {
        guard let tls else {
            logger.info("SIGHUP: no SSL listener, nothing to reload")
            return
        }
        tls.reload(reason: "SIGHUP")
    }

    private func handleSignal(_ signalNumber: Int32, broker: Broker, group: ServiceGroup) {
        if stopping.exchange(true, ordering: .relaxed) {
            logger.warning("second signal: exiting at once")
            exit(TerndExit.software)
        }
        logger.info("stopping", metadata: ["signal": "\(signalNumber == SIGTERM ? "SIGTERM" : "SIGINT")"])
        broker.beginShutdown()
        notifier.notify("STOPPING=1\nSTATUS=stopping: finishing in-flight requests and flushing logs")
        Task { await group.triggerGracefulShutdown() }
    }
}
