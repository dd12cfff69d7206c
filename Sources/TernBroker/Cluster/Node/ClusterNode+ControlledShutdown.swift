import TernWire

extension ClusterNode {
    /// How a controlled shutdown ended.
    public enum ControlledShutdownOutcome: Sendable, Equatable {
        /// The controller moved this broker's leadership away (committed) and fenced it.
        case completed
        /// Nothing to do: `reason` says why (a single-node quorum, a controller-only node,
        /// `controlled.shutdown.enable = false`, or no other live broker to hand over to).
        case skipped(reason: String)
        /// No answer that it may shut down within `controlled.shutdown.timeout.ms`, or no quorum
        /// leader known for long enough that none is coming: the broker stops anyway.
        case timedOut
    }

    /// Before this broker stops: asks the active controller to move the leadership of its
    /// partitions to other in-sync replicas and take it out of their in-sync sets, and waits
    /// (at most `controlled.shutdown.timeout.ms`) until that is committed and the controller
    /// fenced it (KRaft's controlled shutdown through BrokerHeartbeat `wantShutDown`). The broker
    /// keeps serving meanwhile, so clients see NOT_LEADER_OR_FOLLOWER and follow the metadata to
    /// the new leaders. Blocks the caller.
    ///
    /// Skipped (at once) where there is nobody to hand over to: a quorum of one, a node without
    /// the broker role, or a broker whose committed image shows no other unfenced broker — so
    /// the last broker of a cluster stops as fast as a single node (and does not wait for a
    /// quorum that left before it). Whether there is leadership to move is the controller's
    /// decision, on its own image: this node's may lag (a topic created a moment ago).
    ///
    /// Gives up early when no quorum leader has been known for twice the time an election
    /// takes after a leader is lost (`controller.quorum.fetch.timeout.ms` + election timeout):
    /// the quorum is gone, and waiting would only hold up the stop.
    public func controlledShutdown() -> ControlledShutdownOutcome {
        guard let lifecycle else { return .skipped(reason: "not a broker") }
        guard !config.isSingleNodeQuorum else { return .skipped(reason: "single-node quorum") }
        guard config.controlledShutdownEnable else { return .skipped(reason: "controlled.shutdown.enable = false") }
        let image = publisher.image
        guard image.isUnfenced(config.nodeId) else { return .skipped(reason: "this broker is fenced") }
        guard image.unfencedBrokerIds.contains(where: { $0 != config.nodeId }) else {
            return .skipped(reason: "no other live broker")
        }
        let leaderless = Duration.milliseconds(2 * (config.fetchTimeoutMs + config.electionTimeoutMs))
        let done = lifecycle.controlledShutdown(
            timeout: .milliseconds(config.controlledShutdownTimeoutMs), giveUpWithoutLeaderAfter: leaderless)
        return done ? .completed : .timedOut
    }
}
