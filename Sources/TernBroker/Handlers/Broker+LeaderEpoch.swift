import Logging
import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// The leader epoch of a partition this broker leads, from the metadata image (cached with
    /// the leaderships, so one lock and no allocation); nil when it does not lead it. Stamped on
    /// the batches this broker appends as leader and checked against requests'
    /// `currentLeaderEpoch` (KIP-320). A single node leads every partition, from epoch 0 on.
    func partitionLeaderEpoch(_ topic: String, _ partition: Int32) -> Int32? {
        reconcileState.withLock { $0.leaders[topic]?[partition] }
    }

    /// KIP-320: the error for a request that believes the partition's leader epoch is
    /// `requested` when it is `current`; `.none` when they agree or the request does not say (-1).
    static func leaderEpochError(requested: Int32, current: Int32) -> ErrorCode {
        if requested < 0 || requested == current { return .none }
        return requested < current ? .fencedLeaderEpoch : .unknownLeaderEpoch
    }

    /// After a reconcile pass: every partition this broker leads whose log has not yet seen the
    /// image's leader epoch starts it at its log end (Kafka does this when a replica becomes
    /// leader), so OffsetForLeaderEpoch and a fetch's diverging epoch know where the new epoch
    /// begins before its first batch arrives. One comparison per led partition when nothing changed.
    /// Epoch 0 on a log without history is left to the first append: nothing can precede it, and
    /// a new topic's partitions then cost no checkpoint write (an fsync) each.
    func startLeaderEpochs() {
        let leaders = reconcileState.withLock { $0.leaders }
        for (topic, partitions) in leaders {
            for (partition, epoch) in partitions {
                guard let log = logManager.log(for: TopicPartition(topic, partition)) else { continue }
                let latest = log.latestEpoch
                guard (latest ?? -1) < epoch, latest != nil || epoch > 0 else { continue }
                do {
                    try log.startLeaderEpoch(epoch)
                } catch {
                    // The first append in the epoch writes it (and reports a disk error then).
                    logger.warning(
                        "cannot record the start of a leader epoch",
                        metadata: [
                            "tern_topic": "\(topic)", "tern_partition": "\(partition)", "tern_leader_epoch": "\(epoch)",
                            "error": "\(error)",
                        ])
                }
            }
        }
    }

    /// OffsetForLeaderEpoch: for each partition, the largest epoch at or below the one asked
    /// about that its log holds and where that epoch ends (KIP-101/279), after the KIP-320 check
    /// of the request's current leader epoch. Only the leader answers (NOT_LEADER_OR_FOLLOWER
    /// elsewhere): a replica's history may lag the leader's.
    func handleOffsetForLeaderEpoch(_ request: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
        OffsetForLeaderEpochResponse(
            topics: request.topics.map { topic in
                let info = topics.topic(topic.name)
                return OffsetForLeaderEpochResponse.Topic(
                    name: topic.name,
                    partitions: topic.partitions.map { p in
                        let tp = TopicPartition(topic.name, p.partition)
                        guard let info, p.partition >= 0, p.partition < info.partitionCount,
                            let log = logManager.log(for: tp)
                        else { return .init(partition: p.partition, errorCode: .unknownTopicOrPartition) }
                        guard let current = partitionLeaderEpoch(topic.name, p.partition) else {
                            return .init(partition: p.partition, errorCode: .notLeaderOrFollower)
                        }
                        let error = Self.leaderEpochError(requested: p.currentLeaderEpoch, current: current)
                        guard error == .none else { return .init(partition: p.partition, errorCode: error) }
                        let end = Self.epochEnd(log, asked: p.leaderEpoch, current: current)
                        return .init(partition: p.partition, leaderEpoch: end.epoch, endOffset: end.endOffset)
                    })
            })
    }

    /// Where `asked` ends in `log`, for its leader in epoch `current`. Until the reconcile pass
    /// records the new epoch's start (``startLeaderEpochs()``), the answer is computed as if it
    /// had — the epoch starts at the log end — so a consumer validating its position right after
    /// a leader change is not told "unknown epoch" by a leader that simply has not written it yet.
    static func epochEnd(_ log: PartitionLog, asked: Int32, current: Int32) -> EpochEndOffset {
        guard (log.latestEpoch ?? -1) < current else { return log.endOffset(for: asked) }
        var history = LeaderEpochCache(log.leaderEpochs)
        let end = log.logEndOffset
        history.assign(epoch: current, startOffset: end)
        return history.endOffset(for: asked, logEndOffset: end)
    }
}
