import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// `min.insync.replicas` of `topic` (its own config, else the broker's).
    func minInSyncReplicas(_ topic: String) -> Int {
        Int(resolver.value("min.insync.replicas", topics.topic(topic)?.configs ?? [:]) ?? "") ?? 1
    }

    /// After a reconcile pass: the replicated partitions whose logs exist here step the committed
    /// partition state; followers are handed to the replica fetchers; a replica that stopped
    /// leading fails the produces waiting on it.
    func applyReplication(_ image: MetadataImage) {
        let (stepped, removed, created) = replication.apply(
            image, logs: logManager, minInSyncReplicas: { [self] in minInSyncReplicas($0) },
            lagTimeMaxMs: Int64(config["replica.lag.time.max.ms"] ?? "") ?? 30_000,
            highWatermarks: highWatermarkCheckpoint())
        for replica in removed {
            producePurgatory.fail(replica.topicPartition, .notLeaderOrFollower)
        }
        for (replica, effects, before, after) in stepped {
            if before == .leader, after != .leader {
                producePurgatory.fail(replica.topicPartition, .notLeaderOrFollower)
            }
            if before != after {
                logger.info(
                    "replica role changed",
                    metadata: [
                        "tern_topic": "\(replica.topicPartition.topic)",
                        "tern_partition": "\(replica.topicPartition.partition)", "role": "\(after)",
                        "tern_leader_epoch": "\(replica.state.withLock { $0.machine.leaderEpoch })",
                    ])
            }
            performLeaderEffects(replica, effects)
        }
        for replica in created { syncUnflushedTail(replica) }
        var followed: [(HostedReplica, Int32)] = []
        for replica in replication.all {
            if case .follower(let leader) = replica.state.withLock({ $0.machine.role }) {
                followed.append((replica, leader))
            }
        }
        fetchers.update(followed)
    }

    /// What a leader's machine asked for: a high-watermark advance wakes the consumers' parked
    /// fetches and answers the `acks=all` produces it passes.
    func performLeaderEffects(_ replica: HostedReplica, _ effects: [ReplicationEffect]) {
        for case .proposeIsr(_, let partitionEpoch, let isr) in effects {
            proposeIsr(replica, partitionEpoch: partitionEpoch, isr: isr)
        }
        for effect in effects {
            guard case .highWatermark(let hw) = effect else { continue }
            let tp = replica.topicPartition
            // The set that made the high watermark must be as large as min.insync.replicas for an
            // acks=all answer (the ISR may have shrunk while the produce waited).
            let (setSize, epoch) = replica.state.withLock {
                ($0.machine.highWatermarkSet.count, $0.machine.leaderEpoch)
            }
            let enough = setSize >= minInSyncReplicas(tp.topic)
            producePurgatory.advance(
                tp, highWatermark: hw, leaderEpoch: epoch, code: enough ? .none : .notEnoughReplicas)
            purgatory.didAppend(to: tp, bytes: Int(Int32.max))
        }
    }

    /// Sends the machine's ISR proposal to the controller (AlterPartition) and steps the answer:
    /// the committed state, or — when the change certainly did not commit — a refusal, so the
    /// replicas it would add stop counting for the high watermark. A proposal that adds a broker
    /// the image shows fenced is refused here (the controller would refuse it too) without
    /// holding the high watermark back for a round trip. An answer that leaves the outcome open
    /// (no controller, a timeout) keeps the proposal pending; the machine proposes again after
    /// its retry interval.
    func proposeIsr(_ replica: HostedReplica, partitionEpoch: Int32, isr: [Int32]) {
        let tp = replica.topicPartition
        let image = cluster.image
        let current = replica.state.withLock { $0.machine.partition }
        @Sendable func refused() {
            let effects = replica.state.withLock {
                $0.step(.isrProposalRefused(partitionEpoch: partitionEpoch), now: replicationNow())
            }
            performLeaderEffects(replica, effects)
        }
        guard let current, current.partitionEpoch == partitionEpoch, let topicId = image.topic(named: tp.topic)?.id,
            !isr.contains(where: { !current.isr.contains($0) && !image.isUnfenced($0) })
        else { return refused() }
        alterPartition(topicId: topicId, from: current, newIsr: isr) { [self] result in
            switch result {
            case .success(let committed):
                logger.info(
                    "ISR changed",
                    metadata: [
                        "tern_topic": "\(tp.topic)", "tern_partition": "\(tp.partition)", "isr": "\(committed.isr)",
                        "tern_partition_epoch": "\(committed.partitionEpoch)",
                    ])
                let effects = replica.state.withLock { $0.step(.partitionState(committed), now: replicationNow()) }
                performLeaderEffects(replica, effects)
            case .failure(let error):
                let definite: Set<ErrorCode> = [
                    .ineligibleReplica, .invalidRequest, .invalidUpdateVersion, .fencedLeaderEpoch,
                    .notLeaderOrFollower,
                    .unknownTopicOrPartition,
                ]
                logger.debug(
                    "ISR change not made",
                    metadata: ["tern_topic": "\(tp.topic)", "tern_partition": "\(tp.partition)", "error": "\(error)"])
                if definite.contains(error.code) { refused() }
            }
        }
    }

    /// Ticks every leader replica's machine (ISR checks: a follower lagging longer than
    /// `replica.lag.time.max.ms` is proposed out, a caught-up one in) every 250 ms until the
    /// broker stops.
    func scheduleReplicaTicks() {
        adminQueue.asyncAfter(deadline: .now() + .milliseconds(250)) { [weak self] in
            guard let self, !self.isStopping else { return }
            let now = replicationNow()
            for replica in self.replication.all {
                let effects = replica.state.withLock { state -> [ReplicationEffect] in
                    state.machine.role == .leader ? state.step(.tick, now: now) : []
                }
                if !effects.isEmpty { self.performLeaderEffects(replica, effects) }
            }
            self.scheduleReplicaTicks()
        }
    }

    /// A new replica's log may end past what is fsynced (appended before its machine existed:
    /// the page cache kept it through a process crash, or the partition had one replica then).
    /// One group commit makes it durable; the machine then learns what the log has fsynced
    /// (``HostedReplica/persisted(upTo:durableOffset:)``).
    func syncUnflushedTail(_ replica: HostedReplica) {
        let end = replica.log.logEndOffset
        guard replica.state.withLock({ $0.machine.durableEnd }) < end else { return }
        logManager.whenDurable(replica.log, upTo: end) { [self] result in
            guard case .success = result else { return }
            performLeaderEffects(replica, replica.persisted(upTo: end) { logManager.durableOffset(of: $0) })
        }
    }

    /// The leader's log is durable up to `offset`: its machine may move the high watermark.
    func replicaPersisted(_ replica: HostedReplica, upTo offset: Int64) {
        performLeaderEffects(replica, replica.persisted(upTo: offset) { logManager.durableOffset(of: $0) })
    }

    /// The offset consumers may read up to in `log` (exclusive): a replicated partition's high
    /// watermark (nil when this replica does not lead, or not visibly yet, or is not hosted yet),
    /// else the log end — a single-replica partition is served as on a single node.
    func visibleEnd(_ tp: TopicPartition, _ log: PartitionLog) -> Int64? {
        guard let replica = replication.hosted(tp) else { return awaitsReplicaHosting(tp) ? nil : log.logEndOffset }
        return replica.consumerHighWatermark
    }

    /// Replica fetcher settings from the configuration.
    static func replicaFetcherSettings(_ config: BrokerConfig) -> ReplicaFetcherSettings {
        var settings = ReplicaFetcherSettings()
        settings.fetchers = max(Int(config["num.replica.fetchers"] ?? "") ?? 1, 1)
        settings.maxBytes = max(Int(config["replica.fetch.max.bytes"] ?? "") ?? 1_048_576, 1)
        settings.maxWaitMs = max(Int(config["replica.fetch.wait.max.ms"] ?? "") ?? 500, 0)
        let name = config["inter.broker.listener.name"] ?? ""
        settings.listenerName =
            name.isEmpty ? (config.listeners.first?.name ?? Listener.plaintextName) : name.uppercased()
        return settings
    }
}

