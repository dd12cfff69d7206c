/// What the host feeds a ``RaftNode``.
public enum RaftInput: Sendable, Equatable {
    /// A message from a voter (the transport names the sender).
    case message(from: RaftNodeId, RaftMessage)
    /// Time passed; timers are checked against `now`.
    case tick
    /// Payloads to append (leader only).
    case propose([[UInt8]])
    /// Every ``RaftWrite`` with `seq` up to this one is durable (fsynced).
    case persisted(seq: UInt64)
    /// The host's state machine after applying every entry below `endOffset` (so `endOffset` is at
    /// most ``RaftNode/appliedOffset``, which never passes the high watermark). The node makes it
    /// durable (a ``RaftWrite`` with `snapshot`) and, once that is acknowledged, drops the log
    /// prefix it covers (``RaftEffect/dropLogPrefix(before:)``). Refused when not above the
    /// current log start, above the applied offset, or when `lastEpoch` is not the epoch of the
    /// entry at `endOffset - 1`.
    case snapshotTaken(RaftSnapshot)
    /// Leader only: resign gracefully (before a shutdown or to move leadership). The leader sends
    /// EndQuorumEpoch naming its preferred successors, most caught-up first, and stops leading.
    case resign
}

/// One durable write the host must make, in `seq` order:
/// 1. if `snapshot` is set: make every earlier write durable, then store the snapshot durably
///    (it replaces the previous one); if the log ends at or before `snapshot.endOffset`, the log
///    now starts empty at `snapshot.endOffset`;
/// 2. store `epoch`/`votedFor`, truncate the log at offset `fromOffset` (drop every entry at and
///    after it), append `entries` (which start at `fromOffset`);
/// 3. fsync, then answer ``RaftInput/persisted(seq:)``.
/// Offsets are absolute; `fromOffset` is never below the log start the host holds.
public struct RaftWrite: Sendable, Equatable {
    public var seq: UInt64
    public var epoch: Int64
    public var votedFor: RaftNodeId?
    public var fromOffset: Int64
    public var entries: [RaftEntry]
    /// A snapshot to make durable before the log part of this write (see above).
    public var snapshot: RaftSnapshot?

    public init(
        seq: UInt64, epoch: Int64, votedFor: RaftNodeId?, fromOffset: Int64, entries: [RaftEntry],
        snapshot: RaftSnapshot? = nil
    ) {
        self.seq = seq
        self.epoch = epoch
        self.votedFor = votedFor
        self.fromOffset = fromOffset
        self.entries = entries
        self.snapshot = snapshot
    }
}

/// Why an input was refused. A refused input changes no state.
public struct RaftRefusal: Sendable, Equatable, CustomStringConvertible {
    public var from: RaftNodeId?
    public var reason: String

    public var description: String { from.map { "from node \($0): \(reason)" } ?? reason }
}

/// What the host must do after a step, in order.
public enum RaftEffect: Sendable, Equatable {
    case send(to: RaftNodeId, RaftMessage)
    case persist(RaftWrite)
    /// Entries now committed, starting at `offset`, to apply to the state machine in order.
    case apply(offset: Int64, entries: [RaftEntry])
    /// Reset the state machine to this snapshot (fetched from the leader and now durable); later
    /// ``apply(offset:entries:)`` effects continue from its `endOffset`.
    case installSnapshot(RaftSnapshot)
    /// The snapshot covering offsets below `before` is durable: the host may delete those log
    /// entries (no fsync needed: a restart passes only entries from the snapshot's end on).
    case dropLogPrefix(before: Int64)
    case roleChanged(RaftRole, epoch: Int64, leader: RaftNodeId?)
    /// A proposal was appended at `firstOffset` in `epoch`; it is committed once applied there
    /// with that epoch (a later leader may replace it if this one loses leadership first).
    case proposed(epoch: Int64, firstOffset: Int64, count: Int)
    /// A proposal was refused: this node is not the leader (`leaderHint` may name it).
    case proposalRejected(leaderHint: RaftNodeId?)
    /// An input refused: unknown voter, stale epoch, malformed or inconsistent message, a snapshot
    /// the node cannot take, a resignation from a non-leader. Log it.
    case refused(RaftRefusal)
}
