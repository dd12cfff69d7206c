/// The messages voters exchange (KIP-595's Vote, BeginQuorumEpoch, EndQuorumEpoch and Fetch;
/// KIP-630's FetchSnapshot). Every message carries the sender's epoch; the sender's id comes from
/// the transport (``RaftInput/message``).
public enum RaftMessage: Sendable, Equatable {
    case vote(VoteRequest)
    case voteResponse(VoteResponse)
    /// A new leader announces itself; repeated until the voter fetches from it.
    case beginQuorumEpoch(epoch: Int64)
    /// The answer to a BeginQuorumEpoch from an older epoch: tells the stale leader the newer
    /// epoch. Without it a node that bumped its epoch while cut off (its pre-vote passed, its
    /// vote did not) could never rejoin: pre-votes change no epochs, and it refuses the leader.
    case beginQuorumEpochResponse(epoch: Int64)
    case fetch(FetchRequest)
    case fetchResponse(FetchResponse)
    /// A leader resigning gracefully names its preferred successors (KIP-595's EndQuorumEpoch).
    case endQuorumEpoch(EndQuorumEpochRequest)
    /// A follower whose fetch offset is below the leader's log start fetches the leader's snapshot
    /// in chunks (KIP-630).
    case fetchSnapshot(FetchSnapshotRequest)
    case fetchSnapshotResponse(FetchSnapshotResponse)

    /// The largest epoch a message may carry.
    public static let maxEpoch = Int64(Int32.max) - 1

    /// The sender's epoch.
    public var epoch: Int64 {
        switch self {
        case .vote(let m): m.epoch
        case .voteResponse(let m): m.epoch
        case .beginQuorumEpoch(let e): e
        case .beginQuorumEpochResponse(let e): e
        case .fetch(let m): m.epoch
        case .fetchResponse(let m): m.epoch
        case .endQuorumEpoch(let m): m.epoch
        case .fetchSnapshot(let m): m.epoch
        case .fetchSnapshotResponse(let m): m.epoch
        }
    }

    /// The message's kind, for refusals and logs.
    public var kindName: String {
        switch self {
        case .vote(let m): m.preVote ? "pre-vote request" : "vote request"
        case .voteResponse: "vote response"
        case .beginQuorumEpoch: "BeginQuorumEpoch"
        case .beginQuorumEpochResponse: "BeginQuorumEpoch response"
        case .fetch: "fetch"
        case .fetchResponse: "fetch response"
        case .endQuorumEpoch: "EndQuorumEpoch"
        case .fetchSnapshot: "FetchSnapshot"
        case .fetchSnapshotResponse: "FetchSnapshot response"
        }
    }

    /// Why a snapshot id sent in `epoch` cannot be valid, or nil.
    static func malformation(of id: RaftSnapshotId, in epoch: Int64) -> String? {
        if id.endOffset < 1 || id.lastEpoch < 1 { return "\(id) with a non-positive end offset or epoch" }
        if id.lastEpoch > epoch { return "\(id) whose epoch is above the message's epoch \(epoch)" }
        return nil
    }

