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
    private let clock: @Sendable () -> Int64

    init(
        nodeId: Int32, sessionTimeoutMs: Int64, driver: QuorumDriver, publisher: MetadataPublisher,
        proposalTimeout: Duration, logger: Logger, clusterIdToWrite: @escaping @Sendable () -> String,
        clock: @escaping @Sendable () -> Int64, topicDefaults: ControllerTopicDefaults = .init()
    ) {
        self.topicDefaults = topicDefaults
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
            state.registry.becameActive(applied.image, nowMs: now)
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
    /// (what admin requests decide on), or NOT_CONTROLLER naming this node.
    func decide<T>(_ decide: (MetadataImage) -> T) -> Result<T, ControllerError> {
        dispatchPrecondition(condition: .onQueue(queue))
        return state.withLock { state in
            guard state.activeEpoch != nil else {
                return .failure(ControllerError(.notController, "node \(nodeId) is not the active controller"))
            }
            return .success(decide(state.working))
        }
    }

    /// A BrokerRegistration, on the queue; `reply` gets the response.
    func register(_ request: BrokerRegistrationRequest, reply: @escaping @Sendable (BrokerRegistrationResponse) -> Void)
    {
        dispatchPrecondition(condition: .onQueue(queue))
        let now = clock()
        let decision = state.withLock { state -> Result<ControllerDecisions.Registration, ControllerError> in
            guard state.activeEpoch != nil else {
                return .failure(ControllerError(.notController, "node \(nodeId) is not the active controller"))
            }
            do throws(ControllerError) {
                return .success(
                    try state.registry.register(
                        state.working, nodeId: request.nodeId, clusterId: request.clusterId,
                        incarnationId: request.incarnationId, listeners: request.listeners, roles: request.roles,
                        nextOffset: state.nextOffset, nowMs: now))
            } catch {
                return .failure(error)
            }
        }
        switch decision {
        case .failure(let error):
            reply(BrokerRegistrationResponse(errorCode: error.code, errorMessage: error.message, brokerEpoch: -1))
        case .success(let registration) where registration.records.isEmpty:
            reply(BrokerRegistrationResponse(brokerEpoch: registration.brokerEpoch))
        case .success(let registration):
            propose(registration.records, what: "registration of broker \(request.nodeId)") { result in
                switch result {
                case .success:
                    self.logger.info(
                        "broker registered",
                        metadata: [
                            "tern_broker": "\(request.nodeId)", "tern_broker_epoch": "\(registration.brokerEpoch)",
                        ])
                    reply(BrokerRegistrationResponse(brokerEpoch: registration.brokerEpoch))
                case .failure(let error):
                    reply(
                        Self.failure(error, BrokerRegistrationResponse.self) { code, message in
                            BrokerRegistrationResponse(errorCode: code, errorMessage: message, brokerEpoch: -1)
                        })
                }
            }
        }
    }

    /// A BrokerHeartbeat, on the queue; `reply` gets the response.
    func heartbeat(_ request: BrokerHeartbeatRequest, reply: @escaping @Sendable (BrokerHeartbeatResponse) -> Void) {
        dispatchPrecondition(condition: .onQueue(queue))
        let now = clock()
        // The offset of the last committed entry this node has applied.
        let committedOffset = publisher.current.nextOffset - 1
        let decision = state.withLock { state -> Result<BrokerRegistry.HeartbeatReply, ControllerError> in
            guard state.activeEpoch != nil else {
                return .failure(ControllerError(.notController, "node \(nodeId) is not the active controller"))
            }
            do throws(ControllerError) {
                return .success(
                    try state.registry.heartbeat(
                        state.working, nodeId: request.nodeId, brokerEpoch: request.brokerEpoch,
                        metadataOffset: request.metadataOffset, wantFence: request.wantFence,
                        wantShutDown: request.wantShutDown, committedOffset: committedOffset, nowMs: now))
            } catch {
                return .failure(error)
            }
        }
        switch decision {
        case .failure(let error):
            reply(
                BrokerHeartbeatResponse(
                    errorCode: error.code, errorMessage: error.message, isCaughtUp: false, isFenced: true,
                    shouldShutDown: false))
        case .success(let answer) where answer.records.isEmpty:
            reply(
                BrokerHeartbeatResponse(
                    isCaughtUp: answer.isCaughtUp, isFenced: answer.isFenced, shouldShutDown: answer.shouldShutDown))
        case .success(let answer):
            let unfenced = answer.records.contains {
                if case .brokerFencing(let change) = $0 { return change.nodeId == request.nodeId && !change.fenced }
                return false
            }
            propose(answer.records, what: "heartbeat of broker \(request.nodeId)") { result in
                switch result {
                case .success:
                    if unfenced { self.logger.info("broker unfenced", metadata: ["tern_broker": "\(request.nodeId)"]) }
                    reply(
                        BrokerHeartbeatResponse(
                            isCaughtUp: answer.isCaughtUp, isFenced: answer.isFenced,
                            shouldShutDown: answer.shouldShutDown))
                case .failure(let error):
                    reply(
                        Self.failure(error, BrokerHeartbeatResponse.self) { code, message in
                            BrokerHeartbeatResponse(
                                errorCode: code, errorMessage: message, isCaughtUp: false, isFenced: true,
                                shouldShutDown: false)
                        })
                }
            }
        }
    }

    /// An AllocateProducerIds, on the queue: the block is answered once its record is committed.
    func allocateProducerIds(
        _ request: AllocateProducerIdsRequest, reply: @escaping @Sendable (AllocateProducerIdsResponse) -> Void
    ) {
        dispatchPrecondition(condition: .onQueue(queue))
        let decision = state.withLock {
            state -> Result<(start: Int64, length: Int32, record: MetadataRecord), ControllerError> in
            guard state.activeEpoch != nil else {
                return .failure(ControllerError(.notController, "node \(nodeId) is not the active controller"))
            }
            do throws(ControllerError) {
                // The working image: a block proposed but not yet committed is not handed out again.
                return .success(
                    try ControllerDecisions.allocateProducerIds(
                        state.working, brokerId: request.brokerId, brokerEpoch: request.brokerEpoch))
            } catch {
                return .failure(error)
            }
        }
        @Sendable func refused(_ code: ErrorCode, _ message: String) -> AllocateProducerIdsResponse {
            AllocateProducerIdsResponse(errorCode: code, errorMessage: message, producerIdStart: -1, producerIdLength: 0)
        }
        switch decision {
        case .failure(let error):
            reply(refused(error.code, error.message))
        case .success(let block):
            propose([block.record], what: "producer ids for broker \(request.brokerId)") { result in
                switch result {
                case .success:
                    self.logger.debug(
                        "producer ids allocated",
                        metadata: ["tern_broker": "\(request.brokerId)", "tern_producer_id_start": "\(block.start)"])
                    reply(AllocateProducerIdsResponse(producerIdStart: block.start, producerIdLength: block.length))
                case .failure(let error):
                    reply(Self.failure(error, AllocateProducerIdsResponse.self) { refused($0, $1) })
                }
            }
        }
    }

    /// A failed proposal as a response: NOT_CONTROLLER when leadership moved, REQUEST_TIMED_OUT
    /// otherwise (the broker retries either way).
    static func failure<R>(
        _ error: QuorumError, _: R.Type, make: (ErrorCode, String) -> R
    ) -> R {
        let code: ErrorCode = error.code == .timedOut ? .requestTimedOut : .notController
        return make(code, "no metadata quorum: \(error)")
    }
}