extension Broker {
    /// The high watermarks checkpointed in the log directories, read once (at the first
    /// reconcile pass, before any replica's machine exists); later passes start new machines
    /// from 0, as a partition created since has nothing to remember.
    func highWatermarkCheckpoint() -> [TopicPartition: Int64] {
        replicationCheckpointRead.withLock { read in
            if read { return [:] }
            read = true
            return logManager.readHighWatermarks()
        }
    }

    /// Writes every replicated partition's high watermark to its log directory's
    /// `replication-offset-checkpoint`, so a restarted broker does not start from 0.
    func checkpointHighWatermarks() {
        let all = replication.all.map { ($0.topicPartition, $0.highWatermark) }
        do {
            try logManager.writeHighWatermarks(Dictionary(all, uniquingKeysWith: max))
        } catch {
            logger.warning("cannot write the high-watermark checkpoint", metadata: ["error": "\(error)"])
        }
    }

    /// Checkpoints the high watermarks every `replica.high.watermark.checkpoint.interval.ms`
    /// until the broker stops (``shutdown()`` writes the last one).
    func scheduleHighWatermarkCheckpoints() {
        let interval = max(Int(config["replica.high.watermark.checkpoint.interval.ms"] ?? "") ?? 5000, 100)
        adminQueue.asyncAfter(deadline: .now() + .milliseconds(interval)) { [weak self] in
            guard let self, !self.isStopping else { return }
            if !self.replication.all.isEmpty { self.checkpointHighWatermarks() }
            self.scheduleHighWatermarkCheckpoints()
        }
    }
}
