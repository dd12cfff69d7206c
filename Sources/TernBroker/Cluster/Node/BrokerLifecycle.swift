import Dispatch
import Logging
import Synchronization
import TernRaft
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// The broker side of membership: registers with the active controller, then heartbeats every
/// `broker.heartbeat.interval.ms`, reporting how far it has applied the metadata log. The active
/// controller is whoever leads the metadata quorum; on this node it is reached in-process, on
/// another over that voter's controller listener. A refused epoch (the controller forgot the
/// registration, or a newer one replaced it) registers again.
final class BrokerLifecycle: Sendable {
    struct State {
        /// The epoch of this process's registration; nil until registered.
        var brokerEpoch: Int64?
        var fenced = true
        var requestInFlight = false
        var lastError: String?
        var stopped = false
        /// A controlled shutdown is under way: every heartbeat says `wantShutDown`.
        var shuttingDown = false
        /// The controller answered `shouldShutDown`: leadership moved away, this broker is fenced.
        var mayShutDown = false
    }

    let nodeId: Int32
    let incarnationId: MetadataUUID
    private let roles: BrokerRegistrationRecord.Roles
    private let heartbeatIntervalMs: Int64
    private let queue: DispatchQueue
    private let state = Mutex(State())
    private let logger: Logger
    /// The leader of the metadata quorum as this node knows it.
    private let leader: @Sendable () -> Int32?
    private let localController: ActiveController?
    private let channels: [Int32: ControllerChannel]
    private let appliedOffset: @Sendable () -> Int64
    private let clusterId: @Sendable () -> String
    private let listeners: @Sendable () -> [BrokerRegistrationRecord.Listener]
    private let timer: Mutex<QuorumDriver.TickTimer?> = Mutex(nil)
    private let requestTimeout: Duration = .seconds(2)

    init(
        nodeId: Int32, roles: BrokerRegistrationRecord.Roles, heartbeatIntervalMs: Int64, voters: [ClusterConfig.Voter],
        localController: ActiveController?, channelSecurity: ChannelSecurity = .plaintext, logger: Logger,
        leader: @escaping @Sendable () -> Int32?,
        appliedOffset: @escaping @Sendable () -> Int64, clusterId: @escaping @Sendable () -> String,
        listeners: @escaping @Sendable () -> [BrokerRegistrationRecord.Listener]
    ) {
        self.nodeId = nodeId
        self.roles = roles
        self.heartbeatIntervalMs = heartbeatIntervalMs
        var generator = SystemRandomNumberGenerator()
        incarnationId = MetadataUUID(high: generator.next(), low: generator.next())
        queue = DispatchQueue(label: "tern.broker-lifecycle.\(nodeId)")
        self.logger = logger
        self.leader = leader
        self.localController = localController
        var channels: [Int32: ControllerChannel] = [:]
        for voter in voters where voter.nodeId != nodeId {
            channels[voter.nodeId] = ControllerChannel(
                host: voter.host, port: Int(voter.port), clientId: "tern-broker-\(nodeId)", security: channelSecurity)
        }
        self.channels = channels
        self.appliedOffset = appliedOffset
        self.clusterId = clusterId
        self.listeners = listeners
    }

    /// This broker's registration and fencing as the last answer said.
    var snapshot: State { state.withLock { $0 } }

    func start() {
        let source = DispatchSource.makeTimerSource(queue: queue)
        // Ticks often; the heartbeat interval is kept by `due`. Registration retries at each tick,
        // and a fenced broker heartbeats at each tick, so it is unfenced as soon as it caught up.
        source.schedule(deadline: .now(), repeating: .milliseconds(20), leeway: .milliseconds(5))
        let lastSent = Mutex<UInt64>(0)
        source.setEventHandler { [weak self] in
            guard let self else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            let (registered, fenced, urgent) = self.state.withLock {
                ($0.brokerEpoch != nil, $0.fenced, $0.shuttingDown)
            }
            let due = lastSent.withLock { last -> Bool in
                guard !registered || fenced || urgent
                    || now &- last >= UInt64(self.heartbeatIntervalMs) * 1_000_000
                else {
                    return false
                }
                last = now
                return true
            }
            if due { self.tick() }
        }
        let ticker = QuorumDriver.TickTimer(source)
        timer.withLock { $0 = ticker }
        source.resume()
    }

