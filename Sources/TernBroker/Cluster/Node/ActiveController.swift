import Dispatch
import Logging
import Synchronization
import TernRaft
import TernWire

/// The controller role on the Raft leader (DESIGN.md section 6): registers brokers, takes their
/// heartbeats, fences those whose sessions expire, and writes the cluster id into a log that
/// has none.
///
/// Every decision runs on one serial queue, against the committed image *plus this controller's
/// own proposals not yet committed* (``State/working``), so two decisions in a row never
/// contradict each other. A proposal that fails (leadership lost, timed out, quorum gone) makes
/// the controller inactive; it becomes active again only once this node leads and has applied
/// everything committed, starting from the committed image (Kafka's controller does the same on
/// failover: its uncommitted state is thrown away).
final class ActiveController: Sendable {
    struct State {
        /// The Raft epoch this controller is active in; nil while inactive.
        var activeEpoch: Int64?
        var registry: BrokerRegistry
        /// Committed image + own uncommitted proposals.
        var working = MetadataImage()
        /// The offset the next proposal's entry gets (one entry per proposal).
        var nextOffset: Int64 = 0
        /// Proposals not yet answered.
        var inFlight = 0
        /// When (controller clock, ms) the preferred leaders were last checked.
        var lastRebalanceMs: Int64 = 0
        /// The committed offset after which ``reactToCommits()`` last looked (-1: not yet).
        var reactedThrough: Int64 = -1
    }

    let nodeId: Int32
    let queue: DispatchQueue
    let state: Mutex<State>
    private let driver: QuorumDriver
    let publisher: MetadataPublisher
    let logger: Logger
    /// The longest a proposal may wait for its commit; a request's own timeout can only shorten it.
    let proposalTimeout: Duration
    /// What topic requests leave to the broker's configuration (ActiveController+Topics.swift).
    let topicDefaults: ControllerTopicDefaults
    /// The cluster id to write when the log has none: the one this node's log directories
    /// record, else a new random one.
    private let clusterIdToWrite: @Sendable () -> String
    let clock: @Sendable () -> Int64
    /// `leader.imbalance.check.interval.seconds` in ms; nil when `auto.leader.rebalance.enable`
    /// is false (ActiveController+Leadership.swift).
    let rebalanceIntervalMs: Int64?

    init(
        nodeId: Int32, sessionTimeoutMs: Int64, driver: QuorumDriver, publisher: MetadataPublisher,
        proposalTimeout: Duration, logger: Logger, clusterIdToWrite: @escaping @Sendable () -> String,
        clock: @escaping @Sendable () -> Int64, topicDefaults: ControllerTopicDefaults = .init(),
        rebalanceIntervalMs: Int64? = nil
    ) {
        self.topicDefaults = topicDefaults
        self.rebalanceIntervalMs = rebalanceIntervalMs
        self.nodeId = nodeId
        self.queue = DispatchQueue(label: "tern.controller.\(nodeId)")
        self.state = Mutex(State(registry: BrokerRegistry(sessionTimeoutMs: sessionTimeoutMs)))
        self.driver = driver
        self.publisher = publisher
        self.proposalTimeout = proposalTimeout
        self.logger = logger
        self.clusterIdToWrite = clusterIdToWrite
        self.clock = clock
    }

    /// True while this node is the active controller.
    var isActive: Bool { state.withLock { $0.activeEpoch != nil } }

    /// Registered brokers as this controller sees them (fencing from the working image).
    var workingImage: MetadataImage { state.withLock { $0.working } }

