import TernRaft
import TernStorage

extension PartitionReplica {
    // MARK: Produce

    mutating func produce(
        id: UInt64, count: Int32, acks: ProduceAcks, clientEpoch: Int32?, _ effects: inout [ReplicationEffect]
    ) {
        guard role == .leader, let p = partition, count > 0 else {
            effects.append(.produceFailed(id: id, .notLeader))
            return
        }
        if let e = clientEpoch, e != p.leaderEpoch {
            effects.append(.produceFailed(id: id, e < p.leaderEpoch ? .fencedLeaderEpoch : .unknownLeaderEpoch))
            return
        }
        if acks == .all && p.isr.count < config.minInSyncReplicas {
            effects.append(.produceFailed(id: id, .notEnoughReplicas))
            return
        }
        let base = logEnd
        logEnd += Int64(count)
        effects.append(.append(produceId: id, baseOffset: base, recordCount: count, leaderEpoch: p.leaderEpoch))
        switch acks {
        case .leader: effects.append(.produceCompleted(id: id, baseOffset: base))
        case .all: waiting.append(WaitingProduce(id: id, baseOffset: base, lastOffset: logEnd - 1))
        }
    }

    // MARK: Follower fetches

    mutating func answerFetch(from replica: Int32, _ f: ReplicaFetch, now: Tick, _ effects: inout [ReplicationEffect]) {
        func reply(_ body: ReplicaFetchReply.Body) {
            effects.append(
                .answerFetch(
                    to: replica,
                    ReplicaFetchReply(
                        leaderEpoch: leaderEpoch, highWatermark: highWatermark, incarnation: f.incarnation,
                        sequence: f.sequence, body: body)))
        }
        guard role == .leader, let p = partition, p.replicas.contains(replica), replica != config.replicaId else {
            return reply(.refused(.notLeader))
        }
        if f.leaderEpoch != p.leaderEpoch {
            return reply(.refused(f.leaderEpoch < p.leaderEpoch ? .fencedLeaderEpoch : .unknownLeaderEpoch))
        }
        // The follower's log matches this one below fetchOffset only if its last epoch ends
        // here no earlier than its log does; otherwise name where it diverges.
        if let d = history.divergingEpoch(
            lastFetchedEpoch: f.lastFetchedEpoch, fetchOffset: f.fetchOffset, logEndOffset: logEnd)
        {
            return reply(.diverging(epoch: d.epoch, endOffset: min(d.endOffset, f.fetchOffset)))
        }
        // A follower holding records but no epoch cannot be matched: nothing after the start
        // of this log's history is known to be shared.
        if f.lastFetchedEpoch < 0, f.fetchOffset > 0, let first = history.entries.first,
            first.startOffset < f.fetchOffset
        {
            return reply(.diverging(epoch: -1, endOffset: first.startOffset))
        }
        guard f.fetchOffset <= logEnd else {
            return reply(.diverging(epoch: history.latestEpoch ?? -1, endOffset: logEnd))
        }
        var progress = followers[replica] ?? FollowerProgress(lastCaughtUpMs: now)
        progress.durable = max(progress.durable, min(f.durableOffset, f.fetchOffset))
        if f.fetchOffset >= logEnd {
            progress.lastCaughtUpMs = now
        } else if progress.lastFetchMs >= 0 && f.fetchOffset >= progress.logEndAtLastFetch {
            progress.lastCaughtUpMs = max(progress.lastCaughtUpMs, progress.lastFetchMs)
        }
        progress.lastFetchMs = now
        progress.logEndAtLastFetch = logEnd
        progress.fetchOffset = f.fetchOffset
        followers[replica] = progress
        advanceHighWatermark(&effects)
        reply(.records(from: f.fetchOffset, to: logEnd, batchEpochs: epochs(from: f.fetchOffset)))
        maybeProposeIsr(now: now, adding: replica, &effects)
    }

    /// The epochs of the records from `offset` to the log end, each with its first offset in
    /// that range.
    func epochs(from offset: Int64) -> [EpochEntry] {
        guard offset < logEnd else { return [] }
        var out: [EpochEntry] = []
        for e in history.entries.reversed() {
            if e.startOffset >= logEnd { continue }
            out.append(.init(epoch: e.epoch, startOffset: max(e.startOffset, offset)))
            if e.startOffset <= offset { break }
        }
        return out.reversed()
    }

    // MARK: High watermark

    /// Recomputes the high watermark as the minimum durable offset over the high-watermark set
    /// (own fsynced offset included); completes the `acks=all` produces it passes.
    mutating func advanceHighWatermark(_ effects: inout [ReplicationEffect]) {
        guard role == .leader else { return }
        let members = highWatermarkSet
        var hw = durableEnd
        for r in members where r != config.replicaId {
            hw = min(hw, followers[r]?.durable ?? -1)
        }
        guard hw > highWatermark else { return }
        highWatermark = hw
        effects.append(.highWatermark(hw))
        // The batch is now durable on every member of the set: as many replicas as it has.
        let enough = members.count >= config.minInSyncReplicas
        var kept: [WaitingProduce] = []
        for w in waiting {
            if w.lastOffset < hw {
                effects.append(
                    enough
                        ? .produceCompleted(id: w.id, baseOffset: w.baseOffset)
                        : .produceFailed(id: w.id, .notEnoughReplicas))
            } else {
                kept.append(w)
            }
        }
        waiting = kept
    }

    // MARK: ISR changes

    /// Proposes dropping followers that lagged longer than `replica.lag.time.max.ms` and adding
    /// `adding` — the follower whose fetch is being answered, as Kafka expands the ISR only on a
    /// fetch — when its durable offset reached the high watermark and this leader's epoch start:
    /// a follower that stopped fetching is never added back on its old progress. One proposal
    /// at a time, retried while no newer committed state arrives.
    mutating func maybeProposeIsr(now: Tick, adding: Int32? = nil, _ effects: inout [ReplicationEffect]) {
        guard role == .leader, let p = partition else { return }
        if let pending = pendingProposal, now - pending.sentAt < config.isrRetryMs { return }
        var isr = p.isr
        for r in p.isr where r != config.replicaId {
            if let f = followers[r], now - f.lastCaughtUpMs > config.replicaLagTimeMaxMs { isr.removeAll { $0 == r } }
        }
        for r in p.replicas where !isr.contains(r) && r != config.replicaId && (r == adding || pendingAdds.contains(r)) {
            guard let f = followers[r], f.durable >= highWatermark, f.durable >= epochStartOffset,
                now - f.lastCaughtUpMs <= config.replicaLagTimeMaxMs
            else { continue }
            isr.append(r)
        }
        let ordered = p.replicas.filter { isr.contains($0) }
        guard ordered != p.isr else {
            pendingProposal = nil
            return
        }
        for r in ordered where !p.isr.contains(r) { pendingAdds.insert(r) }
        pendingProposal = (p.partitionEpoch, now, ordered)
        effects.append(.proposeIsr(leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: ordered))
    }
}
