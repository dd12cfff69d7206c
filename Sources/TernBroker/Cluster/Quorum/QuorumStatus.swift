import TernRaft

/// A snapshot of one voter's view of the metadata quorum (what DescribeQuorum and
/// `tern cluster quorum` show).
public struct QuorumStatus: Sendable, Equatable {
    /// One voter as this node sees it.
    public struct Voter: Sendable, Equatable {
        public var id: RaftNodeId
        /// Its durable log end offset: known for itself always, for the others only on the
        /// leader (from their fetches in this epoch).
        public var endOffset: Int64?
        /// Milliseconds since it last fetched from this leader (0 for the leader itself); nil
        /// when unknown (not leader, or no fetch this epoch).
        public var lastContactAgeMs: Int64?
    }

    public var nodeId: RaftNodeId
    public var role: RaftRole
    public var epoch: Int64
    public var leaderId: RaftNodeId?
    public var votedFor: RaftNodeId?
    /// Entries below it are committed.
    public var highWatermark: Int64
    public var logEndOffset: Int64
    /// Every voter, sorted by id.
    public var voters: [Voter]
    /// True when this node is an observer (fetches the log, does not vote).
    public var isObserver = false
    /// The observers that fetched from this leader lately, sorted by id (only the leader knows
    /// them; this node itself when it is an observer). Same fields as voters.
    public var observers: [Voter] = []
}
