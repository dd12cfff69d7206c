import TernRaft

/// Why a proposal to the metadata quorum did not commit, or why the quorum cannot run.
public struct QuorumError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. New codes may be added; match with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }
        /// This node does not lead the quorum; ``QuorumError/leaderHint`` may name the one that does.
        public static let notLeader = Code("not leader")
        /// The proposal did not commit within its timeout (no quorum, or a slow one). It may
        /// still commit later.
        public static let timedOut = Code("timed out")
        /// This node stopped leading before the proposal committed; a later leader may still
        /// commit it or replace it.
        public static let leadershipLost = Code("leadership lost")
        /// The proposal cannot be replicated (empty, or a payload over the size limit).
        public static let invalidProposal = Code("invalid proposal")
        /// The driver is shut down, or stopped after a storage failure.
        public static let unavailable = Code("unavailable")
        public var description: String { raw }
    }

    public var code: Code
    public var message: String
    /// With `.notLeader`: the leader this node knows of, if any.
    public var leaderHint: RaftNodeId?

    public init(_ code: Code, _ message: String, leaderHint: RaftNodeId? = nil) {
        self.code = code
        self.message = message
        self.leaderHint = leaderHint
    }

    public var description: String { "\(code): \(message)" }
}
