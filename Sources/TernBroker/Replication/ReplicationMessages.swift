import TernStorage
import TernWire

/// Why a replica refuses a produce, a fetch or a read.
public enum ReplicationRefusal: Error, Hashable, Sendable {
    /// This replica does not lead the partition (or does not know it yet).
    case notLeader
    /// The request carries an older leader epoch than this leader's: the sender must refresh
    /// its metadata (KIP-320's `FENCED_LEADER_EPOCH`).
    case fencedLeaderEpoch
    /// The request carries a newer leader epoch than this replica knows: this replica is stale.
    case unknownLeaderEpoch
    /// `acks=all` while the in-sync set is smaller than `min.insync.replicas`.
    case notEnoughReplicas

    /// The protocol error code for the refusal, where the wire has one today.
    public var errorCode: ErrorCode {
        switch self {
        case .notLeader, .unknownLeaderEpoch, .fencedLeaderEpoch: .notLeaderOrFollower
        case .notEnoughReplicas: .notEnoughReplicas
        }
    }
}

/// A follower's fetch from the partition leader.
public struct ReplicaFetch: Hashable, Sendable {
    /// The leader epoch the follower believes current.
    public var leaderEpoch: Int32
    /// The follower's log end: where the leader reads from.
    public var fetchOffset: Int64
    /// Epoch of the follower's last record (-1 for an empty log), checked against the leader's
    /// history before anything is appended.
    public var lastFetchedEpoch: Int32
    /// What the follower has fsynced: the position the leader counts for the high watermark
    /// (Tern's promise; Kafka counts `fetchOffset`).
    public var durableOffset: Int64
    /// The follower process and request this answers to: a reply is applied only to the fetch
    /// it answers, so a duplicated or late reply cannot truncate or append twice.
    public var incarnation: UInt64
    public var sequence: UInt64

    public init(
        leaderEpoch: Int32, fetchOffset: Int64, lastFetchedEpoch: Int32, durableOffset: Int64, incarnation: UInt64,
        sequence: UInt64
    ) {
        self.leaderEpoch = leaderEpoch
        self.fetchOffset = fetchOffset
        self.lastFetchedEpoch = lastFetchedEpoch
        self.durableOffset = durableOffset
        self.incarnation = incarnation
        self.sequence = sequence
    }
}

/// The leader's answer to a ``ReplicaFetch``.
public struct ReplicaFetchReply: Hashable, Sendable {
    public enum Body: Hashable, Sendable {
        /// Records `[from, to)` follow (possibly none); the host reads them from the log and may
        /// send fewer (a size limit), fixing `to` and `batchEpochs` to what it sends.
        case records(from: Int64, to: Int64, batchEpochs: [EpochEntry])
        /// The follower's last fetched epoch ends at `endOffset` on the leader, in the leader's
        /// epoch `epoch` (the largest not above it): truncate before appending.
        case diverging(epoch: Int32, endOffset: Int64)
        /// OFFSET_OUT_OF_RANGE: the fetch offset is below the leader's log start `leaderLogStart`
        /// (retention deleted those records while the follower was away).
        case offsetOutOfRange(leaderLogStart: Int64)
        case refused(ReplicationRefusal)
    }

    public var leaderEpoch: Int32
    public var highWatermark: Int64
    public var incarnation: UInt64
    public var sequence: UInt64
    public var body: Body

    public init(leaderEpoch: Int32, highWatermark: Int64, incarnation: UInt64, sequence: UInt64, body: Body) {
        self.leaderEpoch = leaderEpoch
        self.highWatermark = highWatermark
        self.incarnation = incarnation
        self.sequence = sequence
        self.body = body
    }
}

/// How long a produce waits before it is answered.
public enum ProduceAcks: Hashable, Sendable {
    /// Answered once appended on the leader (not yet flushed, not yet replicated).
    case leader
    /// Answered once the high watermark passes the batch with the in-sync set at least
    /// `min.insync.replicas` large.
    case all
}

/// What drives a ``PartitionReplica``.
public enum ReplicationInput: Hashable, Sendable {
    /// The controller committed this state of the partition (leader, epochs, ISR).
    case partitionState(MetadataImage.Partition)
    /// A timer tick: fetch retries, ISR checks, proposal retries.
    case tick
    /// The host fsynced the log up to (not including) this offset.
    case persisted(upTo: Int64)
    /// A producer's batch of `recordCount` records; `leaderEpoch` is the client's current
    /// leader epoch when it sends one.
    case produce(id: UInt64, recordCount: Int32, acks: ProduceAcks, leaderEpoch: Int32?)
    /// Leader: the host appended to the log itself, up to (not including) `endOffset`, stamped
    /// with this leader's epoch (the broker's produce path validates batches, answers idempotent
    /// duplicates and checks conditions under the log's lock, so it appends and then says so;
    /// its `acks=all` produces wait on ``ReplicationEffect/highWatermark(_:)`` in the host).
    case appended(endOffset: Int64)
    /// Leader: the ISR proposal made from `partitionEpoch` will not commit (the controller refused
    /// it, or the host could not send it): the replicas it would add stop counting for the high
    /// watermark (a fenced follower's stale progress must not hold it back); it is proposed again
    /// after `isrRetryMs`.
    case isrProposalRefused(partitionEpoch: Int32)
    /// The log's start moved up to this offset (retention, DeleteRecords): the epoch history
    /// drops what lies below it, as the log's own does, so a follower that started over at the
    /// log start matches it.
    case logStartAdvanced(to: Int64)
    /// A follower's fetch arrived at this replica.
    case fetch(from: Int32, ReplicaFetch)
    /// The leader answered this replica's fetch.
    case fetchReply(from: Int32, ReplicaFetchReply)
}

/// What a ``PartitionReplica`` asks its host to do, in order.
public enum ReplicationEffect: Hashable, Sendable {
    /// Leader: append the produce's records at `baseOffset`, stamped with `leaderEpoch`.
    case append(produceId: UInt64, baseOffset: Int64, recordCount: Int32, leaderEpoch: Int32)
    /// Answer a produce: its batch starts at `baseOffset`.
    case produceCompleted(id: UInt64, baseOffset: Int64)
    case produceFailed(id: UInt64, ReplicationRefusal)
    /// Follower: send this fetch to the leader.
    case sendFetch(to: Int32, ReplicaFetch)
    /// Leader: answer a follower's fetch (reading the records a `.records` body names).
    case answerFetch(to: Int32, ReplicaFetchReply)
    /// Follower: drop the log from `offset` on (before anything else is appended).
    case truncate(to: Int64)
    /// Follower: drop the whole log and start it empty at `offset` (Kafka's
    /// `truncateFullyAndStartAt`), durably, before anything else is appended.
    case truncateFully(startAt: Int64)
    /// Follower: append the records of the reply just stepped, `[from, to)`.
    case appendFetched(from: Int64, to: Int64)
    /// Leader: ask the controller to change the ISR, from the partition state at
    /// `partitionEpoch` (refused by the controller when that is no longer current).
    case proposeIsr(leaderEpoch: Int32, partitionEpoch: Int32, isr: [Int32])
    /// The high watermark moved forward (fetch purgatory wakes, the checkpoint is due).
    case highWatermark(Int64)
}
