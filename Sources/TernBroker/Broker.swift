import CoreMetrics
import Dispatch
import Logging
import Synchronization
import TernNet
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// A single-node Tern broker: the partition logs, the topic metadata, the request handlers and
/// the listeners.
///
/// Start-up order is recovery first, then listeners: `init` opens (and if needed recovers) every
/// log, `start` binds. `shutdown` stops accepting, finishes in-flight requests, flushes every log
/// and writes the clean-shutdown markers.
public final class Broker: Sendable {
    /// The software version reported by ApiVersions.
    public static let version = "0.1.0"

    let config: BrokerConfig
    /// The SSL listeners' certificates; nil without SSL listeners.
    let tls: ListenerTLS?
    let logger: Logger
    let logManager: LogManager
    let topics: TopicStore
    let resolver: TopicConfigResolver
    let purgatory: FetchPurgatory
    /// Where produce requests with compressed batches are validated, off the network queues.
    let validationPool: ValidationPool
    /// `queued.max.request.bytes`: received, unhandled request bytes of every client listener;
    /// nil when unbounded (-1).
    let requestMemory: RequestMemoryPool?
    /// `max.connections` and `max.connections.per.ip` over every client listener (not the admin
    /// listener, so health checks get through a full broker).
    let connectionLimiter: ConnectionLimiter
    let fetchSessions: FetchSessionCache
    let retention: RetentionService
    let groupCoordinator: GroupCoordinator
    /// The log cleaner (nil when `log.cleaner.enable` is false).
    let cleaner: LogCleaner?
    /// Serializes changes to the local logs and the local topic store (metadata changes are
    /// rare; appends never take it).
    let adminLock = Mutex(())
    /// The admin worker: reconcile passes (Broker+Reconcile.swift) run here, one at a time,
    /// because they do disk work (directories, segments, fsyncs) that must not hold up a
    /// network queue. Serial, so at most one thread.
    let adminQueue = DispatchQueue(label: "tern.admin")
    /// The log-read worker: requests that read segment files or walk every log (ListOffsets by
    /// timestamp, DescribeLogDirs; Broker+LogReads.swift) run here, off the network queues.
    /// Serial, so at most one thread.
    let logReadQueue = DispatchQueue(label: "tern.log-reads")
    private let servers: Mutex<[Server]> = Mutex([])
    /// When the broker finished opening its logs.
    let startedAt = ContinuousClock.now
    /// Where the broker is in its life: see ``Phase``.
    private let phase = Atomic<UInt8>(Phase.recovered.rawValue)
    /// Request counts, errors and latency per API.
    let requestMetrics = RequestMetrics()
    /// Bytes and records in and out per topic.
    let topicMetrics = TopicMetricsTable()
    /// Gauges refreshed at scrape time.
    let scrapeGauges = ScrapeGauges()
    /// This node's voter of the metadata quorum, its controller and its broker membership.
    public let cluster: ClusterNode
    /// How far the local logs match the metadata image, and which partitions this broker leads.
    let reconcileState = Mutex(ReconcileState())
    /// SASL authentication on `SASL_PLAINTEXT` and `SASL_SSL` listeners.
    let sasl: SaslSessions
    /// `sasl.bootstrap.users.file`'s users, committed by ``start()`` before any listener opens.
    let bootstrapUsers: [SaslBootstrapUsers.Entry]
    /// `authorizer.enable` and the authorizer of the committed image's ACLs.
    let authorization: BrokerAuthorization
    /// Producer ids for InitProducerId, from blocks the active controller allocates.
    let producerIds: ProducerIdManager
    /// The replicated partitions' machines (Replication/ReplicaManager.swift).
    let replication: ReplicaManager
    /// Fetch the partitions this broker follows from their leaders.
    let fetchers: ReplicaFetcherManager
    /// `acks=all` produces of replicated partitions waiting for the high watermark.
    let producePurgatory = ProducePurgatory()
    /// Followers' fetches parked until the leader appends (consumers' wait in ``purgatory``, for
    /// the high watermark).
    let replicaPurgatory: FetchPurgatory
    /// The leader side of the reassignment throttle (Replication/ReplicationThrottle.swift).
    let leaderThrottle = ReplicationThrottle(.leader)
    /// Whether the high-watermark checkpoint was read (it seeds only the first machines).
    let replicationCheckpointRead = Mutex(false)

