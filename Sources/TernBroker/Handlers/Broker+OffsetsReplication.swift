import Synchronization
import TernStorage
import TernWire

/// `__consumer_offsets` on a cluster (DESIGN.md section 7): a partition with more than one
/// replica is replicated like any other (``ReplicaManager`` hosts it, followers fetch it), and
/// the group coordinator's writes to it are answered as `acks=all` produces are — once the high
/// watermark of the leader epoch they were appended in passes them (Kafka's
/// `offsets.commit.required.acks=-1`), within `offsets.commit.timeout.ms`. A single-replica
/// partition (a single node) is committed by its local fsync, as before.
extension Broker {
    /// The coordinator's append: on a replicated partition, as its leader only, and only while
    /// the committed in-sync set has `min.insync.replicas` members (Kafka answers a group write
    /// refused for NOT_ENOUGH_REPLICAS with COORDINATOR_NOT_AVAILABLE, which clients retry).
    func appendGroupBatch(_ bytes: inout [UInt8], batches: [ValidatedBatch], to log: PartitionLog) throws
        -> GroupAppend
    {
        let tp = log.topicPartition
        guard let replica = replication.hosted(tp) else {
            if awaitsReplicaHosting(tp) {
                throw GroupStorageFailure(.notCoordinator, "broker \(config.nodeId) does not lead \(tp) yet")
            }
            let result = try log.append(
                &bytes, batches: batches, leaderEpoch: partitionLeaderEpoch(tp.topic, tp.partition) ?? 0)
            purgatory.didAppend(to: tp, bytes: bytes.count)
            return GroupAppend(endOffset: result.lastOffset + 1, leaderEpoch: nil)
        }
        guard replica.log === log else {
            throw GroupStorageFailure(.notCoordinator, "\(tp) was recreated since its groups were loaded")
        }
        let minIsr = minInSyncReplicas(tp.topic)
        let appended = try replica.state.withLock { state throws -> GroupAppend in
            guard state.machine.role == .leader, let p = state.machine.partition else {
                throw GroupStorageFailure(.notCoordinator, "broker \(config.nodeId) does not lead \(tp)")
            }
            guard p.isr.count >= minIsr else {
                throw GroupStorageFailure(
                    .coordinatorNotAvailable,
                    "\(tp): \(p.isr.count) in-sync replicas \(p.isr), min.insync.replicas is \(minIsr)")
            }
            let result = try log.append(&bytes, batches: batches, leaderEpoch: p.leaderEpoch)
            _ = state.step(.appended(endOffset: log.logEndOffset), now: replicationNow())
            return GroupAppend(endOffset: result.lastOffset + 1, leaderEpoch: p.leaderEpoch)
        }
        // Followers' parked fetches wake on the append; the high watermark waits for this
        // leader's own fsync too.
        replicaPurgatory.didAppend(to: tp, bytes: bytes.count)
        logManager.whenDurable(log, upTo: appended.endOffset) { [self] result in
            if case .success = result { replicaPersisted(replica, upTo: appended.endOffset) }
        }
        return appended
    }

    func whenCommitted(
        _ log: PartitionLog, _ append: GroupAppend, completion: @escaping @Sendable (GroupStorageFailure?) -> Void
    ) {
        let tp = log.topicPartition
        guard let epoch = append.leaderEpoch else {
            return logManager.whenDurable(log, upTo: append.endOffset) { result in
                switch result {
                case .success: completion(nil)
                case .failure(let error):
                    completion(GroupStorageFailure(.kafkaStorageError, "not durable: \(error)", written: true))
                }
            }
        }
        producePurgatory.park(
            tp, endOffset: append.endOffset, leaderEpoch: epoch, timeoutMs: config.offsetsCommitTimeoutMs
        ) { code in
            switch code {
            case .none: completion(nil)
            case .notLeaderOrFollower:
                completion(
                    GroupStorageFailure(
                        .notCoordinator, "\(tp) changed leader before the group change was committed", reload: true))
            default:
                // Timed out, or committed by an in-sync set smaller than min.insync.replicas:
                // the batch stays in this leader's log and may still commit; the coordinator
                // reloads the partition from its log.
                completion(
                    GroupStorageFailure(
                        .coordinatorNotAvailable, "\(tp): the group change was not replicated (\(code))",
                        reload: true))
            }
        }
        // The high watermark may have passed the batch before it was parked (an in-sync set of
        // one, a quick fsync), or the replica stopped leading in between: answered now, as a
        // produce is, rather than after an advance that already happened or at the deadline.
        answerPassedProduces(tp)
    }

    /// What the coordinator may load of `__consumer_offsets` partition `partition`: a
    /// single-replica log to its end; a replicated one only while this replica leads and its
    /// high watermark has reached its log end (everything in it is committed).
    func offsetsLogState(_ partition: Int32) -> GroupCoordinator.OffsetsLogState {
        let tp = TopicPartition(GroupCoordinator.topicName, partition)
        guard let log = logManager.log(for: tp) else { return .missing }
        let replicas = cluster.image.topic(named: tp.topic)?.partitions[partition]?.replicas.count ?? 1
        guard replicas > 1 || replication.hosted(tp) != nil else { return .ready(log, end: log.logEndOffset) }
        guard let replica = replication.hosted(tp), replica.log === log, let hw = replica.consumerHighWatermark,
            hw >= log.logEndOffset
        else { return .uncommitted }
        return .ready(log, end: hw)
    }
}
