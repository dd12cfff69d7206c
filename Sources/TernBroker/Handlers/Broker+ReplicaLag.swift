import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// DescribeReplicaLag: each replica's lag behind the partitions this broker leads, from the
    /// partition machine's view of its followers (``PartitionReplica/followerLag(now:)``). A
    /// partition with one replica has no machine: its leader answers with its own log.
    /// NOT_LEADER_OR_FOLLOWER for partitions this broker does not lead.
    func handleDescribeReplicaLag(_ request: DescribeReplicaLagRequest) -> DescribeReplicaLagResponse {
        let now = replicationNow()
        return DescribeReplicaLagResponse(
            topics: request.topics.map { topic in
                let info = topics.topic(topic.name)
                return DescribeReplicaLagResponse.Topic(
                    name: topic.name,
                    partitions: topic.partitions.map { index in
                        let tp = TopicPartition(topic.name, index)
                        guard let info, index >= 0, index < info.partitionCount else {
                            return .init(partition: index, errorCode: .unknownTopicOrPartition)
                        }
                        let notLeader = DescribeReplicaLagResponse.Partition(
                            partition: index, errorCode: .notLeaderOrFollower,
                            errorMessage: "broker \(config.nodeId) does not lead \(tp)")
                        if let replica = replication.hosted(tp) {
                            let (lags, epoch, highWatermark, logEnd) = replica.state.withLock { state in
                                (
                                    state.machine.followerLag(now: now), state.machine.leaderEpoch,
                                    state.machine.highWatermark, state.machine.logEnd
                                )
                            }
                            guard !lags.isEmpty else { return notLeader }
                            return .init(
                                partition: index, leaderEpoch: epoch, highWatermark: highWatermark,
                                logEndOffset: logEnd,
                                replicas: lags.map {
                                    .init(
                                        replicaId: $0.replicaId, fetchOffset: $0.fetchOffset,
                                        durableOffset: $0.durableOffset, lagRecords: $0.lagRecords,
                                        caughtUpAgoMs: $0.caughtUpAgoMs, lastFetchAgoMs: $0.lastFetchAgoMs)
                                })
                        }
                        guard let epoch = partitionLeaderEpoch(topic.name, index), let log = logManager.log(for: tp),
                            let visible = visibleEnd(tp, log)
                        else { return notLeader }
                        let end = log.logEndOffset
                        return .init(
                            partition: index, leaderEpoch: epoch, highWatermark: visible, logEndOffset: end,
                            replicas: [
                                .init(
                                    replicaId: config.nodeId, fetchOffset: end, durableOffset: log.recoveryPoint,
                                    lagRecords: 0, caughtUpAgoMs: 0)
                            ])
                    })
            })
    }

    /// The most any follower of a partition this broker leads is behind: records behind its
    /// log end (`tern_replica_max_lag`) and milliseconds since it last had everything
    /// (`tern_replica_max_lag_seconds`); zeros when it leads no replicated partition or all are
    /// caught up.
    func maxFollowerLag() -> (records: Int64, ms: Int64) {
        let now = replicationNow()
        var most: (records: Int64, ms: Int64) = (0, 0)
        for replica in replication.all {
            let lag = replica.state.withLock { $0.machine.maxFollowerLag(now: now) }
            most = (max(most.records, lag.records), max(most.ms, lag.ms))
        }
        return most
    }
}
