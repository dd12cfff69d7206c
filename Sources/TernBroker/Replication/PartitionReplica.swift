import TernRaft
import TernStorage

/// One replica of one partition — leader or follower — as an I/O-free state machine
/// (DESIGN.md section 6): ``step(_:now:)`` takes a ``ReplicationInput`` and returns the
/// ``ReplicationEffect``s its host performs in order. No clock, file, socket or random source
/// inside; the host owns the log bytes and tells the machine what is durable.
///
/// The leader tracks every follower's *durable* offset and last caught-up time; its high
/// watermark is the minimum durable offset over the in-sync set and its own fsynced offset, and
/// never goes back. ISR changes are proposals to the controller carrying the partition epoch;
/// the leader applies them only when the controller's committed state comes back, and until
/// then counts the larger of the old and proposed sets (so a follower being added is already
/// held to the high watermark). A follower fetches with its last fetched epoch and truncates a
/// divergent suffix before it appends; it reports only what it has fsynced.
public struct PartitionReplica: Sendable {
    /// Settings of one replica.
    public struct Config: Hashable, Sendable {
        public var replicaId: Int32
        /// `min.insync.replicas`.
        public var minInSyncReplicas: Int
        /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
        public var replicaLagTimeMaxMs: Int64
        /// Wait before fetching again after an empty or refused reply.
        public var fetchBackoffMs: Int64
        /// A fetch with no reply for this long is sent again.
        public var fetchTimeoutMs: Int64
        /// An ISR proposal with no committed state back for this long is proposed again.
        public var isrRetryMs: Int64

        public init(
            replicaId: Int32, minInSyncReplicas: Int, replicaLagTimeMaxMs: Int64 = 30_000, fetchBackoffMs: Int64 = 50,
            fetchTimeoutMs: Int64 = 1_000, isrRetryMs: Int64 = 500
        ) {
            self.replicaId = replicaId
            self.minInSyncReplicas = minInSyncReplicas
            self.replicaLagTimeMaxMs = replicaLagTimeMaxMs
            self.fetchBackoffMs = fetchBackoffMs
            self.fetchTimeoutMs = fetchTimeoutMs
            self.isrRetryMs = isrRetryMs
        }
    }

    /// What this replica does for the partition.
    public enum Role: Hashable, Sendable {
        /// No committed state yet, or the partition has no leader.
        case idle
        case leader
        case follower(leader: Int32)
    }

    /// The leader's view of one follower.
    struct FollowerProgress: Hashable, Sendable {
        /// Durable offset last reported in a fetch that matched the leader's log; -1: none yet
        /// in this leader epoch.
        var durable: Int64 = -1
        var lastCaughtUpMs: Tick
        var lastFetchMs: Tick = -1
        var logEndAtLastFetch: Int64 = -1
        /// Where the last fetch that matched the leader's log started (the follower's log end);
        /// -1: none yet in this leader epoch. Only reported (``followerLag(now:)``).
        var fetchOffset: Int64 = -1
    }

    /// A produce waiting for the high watermark (`acks=all`).
    struct WaitingProduce: Hashable, Sendable {
        var id: UInt64
        var baseOffset: Int64
        var lastOffset: Int64
    }

    public let config: Config
    /// Identifies this process's run of the replica (the host passes a new one per restart).
    public let incarnation: UInt64
    public internal(set) var role: Role = .idle
    /// The newest partition state the controller committed that this replica has seen.
    public internal(set) var partition: MetadataImage.Partition?
    public internal(set) var logEnd: Int64
    public internal(set) var durableEnd: Int64
    public internal(set) var highWatermark: Int64
    /// The log's leader-epoch table (the storage's own type, so the machine and the log agree).
    public internal(set) var history: LeaderEpochCache

    // Leader state.
    /// Log end when this replica became leader: consumers see the high watermark only once it
    /// reaches it, so the high watermark a consumer sees never goes back across a failover.
    public internal(set) var epochStartOffset: Int64 = 0
    var followers: [Int32: FollowerProgress] = [:]
    /// Replicas proposed for the ISR since the last committed state: counted for the high
    /// watermark until the controller's answer (any newer partition state) arrives.
    var pendingAdds: Set<Int32> = []
    /// Partition epoch the outstanding proposal was made from, and when it was sent.
    var pendingProposal: (fromEpoch: Int32, sentAt: Tick, isr: [Int32])?
    var waiting: [WaitingProduce] = []

    // Follower state.
    var fetchSequence: UInt64 = 0
    var inFlight: (sequence: UInt64, sentAt: Tick)?
    var nextFetchAt: Tick = 0

    /// A replica over a log that ends at `logEnd` and is fsynced up to `durableEnd`, with its
    /// epoch history. The host passes the log's flushed offset, never its end: the page cache
    /// survives a process crash but not a power loss, so what it holds beyond the last fsync is
    /// not durable until a flush says so (``ReplicationInput/persisted(upTo:)``).
    public init(
        config: Config, incarnation: UInt64, logEnd: Int64, durableEnd: Int64, history: LeaderEpochCache,
        highWatermark: Int64 = 0
    ) {
        self.config = config
        self.incarnation = incarnation
        self.logEnd = logEnd
        self.durableEnd = max(min(durableEnd, logEnd), 0)
        self.history = history
        self.highWatermark = min(highWatermark, logEnd)
    }