    /// A controlled shutdown: heartbeats (every tick) ask the active controller to move this
    /// broker's leadership away, until it answers that the broker may shut down (leadership moved
    /// and committed, the broker fenced) or `timeout` passes, or no quorum leader has been known
    /// for `giveUpWithoutLeaderAfter`. Blocks the caller; not on the lifecycle's queue.
    /// - Returns: true when the controller said the broker may shut down.
    func controlledShutdown(timeout: Duration, giveUpWithoutLeaderAfter leaderless: Duration) -> Bool {
        dispatchPrecondition(condition: .notOnQueue(queue))
        let registered = state.withLock { state -> Bool in
            state.shuttingDown = true
            return state.brokerEpoch != nil && !state.stopped
        }
        // Never registered: no controller knows of this broker, nothing can lead here.
        guard registered else { return false }
        let deadline = ContinuousClock.now + timeout
        // Heartbeat now rather than at the next tick.
        queue.async { self.tick() }
        var leaderSeen = ContinuousClock.now
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.mayShutDown }) { return true }
            if leader() != nil {
                leaderSeen = ContinuousClock.now
            } else if ContinuousClock.now - leaderSeen > leaderless {
                break
            }
            usleep(5_000)
        }
        return state.withLock { $0.mayShutDown }
    }

    func stop() {
        state.withLock { $0.stopped = true }
        timer.withLock {
            $0?.cancel()
            $0 = nil
        }
        for channel in channels.values { channel.close() }
    }

    /// On the queue: one registration or heartbeat, unless one is still waiting for its answer.
    private func tick() {
        let (epoch, busy) = state.withLock { state -> (Int64?, Bool) in
            guard !state.stopped, !state.requestInFlight else { return (nil, true) }
            state.requestInFlight = true
            return (state.brokerEpoch, false)
        }
        guard !busy else { return }
        // No leader: an election is under way (or the quorum is lost); nothing to say each tick.
        guard let leader = leader() else {
            return finish(error: lastErrorOrNoLeader())
        }
        if let epoch {
            let shuttingDown = state.withLock { $0.shuttingDown }
            let request = BrokerHeartbeatRequest(
                nodeId: nodeId, brokerEpoch: epoch, metadataOffset: appliedOffset() - 1, wantShutDown: shuttingDown)
            send(request, to: leader, serve: { $0.heartbeat($1, reply: $2) }) { [self] result in
                switch result {
                case .success(let response) where response.errorCode == .none:
                    state.withLock { state in
                        if state.fenced != response.isFenced {
                            logger.info(response.isFenced ? "this broker is fenced" : "this broker is unfenced")
                        }
                        state.fenced = response.isFenced
                        if shuttingDown && response.shouldShutDown { state.mayShutDown = true }
                    }
                    finish(error: nil)
                case .success(let response):
                    if response.errorCode == .staleBrokerEpoch || response.errorCode == .brokerIdNotRegistered {
                        state.withLock {
                            $0.brokerEpoch = nil
                            $0.fenced = true
                        }
                    }
                    finish(error: "heartbeat refused: \(response.errorCode): \(response.errorMessage ?? "")")
                case .failure(let error):
                    finish(error: "heartbeat to node \(leader) failed: \(error)")
                }
            }
        } else {
            let request = BrokerRegistrationRequest(
                nodeId: nodeId, clusterId: clusterId(), incarnationId: incarnationId, listeners: listeners(),
                roles: roles)
            send(request, to: leader, serve: { $0.register($1, reply: $2) }) { [self] result in
                switch result {
                case .success(let response) where response.errorCode == .none:
                    state.withLock { $0.brokerEpoch = response.brokerEpoch }
                    logger.info(
                        "registered with the active controller",
                        metadata: ["tern_controller": "\(leader)", "tern_broker_epoch": "\(response.brokerEpoch)"])
                    finish(error: nil)
                    // Heartbeat at once: a new registration is fenced until a heartbeat shows
                    // this broker caught up.
                    queue.async { self.tick() }
                case .success(let response):
                    finish(error: "registration refused: \(response.errorCode): \(response.errorMessage ?? "")")
                case .failure(let error):
                    finish(error: "registration with node \(leader) failed: \(error)")
                }
            }
        }
    }

    private func lastErrorOrNoLeader() -> String {
        state.withLock { $0.lastError } ?? "no metadata quorum leader known"
    }

    private func finish(error: String?) {
        let report = state.withLock { state -> Bool in
            state.requestInFlight = false
            defer { state.lastError = error }
            // Routine around an election: no leader yet, or a leader not yet active as controller.
            let routine = error == "no metadata quorum leader known" || error?.contains("NOT_CONTROLLER") == true
            return error != nil && error != state.lastError && !routine
        }
        // Only when the reason changes: a broker without a controller would otherwise log each tick.
        if report, let error { logger.warning("broker membership", metadata: ["tern_reason": "\(error)"]) }
    }

    /// Sends `request` to the controller on `leader`: in-process on the controller's queue, with
    /// `serve`, when that is this node; else over its controller listener.
    private func send<R: WireRequest>(
        _ request: R, to leader: Int32,
        serve: @escaping @Sendable (ActiveController, R, @escaping @Sendable (R.Response) -> Void) -> Void,
        completion: @escaping @Sendable (Result<R.Response, any Error>) -> Void
    ) {
        if leader == nodeId, let controller = localController {
            controller.queue.async { serve(controller, request) { completion(.success($0)) } }
        } else {
            remote(request, to: leader, completion: completion)
        }
    }

    /// Sends `request` to voter `controller`'s controller listener (DescribeQuorum to a
    /// controller-only leader). Blocks up to the request timeout while connecting: not on a
    /// network thread.
    func ask<R: WireRequest>(
        _ request: R, controller: Int32, completion: @escaping @Sendable (Result<R.Response, any Error>) -> Void
    ) {
        remote(request, to: controller, completion: completion)
    }

    /// Sends AlterUserScramCredentials to the active controller: this node's own controller when
    /// it leads, else the leader's controller listener (what a broker's bootstrap users use).
    func alterScramCredentials(
        _ request: AlterUserScramCredentialsRequest,
        completion: @escaping @Sendable (Result<AlterUserScramCredentialsResponse, any Error>) -> Void
    ) {
        guard let leader = leader() else {
            return completion(.failure(ControllerChannelError("the metadata quorum has no leader")))
        }
        send(
            request, to: leader,
            serve: { controller, request, reply in
                controller.alterScramCredentials(request) { response, _ in reply(response) }
            }, completion: completion)
    }

    /// AllocateProducerIds to the active controller with this process's registration; any thread.
    func allocateProducerIds(completion: @escaping @Sendable (Result<AllocateProducerIdsResponse, any Error>) -> Void) {
        guard let epoch = state.withLock({ $0.brokerEpoch }) else {
            return completion(
                .failure(ControllerChannelError("broker \(nodeId) is not registered with a controller yet")))
        }
        guard let leader = leader() else {
            return completion(.failure(ControllerChannelError("no metadata quorum leader known")))
        }
        let request = AllocateProducerIdsRequest(brokerId: nodeId, brokerEpoch: epoch)
        // The channel's connect may block up to its timeout: never on the caller's thread.
        queue.async {
            self.send(request, to: leader, serve: { $0.allocateProducerIds($1, reply: $2) }, completion: completion)
        }
    }

    /// AlterPartition to the active controller with this process's registration (ISR changes of
    /// partitions this broker leads); any thread. Fails without a registration or a known leader.
    func alterPartition(
        _ partitions: [AlterPartitionRequest.Partition],
        completion: @escaping @Sendable (Result<AlterPartitionResponse, any Error>) -> Void
    ) {
        guard let epoch = state.withLock({ $0.brokerEpoch }) else {
            return completion(
                .failure(ControllerChannelError("broker \(nodeId) is not registered with a controller yet")))
        }
        guard let leader = leader() else {
            return completion(.failure(ControllerChannelError("no metadata quorum leader known")))
        }
        let request = AlterPartitionRequest(brokerId: nodeId, brokerEpoch: epoch, partitions: partitions)
        // The channel's connect may block up to its timeout: never on the caller's thread.
        queue.async {
            self.send(request, to: leader, serve: { $0.alterPartition($1, reply: $2) }, completion: completion)
        }
    }

    private func remote<R: WireRequest>(
        _ request: R, to leader: Int32, completion: @escaping @Sendable (Result<R.Response, any Error>) -> Void
    ) {
        guard let channel = channels[leader] else {
            return completion(
                .failure(ControllerChannelError("node \(leader) is not a voter with a controller listener")))
        }
        channel.send(request, timeout: requestTimeout) { result in
            switch result {
            case .success(let body):
                var reader = ByteReader(body)
                do {
                    completion(.success(try R.Response(from: &reader)))
                } catch {
                    completion(.failure(error))
                }
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }
}