    /// The broker's life: logs recovered (after `init`), serving (after `start`), stopping.
    enum Phase: UInt8 {
        case recovered, serving, stopping
    }

    /// Opens the data directories, recovers the logs and loads topic metadata.
    /// - Parameter tls: the SSL listeners' certificates (``ListenerTLS/load(config:logger:)``);
    ///   required when a listener is `SSL://`.
    /// - Throws: `StorageError` when a log directory cannot be used.
    /// - Parameter bootstrapUsers: the users of `sasl.bootstrap.users.file`
    ///   (``BrokerConfig/saslBootstrapUsers()``, read before anything starts).
    public init(
        config: BrokerConfig, logger: Logger, tls: ListenerTLS? = nil, bootstrapUsers: [SaslBootstrapUsers.Entry] = []
    ) throws {
        self.config = config
        self.bootstrapUsers = bootstrapUsers
        self.tls = tls
        self.logger = logger
        self.resolver = TopicConfigResolver(broker: config)
        // A super.users value that does not parse stops the broker: starting without the
        // authorizer the operator asked for would open every topic.
        let authorization = BrokerAuthorization(configuration: try config.authorizerConfiguration(), logger: logger)
        self.authorization = authorization
        // The controller listener's TLS and CLUSTER_ACTION check (listener.security.protocol.map).
        let nodeBox = Shared(WeakClusterNode())
        let controllerSecurity = try ControllerSecurity(
            config: config, listenerTLS: tls?.controllerHolder,
            authorize: ControllerSecurity.clusterAction(
                authorization, isCaughtUp: { nodeBox.value.withLock { $0.node }.map { !$0.isFenced } ?? false }),
            logger: logger)
        let cluster = try ClusterNode(
            config: config.cluster, logDir: config.logDirs[0], logger: logger,
            topicDefaults: ControllerTopicDefaults(
                numPartitions: config.numPartitions,
                replicationFactor: Int16(config["default.replication.factor"] ?? "") ?? 1,
                maxPartitions: Int(config["max.partitions"] ?? "") ?? 100_000,
                offsetsTopicReplicationFactor: Int16(config["offsets.topic.replication.factor"] ?? "") ?? 3),
            security: controllerSecurity)
        nodeBox.value.withLock { $0.node = cluster }
        if controllerSecurity.authorize != nil && authorization.configuration.superUsers.isEmpty {
            let advice =
                "authorizer.enable with an SSL controller listener and no super.users: the quorum's requests need "
                + "CLUSTER_ACTION before any ACL can be read; put the nodes' certificate principals in super.users"
            logger.warning("\(advice)")
        }
        self.cluster = cluster
        producerIds = ProducerIdManager(allocate: { cluster.allocateProducerIds(completion: $0) })
        if authorization.enabled {
            cluster.observeImage { before, after in authorization.imageChanged(before: before, after: after) }
        }
        // Credentials come from the committed metadata image at each exchange, so a user created,
        // changed or deleted through the controller counts from the next connection on.
        let sasl = SaslSessions(config: config, logger: logger) { user, mechanism in
            cluster.image.scramCredential(user: user, mechanism: mechanism)
        }
        self.sasl = sasl
        // A deleted or changed credential closes the connections that authenticated with it.
        if sasl.isEnabled {
            cluster.observeImage { before, after in sasl.credentialsChanged(before: before, after: after) }
        }
        // The topics this broker has materialized from the metadata image. The first start on a
        // single-node data directory of an earlier version takes them from its
        // `__tern_topics.json` (its logs are these topics'), which is then imported into the
        // metadata log (Broker+TopicImport.swift).
        let topics = try TopicStore(directory: config.logDirs[0], fileName: TopicStore.localFileName)
        if topics.all.isEmpty,
            let legacy = try TopicStore.read(config.logDirs[0] + "/" + TopicStore.legacyFileName), !legacy.isEmpty
        {
            try topics.replaceAll(legacy)
        }
        self.topics = topics
        let resolver = self.resolver
        // Before any log opens a segment file: the process-wide descriptor budget of segments.
        let maxOpenFiles = Int(config["log.max.open.files"] ?? "") ?? 0
        LogManager.limitOpenSegmentFiles(
            to: maxOpenFiles > 0 ? maxOpenFiles : LogManager.defaultMaxOpenSegmentFiles())
        logger.info(
            "segment files open at most: \(LogManager.maxOpenSegmentFiles)",
            metadata: ["tern_log_max_open_files": "\(LogManager.maxOpenSegmentFiles)"])
        // A partition no materialized topic holds is what a creation or deletion interrupted by a
        // crash left: removed, not opened (a topic is recorded only once all its logs exist, and
        // the next reconcile makes them again from the durable metadata image).
        logManager = try LogManager(
            logDirs: config.logDirs, flushMode: config.flushMode, logger: logger,
            flushIntervalMs: config.flushIntervalMs, checkpointIntervalMs: config.checkpointIntervalMs,
            configProvider: { tp in resolver.logConfig(topics.topic(tp.topic)?.configs ?? [:]) },
            keep: { tp in topics.topic(tp.topic)?.holds(tp.partition) ?? false })
        let queuedBytes = Int(config["queued.max.request.bytes"] ?? "") ?? 104_857_600
        requestMemory = queuedBytes < 0 ? nil : RequestMemoryPool(limit: queuedBytes)
        let refused = ConnectionLimiter.Refusal.self
        let refusedCounters = [
            refused.maxConnections: Counter(label: "tern_connections_refused_total", dimensions: [("limit", "max.connections")]),
            refused.maxConnectionsPerIP: Counter(
                label: "tern_connections_refused_total", dimensions: [("limit", "max.connections.per.ip")]),
        ]
        connectionLimiter = ConnectionLimiter(
            maxConnections: Int(config["max.connections"] ?? "") ?? Int(Int32.max),
            maxConnectionsPerIP: Int(config["max.connections.per.ip"] ?? "") ?? Int(Int32.max),
            onRefuse: { refusedCounters[$0]?.increment() })
        validationPool = ValidationPool(concurrency: ValidationPool.defaultConcurrency, memory: requestMemory)
        purgatory = FetchPurgatory(
            maxWaitCapMs: Int(config["fetch.max.wait.cap.ms"] ?? "") ?? 30_000, logger: logger)
        replicaPurgatory = FetchPurgatory(
            maxWaitCapMs: Int(config["fetch.max.wait.cap.ms"] ?? "") ?? 30_000, logger: logger)
        replication = ReplicaManager(nodeId: config.nodeId, logger: logger)
        let fetcherSettings = Self.replicaFetcherSettings(config)
        let logManager = self.logManager
        // TLS and SASL of the replica fetchers: a bad file is a configuration error now.
        let interBroker = try InterBrokerSecurity(config: config, logger: logger)
        fetchers = ReplicaFetcherManager(
            nodeId: config.nodeId, settings: fetcherSettings, throttle: Self.fetcherThrottle(cluster, config.nodeId),
            host: ReplicaFetcherHost(
                address: { [weak cluster] id in
                    guard let broker = cluster?.image.broker(id) else { return nil }
                    let listener =
                        broker.listeners.first { $0.name == fetcherSettings.listenerName } ?? broker.listeners.first
                    return listener.map {
                        ($0.host, Int($0.port), SecurityProtocol(rawValue: $0.name.uppercased()) ?? .plaintext)
                    }
                },
                security: { interBroker.channelSecurity(for: $0) },
                whenDurable: { log, offset, done in
                    logManager.whenDurable(log, upTo: offset) { result in
                        if case .success = result { done(true) } else { done(false) }
                    }
                },
                durableOffset: { logManager.durableOffset(of: $0) }),
            logger: logger)
        fetchSessions = FetchSessionCache(slots: Int(config["max.incremental.fetch.session.cache.slots"] ?? "") ?? 1000)
        retention = RetentionService(
            intervalMs: Int64(config["log.retention.check.interval.ms"] ?? "") ?? 300_000, logger: logger)
        func setting(_ key: String, _ fallback: Int32) -> Int32 { Int32(config[key] ?? "") ?? fallback }
        // No group is served until the metadata image says which `__consumer_offsets` partitions
        // this broker leads (Broker+GroupLeadership.swift); each is loaded from its log then.
        groupCoordinator = GroupCoordinator(
            settings: .init(
                offsetsPartitions: setting("offsets.topic.num.partitions", 50),
                ledPartitions: [], heartbeatIntervalMs: setting("group.consumer.heartbeat.interval.ms", 5000),
                minSessionTimeoutMs: setting("group.min.session.timeout.ms", 6000),
                maxSessionTimeoutMs: setting("group.max.session.timeout.ms", 1_800_000)),
            logger: logger)
        groupCoordinator.withState { $0.loadingPartitions = Set(0..<$0.settings.offsetsPartitions) }
        cleaner = Self.makeCleaner(config: config, logManager: logManager, topics: topics, resolver: resolver, logger: logger)
        try reconcileLogs()
        // Before the voter starts (in `start`): every committed change, replayed or new, reaches
        // the reconcile.
        cluster.changeObserver.value.withLock { observer in
            observer = { [weak self] change in self?.metadataChanged(change) }
        }
    }

