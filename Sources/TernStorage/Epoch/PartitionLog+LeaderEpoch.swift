import Logging
import Synchronization

/// The log's leader-epoch history (Kafka's `leader-epoch-checkpoint`, KIP-101/279/595).
///
/// Every batch carries the epoch of the leader that appended it (`partitionLeaderEpoch`, stamped
/// by ``append(_:batches:leaderEpoch:)``, copied as it is by ``appendAsFollower(_:)``). The log
/// keeps, under its lock, the first offset of each epoch, and writes that table to
/// `leader-epoch-checkpoint` in its directory crash-safely whenever an append starts a new epoch —
/// before that batch is written, so before it can be acknowledged durable — and whenever a
/// truncation or a move of the log start removes entries. Opening the log trims the file to the
/// log, or rebuilds it from the batches when it is missing, damaged or disagrees with the last
/// batch.
extension PartitionLog {
    /// The leader-epoch history, oldest first.
    public var leaderEpochs: [EpochEntry] { state.withLock { $0.epochs.entries } }

    /// The epoch of the newest entry (the epoch of the last batch appended), or nil when none is known.
    public var latestEpoch: Int32? { state.withLock { $0.epochs.latestEpoch } }

    /// OffsetsForLeaderEpoch: the largest epoch at or below `epoch` this log holds and the offset
    /// where it ends (the log end for the latest epoch). See ``LeaderEpochCache/endOffset(for:logEndOffset:)``.
    public func endOffset(for epoch: Int32) -> EpochEndOffset {
        state.withLock { $0.epochs.endOffset(for: epoch, logEndOffset: $0.logEndOffset) }
    }

    /// What a leader answers a follower fetching from `fetchOffset` whose last fetched batch has
    /// `lastFetchedEpoch`: nil when the follower's log agrees with this one, else the diverging
    /// epoch and its end offset (KIP-595). See ``LeaderEpochCache/divergingEpoch(lastFetchedEpoch:fetchOffset:logEndOffset:)``.
    public func divergingEpoch(lastFetchedEpoch: Int32, fetchOffset: Int64) -> EpochEndOffset? {
        state.withLock {
            $0.epochs.divergingEpoch(
                lastFetchedEpoch: lastFetchedEpoch, fetchOffset: fetchOffset, logEndOffset: $0.logEndOffset)
        }
    }

    /// Where this log (a follower's) truncates after its leader named `leader` as the diverging
    /// epoch. The caller truncates with ``truncate(to:)`` and, when the target is not
    /// `completed`, asks the leader again about its new latest epoch.
    public func truncationTarget(leader: EpochEndOffset, highWatermark: Int64) -> TruncationTarget {
        state.withLock {
            $0.epochs.truncationTarget(leader: leader, logEndOffset: $0.logEndOffset, highWatermark: highWatermark)
        }
    }

    /// Records that this log's replica became leader in `epoch`: the epoch starts at the log end
    /// (Kafka assigns it when a replica becomes leader, before anything is appended), so a
    /// follower that fetched from an older leader of a later epoch than this log's newest batch
    /// is still answered with the right diverging epoch. Appends in `epoch` then change nothing.
    /// - Throws: `invalidBatch` when `epoch` is below the latest; `closed`; `ioError` when the
    ///   checkpoint cannot be written.
    public func startLeaderEpoch(_ epoch: Int32) throws {
        try state.withLock { state in
            try checkUsable(state)
            if let latest = state.epochs.latestEpoch, epoch < latest {
                throw StorageError(
                    .invalidBatch, "\(topicPartition): leader epoch \(epoch) is older than the log's \(latest)")
            }
            try noteEpoch(&state, epoch, startOffset: state.logEndOffset)
        }
    }

    /// Notes that a batch of `epoch` is about to be appended at `startOffset`. The common case —
    /// the epoch is already the latest — is one comparison (no allocation, no system call); a new
    /// epoch writes the checkpoint (fsynced) before the batch is written.
    /// - Throws: `ioError` when the checkpoint cannot be written (nothing changes then).
    @inline(__always)
    func noteEpoch(_ state: inout State, _ epoch: Int32, startOffset: Int64) throws {
        if epoch < 0 || state.epochs.latestEpoch == epoch { return }
        try startEpoch(&state, epoch, startOffset: startOffset)
    }

    private func startEpoch(_ state: inout State, _ epoch: Int32, startOffset: Int64) throws {
        var epochs = state.epochs
        guard epochs.assign(epoch: epoch, startOffset: startOffset) else { return }
        try LeaderEpochCheckpoint.write(epochs.entries, directory: directory)
        state.epochs = epochs
        logger.info(
            "leader epoch \(epoch) starts at offset \(startOffset)",
            metadata: ["tern_offset": "\(startOffset)", "tern_leader_epoch": "\(epoch)"])
    }

    /// After a truncation to the log end: drops the entries at or past it (all of them when the
    /// log is now empty) and rewrites the checkpoint when they changed.
    func truncateEpochsFromEnd(_ state: inout State) throws {
        var changed = state.epochs.truncateFromEnd(endOffset: state.logEndOffset)
        if state.logEndOffset <= state.logStartOffset, !state.epochs.entries.isEmpty {
            state.epochs = LeaderEpochCache()
            changed = true
        }
        guard changed else { return }
        try LeaderEpochCheckpoint.write(state.epochs.entries, directory: directory)
    }

    /// After the log start moved (retention, DeleteRecords): drops the entries below it. A failed
    /// rewrite is only logged: a checkpoint reaching below the log start is trimmed when the log
    /// is opened, and the table in memory is right.
    func truncateEpochsFromStart(_ state: inout State) {
        guard state.epochs.truncateFromStart(startOffset: state.logStartOffset) else { return }
        do {
            try LeaderEpochCheckpoint.write(state.epochs.entries, directory: directory)
        } catch {
            logger.warning("cannot rewrite the leader-epoch checkpoint", metadata: ["error": "\(error)"])
        }
    }
}
