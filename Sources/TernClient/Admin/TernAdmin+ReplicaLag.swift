import TernWire

/// One partition's replicas as its leader sees them (``TernAdmin/describeReplicaLag(topic:)``).
public struct PartitionReplicaLag: Sendable, Hashable {
    /// One replica; nil fields are unknown (a follower that has not fetched from this leader yet).
    public struct Replica: Sendable, Hashable {
        public var replicaId: Int32
        /// Where its last fetch started (its log end).
        public var fetchOffset: Int64?
        /// What it last reported fsynced (what the high watermark counts).
        public var durableOffset: Int64?
        /// Records behind the leader's log end.
        public var lagRecords: Int64?
        /// Milliseconds since it last had everything the leader had; 0 when it has it now.
        public var caughtUpAgoMs: Int64?
        /// Milliseconds since its last fetch; nil for the leader.
        public var lastFetchAgoMs: Int64?
    }

    public var topic: String
    public var partition: Int32
    public var leader: Int32
    public var leaderEpoch: Int32
    public var highWatermark: Int64
    public var logEndOffset: Int64
    /// Every replica in replica-list order, the leader included.
    public var replicas: [Replica]
}

extension TernAdmin {
    /// Each replica's lag behind its partition's leader, for every partition of `topic`, asked of
    /// each partition's leader (DescribeReplicaLag). A partition whose leader is unknown,
    /// unreachable or no longer leads it is left out, sorted by partition otherwise.
    /// - Throws: ``TernError`` `.unknownTopic` when the topic does not exist; `.broker` for a
    ///   request refused as a whole (not authorized).
    public func describeReplicaLag(topic: String) async throws -> [PartitionReplicaLag] {
        let snapshot = try await client.metadata.refresh()
        guard let known = snapshot.topics[topic] else {
            throw TernError(.unknownTopic, "describe replica lag: topic '\(topic)' does not exist")
        }
        var byLeader: [Int32: [Int32]] = [:]
        for p in known.partitions {
            guard let leader = snapshot.leader(topic: topic, partition: p.partition) else { continue }
            byLeader[leader, default: []].append(p.partition)
        }
        let answers = try await withThrowingTaskGroup(of: [PartitionReplicaLag].self) { group in
            for (leader, partitions) in byLeader {
                group.addTask {
                    let request = DescribeReplicaLagRequest(topics: [
                        .init(name: topic, partitions: partitions.sorted())
                    ])
                    let response: DescribeReplicaLagResponse
                    do {
                        response = try await client.send(request, to: leader)
                    } catch let error as TernError where error.isRetriable {
                        return []
                    }
                    return response.topics.flatMap { t in
                        t.partitions.filter { $0.errorCode == .none }.map { p in
                            PartitionReplicaLag(
                                topic: t.name, partition: p.partition, leader: leader, leaderEpoch: p.leaderEpoch,
                                highWatermark: p.highWatermark, logEndOffset: p.logEndOffset,
                                replicas: p.replicas.map {
                                    func known(_ v: Int64) -> Int64? { v >= 0 ? v : nil }
                                    return .init(
                                        replicaId: $0.replicaId, fetchOffset: known($0.fetchOffset),
                                        durableOffset: known($0.durableOffset), lagRecords: known($0.lagRecords),
                                        caughtUpAgoMs: known($0.caughtUpAgoMs), lastFetchAgoMs: known($0.lastFetchAgoMs)
                                    )
                                })
                        }
                    }
                }
            }
            var all: [PartitionReplicaLag] = []
            for try await found in group { all += found }
            return all
        }
        return answers.sorted { $0.partition < $1.partition }
    }
}
