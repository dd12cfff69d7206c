import Dispatch
import Logging
import Synchronization
import TernNet
import TernRaft
import TernWire

/// Runs one voter of the metadata quorum: the I/O shell around a ``RaftNode``.
///
/// Threads: every input (a message from the controller listener, a timer tick, a proposal, a
/// durable write) is stepped on one serial queue, and the effects of a step are performed there
/// in order — messages go to the peers' ``QuorumPeerLink``s, writes to the ``QuorumLogWriter``'s
/// thread (group commit; its "persisted" comes back as an input), committed entries to
/// `onApply`. The node's state lives in a mutex held only while stepping, so ``status()`` is
/// readable from any thread.
public final class QuorumDriver: Sendable {
    /// Committed entries from `offset` on, in order, on the driver's queue. Entries with empty
    /// data are the leaders' control entries (one per epoch): skip them. After a restart the
    /// committed log is applied again from the loaded snapshot's end (0 without one; the
    /// snapshot itself goes to ``installSnapshotHandler`` first).
    public typealias ApplyHandler = @Sendable (_ offset: Int64, _ entries: [RaftEntry]) -> Void
    /// The result of a proposal: the offset of its first entry once committed.
    public typealias ProposalCompletion = @Sendable (Result<Int64, QuorumError>) -> Void
    /// Serves a request on the controller listener that is not a Raft message (BrokerRegistration,
    /// BrokerHeartbeat): the header, the body's bytes, and `respond`, which takes a complete
    /// response frame and may be called later from any thread, exactly once.
    public typealias ControllerRequestHandler =
        @Sendable (_ header: RequestHeader, _ body: [UInt8], _ respond: @escaping @Sendable ([UInt8]) -> Void) -> Void

    /// Where the answer to an observer's request goes: back on the observer's own connection, as
    /// the request's response (an observer has no listener to send it to).
    struct ObserverReply: Sendable {
        var to: RaftNodeId
        var respond: @Sendable (RaftEnvelope?) -> Void
    }

    struct WeakDriver: Sendable {
        weak var driver: QuorumDriver?
    }

    struct PendingProposal {
        var epoch: Int64
        var firstOffset: Int64
        var lastOffset: Int64
        var deadline: Tick
        var completion: ProposalCompletion
    }

    struct Core {
        var node: RaftNode?
        var pending: [PendingProposal] = []
        /// Inputs are stepped only while running (after start, before shutdown or a failure).
        var running = false
        var stopped = false
        var failure: String?
    }

    /// What ``start()`` opens and ``shutdown()`` closes.
    struct Parts {
        var store: QuorumLogStore?
        var writer: QuorumLogWriter?
        var server: Server?
        var handler: QuorumRequestHandler?
        var timer: TickTimer?
    }

    /// The tick timer. `@unchecked Sendable`: a Dispatch source's `resume` and `cancel` are
    /// thread-safe, and its handler runs on the driver's queue.
    final class TickTimer: @unchecked Sendable {
        let source: any DispatchSourceTimer
        init(_ source: any DispatchSourceTimer) { self.source = source }
        func cancel() { source.cancel() }
    }

    public let configuration: QuorumConfiguration
    let logger: Logger
    let queue: DispatchQueue
    let core = Mutex(Core())
    let parts = Mutex(Parts())
    /// The host's snapshot handler and the snapshot policy (QuorumDriver+Snapshots.swift).
    let snapshots = Mutex(SnapshotState())
    let onApply: ApplyHandler
    let warnings = LogRateLimiter(burst: 10, perSecond: 1)
    let links: [RaftNodeId: QuorumPeerLink]
    /// The monotonic clock's reading at init; ticks are milliseconds since then.
    private let origin = DispatchTime.now().uptimeNanoseconds
    /// Inputs the core refused (logged at a rate limit), for tests and metrics.
    let coreRefusals = Atomic<Int>(0)
    /// The cluster id sent with every message: the configuration's, until ``adoptClusterId(_:)``
    /// sets the one the metadata log names. Empty means "not yet known" (see QuorumRequestHandler).
    let clusterIdState: Mutex<String>
    let controllerRequests: ControllerRequestHandler?
    /// The request keys the controller listener hands to ``controllerRequests``.
    let controllerApis: Set<ApiKey>

