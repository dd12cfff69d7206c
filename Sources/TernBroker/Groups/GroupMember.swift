import TernStorage

/// One member of a consumer group as the coordinator tracks it.
struct GroupMember: Sendable, Hashable {
    var memberId: String
    /// `group.instance.id` of a static member.
    var instanceId: String?
    var clientId: String
    var clientHost: String
    /// Incremented with every change of `assigned`.
    var memberEpoch: Int32
    /// The epoch before the last change: a heartbeat whose response was lost may still carry it.
    var previousEpoch: Int32
    var sessionTimeoutMs: Int32
    var rebalanceTimeoutMs: Int32
    var subscribedTopics: Set<String>
    /// What the member may consume now.
    var assigned: Set<TopicPartition>
    /// What the member last said it still owns (not persisted; restored as `assigned`).
    var owned: Set<TopicPartition>
    /// A static member that left with epoch -2: its partitions wait for it.
    var staticLeft: Bool
    /// Monotonic milliseconds of the last heartbeat (not persisted; a load restarts the timer).
    var lastHeartbeatMs: Int64
    /// When the member must have released partitions no longer assigned to it.
    var revocationDeadlineMs: Int64?

    /// Partitions this member holds: assigned or not yet released.
    var holding: Set<TopicPartition> { assigned.union(owned) }
}

/// A consumer group: members, the target assignment and committed offsets.
struct ConsumerGroup: Sendable {
    let groupId: String
    /// Bumped by every membership, subscription or partition-count change.
    var groupEpoch: Int32 = 0
    var members: [String: GroupMember] = [:]
    /// The target assignment, computed for `targetEpoch`.
    var target: [String: Set<TopicPartition>] = [:]
    var targetEpoch: Int32 = -1
    /// Partition counts of the subscribed topics when the target was computed.
    var partitionCounts: [String: Int32] = [:]
    var offsets: [TopicPartition: Int64] = [:]
    /// Ids of members fenced recently (their late heartbeats and commits get FENCED_MEMBER_EPOCH).
    var fenced: [String] = []

    init(groupId: String) { self.groupId = groupId }

    /// `Empty`, `Reconciling` or `Stable`.
    var state: String {
        if members.isEmpty { return "Empty" }
        let reconciled =
            targetEpoch == groupEpoch
            && members.values.allSatisfy {
                $0.assigned == (target[$0.memberId] ?? []) && $0.owned.isSubset(of: $0.assigned)
            }
        return reconciled ? "Stable" : "Reconciling"
    }

    mutating func remember(fenced memberId: String) {
        fenced.append(memberId)
        if fenced.count > 1000 { fenced.removeFirst(fenced.count - 1000) }
    }
}