    /// On the queue, periodically: follows leadership, and while active fences expired sessions.
    func poll() {
        dispatchPrecondition(condition: .onQueue(queue))
        let status = driver.status()
        let active = state.withLock { $0.activeEpoch }
        guard status.role == .leader else {
            if active != nil { deactivate("this node no longer leads the metadata quorum") }
            return
        }
        if let active, active == status.epoch {
            expireSessions()
            rebalanceIfDue()
            reactToCommits()
            return
        }
        if active != nil { deactivate("a new epoch began") }
        // Active only once everything committed before this epoch is applied: the new leader's
        // own control entry is committed when the high watermark reaches the log end.
        let applied = publisher.current
        guard status.highWatermark == status.logEndOffset, applied.nextOffset >= status.highWatermark,
            status.highWatermark > 0
        else { return }
        let now = clock()
        state.withLock { state in
            state.activeEpoch = status.epoch
            state.working = applied.image
            state.nextOffset = status.logEndOffset
            state.inFlight = 0
            state.reactedThrough = -1
            state.registry.becameActive(applied.image, nowMs: now)
            state.lastRebalanceMs = now
        }
        logger.info(
            "active controller",
            metadata: ["tern_epoch": "\(status.epoch)", "tern_metadata_offset": "\(applied.nextOffset)"])
        if applied.image.clusterId == nil {
            let clusterId = clusterIdToWrite()
            propose([.clusterId(clusterId)], what: "cluster id \(clusterId)") { result in
                if case .failure(let error) = result {
                    self.logger.warning("cannot write the cluster id", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    private func deactivate(_ reason: String) {
        let was = state.withLock { state -> Int64? in
            defer {
                state.activeEpoch = nil
                state.inFlight = 0
            }
            return state.activeEpoch
        }
        if let was {
            logger.info(
                "no longer the active controller", metadata: ["tern_epoch": "\(was)", "tern_reason": "\(reason)"])
        }
    }

    private func expireSessions() {
        let now = clock()
        let records = state.withLock { state -> [MetadataRecord] in
            (try? state.registry.expireSessions(state.working, nowMs: now)) ?? []
        }
        guard !records.isEmpty else { return }
        let fenced = records.compactMap { record -> Int32? in
            if case .brokerFencing(let change) = record, change.fenced { return change.nodeId }
            return nil
        }
        logger.warning("fencing brokers whose sessions expired", metadata: ["tern_brokers": "\(fenced)"])
        propose(records, what: "fencing \(fenced)") { _ in }
    }

    /// On the queue: applies `records` to the working image and proposes them as one entry;
    /// `completion` runs on the queue once committed or failed (a failure deactivates).
    func propose(
        _ records: [MetadataRecord], what: String, timeout: Duration? = nil,
        completion: @escaping @Sendable (Result<Int64, QuorumError>) -> Void
    ) {
        dispatchPrecondition(condition: .onQueue(queue))
        let applied = state.withLock { state -> Result<Void, any Error> in
            guard state.activeEpoch != nil else {
                return .failure(QuorumError(.notLeader, "node \(nodeId) is not the active controller"))
            }
            do {
                state.working = try state.working.applying(records)
            } catch {
                return .failure(error)
            }
            state.nextOffset += 1
            state.inFlight += 1
            return .success(())
        }
        if case .failure(let error) = applied {
            let quorumError =
                error as? QuorumError
                ?? QuorumError(.invalidProposal, "\(what) contradicts the metadata image: \(error)")
            return completion(.failure(quorumError))
        }
        driver.propose([MetadataBatch.encode(records)], timeout: timeout ?? proposalTimeout) { result in
            self.queue.async {
                if case .failure(let error) = result {
                    self.deactivate("proposal of \(what) failed: \(error)")
                } else {
                    self.state.withLock { state in
                        // A deactivation in between reset the count; never go below zero.
                        state.inFlight = max(0, state.inFlight - 1)
                        // Nothing of ours is uncommitted: the committed image is the truth again.
                        if state.inFlight == 0, state.activeEpoch != nil { state.working = self.publisher.image }
                    }
                }
                completion(result)
            }
        }
    }

    /// On the queue: `decide` run against the working image while this controller is active
    /// (what admin requests decide on; a throw refuses the request), or NOT_CONTROLLER naming this
    /// node.
    func decide<T>(_ decide: (MetadataImage) throws(ControllerError) -> T) -> Result<T, ControllerError> {
        self.decide(inState: { state throws(ControllerError) in try decide(state.working) })
    }

    /// On the queue: ``decide(_:)`` with the whole state (the broker registry decides on it too).
    func decide<T>(inState decide: (inout State) throws(ControllerError) -> T) -> Result<T, ControllerError> {
        dispatchPrecondition(condition: .onQueue(queue))
        return state.withLock { state in
            guard state.activeEpoch != nil else {
                return .failure(ControllerError(.notController, "node \(nodeId) is not the active controller"))
            }
            do throws(ControllerError) {
                return .success(try decide(&state))
            } catch {
                return .failure(error)
            }
        }
    }

    /// A BrokerRegistration, on the queue; `reply` gets the response.
    func register(_ request: BrokerRegistrationRequest, reply: @escaping @Sendable (BrokerRegistrationResponse) -> Void)
    {
        let now = clock()
        let decision = decide(inState: { state throws(ControllerError) in
            try state.registry.register(
                state.working, nodeId: request.nodeId, clusterId: request.clusterId,
                incarnationId: request.incarnationId, listeners: request.listeners, roles: request.roles,
                nextOffset: state.nextOffset, nowMs: now)
        })
        proposeAndReply(
            decision, records: \.records, what: { _ in "registration of broker \(request.nodeId)" },
            refused: {
                reply(BrokerRegistrationResponse(errorCode: $0.code, errorMessage: $0.message, brokerEpoch: -1))
            },
            committed: { registration in
                self.logger.info(
                    "broker registered",
                    metadata: ["tern_broker": "\(request.nodeId)", "tern_broker_epoch": "\(registration.brokerEpoch)"])
            }
        ) { registration, _ in reply(BrokerRegistrationResponse(brokerEpoch: registration.brokerEpoch)) }
    }

    /// A BrokerHeartbeat, on the queue; `reply` gets the response.
    func heartbeat(_ request: BrokerHeartbeatRequest, reply: @escaping @Sendable (BrokerHeartbeatResponse) -> Void) {
        let now = clock()
        // The offset of the last committed entry this node has applied.
        let committedOffset = publisher.current.nextOffset - 1
        let decision = decide(inState: { state throws(ControllerError) in
            try state.registry.heartbeat(
                state.working, nodeId: request.nodeId, brokerEpoch: request.brokerEpoch,
                metadataOffset: request.metadataOffset, wantFence: request.wantFence,
                wantShutDown: request.wantShutDown, committedOffset: committedOffset, nowMs: now)
        })
        proposeAndReply(
            decision, records: \.records, what: { _ in "heartbeat of broker \(request.nodeId)" },
            refused: { error in
                reply(
                    BrokerHeartbeatResponse(
                        errorCode: error.code, errorMessage: error.message, isCaughtUp: false, isFenced: true,
                        shouldShutDown: false))
            },
            committed: { answer in
                let unfenced = answer.records.contains {
                    if case .brokerFencing(let change) = $0 { return change.nodeId == request.nodeId && !change.fenced }
                    return false
                }
                if unfenced { self.logger.info("broker unfenced", metadata: ["tern_broker": "\(request.nodeId)"]) }
            }
        ) { answer, _ in
            reply(
                BrokerHeartbeatResponse(
                    isCaughtUp: answer.isCaughtUp, isFenced: answer.isFenced, shouldShutDown: answer.shouldShutDown))
        }
    }

    /// An AllocateProducerIds, on the queue: the block is answered once its record is committed.
    func allocateProducerIds(
        _ request: AllocateProducerIdsRequest, reply: @escaping @Sendable (AllocateProducerIdsResponse) -> Void
    ) {
        // The working image: a block proposed but not yet committed is not handed out again.
        let decision = decide { image throws(ControllerError) in
            try ControllerDecisions.allocateProducerIds(
                image, brokerId: request.brokerId, brokerEpoch: request.brokerEpoch)
        }
        proposeAndReply(
            decision, records: { [$0.record] }, what: { _ in "producer ids for broker \(request.brokerId)" },
            refused: { error in
                reply(
                    AllocateProducerIdsResponse(
                        errorCode: error.code, errorMessage: error.message, producerIdStart: -1, producerIdLength: 0))
            },
            committed: { block in
                self.logger.debug(
                    "producer ids allocated",
                    metadata: ["tern_broker": "\(request.brokerId)", "tern_producer_id_start": "\(block.start)"])
            }
        ) { block, _ in
            reply(AllocateProducerIdsResponse(producerIdStart: block.start, producerIdLength: block.length))
        }
    }
}
