extension RaftNode {
    /// Starts a pre-vote round for `epoch + 1` without touching the epoch.
    mutating func startPreVote(_ now: Tick) {
        precondition(!config.isObserver, "observer \(config.id) never campaigns")
        let changed = role != .prospective
        role = .prospective
        leaderId = nil
        grants = []
        progress = [:]
        download = nil
        resetElectionTimer(now)
        if changed { effects.append(.roleChanged(.prospective, epoch: epoch, leader: nil)) }
        let request = VoteRequest(epoch: epoch + 1, lastEpoch: lastEpoch, endOffset: logEndOffset, preVote: true)
        for id in others { send(id, .vote(request)) }
        if 1 >= config.majority { becomeCandidate(now) }
    }

    /// Bumps the epoch and votes for itself; the vote requests leave once that is durable.
    mutating func becomeCandidate(_ now: Tick) {
        setEpoch(epoch + 1, votedFor: config.id)
        role = .candidate
        leaderId = nil
        grants = []
        resetElectionTimer(now)
        effects.append(.roleChanged(.candidate, epoch: epoch, leader: nil))
        let request = VoteRequest(epoch: epoch, lastEpoch: lastEpoch, endOffset: logEndOffset, preVote: false)
        for id in others { sendAfterPersist(id, .vote(request)) }
    }

    /// True when this node's vote for itself in the current epoch is on disk.
    var ownVoteIsDurable: Bool { durableEpoch == epoch && durableVote == config.id }

    /// A candidate wins with a majority that counts its own vote only once that vote is durable.
    mutating func checkElectionWon(_ now: Tick) {
        guard role == .candidate else { return }
        let selfVote = ownVoteIsDurable ? 1 : 0
        if grants.count + selfVote >= config.majority { becomeLeader(now) }
    }

    mutating func becomeLeader(_ now: Tick) {
        role = .leader
        leaderId = config.id
        grants = []
        progress = [:]
        observers = [:]
        for id in others { progress[id] = Progress() }
        leaderSince = now
        nextFetchAt = now + config.fetchIntervalMs
        epochStartOffset = logEndOffset
        effects.append(.roleChanged(.leader, epoch: epoch, leader: config.id))
        // The control entry of the new epoch: the high watermark can only reach an entry of the
        // current epoch, so without it nothing older could commit until a client proposes.
        append([RaftEntry(epoch: epoch, data: [])])
        for id in others { send(id, .beginQuorumEpoch(epoch: epoch)) }
    }

    mutating func handleVote(from: RaftNodeId, _ r: VoteRequest, now: Tick) {
        let upToDate = isUpToDate(lastEpoch: r.lastEpoch, endOffset: r.endOffset)
        if r.preVote {
            // Refused while a leader is alive as far as this node knows: that is what keeps a
            // node back from a partition from unseating a healthy leader.
            let leaderAlive =
                role == .leader
                || (role == .follower && lastLeaderContact.map { now - $0 < config.electionTimeoutMs } == true)
            let granted = r.epoch > epoch && upToDate && !leaderAlive
            send(
                from,
                .voteResponse(
                    VoteResponse(
                        epoch: epoch, candidateEpoch: r.epoch, granted: granted, preVote: true, leaderId: leaderId)))
            return
        }
        if r.epoch < epoch {
            send(
                from,
                .voteResponse(
                    VoteResponse(
                        epoch: epoch, candidateEpoch: r.epoch, granted: false, preVote: false, leaderId: leaderId)))
            return
        }
        if r.epoch > epoch { transition(epoch: r.epoch, leader: nil, now: now) }
        var granted = false
        if role == .leader || role == .follower || role == .candidate {
            granted = false
        } else if votedFor == from {
            granted = true
        } else if votedFor == nil && upToDate {
            setEpoch(epoch, votedFor: from)
            resetElectionTimer(now)
            granted = true
        }
        let response = RaftMessage.voteResponse(
            VoteResponse(epoch: epoch, candidateEpoch: r.epoch, granted: granted, preVote: false, leaderId: leaderId))
        if granted { sendAfterPersist(from, response) } else { send(from, response) }
    }

    mutating func handleVoteResponse(from: RaftNodeId, _ r: VoteResponse, now: Tick) {
        // Only the leader's own word counts: another voter's idea of the leader may be stale.
        let hint = r.leaderId == from ? from : nil
        if r.epoch > epoch {
            transition(epoch: r.epoch, leader: hint, now: now, contact: hint != nil)
            return
        }
        if r.epoch == epoch, let hint, leaderId == nil, role != .leader {
            // A leader of this epoch is alive: follow it rather than campaign.
            transition(epoch: epoch, leader: hint, now: now, contact: true)
            return
        }
        guard r.granted else { return }
        if r.preVote {
            guard role == .prospective, r.candidateEpoch == epoch + 1 else { return }
            grants.insert(from)
            if grants.count + 1 >= config.majority { becomeCandidate(now) }
        } else {
            guard role == .candidate, r.candidateEpoch == epoch, r.epoch == epoch else { return }
            grants.insert(from)
            checkElectionWon(now)
        }
    }

    mutating func handleBeginQuorumEpoch(from: RaftNodeId, epoch e: Int64, now: Tick) {
        if e < epoch {
            refuse(from, "BeginQuorumEpoch for stale epoch \(e) < \(epoch)")
            send(from, .beginQuorumEpochResponse(epoch: epoch))
            return
        }
        if e == epoch {
            if role == .leader || (leaderId != nil && leaderId != from) {
                refuse(from, "BeginQuorumEpoch for epoch \(e), whose leader is \(leaderId.map(String.init) ?? "?")")
                return
            }
            if leaderId == from {
                lastLeaderContact = now
                resetElectionTimer(now)
                return
            }
        }
        transition(epoch: e, leader: from, now: now, contact: true)
    }
}
