import CoreMetrics
import Dispatch
import Logging
import Synchronization
import TernRaft
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// This node's part of the cluster (DESIGN.md section 6): its member of the metadata quorum
/// (``QuorumDriver``), the committed image it applies (``MetadataPublisher``), the controller it
/// runs while it leads (``ActiveController``) and its broker membership (``BrokerLifecycle``).
///
/// A node with no `controller.quorum.voters` is a quorum of one: no controller listener, and it
/// elects itself within milliseconds of starting. A node with the controller role is a voter; a
/// broker-only node (`process.roles = broker`) is an observer: it fetches the metadata log from
/// the leader without voting and needs no controller listener (KIP-595). A controller-only node
/// does not register as a broker.
public final class ClusterNode: Sendable {
    /// What the node was started with.
    public let config: ClusterConfig
    let driver: QuorumDriver
    let publisher = MetadataPublisher()
    let controller: ActiveController
    let lifecycle: BrokerLifecycle?
    private let logger: Logger
    private let identity = Shared(IdentityState())
    private let timer: Mutex<QuorumDriver.TickTimer?> = Mutex(nil)
    private let origin = DispatchTime.now().uptimeNanoseconds
    /// Epoch increases this node has seen (each is an election somewhere in the quorum).
    let electionsSeen = Atomic<Int>(0)
    private let lastEpoch = Atomic<Int64>(-1)
    private let electionCounter = Counter(label: "tern_quorum_elections_total")
    /// The listeners to register with, known once the broker's listeners are bound.
    private let registrationListeners = Shared<[BrokerRegistrationRecord.Listener]>([])
    /// Connections to each other voter's controller listener for forwarded requests
    /// (ClusterNode+Forwarding.swift): apart from the membership ones, so a request waiting for
    /// its commit never holds up a heartbeat behind it.
    let forwardChannels: [Int32: ControllerChannel]
    /// Where forwarding waits between attempts (a new controller being elected).
    let forwardQueue = DispatchQueue(label: "tern.forward", target: .global())
    /// Called on the driver's queue after each committed change is applied (the broker
    /// reconciles its logs with it).
    let changeObserver = Shared<(@Sendable (MetadataPublisher.Change) -> Void)?>(nil)
    /// Called after each committed change of the image (entries applied, snapshot installed).
    private let imageObservers = Shared<[ImageObserver]>([])

    /// Called with the image before and after a committed change, on the quorum driver's queue.
    typealias ImageObserver = @Sendable (_ before: MetadataImage, _ after: MetadataImage) -> Void

    struct IdentityState {
        var identity: LogDirIdentity?
        var onMismatch: (@Sendable (MetaPropertiesError) -> Void)?
        var adopted: String?
    }

    /// Why this node cannot take part in the cluster as configured.
    public struct UnsupportedRoleError: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Throws: ``UnsupportedRoleError`` for a broker-only node without voters to observe, or
    ///   whose id is one of them (``ClusterConfig`` refuses both first).
    public convenience init(config: ClusterConfig, logDir: String, logger: Logger) throws {
        try self.init(config: config, logDir: logDir, logger: logger, topicDefaults: ControllerTopicDefaults())
    }

