extension RaftNode {
    mutating func receive(from: RaftNodeId, _ message: RaftMessage, now: Tick) {
        guard from != config.id, from >= 0 else {
            refuse(from, "message from node \(from), which cannot be another node")
            return
        }
        if config.isObserver {
            // An observer only fetches: the only messages meant for it are fetch answers from voters.
            guard config.voters.contains(from) else {
                refuse(from, "message from node \(from), which is not a voter of \(config.voters)")
                return
            }
            switch message {
            case .fetchResponse, .fetchSnapshotResponse: break
            default:
                refuse(from, "observer \(config.id) does not vote or lead; refusing \(message.kindName)")
                return
            }
        } else if !config.voters.contains(from) {
            // Another observer: it may fetch the log, and nothing else.
            switch message {
            case .fetch, .fetchSnapshot: break
            default:
                refuse(
                    from,
                    "\(message.kindName) from node \(from), which is not another voter of \(config.voters) "
                        + "(an observer may only fetch)")
                return
            }
        }
        if let problem = message.malformation {
            refuse(from, "malformed: \(problem)")
            return
        }
        switch message {
        case .vote(let r): handleVote(from: from, r, now: now)
        case .voteResponse(let r): handleVoteResponse(from: from, r, now: now)
        case .beginQuorumEpoch(let e): handleBeginQuorumEpoch(from: from, epoch: e, now: now)
        case .beginQuorumEpochResponse(let e):
            if e > epoch { transition(epoch: e, leader: nil, now: now) }
        case .fetch(let r): handleFetch(from: from, r, now: now)
        case .fetchResponse(let r): handleFetchResponse(from: from, r, now: now)
        case .endQuorumEpoch(let r): handleEndQuorumEpoch(from: from, r, now: now)
        case .fetchSnapshot(let r): handleFetchSnapshot(from: from, r, now: now)
        case .fetchSnapshotResponse(let r): handleFetchSnapshotResponse(from: from, r, now: now)
        }
    }

    mutating func propose(_ payloads: [[UInt8]], now: Tick) {
        guard role == .leader else {
            effects.append(.proposalRejected(leaderHint: leaderId))
            return
        }
        guard !payloads.isEmpty else { return }
        let first = logEndOffset
        append(payloads.map { RaftEntry(epoch: epoch, data: $0) })
        effects.append(.proposed(epoch: epoch, firstOffset: first, count: payloads.count))
    }

    // MARK: Follower side

    /// Fetches from the leader with the *durable* log end: the leader counts it as persisted here.
    /// While a snapshot download runs it asks for the next chunk instead; while a fetched snapshot
    /// is being written it waits (its durable end is then below the log start).
    mutating func sendFetch(_ now: Tick) {
        if config.isObserver && role == .unattached {
            sendDiscoveryFetch(now)
            return
        }
        guard role == .follower, let leader = leaderId else { return }
        nextFetchAt = now + config.fetchIntervalMs
        if installingSnapshot { return }
        if let d = download, d.leader == leader, d.epoch == epoch {
            send(
                leader,
                .fetchSnapshot(
                    FetchSnapshotRequest(
                        epoch: epoch, snapshotId: d.id, position: Int64(d.data.count),
                        maxBytes: config.snapshotChunkBytes)))
            return
        }
        send(
            leader, .fetch(FetchRequest(epoch: epoch, fetchOffset: durableEnd, lastFetchedEpoch: durableLastEpoch)))
    }