    /// Creates a driver; nothing is opened until ``start()``.
    /// - Precondition: `listenAddress` is set when there are peers.
    /// - Parameters:
    ///   - controllerApis: the request keys the controller listener hands to `controllerRequests`
    ///     rather than to Raft.
    public init(
        configuration: QuorumConfiguration, logger: Logger, controllerApis: Set<ApiKey> = [],
        controllerRequests: ControllerRequestHandler? = nil, onApply: @escaping ApplyHandler
    ) {
        precondition(!configuration.peers.keys.contains(configuration.nodeId), "a node is not its own peer")
        precondition(
            configuration.peers.isEmpty || configuration.listenAddress != nil || configuration.isObserver,
            "a voter with peers needs a controller listener")
        precondition(!configuration.isObserver || !configuration.peers.isEmpty, "an observer needs voters")
        precondition(configuration.maxFetchEntries <= RaftWireLimits.maxEntries)
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "tern_node"] = "\(configuration.nodeId)"
        self.logger = logger
        self.onApply = onApply
        self.controllerRequests = controllerRequests
        self.controllerApis = controllerApis
        self.clusterIdState = Mutex(configuration.clusterId)
        self.queue = DispatchQueue(label: "tern.quorum.\(configuration.nodeId)", target: .global())
        var links: [RaftNodeId: QuorumPeerLink] = [:]
        // Weak: the links live as long as the driver.
        let answers = Shared(WeakDriver())
        let clusterId: @Sendable () -> String = { answers.value.withLock { $0.driver }?.clusterId ?? "" }
        var onAnswer: (@Sendable (RaftNodeId, RaftMessage) -> Void)?
        if configuration.isObserver {
            onAnswer = { from, message in answers.value.withLock { $0.driver }?.submit(.message(from: from, message)) }
        }
        for (id, address) in configuration.peers {
            links[id] = QuorumPeerLink(
                id: id, address: address, configuration: configuration, logger: logger, warnings: warnings,
                clusterId: clusterId, onAnswer: onAnswer)
        }
        self.links = links
        answers.value.withLock { $0.driver = self }
    }

    /// Milliseconds on the monotonic clock since the driver was created.
    func now() -> Tick { Tick((DispatchTime.now().uptimeNanoseconds - origin) / 1_000_000) }

    /// Loads the quorum's files, starts the writer thread, binds the controller listener (when
    /// configured) and starts ticking.
    /// - Throws: ``TernStorage/StorageError`` when the files cannot be read (an unparseable
    ///   quorum-state names the file); `NetError` when the listener cannot bind.
    public func start() throws {
        let store = try QuorumLogStore(
            logDir: configuration.logDir, logger: logger, maxSnapshotBytes: configuration.maxSnapshotBytes)
        let persisted: RaftPersistentState
        do {
            persisted = try store.load()
        } catch {
            store.close()
            throw error
        }
        let raftConfig = RaftConfig(
            id: configuration.nodeId, voters: configuration.voters, electionTimeoutMs: configuration.electionTimeoutMs,
            fetchIntervalMs: configuration.fetchIntervalMs, fetchTimeoutMs: configuration.fetchTimeoutMs,
            maxFetchEntries: configuration.maxFetchEntries, seed: configuration.seed ?? UInt64.random(in: .min ... .max)
        )
        let node = RaftNode(config: raftConfig, persisted: persisted, now: now())
        let writer = QuorumLogWriter(store: store) { [weak self] result in self?.writeFinished(result) }
        var server: Server?
        var handler: QuorumRequestHandler?
        do {
            try writer.start()
            if let address = configuration.listenAddress {
                let inbox = QuorumRequestHandler(
                    configuration: configuration, logger: logger, warnings: warnings,
                    clusterId: { [weak self] in self?.clusterId ?? "" }, controllerApis: controllerApis,
                    controllerRequests: controllerRequests
                ) { [weak self] from, message, reply in
                    guard let self else { return reply?(nil) ?? () }
                    self.submit(
                        .message(from: from, message), reply: reply.map { ObserverReply(to: from, respond: $0) })
                }
                var serverConfiguration = ServerConfiguration(
                    host: address.host, port: address.port, maxFrameBytes: configuration.maxFetchFrameBytes,
                    eventLoopCount: 1)
                serverConfiguration.tls = configuration.listenerTLS
                let listener = Server(configuration: serverConfiguration, handler: inbox, logger: logger)
                try listener.start()
                server = listener
                handler = inbox
            }
        } catch {
            writer.stop()
            store.close()
            throw error
        }
        prepareSnapshots(loaded: persisted.snapshot)
        core.withLock { core in
            core.node = node
            core.running = true
        }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(
            deadline: .now(), repeating: .milliseconds(configuration.tickIntervalMs), leeway: .milliseconds(2))
        timer.setEventHandler { [weak self] in self?.tick() }
        let ticker = TickTimer(timer)
        parts.withLock { parts in
            parts = Parts(store: store, writer: writer, server: server, handler: handler, timer: ticker)
        }
        ticker.source.resume()
        logger.info(
            "metadata quorum voter started",
            metadata: [
                "tern_epoch": "\(persisted.epoch)",
                "tern_log_end_offset": "\((persisted.snapshot?.endOffset ?? 0) + Int64(persisted.entries.count))",
                "tern_voters": "\(configuration.voters)",
                "tern_listener":
                    "\(configuration.listenAddress.map { "\($0.host):\(server?.boundPort ?? $0.port)" } ?? "none")",
            ])
    }

    /// The cluster id this voter sends and checks: set once the metadata log names it (messages
    /// from a voter that still sends an empty id are accepted; another non-empty id is refused).
    public func adoptClusterId(_ clusterId: String) {
        clusterIdState.withLock { $0 = clusterId }
    }

    /// The cluster id this voter sends ("" while unknown).
    public var clusterId: String { clusterIdState.withLock { $0 } }

    /// The controller listener's bound port (useful with port 0); nil without a listener.
    public var boundPort: Int? { parts.withLock { $0.server?.boundPort } }

    /// Queues an input for the driver's queue. Any thread. `reply`: the input is a request from
    /// an observer, which has no listener: the message the core sends that node in this step
    /// goes back as the request's response (nil: none).
    func submit(_ input: RaftInput, reply: ObserverReply? = nil) {
        queue.async { self.step(input, reply: reply) }
    }

    /// On the queue: one input, then its effects in order.
    func step(
        _ input: RaftInput, proposal: (deadline: Tick, completion: ProposalCompletion)? = nil,
        reply: ObserverReply? = nil
    ) {
        let now = now()
        guard let effects = core.withLock({ core in core.running ? core.node?.step(input, now: now) : nil }) else {
            proposal?.completion(.failure(unavailableError()))
            reply?.respond(nil)
            return
        }
        perform(effects, now: now, proposal: proposal, reply: reply)
    }

    private func tick() {
        step(.tick)
        expireProposals(now: now())
    }

    /// On the writer's thread: a group of writes is durable, or the disk failed.
    private func writeFinished(_ result: Result<UInt64, any Error>) {
        switch result {
        case .success(let seq):
            submit(.persisted(seq: seq))
        case .failure(let error):
            queue.async { self.fail("metadata log write failed: \(error)") }
        }
    }

    /// On the queue: stops stepping for good after a storage failure (the node can no longer
    /// promise what it acknowledges); pending proposals fail.
    private func fail(_ reason: String) {
        logger.critical("metadata quorum voter stopped", metadata: ["tern_reason": "\(reason)"])
        let pending = core.withLock { core in
            core.running = false
            core.failure = reason
            defer { core.pending = [] }
            return core.pending
        }
        let error = QuorumError(.unavailable, reason)
        for proposal in pending { proposal.completion(.failure(error)) }
        parts.withLock { $0.timer?.cancel() }
    }

    func unavailableError() -> QuorumError {
        let failure = core.withLock { $0.failure }
        return QuorumError(.unavailable, failure ?? "the metadata quorum voter \(configuration.nodeId) is not running")
    }

    /// Stops the voter: the timer, the listener and the peer connections, then the writer (the
    /// write in progress finishes; queued ones are finished too) and the files. Pending
    /// proposals fail with `.unavailable`. Blocks until done; never call it on the driver's queue.
    /// Idempotent.
    public func shutdown() {
        dispatchPrecondition(condition: .notOnQueue(queue))
        resignBeforeShutdown()
        let wasRunning = core.withLock { core -> Bool in
            defer {
                core.running = false
                core.stopped = true
            }
            return !core.stopped
        }
        guard wasRunning else { return }
        let parts = self.parts.withLock { $0 }
        parts.timer?.cancel()
        parts.server?.shutdown(timeout: .seconds(2))
        for link in links.values { link.close() }
        parts.writer?.stop()
        parts.store?.close()
        // Whatever was queued has run (and found the driver stopped) once this returns.
        queue.sync {}
        let pending = core.withLock { core in
            defer { core.pending = [] }
            return core.pending
        }
        let error = QuorumError(.unavailable, "the metadata quorum voter \(configuration.nodeId) shut down")
        for proposal in pending { proposal.completion(.failure(error)) }
        logger.info("metadata quorum voter stopped")
    }
}