    /// - Parameters:
    ///   - topicDefaults: what the controller uses for a topic request's defaults.
    ///   - security: TLS (and the CLUSTER_ACTION check) of the controller listener and of every
    ///     connection to one.
    init(
        config: ClusterConfig, logDir: String, logger: Logger, topicDefaults: ControllerTopicDefaults,
        security: ControllerSecurity = .plaintext
    ) throws {
        let isObserver = !config.roles.contains(.controller)
        if isObserver && (config.voters.isEmpty || config.localVoter != nil) {
            throw UnsupportedRoleError(
                description: "process.roles = broker observes the metadata quorum: controller.quorum.voters must "
                    + "name the voters, and node.id \(config.nodeId) must not be one of them")
        }
        self.config = config
        self.logger = logger
        var peers: [RaftNodeId: QuorumAddress] = [:]
        for voter in config.voters where voter.nodeId != config.nodeId {
            peers[voter.nodeId] = QuorumAddress(host: voter.host, port: Int(voter.port))
        }
        let listen = config.controllerListener.map { QuorumAddress(host: $0.host, port: $0.port) }
        var quorum = QuorumConfiguration(
            nodeId: config.nodeId, peers: peers, listenAddress: peers.isEmpty || isObserver ? nil : listen,
            clusterId: "", logDir: logDir)
        quorum.isObserver = isObserver
        if peers.isEmpty {
            // A quorum of one has nobody to wait for: elect within a few ticks, so start-up stays
            // as fast as a single-node broker's always was (long enough for its vote's fsync).
            quorum.electionTimeoutMs = 10
        } else {
            quorum.electionTimeoutMs = config.electionTimeoutMs
            quorum.fetchTimeoutMs = config.fetchTimeoutMs
        }
        quorum.listenerTLS = security.listenerTLS
        quorum.peerTLS = security.peerTLS
        quorum.authorizeRequest = security.authorize
        quorum.snapshotMaxRecordBytes = config.maxRecordBytesBetweenSnapshots
        quorum.snapshotIntervalMs = config.maxSnapshotIntervalMs
        let publisher = self.publisher
        let controllerBox = Shared<ActiveController?>(nil)
        let driverBox = Shared<QuorumDriver?>(nil)
        let identityBox = identity
        let observers = imageObservers
        let nodeLogger = logger
        let observer = changeObserver
        var forwardChannels: [Int32: ControllerChannel] = [:]
        for voter in config.voters where voter.nodeId != config.nodeId {
            forwardChannels[voter.nodeId] = ControllerChannel(
                host: voter.host, port: Int(voter.port), clientId: "tern-forward-\(config.nodeId)",
                security: security.channelSecurity)
        }
        self.forwardChannels = forwardChannels
        let driver = QuorumDriver(
            configuration: quorum, logger: logger, controllerApis: ControllerListenerApis.keys,
            controllerRequests: { header, body, respond in
                if header.apiKey == .describeQuorum, let driver = driverBox.value.withLock({ $0 }) {
                    // A broker asks a controller-only leader for its view (no client listener).
                    let answer = driver.status().describeQuorumResponse
                    return respond(Frame.response(answer, correlationId: header.correlationId))
                }
                guard let controller = controllerBox.value.withLock({ $0 }) else { return }
                ControllerListenerApis.serve(controller, header, body, respond)
            },
            onApply: { offset, entries in
                Self.apply(publisher, identityBox, observers, nodeLogger, observer, offset: offset, entries: entries)
                // The metadata log stays bounded: the image, as records, replaces the entries.
                if let driver = driverBox.value.withLock({ $0 }), driver.snapshotDue {
                    let (bytes, nextOffset) = publisher.snapshot()
                    driver.offerSnapshot(data: bytes, endOffset: nextOffset)
                }
            })
        driver.installSnapshotHandler = { data, endOffset in
            do {
                let change = try publisher.install(snapshot: data, nextOffset: endOffset)
                for observer in observers.value.withLock({ $0 }) { observer(change.before, change.after) }
                if let clusterId = change.after.clusterId { Self.adopt(clusterId, identityBox, nodeLogger) }
                observer.value.withLock { $0 }?(change)
            } catch {
                // The snapshot passed the store's CRC and the leader's checks, so this build
                // cannot read what another build wrote. The image stays as it was (stale, not
                // wrong); the operator must upgrade this node.
                nodeLogger.critical(
                    "metadata snapshot cannot be applied",
                    metadata: ["tern_metadata_offset": "\(endOffset)", "error": "\(error)"])
            }
        }
        driverBox.value.withLock { $0 = driver }
        self.driver = driver
        let origin = self.origin
        let clock: @Sendable () -> Int64 = { Int64((DispatchTime.now().uptimeNanoseconds - origin) / 1_000_000) }
        let controller = ActiveController(
            nodeId: config.nodeId, sessionTimeoutMs: config.brokerSessionTimeoutMs, driver: driver,
            publisher: publisher, proposalTimeout: .milliseconds(max(config.brokerSessionTimeoutMs, 5000)),
            logger: logger,
            clusterIdToWrite: {
                if let known = identityBox.value.withLock({ $0.identity?.clusterId }) { return known }
                var generator = SystemRandomNumberGenerator()
                return ClusterId.random(using: &generator)
            },
            clock: clock, topicDefaults: topicDefaults,
            rebalanceIntervalMs: config.autoLeaderRebalanceEnable
                ? config.leaderImbalanceCheckIntervalSeconds * 1000 : nil)
        self.controller = controller
        controllerBox.value.withLock { $0 = controller }
        if config.roles.contains(.broker) {
            let registrationListeners = self.registrationListeners
            lifecycle = BrokerLifecycle(
                nodeId: config.nodeId, roles: config.roles, heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
                voters: config.voters, localController: controller, channelSecurity: security.channelSecurity,
                logger: logger,
                leader: { driver.status().leaderId },
                appliedOffset: { publisher.current.nextOffset },
                clusterId: { driver.clusterId },
                listeners: { registrationListeners.value.withLock { $0 } })
        } else {
            lifecycle = nil
        }
    }

