/// Where a node keeps what must survive a crash: its epoch, its vote and its log. The host
/// loads it once, builds the ``RaftNode`` from it, then performs the node's ``RaftWrite``s
/// through it and answers ``RaftInput/persisted(seq:)`` when ``perform(_:)`` returns.
///
/// The core never calls it: it stays I/O-free. An implementation keeps these rules:
/// - writes are applied in `seq` order: the epoch and vote, then truncating the log to
///   `fromOffset` entries, then appending `entries`;
/// - when ``perform(_:)`` returns, every write it was given is durable (one sync may cover
///   them all: group commit);
/// - a crash at any point leaves a state that ``load()`` reads back as some prefix of the writes
///   (a torn tail of the log is cut, never trusted), with the epoch and vote durable no later
///   than the log entries of that epoch.
public protocol RaftDurableStore: AnyObject, Sendable {
    /// What the store holds, repairing a torn log tail. Called once, before any write.
    /// - Throws: when the state cannot be read (unparseable epoch/vote, I/O failure): the node
    ///   must not start, since it may have voted or acknowledged entries it no longer knows of.
    func load() throws -> RaftPersistentState

    /// Applies `writes` in order and makes them all durable.
    /// - Throws: on an I/O failure; nothing of `writes` may then be assumed durable.
    func perform(_ writes: [RaftWrite]) throws

    /// Releases the store's files. Idempotent.
    func close()
}

extension RaftWrite {
    /// A write as a node emits it (the synthesized initializer is internal); public for stores'
    /// tests and hosts that replay writes.
    public init(
        seq: UInt64, epoch: Int64, votedFor: RaftNodeId?, truncatingTo fromOffset: Int64, appending entries: [RaftEntry]
    ) {
        self.seq = seq
        self.epoch = epoch
        self.votedFor = votedFor
        self.fromOffset = fromOffset
        self.entries = entries
    }
}