    /// Creates the logs a recorded topic lacks (a partition directory removed by hand). Logs of
    /// partitions no topic records were already removed when the log manager opened.
    private func reconcileLogs() throws {
        for topic in topics.all {
            let missing = topic.localPartitions.map { TopicPartition(topic.name, $0) }.filter {
                logManager.log(for: $0) == nil
            }
            guard !missing.isEmpty else { continue }
            logger.warning(
                "creating missing partition logs", metadata: ["tern_topic": "\(topic.name)", "partitions": "\(missing.count)"])
            try logManager.publish(try logManager.prepareLogs(missing, config: resolver.logConfig(topic.configs)))
        }
    }

    /// Commits the bootstrap users (when there are any), then binds every listener and starts
    /// serving.
    /// - Throws: `NetError` (for example `addressInUse`) naming the address; ``ConfigError`` when
    ///   the bootstrap users cannot be committed.
    public func start() throws {
        // No window in which a SASL listener is open without the users it was configured with.
        try createBootstrapUsers(bootstrapUsers, timeout: .seconds(60))
        var started: [Server] = []
        for (index, listener) in config.listeners.enumerated() {
            var serverConfig = ServerConfiguration(host: listener.host, port: listener.port)
            serverConfig.maxFrameBytes = config.maxRequestBytes
            serverConfig.idleTimeout = .milliseconds(config.idleTimeoutMs)
            serverConfig.partialRequestTimeout = .milliseconds(config.partialRequestTimeoutMs)
            if config.networkThreads > 0 { serverConfig.eventLoopCount = config.networkThreads }
            serverConfig.memoryPool = requestMemory
            serverConfig.connectionLimiter = connectionLimiter
            if listener.securityProtocol.usesTLS {
                guard let tls else {
                    for s in started { s.shutdown(timeout: .zero) }
                    throw NetError(.tlsConfiguration, "\(listener) needs ssl.certificate.location and ssl.key.location")
                }
                serverConfig.tls = tls.holder
            }
            let server = Server(
                configuration: serverConfig, handler: RequestRouter(broker: self, logger: logger, listener: index), logger: logger)
            do {
                try server.start()
            } catch {
                for s in started { s.shutdown(timeout: .zero) }
                throw error
            }
            started.append(server)
            logger.info(
                "listening",
                metadata: [
                    "listener": "\(listener.host):\(server.boundPort)",
                    "tern_security_protocol": "\(listener.securityProtocol.rawValue)",
                ])
        }
        servers.withLock { $0 = started }
        do {
            // Every client listener, by name, at the address its clients are told.
            try cluster.start(
                listeners: config.listeners.indices.map { index in
                    let advertised = advertisedBroker(listener: index)
                    return .init(
                        name: config.listeners[index].name, host: advertised.host,
                        port: UInt16(clamping: advertised.port))
                })
        } catch {
            for s in started { s.shutdown(timeout: .zero) }
            throw error
        }
        // A quorum of one elects itself and registers this broker within milliseconds: wait, so
        // the node is whole (controller, registration) by the time it reports ready.
        if config.cluster.isSingleNodeQuorum {
            if !cluster.waitUntilUnfenced(timeout: .seconds(10)) {
                logger.warning("the single-node metadata quorum has not registered this broker yet")
            }
            // The logs match the image (and a legacy topic file is imported) before it is ready.
            if !waitUntilReconciled(timeout: .seconds(30)) {
                logger.warning("the partition logs do not match the metadata image yet")
            }
            // Its groups are loaded (it leads every __consumer_offsets partition) before it is.
            if !waitUntilGroupsLoaded(timeout: .seconds(60)) {
                logger.warning("the consumer groups are not loaded yet")
            }
        }
        retention.start(self)
        scheduleHighWatermarkCheckpoints()
        scheduleReplicaTicks()
        groupCoordinator.start(self)
        try cleaner?.start()
        _ = phase.compareExchange(expected: Phase.recovered.rawValue, desired: Phase.serving.rawValue, ordering: .relaxed)
    }

