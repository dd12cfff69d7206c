/// A node's id (Kafka's `node.id`): a voter's or an observer's.
public typealias RaftNodeId = Int32

/// A point in time, in milliseconds, as the host's clock (real or virtual) reads it. The machine
/// never reads a clock itself: the host passes `now` into every ``RaftNode/step(_:now:)``.
public typealias Tick = Int64

/// One entry of the replicated log: the epoch of the leader that appended it and its payload.
/// An entry with an empty payload is the control entry a new leader appends so that its high
/// watermark can advance (KIP-595: the high watermark needs an entry of the current epoch).
public struct RaftEntry: Sendable, Equatable {
    public var epoch: Int64
    public var data: [UInt8]

    public init(epoch: Int64, data: [UInt8]) {
        self.epoch = epoch
        self.data = data
    }
}

/// Static settings of one node. Timeouts are in the units of ``Tick`` (milliseconds).
public struct RaftConfig: Sendable {
    /// This node's id: one of `voters`, or else this node is an observer (KIP-595): it fetches
    /// the log from the leader and applies it, but never votes, never stands for election and
    /// never counts towards the high watermark.
    public var id: RaftNodeId
    /// Every voter of the quorum (this node included unless it is an observer), kept sorted so
    /// every iteration over voters is deterministic.
    public private(set) var voters: [RaftNodeId]
    /// Base election timeout; each wait is drawn uniformly from `[base, 2 * base)`.
    public var electionTimeoutMs: Int64
    /// How often a follower fetches (the fetch is also its heartbeat) and a leader repeats
    /// BeginQuorumEpoch to voters that have not fetched yet.
    public var fetchIntervalMs: Int64
    /// A leader that has not been fetched from by a majority for this long resigns (so a leader
    /// cut off from the quorum, or paused, stops acting as one).
    public var fetchTimeoutMs: Int64
    /// Most entries one fetch response carries.
    public var maxFetchEntries: Int
    /// Most snapshot bytes one FetchSnapshot response carries (at most
    /// ``FetchSnapshotRequest/maxChunkBytes``); a follower asks for chunks of this size.
    public var snapshotChunkBytes: Int
    /// After an EndQuorumEpoch, the voter at position `p` of the resigning leader's preferred
    /// successors starts its election `p * resignBackoffMs` later (the first at once), so the most
    /// caught-up voter usually wins without a split vote.
    public var resignBackoffMs: Int64
    /// Seed of the node's random source (election timeouts): injected, so a run replays.
    public var seed: UInt64

    public init(
        id: RaftNodeId, voters: [RaftNodeId], electionTimeoutMs: Int64 = 300, fetchIntervalMs: Int64 = 50,
        fetchTimeoutMs: Int64 = 600, maxFetchEntries: Int = 64, snapshotChunkBytes: Int = 64 * 1024,
        resignBackoffMs: Int64 = 100, seed: UInt64
    ) {
        precondition(!voters.isEmpty && id >= 0 && voters.allSatisfy { $0 >= 0 }, "invalid ids \(id) / \(voters)")
        precondition(electionTimeoutMs > 0 && fetchIntervalMs > 0 && fetchTimeoutMs > 0 && maxFetchEntries > 0)
        precondition(snapshotChunkBytes > 0 && snapshotChunkBytes <= FetchSnapshotRequest.maxChunkBytes)
        precondition(resignBackoffMs >= 0)
        self.snapshotChunkBytes = snapshotChunkBytes
        self.resignBackoffMs = resignBackoffMs
        self.id = id
        self.voters = Array(Set(voters)).sorted()
        self.electionTimeoutMs = electionTimeoutMs
        self.fetchIntervalMs = fetchIntervalMs
        self.fetchTimeoutMs = fetchTimeoutMs
        self.maxFetchEntries = maxFetchEntries
        self.seed = seed
    }

    /// True when this node is not one of the voters: an observer.
    public var isObserver: Bool { !voters.contains(id) }

    /// Votes needed to win: a strict majority of the voters.
    public var majority: Int { voters.count / 2 + 1 }
}

/// What a node finds on its disk when it starts: the durable epoch, vote, latest snapshot and
/// the log after it. The host's state machine starts from `snapshot` (or empty without one); the
/// node hands out committed entries from the snapshot's end offset on.
public struct RaftPersistentState: Sendable, Equatable {
    public var epoch: Int64
    public var votedFor: RaftNodeId?
    /// The latest durable snapshot; nil: none (the log starts at offset 0).
    public var snapshot: RaftSnapshot?
    /// The log entries from offset `snapshot?.endOffset ?? 0` on. A host whose log still holds
    /// entries below that offset (a crash before it dropped the prefix) passes only the later ones;
    /// one whose log ends at or below it passes none.
    public var entries: [RaftEntry]

    public init(
        epoch: Int64 = 0, votedFor: RaftNodeId? = nil, snapshot: RaftSnapshot? = nil, entries: [RaftEntry] = []
    ) {
        self.epoch = epoch
        self.votedFor = votedFor
        self.snapshot = snapshot
        self.entries = entries
    }
}

/// Names a snapshot: the offset after the last entry it covers and that entry's epoch (KIP-630's
/// snapshot id).
public struct RaftSnapshotId: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var endOffset: Int64
    public var lastEpoch: Int64

    public init(endOffset: Int64, lastEpoch: Int64) {
        self.endOffset = endOffset
        self.lastEpoch = lastEpoch
    }

    public var description: String { "snapshot(end \(endOffset), epoch \(lastEpoch))" }
}

/// The host's state machine after applying every entry below `endOffset`, as opaque bytes. It
/// replaces that prefix of the log (KIP-630).
public struct RaftSnapshot: Sendable, Equatable {
    /// Offset after the last entry the snapshot covers (entries `0..<endOffset`).
    public var endOffset: Int64
    /// Epoch of the entry at `endOffset - 1`.
    public var lastEpoch: Int64
    /// The state machine's bytes; never interpreted by TernRaft.
    public var data: [UInt8]

    public init(endOffset: Int64, lastEpoch: Int64, data: [UInt8]) {
        self.endOffset = endOffset
        self.lastEpoch = lastEpoch
        self.data = data
    }

    public var id: RaftSnapshotId { RaftSnapshotId(endOffset: endOffset, lastEpoch: lastEpoch) }
}

/// The role of a node within its epoch.
public enum RaftRole: Sendable, Equatable {
    /// In an epoch without a known leader (after a restart, a higher epoch seen, or a resignation).
    case unattached
    /// Asking for pre-votes: the epoch is not bumped until a majority would vote for it.
    case prospective
    /// Asking for votes in a new epoch it has bumped to and voted itself in.
    case candidate
    /// Fetching from a known leader of its epoch.
    case follower
    /// The leader of its epoch.
    case leader
}

/// SplitMix64: a tiny seeded generator, so the machine's randomness (election timeouts) is an
/// input and a seed replays a run bit for bit.
struct RaftRandom: Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (bound > 0); the modulo bias is irrelevant for timeouts.
    mutating func next(below bound: Int64) -> Int64 {
        Int64(next() % UInt64(bound))
    }
}
