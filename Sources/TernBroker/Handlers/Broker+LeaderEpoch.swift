import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// The partition's current leader epoch, stamped on the batches this broker appends as its
    /// leader and checked against requests' `currentLeaderEpoch` (KIP-320). A single node is the
    /// leader of every partition from epoch 0 on; replicated partitions take it from the
    /// metadata image once they are served.
    func partitionLeaderEpoch(_ topicPartition: TopicPartition) -> Int32 {
        replication.hosted(topicPartition)?.state.withLock { $0.machine.leaderEpoch } ?? 0
    }

    /// KIP-320: the error for a request that believes the partition's leader epoch is
    /// `requested` when it is `current`; `.none` when they agree or the request does not say (-1).
    static func leaderEpochError(requested: Int32, current: Int32) -> ErrorCode {
        if requested < 0 || requested == current { return .none }
        return requested < current ? .fencedLeaderEpoch : .unknownLeaderEpoch
    }

    /// OffsetForLeaderEpoch: for each partition, the largest epoch at or below the one asked
    /// about that its log holds and where that epoch ends (KIP-101/279), after the KIP-320 check
    /// of the request's current leader epoch.
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
                        let error = Self.leaderEpochError(
                            requested: p.currentLeaderEpoch, current: partitionLeaderEpoch(tp))
                        guard error == .none else { return .init(partition: p.partition, errorCode: error) }
                        let end = log.endOffset(for: p.leaderEpoch)
                        return .init(partition: p.partition, leaderEpoch: end.epoch, endOffset: end.endOffset)
                    })
            })
    }
}