    /// Why the message cannot be valid whatever the receiver's state, or nil. Checked before a
    /// message touches any state.
    public var malformation: String? {
        // Epochs are Kafka's int32; a larger one would let a peer push this node's epoch to
        // where `epoch + 1` overflows.
        if epoch > Self.maxEpoch { return "epoch \(epoch) above \(Self.maxEpoch)" }
        if case .voteResponse(let m) = self, m.candidateEpoch > Self.maxEpoch {
            return "vote response for epoch \(m.candidateEpoch) above \(Self.maxEpoch)"
        }
        switch self {
        case .vote(let m):
            if m.epoch < 1 { return "vote request for epoch \(m.epoch) < 1" }
            if m.lastEpoch < 0 || m.endOffset < 0 { return "vote request with negative last epoch or end offset" }
            if m.lastEpoch >= m.epoch { return "vote request whose last epoch \(m.lastEpoch) is not below \(m.epoch)" }
            if (m.lastEpoch == 0) != (m.endOffset == 0) { return "vote request with an empty log in a non-zero epoch" }
        case .voteResponse(let m):
            if m.epoch < 0 || m.candidateEpoch < 1 { return "vote response with an invalid epoch" }
            if m.granted && m.epoch > m.candidateEpoch { return "vote granted from a higher epoch" }
        case .beginQuorumEpoch(let e), .beginQuorumEpochResponse(let e):
            if e < 1 { return "BeginQuorumEpoch for epoch \(e) < 1" }
        case .fetch(let m):
            // Epoch 0: an observer that has not yet learnt of any leader asks a voter for one.
            if m.epoch < 0 { return "fetch in negative epoch \(m.epoch)" }
            if m.fetchOffset < 0 || m.lastFetchedEpoch < 0 { return "fetch with a negative offset or epoch" }
            if m.lastFetchedEpoch > m.epoch { return "fetch whose last fetched epoch is above its epoch" }
            if (m.fetchOffset == 0) != (m.lastFetchedEpoch == 0) { return "fetch offset and last epoch disagree" }
        case .fetchResponse(let m):
            if m.epoch < 0 || m.highWatermark < 0 || m.startOffset < 0 || m.prevEpoch < 0 {
                return "fetch response with a negative epoch or offset"
            }
            if m.fetchOffset < 0 || m.lastFetchedEpoch < 0 { return "fetch response echoing a negative offset" }
            if let d = m.diverging {
                if d.epoch < 0 || d.endOffset < 0 || d.epoch > m.lastFetchedEpoch || m.fetchOffset == 0 {
                    return "fetch response with an impossible diverging epoch \(d.epoch) at \(d.endOffset)"
                }
                if !m.entries.isEmpty { return "fetch response with both a divergence and entries" }
            }
            var last = m.prevEpoch
            for e in m.entries {
                if e.epoch < last || e.epoch > m.epoch || e.epoch < 1 {
                    return "fetch response with entry epochs out of order or above the epoch"
                }
                last = e.epoch
            }
            if m.prevEpoch > m.epoch { return "fetch response with a previous epoch above its epoch" }
            if let id = m.snapshotId {
                if let problem = Self.malformation(of: id, in: m.epoch) { return "fetch response naming \(problem)" }
                if !m.entries.isEmpty || m.diverging != nil || m.failure != nil {
                    return "fetch response with a snapshot id and entries, a divergence or an error"
                }
            }
        case .endQuorumEpoch(let m):
            if m.epoch < 1 { return "EndQuorumEpoch for epoch \(m.epoch) < 1" }
            if Set(m.preferredSuccessors).count != m.preferredSuccessors.count {
                return "EndQuorumEpoch naming a successor twice"
            }
        case .fetchSnapshot(let m):
            if m.epoch < 1 { return "FetchSnapshot in epoch \(m.epoch) < 1" }
            if let problem = Self.malformation(of: m.snapshotId, in: m.epoch) { return "FetchSnapshot for \(problem)" }
            if m.position < 0 { return "FetchSnapshot at negative position \(m.position)" }
            if m.maxBytes < 1 || m.maxBytes > FetchSnapshotRequest.maxChunkBytes {
                return "FetchSnapshot asking for \(m.maxBytes) bytes, outside 1...\(FetchSnapshotRequest.maxChunkBytes)"
            }
        case .fetchSnapshotResponse(let m):
            if m.epoch < 0 || m.size < 0 || m.position < 0 {
                return "FetchSnapshot response with a negative epoch, size or position"
            }
            if m.chunk.count > FetchSnapshotRequest.maxChunkBytes {
                return
                    "FetchSnapshot response chunk of \(m.chunk.count) bytes above \(FetchSnapshotRequest.maxChunkBytes)"
            }
            if m.failure != nil {
                if !m.chunk.isEmpty { return "FetchSnapshot error response with data" }
                break
            }
            if let problem = Self.malformation(of: m.snapshotId, in: m.epoch) {
                return "FetchSnapshot response for \(problem)"
            }
            if m.position > m.size || Int64(m.chunk.count) > m.size - m.position {
                return
                    "FetchSnapshot chunk at \(m.position) of \(m.chunk.count) bytes past the snapshot's \(m.size) bytes"
            }
            // A chunk that makes no progress would have the follower ask for the same one forever.
            if m.chunk.isEmpty && m.position < m.size { return "FetchSnapshot response with an empty chunk" }
        }
        return nil
    }
}

