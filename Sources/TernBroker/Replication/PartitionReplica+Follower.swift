import TernRaft
import TernStorage

extension PartitionReplica {
    /// Sends the next fetch when none is outstanding (or the last one timed out) and the
    /// backoff has passed.
    mutating func maybeFetch(now: Tick, _ effects: inout [ReplicationEffect]) {
        guard case .follower(let leader) = role, let p = partition else { return }
        if let f = inFlight, now - f.sentAt < config.fetchTimeoutMs { return }
        guard now >= nextFetchAt else { return }
        fetchSequence += 1
        inFlight = (fetchSequence, now)
        effects.append(
            .sendFetch(
                to: leader,
                ReplicaFetch(
                    leaderEpoch: p.leaderEpoch, fetchOffset: logEnd, lastFetchedEpoch: history.latestEpoch ?? -1,
                    durableOffset: durableEnd, incarnation: incarnation, sequence: fetchSequence)))
    }

    mutating func handleFetchReply(
        from leader: Int32, _ r: ReplicaFetchReply, now: Tick, _ effects: inout [ReplicationEffect]
    ) {
        // Only the answer to the outstanding fetch, from the current leader in the current
        // epoch: a duplicated or late reply must not truncate or append a second time.
        guard role == .follower(leader: leader), r.leaderEpoch == leaderEpoch, r.incarnation == incarnation,
            let f = inFlight, f.sequence == r.sequence
        else { return }
        inFlight = nil
        switch r.body {
        case .records(let from, let to, let batchEpochs):
            guard from == logEnd, to >= from else {
                nextFetchAt = now
                break
            }
            if to > from {
                for e in batchEpochs { history.assign(epoch: e.epoch, startOffset: e.startOffset) }
                logEnd = to
                effects.append(.appendFetched(from: from, to: to))
                nextFetchAt = now
            } else {
                nextFetchAt = now + config.fetchBackoffMs
            }
            highWatermark = max(highWatermark, min(r.highWatermark, logEnd))
        case .diverging(let epoch, let endOffset):
            // Truncate to where both logs still agree (KIP-279): the smaller end of that epoch
            // when this log holds it; else the end of this log's largest epoch below it, and the
            // next fetch asks again (the machine always fetches again after a diverging answer).
            let point = history.truncationTarget(
                leader: EpochEndOffset(epoch: epoch, endOffset: endOffset), logEndOffset: logEnd,
                highWatermark: highWatermark
            ).offset
            if point < logEnd {
                logEnd = point
                durableEnd = min(durableEnd, point)
                highWatermark = min(highWatermark, point)
                history.truncateFromEnd(endOffset: point)
                effects.append(.truncate(to: point))
            }
            nextFetchAt = now
        case .offsetOutOfRange(let leaderStart):
            // The leader no longer holds the records this follower needs next (retention ran
            // while it was away). Only when its whole log lies below the leader's log start does
            // it start over there, empty: nothing it holds can be matched against the leader's
            // epochs any more. Otherwise the answer is not about a fetch below the log start:
            // it asks again after the backoff.
            if leaderStart > logEnd {
                logEnd = leaderStart
                durableEnd = leaderStart
                history = LeaderEpochCache()
                effects.append(.truncateFully(startAt: leaderStart))
                nextFetchAt = now
            } else {
                nextFetchAt = now + config.fetchBackoffMs
            }
        case .refused:
            nextFetchAt = now + config.fetchBackoffMs
        }
        maybeFetch(now: now, &effects)
    }
}
