import TernWire

/// KIP-320 on the consumer side: after its partition's leader epoch changed, a consumer checks its
/// position with the new leader (OffsetForLeaderEpoch on the epoch of the last batch it fetched);
/// a Fetch that names that epoch (`lastFetchedEpoch`) gets the same answer as a diverging epoch.
/// A position past where that epoch ends in the leader's log was truncated away: the consumer
/// says so (``LogTruncation``) and resumes at the diverging offset, instead of waiting for an
/// offset that may be reused by other records (re-reading) or jumping elsewhere (skipping).
extension ConsumerState {
    /// A leader's answer: where an epoch ends in its log.
    struct EpochEnd: Sendable, Hashable {
        var epoch: Int32
        var endOffset: Int64
    }

    /// A partition stopped by a truncation with `autoOffsetReset` `.none` waits this long (until
    /// the application seeks, which clears it).
    private static let stopped = Duration.seconds(365 * 86_400)

    /// The leader says the records fetched before `fetchPosition` diverge from its log at `end`.
    /// Below the position: truncated (resume at `end.endOffset`, or the position `poll` reached
    /// when that is lower, dropping what was buffered; with reset `.none`, stop with an error).
    /// At or past it: what was fetched is in the leader's log, so fetching goes on, naming the
    /// leader's epoch as the last fetched one.
    /// - Returns: the truncation to report, if any.
    mutating func diverged(
        _ tp: TopicPartition, at end: EpochEnd, currentLeaderEpoch: Int32, policy: ConsumerConfiguration.OffsetReset,
        now: ContinuousClock.Instant, backoff: Duration
    ) -> LogTruncation? {
        guard let state = partitions[tp], let fetchPosition = state.fetchPosition else { return nil }
        if end.endOffset >= fetchPosition {
            partitions[tp]?.lastFetchedEpoch = end.epoch
            if currentLeaderEpoch >= 0 { partitions[tp]?.leaderEpoch = currentLeaderEpoch }
            partitions[tp]?.retryAt = nil
            return nil
        }
        let position = state.position ?? fetchPosition
        let resume = max(min(position, end.endOffset), 0)
        var truncation = LogTruncation(
            topicPartition: tp, divergingOffset: end.endOffset, divergingEpoch: end.epoch,
            lastFetchedEpoch: state.lastFetchedEpoch, fetchPosition: fetchPosition, position: position)
        if policy == .none {
            error = TernError(.logTruncated, truncation.description)
            partitions[tp]?.retryAt = now + Self.stopped
            return truncation
        }
        truncation.resumeOffset = resume
        replace(
            tp,
            with: PartitionState(
                fetchPosition: resume, position: resume, epoch: 0, reset: nil,
                lastFetchedEpoch: resume == end.endOffset ? end.epoch : -1, leaderEpoch: currentLeaderEpoch))
        return truncation
    }

    /// Applies the new leader's answer to a position validation: validated, truncated (see
    /// ``diverged(_:at:currentLeaderEpoch:policy:now:backoff:)``), or — the leader knows no epoch
    /// at or below the one fetched — reset by `policy`. An error answer (leadership moved again,
    /// the leader has not caught up) backs off and asks for fresh metadata. Ignored when the
    /// partition moved meanwhile.
    mutating func validated(
        _ validation: Validation, _ answer: OffsetForLeaderEpochResponse.Partition?,
        policy: ConsumerConfiguration.OffsetReset, now: ContinuousClock.Instant, backoff: Duration
    ) -> FetchEffects {
        var effects = FetchEffects()
        guard let state = partitions[validation.tp], state.epoch == validation.epoch,
            state.fetchPosition == validation.offset
        else { return effects }
        guard let answer, answer.errorCode == .none else {
            partitions[validation.tp]?.retryAt = now + backoff
            effects.refreshMetadata = true
            return effects
        }
        guard answer.leaderEpoch >= 0, answer.endOffset >= 0 else {
            let truncation = LogTruncation(
                topicPartition: validation.tp, divergingOffset: nil, divergingEpoch: nil,
                lastFetchedEpoch: state.lastFetchedEpoch, fetchPosition: validation.offset,
                position: state.position ?? validation.offset)
            effects.truncation = truncation
            if policy == .none {
                error = TernError(.logTruncated, truncation.description)
                partitions[validation.tp]?.retryAt = now + Self.stopped
            } else {
                _ = seek(validation.tp, to: policy == .earliest ? .earliest : .latest)
                effects.resetsAdded = true
            }
            return effects
        }
        effects.truncation = diverged(
            validation.tp, at: EpochEnd(epoch: answer.leaderEpoch, endOffset: answer.endOffset),
            currentLeaderEpoch: validation.currentLeaderEpoch, policy: policy, now: now, backoff: backoff)
        return effects
    }

    /// The partition could not be validated (the request failed): back off and retry.
    mutating func validationFailed(_ validation: Validation, now: ContinuousClock.Instant, backoff: Duration) {
        guard let state = partitions[validation.tp], state.epoch == validation.epoch else { return }
        partitions[validation.tp]?.retryAt = now + backoff
    }

    /// The leader cannot validate positions at all (an old broker without OffsetForLeaderEpoch):
    /// the position is taken as it is, as before KIP-320.
    mutating func skipValidation(_ validation: Validation) {
        guard let state = partitions[validation.tp], state.epoch == validation.epoch else { return }
        partitions[validation.tp]?.leaderEpoch = validation.currentLeaderEpoch
    }
}
