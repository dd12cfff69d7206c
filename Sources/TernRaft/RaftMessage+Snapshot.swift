/// EndQuorumEpoch: the leader of `epoch` (the sender) resigns. Voters stop following it and start
/// an election after a backoff by their position in `preferredSuccessors` (KIP-595).
public struct EndQuorumEpochRequest: Sendable, Equatable {
    public var epoch: Int64
    /// The other voters, most caught-up first (by the offset each last fetched).
    public var preferredSuccessors: [RaftNodeId]

    public init(epoch: Int64, preferredSuccessors: [RaftNodeId]) {
        self.epoch = epoch
        self.preferredSuccessors = preferredSuccessors
    }
}

/// FetchSnapshot (KIP-630): `maxBytes` of the leader's snapshot `snapshotId` from `position`.
public struct FetchSnapshotRequest: Sendable, Equatable {
    /// The largest chunk a request may ask for or a response may carry.
    public static let maxChunkBytes = 1 << 20

    public var epoch: Int64
    public var snapshotId: RaftSnapshotId
    public var position: Int64
    public var maxBytes: Int

    public init(epoch: Int64, snapshotId: RaftSnapshotId, position: Int64, maxBytes: Int) {
        self.epoch = epoch
        self.snapshotId = snapshotId
        self.position = position
        self.maxBytes = maxBytes
    }
}

public struct FetchSnapshotResponse: Sendable, Equatable {
    public enum Failure: Sendable, Equatable {
        /// The receiver is not the leader of that epoch; `leaderId` names one if known.
        case notLeader
        /// The request's epoch is older than the receiver's.
        case fencedEpoch
        /// The leader's snapshot is no longer (or not) `snapshotId`: fetch again to learn the new one.
        case snapshotNotFound
    }

    public var epoch: Int64
    public var leaderId: RaftNodeId?
    public var failure: Failure?
    public var snapshotId: RaftSnapshotId
    /// The snapshot's total size in bytes.
    public var size: Int64
    /// Where `chunk` starts in the snapshot's bytes (the request's position).
    public var position: Int64
    public var chunk: [UInt8]

    public init(
        epoch: Int64, leaderId: RaftNodeId?, failure: Failure? = nil, snapshotId: RaftSnapshotId, size: Int64 = 0,
        position: Int64 = 0, chunk: [UInt8] = []
    ) {
        self.epoch = epoch
        self.leaderId = leaderId
        self.failure = failure
        self.snapshotId = snapshotId
        self.size = size
        self.position = position
        self.chunk = chunk
    }
}
