/// Observers (KIP-595): nodes outside the voter set that replicate the log without a say in it.
/// An observer fetches from the leader like a follower and applies what is committed, but it never
/// votes, never stands for election and never counts towards the high watermark. Voters do not
/// announce themselves to observers (no BeginQuorumEpoch or EndQuorumEpoch is sent to them): an
/// observer without a leader fetches from the voters in turn, and a voter that is not the leader
/// answers "not leader" naming the leader it knows.
extension RaftNode {
    /// An observer's timers: fetch from the leader at the fetch interval; after an election
    /// timeout without an answer from it, forget it and look for the leader again.
    mutating func observerTick(_ now: Tick) {
        if role == .follower && now >= electionDeadline {
            transition(epoch: epoch, leader: nil, now: now)  // also sends the first discovery fetch
        } else if now >= nextFetchAt {
            sendFetch(now)
        }
    }

    /// An observer without a leader fetches from the next voter: the leader answers with entries
    /// (and the observer follows it), another voter answers "not leader" with the leader it knows.
    mutating func sendDiscoveryFetch(_ now: Tick) {
        nextFetchAt = now + config.fetchIntervalMs
        if installingSnapshot { return }
        let target = config.voters[discoveryCursor % config.voters.count]
        discoveryCursor = (discoveryCursor + 1) % config.voters.count
        send(
            target, .fetch(FetchRequest(epoch: epoch, fetchOffset: durableEnd, lastFetchedEpoch: durableLastEpoch)))
    }

    /// An observer moves to a higher epoch only with its leader. A voter may answer from an epoch
    /// that has none — a candidacy, possibly not yet durable, that the quorum may forget (the
    /// candidate crashes, the others elect in a lower epoch): an observer that took that epoch
    /// would refuse every later answer of the real leader as stale, for ever (simulator seed
    /// 23349). Voters need no such care: they push their epoch onto each other. If the node it
    /// follows answers so, the observer looks for the leader again.
    /// - Returns: true when the answer was for that case and is done with.
    mutating func observerIgnoresLeaderlessEpoch(
        from: RaftNodeId, _ answerEpoch: Int64, leader: RaftNodeId?, now: Tick
    ) -> Bool {
        guard config.isObserver, answerEpoch > epoch, leader == nil else { return false }
        if role == .follower, leaderId == from { transition(epoch: epoch, leader: nil, now: now) }
        return true
    }

    /// The leader's record of who fetched: voters' progress counts for the high watermark,
    /// observers' only for the status.
    func fetchProgress(of id: RaftNodeId) -> Progress {
        (config.voters.contains(id) ? progress[id] : observers[id]) ?? Progress()
    }

    mutating func recordFetchProgress(_ p: Progress, of id: RaftNodeId) {
        if config.voters.contains(id) {
            progress[id] = p
        } else if observers[id] != nil || observers.count < Self.maxObservers {
            observers[id] = p
        }
    }

    mutating func forgetSilentObservers(_ now: Tick) {
        observers = observers.filter { _, p in p.lastFetch.map { now - $0 < Self.observerSessionMs } ?? false }
    }
}

extension RaftNode {
    /// Every observer that fetched from this leader lately, by id; empty when not leading.
    public var observerProgress: [RaftFollowerProgress] {
        guard role == .leader else { return [] }
        return observers.keys.sorted().map { id in
            RaftFollowerProgress(
                id: id, endOffset: observers[id]?.matchOffset ?? 0, lastFetch: observers[id]?.lastFetch)
        }
    }
}