    /// Gives the node the log directories' identity: once the metadata log names the cluster id,
    /// it is checked against every `meta.properties` and recorded where missing; a mismatch calls
    /// `onMismatch` (the daemon exits 78 naming the file).
    public func useIdentity(_ identity: LogDirIdentity, onMismatch: @escaping @Sendable (MetaPropertiesError) -> Void) {
        self.identity.value.withLock {
            $0.identity = identity
            $0.onMismatch = onMismatch
        }
        if let known = identity.clusterId { driver.adoptClusterId(known) }
    }

    /// Calls `observer` after every committed change of the image from now on (before ``start``,
    /// so replayed entries are seen too).
    func observeImage(_ observer: @escaping ImageObserver) {
        imageObservers.value.withLock { $0.append(observer) }
    }

    /// Starts the voter, the controller's timer and (for a broker) registration and heartbeats.
    /// - Parameter listeners: the client listeners to register (with their bound ports).
    public func start(listeners: [BrokerRegistrationRecord.Listener]) throws {
        var all = listeners
        if let controllerListener = config.controllerListener {
            all.append(
                .init(
                    name: controllerListener.name, host: controllerListener.host, port: UInt16(controllerListener.port))
            )
        }
        registrationListeners.value.withLock { $0 = all }
        try startQuorum()
        lifecycle?.start()
    }

    /// Starts the voter and the controller's timer, without registering the broker: what a node
    /// does before its client listeners open when it must write metadata first (bootstrap users).
    /// Idempotent: ``start(listeners:)`` calls it too.
    public func startQuorum() throws {
        let started = timer.withLock { $0 != nil }
        guard !started else { return }
        try driver.start()
        let source = DispatchSource.makeTimerSource(queue: controller.queue)
        // 20 ms: a new leader becomes the active controller within a tick of its first commit.
        source.schedule(deadline: .now(), repeating: .milliseconds(20), leeway: .milliseconds(5))
        source.setEventHandler { [weak self] in
            guard let self else { return }
            self.controller.poll()
            self.observeEpoch()
        }
        let ticker = QuorumDriver.TickTimer(source)
        timer.withLock { $0 = ticker }
        source.resume()
    }