    mutating func handleFetchResponse(from: RaftNodeId, _ r: FetchResponse, now: Tick) {
        if r.epoch < epoch {
            refuse(from, "fetch response from stale epoch \(r.epoch) < \(epoch)")
            return
        }
        if r.failure == nil && r.leaderId != from {
            refuse(
                from,
                "successful fetch response from node \(from) naming leader \(r.leaderId.map(String.init) ?? "none")")
            return
        }
        if let hint = r.leaderId, !config.voters.contains(hint) {
            refuse(from, "fetch response naming unknown leader \(hint)")
            return
        }
        if observerIgnoresLeaderlessEpoch(from: from, r.epoch, leader: r.leaderId, now: now) { return }
        if r.epoch == epoch, let hint = r.leaderId {
            if role == .leader && hint != config.id {
                refuse(from, "fetch response names \(hint) leader of epoch \(epoch), which this node leads")
                return
            }
            if let known = leaderId, known != hint {
                refuse(from, "fetch response names \(hint) leader of epoch \(epoch), whose leader is \(known)")
                return
            }
        }
        if r.epoch > epoch || (r.leaderId != nil && leaderId == nil && r.leaderId != config.id) {
            let hint = r.leaderId == config.id ? nil : r.leaderId
            transition(epoch: r.epoch, leader: hint, now: now)
        }
        if r.failure != nil {
            if r.epoch == epoch, role == .follower, leaderId == from, r.leaderId != from {
                // The node this one follows no longer leads the epoch (it resigned).
                transition(epoch: epoch, leader: nil, now: now)
            }
            return
        }
        guard role == .follower, leaderId == from else { return }
        lastLeaderContact = now
        resetElectionTimer(now)

        if let id = r.snapshotId {
            // Only for the request this node would send now; otherwise a late answer.
            if !installingSnapshot && r.fetchOffset == durableEnd && r.lastFetchedEpoch == durableLastEpoch {
                startDownload(id, from: from, now: now)
            }
            return
        }
        if let d = r.diverging {
            // Apply only if the log still ends its fetched prefix the way the request said;
            // otherwise the answer is about a log this node no longer has.
            let o = r.fetchOffset
            guard o <= logEndOffset, epoch(before: o) == r.lastFetchedEpoch else { return }
            // Never below the snapshot: its entries are committed.
            guard let own = endOffset(forEpoch: d.epoch) else {
                refuse(
                    from, "divergence at epoch \(d.epoch), below this node's \(snapshot.map(\.id.description) ?? "")")
                return
            }
            let target = min(d.endOffset, own.endOffset)
            guard target >= highWatermark else {
                refuse(from, "divergence at \(target) below the high watermark \(highWatermark)")
                return
            }
            truncate(to: target)
            sendFetch(now)
            return
        }
        let start = r.startOffset
        guard start >= logStartOffset, start <= logEndOffset, epoch(before: start) == r.prevEpoch else {
            return  // a late answer to a request about a log this node no longer has
        }
        var offset = start
        var toAppend: [RaftEntry] = []
        for e in r.entries {
            if toAppend.isEmpty && offset < logEndOffset {
                if log[Int(offset - logStartOffset)].epoch == e.epoch {
                    offset += 1
                    continue  // same offset and epoch: the same entry (one leader per epoch)
                }
                guard offset >= highWatermark else {
                    refuse(from, "entry at \(offset) conflicts below the high watermark \(highWatermark)")
                    return
                }
                truncate(to: offset)
            }
            toAppend.append(e)
        }
        append(toAppend)
        let verified = start + Int64(r.entries.count)
        let hw = min(r.highWatermark, verified)
        if hw > highWatermark {
            highWatermark = hw
            applyCommitted()
        }
        if r.entries.isEmpty { nextFetchAt = now + config.fetchIntervalMs }
    }

    // MARK: Leader side

    mutating func handleFetch(from: RaftNodeId, _ r: FetchRequest, now: Tick) {
        // Only a voter's epoch moves this one: an observer learns epochs from voters, and one
        // that is ahead of this node is told this node's epoch and asks elsewhere.
        if r.epoch > epoch && config.voters.contains(from) { transition(epoch: r.epoch, leader: nil, now: now) }
        guard role == .leader, r.epoch == epoch else {
            send(
                from,
                .fetchResponse(
                    FetchResponse(
                        epoch: epoch, leaderId: leaderId, failure: r.epoch < epoch ? .fencedEpoch : .notLeader,
                        fetchOffset: r.fetchOffset, lastFetchedEpoch: r.lastFetchedEpoch)))
            return
        }
        var p = fetchProgress(of: from)
        p.lastFetch = now
        // Below the log start, or diverging inside the snapshot: the follower needs the snapshot.
        // (Only a log with a snapshot starts above 0 or answers nil.)
        let check = r.fetchOffset > 0 ? endOffset(forEpoch: r.lastFetchedEpoch) : (0, 0)
        guard r.fetchOffset >= logStartOffset, let found = check else {
            recordFetchProgress(p, of: from)
            if let s = snapshot {
                send(
                    from,
                    .fetchResponse(
                        FetchResponse(
                            epoch: epoch, leaderId: config.id, fetchOffset: r.fetchOffset,
                            lastFetchedEpoch: r.lastFetchedEpoch, highWatermark: highWatermark, snapshotId: s.id)))
            }
            return
        }
        if r.fetchOffset > 0 {
            if found.epoch != r.lastFetchedEpoch || found.endOffset < r.fetchOffset {
                recordFetchProgress(p, of: from)
                send(
                    from,
                    .fetchResponse(
                        FetchResponse(
                            epoch: epoch, leaderId: config.id, fetchOffset: r.fetchOffset,
                            lastFetchedEpoch: r.lastFetchedEpoch,
                            diverging: .init(epoch: found.epoch, endOffset: found.endOffset),
                            highWatermark: highWatermark)))
                return
            }
        }
        p.matchOffset = max(p.matchOffset, r.fetchOffset)
        recordFetchProgress(p, of: from)
        let start = Int(r.fetchOffset - logStartOffset)
        let end = min(log.count, start + config.maxFetchEntries)
        send(
            from,
            .fetchResponse(
                FetchResponse(
                    epoch: epoch, leaderId: config.id, fetchOffset: r.fetchOffset, lastFetchedEpoch: r.lastFetchedEpoch,
                    startOffset: r.fetchOffset, prevEpoch: epoch(before: r.fetchOffset) ?? 0,
                    entries: Array(log[start..<end]), highWatermark: highWatermark)))
        advanceHighWatermark()
    }

    /// The largest offset a majority has durably, if it reaches an entry of this epoch.
    mutating func advanceHighWatermark() {
        guard role == .leader else { return }
        var offsets = [durableEnd]
        for id in others { offsets.append(progress[id]?.matchOffset ?? 0) }
        offsets.sort(by: >)
        let candidate = offsets[config.majority - 1]
        if candidate > highWatermark && candidate > epochStartOffset {
            highWatermark = candidate
            applyCommitted()
        }
    }
}