    /// True while the broker serves requests: logs recovered, every listener accepting, not
    /// stopping (what `/health/ready` reports).
    public var isServing: Bool { phase.load(ordering: .relaxed) == Phase.serving.rawValue }

    /// True once a stop was asked for: long admin work (creating or deleting many partitions)
    /// abandons what it can.
    var isStopping: Bool { phase.load(ordering: .relaxed) == Phase.stopping.rawValue }

    /// Marks the broker as stopping, so readiness turns false at once (a stop was asked for);
    /// ``shutdown()`` does the work.
    public func beginShutdown() {
        phase.store(Phase.stopping.rawValue, ordering: .relaxed)
    }

    /// Open connections per listener (`HOST:PORT`), for the metrics.
    var connectionCounts: [(String, Int)] {
        let servers = servers.withLock { $0 }
        return zip(config.listeners, servers).map { listener, server in
            (Listener(host: listener.host, port: server.boundPort).address, server.connectionCount)
        }
    }

    /// Whole seconds since the logs were opened.
    var uptimeSeconds: Int64 { (ContinuousClock.now - startedAt).components.seconds }

    /// Sets the gauges that are read at scrape time (partition offsets and sizes, connections,
    /// process memory and descriptors); call before rendering the metrics.
    public func refreshScrapeMetrics() {
        scrapeGauges.refresh(self)
    }

