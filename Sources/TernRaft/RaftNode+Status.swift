/// What a leader knows of one other voter, for the quorum's status (DescribeQuorum).
public struct RaftFollowerProgress: Sendable, Equatable {
    public var id: RaftNodeId
    /// The offset the follower has durably fetched up to, as validated in this epoch.
    public var endOffset: Int64
    /// When it last fetched, on the host's clock; nil: not in this epoch.
    public var lastFetch: Tick?
}

extension RaftNode {
    /// Every other voter's progress, in voter order, while this node leads; empty otherwise.
    public var followerProgress: [RaftFollowerProgress] {
        guard role == .leader else { return [] }
        return others.map { id in
            RaftFollowerProgress(
                id: id, endOffset: progress[id]?.matchOffset ?? 0, lastFetch: progress[id]?.lastFetch)
        }
    }
}
