import Logging
import Synchronization
import TernWire

extension TernConsumer {
    /// KIP-320: checks with each partition's new leader the positions fetched under an older
    /// leader epoch (OffsetForLeaderEpoch on the epoch of the last batch fetched), one request per
    /// leader, before those partitions are fetched again. A truncated log is reported and the
    /// position moved to the diverging offset (``ConsumerState/validated(_:_:policy:now:backoff:)``).
    func validatePositions() async {
        let now = ContinuousClock.now
        let snapshot = client.metadata.current
        let pending = state.withLock {
            $0.pendingValidations(
                now: now, leader: { snapshot.leader(topic: $0.topic, partition: $0.partition) },
                leaderEpoch: { snapshot.leaderEpoch(topic: $0.topic, partition: $0.partition) })
        }
        guard !pending.isEmpty else { return }
        let backoff = configuration.retryBackoff
        let policy = configuration.autoOffsetReset
        var refresh = false
        for (leader, validations) in Dictionary(grouping: pending, by: \.leader).sorted(by: { $0.key < $1.key }) {
            let request = OffsetForLeaderEpochRequest(
                topics: OffsetForLeaderEpochRequest.Topic.grouped(
                    validations.map {
                        (
                            topic: $0.tp.topic,
                            partition: OffsetForLeaderEpochRequest.Partition(
                                partition: $0.tp.partition, currentLeaderEpoch: $0.currentLeaderEpoch,
                                leaderEpoch: $0.lastFetchedEpoch)
                        )
                    }))
            let response: OffsetForLeaderEpochResponse
            do {
                response = try await client.send(request, to: leader)
            } catch {
                let failure = error as? TernError ?? TernError(.connectionFailed, "\(error)")
                client.logger.debug(
                    "cannot validate consumer positions", metadata: ["tern_peer": "\(leader)", "error": "\(failure)"])
                state.withLock { state in
                    for validation in validations {
                        if failure.isRetriable || failure.brokerError == nil {
                            state.validationFailed(validation, now: .now, backoff: backoff)
                        } else {
                            // A broker that cannot answer (no OffsetForLeaderEpoch): fetch on.
                            state.skipValidation(validation)
                        }
                    }
                }
                refresh = true
                continue
            }
            var answers: [TopicPartition: OffsetForLeaderEpochResponse.Partition] = [:]
            for topic in response.topics {
                for partition in topic.partitions {
                    answers[TopicPartition(topic: topic.name, partition: partition.partition)] = partition
                }
            }
            let (effects, wake) = state.withLock { state -> ([ConsumerState.FetchEffects], Bool) in
                let effects = validations.map {
                    state.validated($0, answers[$0.tp], policy: policy, now: .now, backoff: backoff)
                }
                return (effects, state.hasSomethingForPoll)
            }
            for effect in effects {
                if let truncation = effect.truncation { report(truncation) }
                refresh = refresh || effect.refreshMetadata
            }
            if wake { wakeRecordWaiters() }
        }
        if refresh { _ = try? await client.metadata.refresh() }
    }

    /// Says that a partition's log was truncated below this consumer's position: a warning in the
    /// client's log and ``ConsumerConfiguration/onLogTruncation``.
    func report(_ truncation: LogTruncation) {
        client.logger.warning(
            "consumer position truncated after a leader change",
            metadata: [
                "tern_topic": "\(truncation.topicPartition.topic)",
                "tern_partition": "\(truncation.topicPartition.partition)",
                "detail": "\(truncation)",
            ])
        configuration.onLogTruncation?(truncation)
    }
}