    /// The log cleaner of `log.cleaner.*`, compacting the partitions of topics whose cleanup
    /// policy includes compact; nil when disabled.
    private static func makeCleaner(
        config: BrokerConfig, logManager: LogManager, topics: TopicStore, resolver: TopicConfigResolver, logger: Logger
    ) -> LogCleaner? {
        guard config["log.cleaner.enable"] != "false" else { return nil }
        let settings = CleanerSettings(
            threads: Int(config["log.cleaner.threads"] ?? "") ?? 1,
            dedupeBufferBytes: Int(config["log.cleaner.dedupe.buffer.size"] ?? "") ?? 134_217_728,
            backoffMs: Int64(config["log.cleaner.backoff.ms"] ?? "") ?? 15_000)
        return LogCleaner(
            logManager: logManager, settings: settings, logger: logger,
            policy: { tp in topics.topic(tp.topic).flatMap { resolver.compactionPolicy($0.configs) } },
            clock: { Broker.wallClockMilliseconds() })
    }

    /// The ports the listeners are bound to, in `listeners` order.
    public var boundPorts: [Int] { servers.withLock { $0.map(\.boundPort) } }

    /// In a cluster first hands its partition leadership over (Broker+ControlledShutdown.swift,
    /// bounded by `controlled.shutdown.timeout.ms`), still serving meanwhile; then stops
    /// accepting, waits (bounded by `shutdown.timeout.ms`) for in-flight requests, flushes every
    /// log and writes clean-shutdown markers.
    public func shutdown() throws {
        beginShutdown()
        controlledShutdown()
        let servers = servers.withLock { servers in
            defer { servers = [] }
            return servers
        }
        retention.stop()
        groupCoordinator.stop()
        cleaner?.stop()
        for server in servers { server.stopAccepting() }
        fetchers.stopAll()
        producePurgatory.failAll(.notLeaderOrFollower)
        replicaPurgatory.completeAll()
        purgatory.completeAll()
        for server in servers { server.shutdown(timeout: .milliseconds(config.shutdownTimeoutMs)) }
        cluster.shutdown()
        // Admin work sees `isStopping` and abandons (a creation removes what it made); wait for
        // it so that it does not race the logs' closing.
        adminQueue.sync {}
        logReadQueue.sync {}
        checkpointHighWatermarks()
        try logManager.shutdown()
        logger.info("shut down cleanly")
    }

