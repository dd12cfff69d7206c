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