    /// Waits (bounded) until this broker is registered and unfenced in the committed image: what
    /// a single-node broker does before it reports ready, which takes a few milliseconds.
    /// - Returns: false when `timeout` passed first.
    public func waitUntilUnfenced(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // This process's registration, not one replayed from before a restart.
            if let me = publisher.image.broker(config.nodeId), me.incarnationId == lifecycle?.incarnationId,
                !me.fenced
            {
                return true
            }
            usleep(2000)
        }
        return false
    }

    /// Stops heartbeats, the controller and the voter. Idempotent.
    public func shutdown() {
        lifecycle?.stop()
        for channel in forwardChannels.values { channel.close() }
        timer.withLock {
            $0?.cancel()
            $0 = nil
        }
        controller.queue.sync {}
        driver.shutdown()
    }

    private func observeEpoch() {
        let epoch = driver.status().epoch
        let last = lastEpoch.exchange(epoch, ordering: .relaxed)
        if last >= 0, epoch > last {
            electionsSeen.add(Int(epoch - last), ordering: .relaxed)
            electionCounter.increment(by: Int(epoch - last))
        }
    }

    /// The committed image this node has applied.
    public var image: MetadataImage { publisher.image }
    /// The quorum as this voter sees it.
    public var quorumStatus: QuorumStatus { driver.status() }
    /// The node id of the active controller (the quorum's leader), if known.
    public var controllerId: Int32? { driver.status().leaderId }
    /// True when this broker's last heartbeat answer said it is fenced (or it is not registered).
    public var isFenced: Bool { lifecycle?.snapshot.fenced ?? false }

    /// Asks the active controller for a block of producer ids (AllocateProducerIds), through the
    /// same path as registration and heartbeats; any thread. Fails when this node is not a
    /// registered broker yet or no controller answers.
    func allocateProducerIds(completion: @escaping @Sendable (Result<AllocateProducerIdsResponse, any Error>) -> Void) {
        guard let lifecycle else {
            return completion(.failure(ControllerChannelError("node \(config.nodeId) is not a broker")))
        }
        lifecycle.allocateProducerIds(completion: completion)
    }

    // MARK: Driver callbacks

    /// On the driver's queue: committed entries into the image; the cluster id, once known, into
    /// the log directories' `meta.properties` and the voter's messages.
    private static func apply(
        _ publisher: MetadataPublisher, _ identity: Shared<IdentityState>, _ observers: Shared<[ImageObserver]>,
        _ logger: Logger, _ observer: Shared<(@Sendable (MetadataPublisher.Change) -> Void)?>, offset: Int64,
        entries: [RaftEntry]
    ) {
        let change: MetadataPublisher.Change
        do {
            change = try publisher.apply(offset: offset, entries: entries.map(\.data))
        } catch {
            logger.error("metadata entries out of order", metadata: ["error": "\(error)"])
            return
        }
        for (i, outcome) in change.outcomes.enumerated() {
            if case .refused(let reason) = outcome {
                logger.error(
                    "metadata entry refused",
                    metadata: ["tern_metadata_offset": "\(change.firstOffset + Int64(i))", "tern_reason": "\(reason)"])
            }
        }
        for observer in observers.value.withLock({ $0 }) { observer(change.before, change.after) }
        if let clusterId = change.after.clusterId { adopt(clusterId, identity, logger) }
        observer.value.withLock { $0 }?(change)
    }

    /// Records the metadata log's cluster id in the log directories' `meta.properties` (once);
    /// a directory of another cluster calls the mismatch handler (the daemon exits 78).
    private static func adopt(_ clusterId: String, _ identity: Shared<IdentityState>, _ logger: Logger) {
        let mismatch = identity.value.withLock {
            state -> (MetaPropertiesError, (@Sendable (MetaPropertiesError) -> Void)?)? in
            guard state.adopted != clusterId, var dirs = state.identity else { return nil }
            do throws(MetaPropertiesError) {
                try dirs.adopt(clusterId: clusterId)
                state.identity = dirs
                state.adopted = clusterId
                return nil
            } catch {
                return (error, state.onMismatch)
            }
        }
        if let (error, handler) = mismatch {
            logger.critical("log directory belongs to another cluster", metadata: ["error": "\(error)"])
            handler?(error)
        }
    }
}

/// A mutex-guarded value that closures can share (a `Mutex` itself cannot be captured).
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}