    /// The advertised address of this broker as the Metadata API reports it.
    /// - Parameter listener: the index (in `listeners`) of the listener the request came in on:
    ///   its clients are told the address advertised for it.
    func advertisedBroker(listener index: Int = 0) -> MetadataResponse.Broker {
        let advertised = config.advertisedListeners
        let listener = advertised.indices.contains(index) ? advertised[index] : config.advertisedListener
        let ports = boundPorts
        let port = listener.port == 0 ? (ports.indices.contains(index) ? ports[index] : ports.first ?? 0) : listener.port
        return MetadataResponse.Broker(nodeId: config.nodeId, host: listener.host, port: Int32(port))
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

extension Broker {
    /// Wall-clock milliseconds since the epoch (record timestamps are wall-clock).
    static func wallClockMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

extension Broker {
    /// The summary `GET /v1/cluster` returns.
    func clusterSummary(admin: [String]) -> ClusterSummary {
        let ports = boundPorts
        let listeners = config.listeners.enumerated().map { i, listener in
            var bound = listener
            if i < ports.count { bound.port = ports[i] }
            return bound.description
        }
        let image = cluster.image
        let status = cluster.quorumStatus
        let problem = readinessProblem
        let partitions = image.partitionHealth(nodeId: config.nodeId)
        return ClusterSummary(
            clusterMode: config.cluster.isSingleNodeQuorum ? "single-node" : "cluster", clusterId: image.clusterId,
            nodeId: config.nodeId, controllerId: status.leaderId ?? -1, version: Broker.version,
            uptimeSeconds: uptimeSeconds, ready: problem == nil, notReadyReason: problem,
            quorum: .init(
                role: Self.roleName(status), epoch: status.epoch, leaderId: status.leaderId,
                highWatermark: status.highWatermark, logEndOffset: status.logEndOffset,
                voters: status.voters.map {
                    .init(nodeId: $0.id, logEndOffset: $0.endOffset, lastContactAgeMs: $0.lastContactAgeMs)
                },
                observers: status.observers.map {
                    .init(nodeId: $0.id, logEndOffset: $0.endOffset, lastContactAgeMs: $0.lastContactAgeMs)
                }),
            listeners: listeners, adminListeners: admin,
            brokers: image.sortedBrokers.map { broker in
                let plaintext = broker.listeners.first { $0.name == Listener.plaintextName } ?? broker.listeners.first
                var roles: [String] = []
                if broker.roles.contains(.broker) { roles.append("broker") }
                if broker.roles.contains(.controller) { roles.append("controller") }
                return .init(
                    nodeId: broker.nodeId, host: plaintext?.host ?? "", port: Int32(plaintext?.port ?? 0), roles: roles,
                    fenced: broker.fenced, brokerEpoch: broker.brokerEpoch)
            },
            topicCount: image.topicsById.count,
            partitionCount: image.topicsById.values.reduce(0) { $0 + $1.partitions.count },
            underReplicatedPartitions: partitions.underReplicatedLed,
            clusterUnderReplicatedPartitions: partitions.underReplicated, offlinePartitions: partitions.offline)
    }

    /// Why `/health/ready` fails, or nil: the broker must be serving and the metadata quorum
    /// must have a leader.
    public var readinessProblem: String? {
        guard isServing else { return "the broker is starting or stopping" }
        return clusterProblem
    }
}