/// A Vote request. With `preVote` it asks "would you vote for me in `epoch`?" and changes no
/// state anywhere (etcd's pre-vote; KIP-996), so a node that was cut off cannot bump the epoch
/// and unseat a healthy leader.
public struct VoteRequest: Sendable, Equatable {
    /// The epoch the candidate asks votes for (for a pre-vote: its epoch + 1).
    public var epoch: Int64
    /// Epoch of the candidate's last entry (0: empty log).
    public var lastEpoch: Int64
    /// The candidate's log end offset.
    public var endOffset: Int64
    public var preVote: Bool

    public init(epoch: Int64, lastEpoch: Int64, endOffset: Int64, preVote: Bool) {
        self.epoch = epoch
        self.lastEpoch = lastEpoch
        self.endOffset = endOffset
        self.preVote = preVote
    }
}

public struct VoteResponse: Sendable, Equatable {
    /// The responder's epoch.
    public var epoch: Int64
    /// The epoch the request asked for, so a late answer is matched to its round.
    public var candidateEpoch: Int64
    public var granted: Bool
    public var preVote: Bool
    /// The leader of `epoch` as the responder knows it (KIP-595's VoteResponse carries it), so a
    /// node whose pre-vote is refused because a leader is alive goes back to following it.
    public var leaderId: RaftNodeId?

    public init(epoch: Int64, candidateEpoch: Int64, granted: Bool, preVote: Bool, leaderId: RaftNodeId? = nil) {
        self.epoch = epoch
        self.candidateEpoch = candidateEpoch
        self.granted = granted
        self.preVote = preVote
        self.leaderId = leaderId
    }
}

/// A follower's Fetch: the offset after its last *durable* entry and that entry's epoch. The
/// leader counts `fetchOffset` towards the high watermark, so it must never claim more than the
/// follower has persisted.
public struct FetchRequest: Sendable, Equatable {
    public var epoch: Int64
    public var fetchOffset: Int64
    public var lastFetchedEpoch: Int64

    public init(epoch: Int64, fetchOffset: Int64, lastFetchedEpoch: Int64) {
        self.epoch = epoch
        self.fetchOffset = fetchOffset
        self.lastFetchedEpoch = lastFetchedEpoch
    }
}

public struct FetchResponse: Sendable, Equatable {
    public enum Failure: Sendable, Equatable {
        /// The receiver is not the leader of that epoch; `leaderId` names one if known.
        case notLeader
        /// The request's epoch is older than the receiver's.
        case fencedEpoch
    }

    /// Where the follower's log leaves the leader's: the leader's largest epoch not above the
    /// follower's last fetched epoch, and the end offset of that epoch in the leader's log.
    public struct Divergence: Sendable, Equatable {
        public var epoch: Int64
        public var endOffset: Int64

        public init(epoch: Int64, endOffset: Int64) {
            self.epoch = epoch
            self.endOffset = endOffset
        }
    }

    public var epoch: Int64
    public var leaderId: RaftNodeId?
    public var failure: Failure?
    /// The request's fetch offset and last fetched epoch, echoed so a late response is checked
    /// against the log it was about.
    public var fetchOffset: Int64
    public var lastFetchedEpoch: Int64
    public var diverging: Divergence?
    /// Offset of the first entry in `entries`, and the epoch of the entry before it (0: none).
    public var startOffset: Int64
    public var prevEpoch: Int64
    public var entries: [RaftEntry]
    public var highWatermark: Int64
    /// Set when the fetch offset (or the divergence point) lies below the leader's log start: the
    /// follower must fetch this snapshot (FetchSnapshot) instead of entries.
    public var snapshotId: RaftSnapshotId?

    public init(
        epoch: Int64, leaderId: RaftNodeId?, failure: Failure? = nil, fetchOffset: Int64, lastFetchedEpoch: Int64,
        diverging: Divergence? = nil, startOffset: Int64 = 0, prevEpoch: Int64 = 0, entries: [RaftEntry] = [],
        highWatermark: Int64 = 0, snapshotId: RaftSnapshotId? = nil
    ) {
        self.snapshotId = snapshotId
        self.epoch = epoch
        self.leaderId = leaderId
        self.failure = failure
        self.fetchOffset = fetchOffset
        self.lastFetchedEpoch = lastFetchedEpoch
        self.diverging = diverging
        self.startOffset = startOffset
        self.prevEpoch = prevEpoch
        self.entries = entries
        self.highWatermark = highWatermark
    }
}
