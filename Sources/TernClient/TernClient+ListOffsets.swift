import TernWire

extension TernClient {
    /// `ListOffsets` timestamp that asks for a partition's log start offset.
    static let earliestTimestamp = ListOffsetsRequest.earliest
    /// `ListOffsets` timestamp that asks for a partition's log end offset.
    static let latestTimestamp = ListOffsetsRequest.latest

    /// Looks up offsets with ListOffsets, one request per partition leader. `queries` maps each
    /// partition to `earliestTimestamp`, `latestTimestamp` or a time in ms since the epoch. For a
    /// time with no record at or after it, the result is -1.
    /// - Throws: ``TernError`` naming the partition whose lookup failed (after one metadata
    ///   refresh and retry for retriable errors).
    func listOffsets(_ queries: [TopicPartition: Int64]) async throws -> [TopicPartition: Int64] {
        var results: [TopicPartition: Int64] = [:]
        var remaining = queries
        var attempt = 0
        while !remaining.isEmpty {
            attempt += 1
            let snapshot = attempt == 1 ? try await metadata.fresh() : try await metadata.refresh()
            var byLeader: [Int32: [TopicPartition: Int64]] = [:]
            var retriable: TernError?
            for (tp, timestamp) in remaining {
                guard let topic = snapshot.topics[tp.topic] else {
                    throw TernError(.unknownTopic, "topic '\(tp.topic)' does not exist", brokerError: .unknownTopicOrPartition)
                }
                guard topic.partition(tp.partition) != nil else {
                    throw TernError(
                        .unknownTopic, "topic '\(tp.topic)' has no partition \(tp.partition) (it has \(topic.partitionCount))",
                        brokerError: .unknownTopicOrPartition)
                }
                guard let leader = snapshot.leader(topic: tp.topic, partition: tp.partition) else {
                    retriable = TernError(
                        .broker, "list offsets for \(tp): partition has no leader", brokerError: .leaderNotAvailable)
                    continue
                }
                byLeader[leader, default: [:]][tp] = timestamp
            }
            try await withThrowingTaskGroup(of: ([TopicPartition: Int64], TernError?).self) { group in
                for (leader, partitions) in byLeader {
                    // KIP-320: the leader refuses a stale epoch (FENCED_LEADER_EPOCH, retried
                    // after a refresh) rather than answer from a log it no longer leads.
                    let epochs = partitions.keys.map { ($0, snapshot.leaderEpoch(topic: $0.topic, partition: $0.partition)) }
                    let leaderEpochs = Dictionary(epochs, uniquingKeysWith: { first, _ in first })
                    group.addTask { try await self.listOffsets(partitions, leaderEpochs: leaderEpochs, leader: leader) }
                }
                for try await (found, error) in group {
                    results.merge(found) { _, new in new }
                    for tp in found.keys { remaining[tp] = nil }
                    if let error { retriable = error }
                }
            }
            if !remaining.isEmpty {
                guard attempt < 3 else {
                    throw retriable ?? TernError(.protocolError, "ListOffsets left partitions unanswered")
                }
                try await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
        return results
    }

    /// One ListOffsets request to `leader`; returns what it answered and the last retriable error.
    private func listOffsets(
        _ partitions: [TopicPartition: Int64], leaderEpochs: [TopicPartition: Int32], leader: Int32
    ) async throws -> ([TopicPartition: Int64], TernError?) {
        let byTopic = Dictionary(grouping: partitions.keys, by: \.topic)
        let request = ListOffsetsRequest(
            topics: byTopic.map { topic, tps in
                ListOffsetsRequest.Topic(
                    name: topic,
                    partitions: tps.map {
                        .init(
                            partition: $0.partition, timestamp: partitions[$0] ?? -1,
                            currentLeaderEpoch: leaderEpochs[$0] ?? -1)
                    })
            })
        let response: ListOffsetsResponse
        do {
            response = try await send(request, to: leader)
        } catch let error as TernError where error.isRetriable {
            return ([:], error)
        }
        var found: [TopicPartition: Int64] = [:]
        var retriable: TernError?
        for topic in response.topics {
            for partition in topic.partitions {
                let tp = TopicPartition(topic: topic.name, partition: partition.partition)
                guard partitions[tp] != nil else { continue }
                if partition.errorCode == .none {
                    found[tp] = partition.offset
                    continue
                }
                let error = TernError.broker(partition.errorCode, nil, context: "list offsets for \(tp)")
                guard partition.errorCode.isRetriable else { throw error }
                retriable = error
            }
        }
        return (found, retriable)
    }
}