    /// The replicas whose durable offsets bound the high watermark: the committed ISR plus
    /// every replica proposed for it since.
    public var highWatermarkSet: [Int32] {
        guard let p = partition else { return [] }
        return p.replicas.filter { p.isr.contains($0) || pendingAdds.contains($0) }
    }

    /// The leader epoch of the committed state, or -1.
    public var leaderEpoch: Int32 { partition?.leaderEpoch ?? -1 }

    /// What a consumer may read: the leader's epoch and high watermark, once the high watermark
    /// reached this leader's epoch start (before that it may be below one an earlier leader
    /// showed). Refused when not the leader or the client's epoch differs.
    public func consumerView(clientLeaderEpoch: Int32?) -> Result<
        (leaderEpoch: Int32, highWatermark: Int64), ReplicationRefusal
    > {
        guard role == .leader, let p = partition, highWatermark >= epochStartOffset else { return .failure(.notLeader) }
        if let e = clientLeaderEpoch, e != p.leaderEpoch {
            return .failure(e < p.leaderEpoch ? .fencedLeaderEpoch : .unknownLeaderEpoch)
        }
        return .success((p.leaderEpoch, highWatermark))
    }

    /// Steps the machine with `input` at `now`; returns the effects to perform in order.
    public mutating func step(_ input: ReplicationInput, now: Tick) -> [ReplicationEffect] {
        var effects: [ReplicationEffect] = []
        switch input {
        case .partitionState(let p):
            applyPartitionState(p, now: now, &effects)
        case .tick:
            if role == .leader { maybeProposeIsr(now: now, &effects) }
            maybeFetch(now: now, &effects)
        case .persisted(let upTo):
            durableEnd = max(durableEnd, min(upTo, logEnd))
            if role == .leader { advanceHighWatermark(&effects) }
        case .isrProposalRefused(let fromEpoch):
            if role == .leader, let pending = pendingProposal, pending.fromEpoch == fromEpoch {
                pendingAdds = []
                advanceHighWatermark(&effects)
            }
        case .logStartAdvanced(let start):
            history.truncateFromStart(startOffset: min(start, logEnd))
        case .appended(let end):
            if role == .leader { logEnd = max(logEnd, end) }
        case .produce(let id, let count, let acks, let clientEpoch):
            produce(id: id, count: count, acks: acks, clientEpoch: clientEpoch, &effects)
        case .fetch(let from, let request):
            answerFetch(from: from, request, now: now, &effects)
        case .fetchReply(let from, let reply):
            handleFetchReply(from: from, reply, now: now, &effects)
        }
        return effects
    }

    // MARK: Committed state

    mutating func applyPartitionState(_ p: MetadataImage.Partition, now: Tick, _ effects: inout [ReplicationEffect]) {
        if let old = partition, (p.leaderEpoch, p.partitionEpoch) <= (old.leaderEpoch, old.partitionEpoch) { return }
        let old = partition
        partition = p
        // Any proposal made from an older partition epoch can no longer commit.
        pendingAdds = []
        pendingProposal = nil
        let me = config.replicaId
        if p.leader == me {
            if role != .leader || old?.leaderEpoch != p.leaderEpoch {
                becomeLeader(p, now: now)
            }
            advanceHighWatermark(&effects)
            maybeProposeIsr(now: now, &effects)
        } else {
            failWaiting(.notLeader, &effects)
            if p.leader < 0 || !p.replicas.contains(me) {
                role = .idle
            } else if role != .follower(leader: p.leader) || old?.leaderEpoch != p.leaderEpoch {
                becomeFollower(of: p.leader, now: now)
                maybeFetch(now: now, &effects)
            }
        }
    }

    mutating func becomeLeader(_ p: MetadataImage.Partition, now: Tick) {
        role = .leader
        epochStartOffset = logEnd
        history.assign(epoch: p.leaderEpoch, startOffset: logEnd)
        highWatermark = min(highWatermark, logEnd)
        followers = [:]
        for r in p.replicas where r != config.replicaId {
            // ISR members get a full lag period to show up, as Kafka's leader does.
            followers[r] = FollowerProgress(lastCaughtUpMs: now)
        }
        waiting = []
        inFlight = nil
    }

    mutating func becomeFollower(of leader: Int32, now: Tick) {
        role = .follower(leader: leader)
        // An epoch this replica led without writing holds no record: forget it so the last
        // fetched epoch is the epoch of the last record.
        history.truncateFromEnd(endOffset: logEnd)
        followers = [:]
        waiting = []
        inFlight = nil
        nextFetchAt = now
    }

    mutating func failWaiting(_ refusal: ReplicationRefusal, _ effects: inout [ReplicationEffect]) {
        for w in waiting { effects.append(.produceFailed(id: w.id, refusal)) }
        waiting = []
    }
}
