/// A change of the partitions a group consumer reads, reported to the `onRebalance` callback of
/// ``TernConsumer/subscribe(topics:onRebalance:)``. The consumer waits for the callback before it
/// goes on, so the application can commit or flush state there.
public enum RebalanceEvent: Sendable, Hashable {
    /// The group gave these partitions to this consumer; reading starts at the group's committed
    /// offset, or at ``ConsumerConfiguration/autoOffsetReset`` where it has none.
    case assigned([TopicPartition])
    /// These partitions go to another member. No more of their records are returned; commit what
    /// was processed now (``TernConsumer/commitSync(_:)`` still includes them) — with
    /// ``ConsumerConfiguration/enableAutoCommit`` the consumer commits their positions right after
    /// the callback. They are released to the coordinator after that.
    case revoked([TopicPartition])
    /// The consumer was fenced (its session expired): these partitions already belong to others
    /// and can no longer be committed.
    case lost([TopicPartition])
}

/// A group consumer's membership, behind the consumer's lock.
struct GroupMembership: Sendable {
    var topics: [String] = []
    var memberId = ""
    /// 0 until the coordinator accepted the member.
    var memberEpoch: Int32 = 0
    var coordinator: Int32?
    /// Partitions received and not yet released.
    var owned: Set<TopicPartition> = []
    /// Positions of partitions being revoked, for commits made while the callback runs.
    var releasing: [TopicPartition: Int64] = [:]
    var heartbeatInterval: Duration = .seconds(3)
    /// The offsets last committed, so automatic commits skip partitions that did not move.
    var committed: [TopicPartition: Int64] = [:]
    var listener: (@Sendable (RebalanceEvent) async -> Void)?
    var subscribed = false
}
