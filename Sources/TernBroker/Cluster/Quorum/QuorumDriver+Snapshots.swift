import TernRaft

extension QuorumDriver {
    /// On the queue: committed entries were applied (feeds the snapshot policy).
    func noteApplied(_ entries: [RaftEntry], now: Tick) {}

    /// On the queue: a snapshot fetched from the leader is durable; the host's state machine
    /// resets to it before any later `onApply`.
    func installSnapshot(_ snapshot: RaftSnapshot, now: Tick) {}

    /// On the queue: the log prefix below `before` is covered by a durable snapshot.
    func dropLogPrefix(before: Int64) {}
}
