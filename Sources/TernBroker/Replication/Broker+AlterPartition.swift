import CoreMetrics
import TernWire

/// ISR changes this broker proposed as a partition leader and the controller committed.
enum IsrChangeMetrics {
    /// Committed changes that removed at least one replica from an ISR.
    static let shrinks = Counter(label: "tern_isr_shrinks_total")
    /// Committed changes that added at least one replica to an ISR.
    static let expands = Counter(label: "tern_isr_expands_total")

    /// What a committed change from `before` to `after` was: a shrink when it removed a replica
    /// from the ISR, an expand when it added one (both when it swapped one for another); neither
    /// when the partition epoch did not move (the ISR already was the requested one).
    static func kind(
        before: MetadataImage.Partition, after: MetadataImage.Partition
    ) -> (shrink: Bool, expand: Bool) {
        guard after.partitionEpoch != before.partitionEpoch else { return (false, false) }
        return (
            before.isr.contains { !after.isr.contains($0) },
            after.isr.contains { !before.isr.contains($0) }
        )
    }
}

extension Broker {
    /// Asks the active controller to change the ISR of a partition this broker leads
    /// (AlterPartition, docs/protocol.md §7.29), from `current` — the committed state the leader
    /// knows (its leader epoch, partition epoch and ISR) — to `newIsr`; any thread.
    ///
    /// `completion` (on a controller or channel thread) gets the committed state once the change
    /// is in the metadata log — `current` with the controller's leader, epochs and ISR; an ISR
    /// already equal to `newIsr` comes back unchanged — or the refusal as a ``ControllerError``:
    /// - `FENCED_LEADER_EPOCH`, `NOT_LEADER_OR_FOLLOWER`: this broker no longer leads at that
    ///   epoch; stop proposing and follow the metadata.
    /// - `INVALID_UPDATE_VERSION`: the ISR changed since `current`; wait for newer metadata and
    ///   decide again.
    /// - `INELIGIBLE_REPLICA`, `INVALID_REQUEST`, `UNKNOWN_TOPIC_OR_PARTITION`: the change cannot
    ///   be made.
    /// - `NOT_CONTROLLER`, `REQUEST_TIMED_OUT`, `STALE_BROKER_EPOCH`, `BROKER_ID_NOT_REGISTERED`:
    ///   no controller took it now (also when none answered, or this broker is not registered
    ///   yet); retry later with the state then known.
    ///
    /// A committed change counts in `tern_isr_shrinks_total` when it removed a replica from
    /// `current.isr` and in `tern_isr_expands_total` when it added one.
    public func alterPartition(
        topicId: MetadataUUID, from current: MetadataImage.Partition, newIsr: [Int32],
        completion: @escaping @Sendable (Result<MetadataImage.Partition, ControllerError>) -> Void
    ) {
        guard let lifecycle = cluster.lifecycle else {
            return completion(
                .failure(ControllerError(.notController, "node \(cluster.config.nodeId) is not a broker")))
        }
        let change = AlterPartitionRequest.Partition(
            topicId: topicId, partition: current.partition, leaderEpoch: current.leaderEpoch,
            partitionEpoch: current.partitionEpoch, newIsr: newIsr)
        lifecycle.alterPartition([change]) { result in
            let response: AlterPartitionResponse
            switch result {
            case .success(let answer): response = answer
            case .failure(let error):
                return completion(.failure(ControllerError(.notController, "no answer from the controller: \(error)")))
            }
            guard response.errorCode == .none else {
                return completion(.failure(ControllerError(response.errorCode, response.errorMessage ?? "")))
            }
            guard
                let answer = response.partitions.first(where: {
                    $0.topicId == topicId && $0.partition == current.partition
                })
            else {
                return completion(
                    .failure(
                        ControllerError(
                            .unknownServerError, "the controller's answer names no partition \(current.partition)")))
            }
            guard answer.errorCode == .none else {
                return completion(.failure(ControllerError(answer.errorCode, answer.errorMessage ?? "")))
            }
            var committed = current
            committed.leader = answer.leader
            committed.leaderEpoch = answer.leaderEpoch
            committed.partitionEpoch = answer.partitionEpoch
            committed.isr = answer.isr
            let kind = IsrChangeMetrics.kind(before: current, after: committed)
            if kind.shrink { IsrChangeMetrics.shrinks.increment() }
            if kind.expand { IsrChangeMetrics.expands.increment() }
            completion(.success(committed))
        }
    }
}
