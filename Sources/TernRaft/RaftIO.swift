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
}

/// One durable write the host must make, in `seq` order: store `epoch`/`votedFor`, truncate the
/// log to `fromOffset` entries, append `entries`, fsync, then answer ``RaftInput/persisted(seq:)``.
public struct RaftWrite: Sendable, Equatable {
    public var seq: UInt64
    public var epoch: Int64
    public var votedFor: RaftNodeId?
    public var fromOffset: Int64
    public var entries: [RaftEntry]
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
    case roleChanged(RaftRole, epoch: Int64, leader: RaftNodeId?)
    /// A proposal was appended at `firstOffset` in `epoch`; it is committed once applied there
    /// with that epoch (a later leader may replace it if this one loses leadership first).
    case proposed(epoch: Int64, firstOffset: Int64, count: Int)
    /// A proposal was refused: this node is not the leader (`leaderHint` may name it).
    case proposalRejected(leaderHint: RaftNodeId?)
    /// An input refused: unknown voter, stale epoch, malformed or inconsistent message. Log it.
    case refused(RaftRefusal)
}
