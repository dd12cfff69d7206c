/// The Raft core of the metadata quorum as an I/O-free state machine (KIP-595's pull-based
/// Raft with etcd's pre-vote). The host feeds it inputs with the time and performs the effects it
/// returns: sends messages, makes writes durable, applies committed entries. It owns no clock,
/// thread, file or random source, so a seeded simulator drives it deterministically.
///
/// Persistence rules, enforced here rather than trusted to the host:
/// - a vote (and a candidate's own vote) is sent only after the write holding it is durable;
/// - a follower's fetch offset is its *durable* log end, so a leader counts only persisted
///   follower entries;
/// - a leader counts its own entries towards the high watermark only once durable;
/// - the high watermark advances only over a majority and only to an entry of the leader's epoch,
///   and never moves back while the node runs;
/// - a snapshot replaces a log prefix only once it is durable (KIP-630): the prefix is dropped,
///   and a fetched snapshot handed to the host, only after the write holding it is acknowledged.
///
/// Offsets are absolute: `log[0]` is the entry at ``logStartOffset`` (the end of the latest
/// snapshot, 0 without one).
public struct RaftNode: Sendable {
    public let config: RaftConfig
    var random: RaftRandom

    public internal(set) var epoch: Int64
    public internal(set) var votedFor: RaftNodeId?
    public internal(set) var role: RaftRole = .unattached
    public internal(set) var leaderId: RaftNodeId?
    /// The log after the snapshot as this node knows it, including entries not yet durable:
    /// `log[i]` is the entry at offset `logStartOffset + i` (see ``entry(at:)``).
    public internal(set) var log: [RaftEntry]
    /// Offset of `log[0]`: the end offset of ``snapshot`` (0 without one).
    public internal(set) var logStartOffset: Int64
    /// Epoch of the entry at `logStartOffset - 1` (the snapshot's last epoch; 0 at offset 0).
    var logStartEpoch: Int64
    /// The snapshot the log starts after: the latest durable one, or the one fetched from the
    /// leader whose write is in flight (the node serves it to followers only once durable).
    public internal(set) var snapshot: RaftSnapshot?
    /// Offset of the first uncommitted entry (the high watermark / commit index).
    public internal(set) var highWatermark: Int64 = 0
    /// Offset of the first entry not yet handed out in an ``RaftEffect/apply(offset:entries:)``.
    public internal(set) var appliedOffset: Int64 = 0
    /// The end of the prefix of the log known to be on disk (snapshot included).
    public internal(set) var durableEnd: Int64
    var durableEpoch: Int64
    var durableVote: RaftNodeId?

    struct PendingWrite: Sendable {
        var seq: UInt64
        var fromOffset: Int64
        var endOffset: Int64
        var epoch: Int64
        var votedFor: RaftNodeId?
    }
    var pendingWrites: [PendingWrite] = []
    var nextSeq: UInt64 = 1
    /// Messages held until the write with `gate` is durable (votes).
    var deferred: [(gate: UInt64, to: RaftNodeId, message: RaftMessage)] = []
    /// Snapshot writes in flight: taken by the host (`install == false`: the prefix is dropped
    /// once durable) or fetched from the leader (`install == true`: handed to the host then).
    var snapshotWrites: [(seq: UInt64, snapshot: RaftSnapshot, install: Bool)] = []

    /// A snapshot being fetched from the leader, chunk by chunk.
    struct SnapshotDownload: Sendable {
        var id: RaftSnapshotId
        var leader: RaftNodeId
        var epoch: Int64
        var size: Int64?
        var data: [UInt8] = []
    }
    var download: SnapshotDownload?

    var electionDeadline: Tick
    var nextFetchAt: Tick = 0
    /// When the leader last answered or announced itself; nil: not in this role.
    var lastLeaderContact: Tick?
    /// Pre-votes or votes granted in the current round (not this node's own).
    var grants: Set<RaftNodeId> = []

    struct Progress: Sendable {
        /// The follower's last fetch offset the leader validated in this epoch.
        var matchOffset: Int64 = 0
        var lastFetch: Tick?
    }
    /// Per other voter, while leader; read in `config.voters` order only.
    var progress: [RaftNodeId: Progress] = [:]
    /// Per observer that fetched lately, while leader; never counted towards the high watermark
    /// or the leader's liveness, kept for the quorum's status only (at most ``maxObservers``,
    /// forgotten after ``observerSessionMs`` without a fetch).
    var observers: [RaftNodeId: Progress] = [:]
    /// Observer side: the voter the next leader-discovery fetch goes to (round robin).
    var discoveryCursor = 0
    var epochStartOffset: Int64 = 0
    var leaderSince: Tick = 0

    // Scratch of one step.
    var dirtyFrom: Int64?
    var hardStateDirty = false
    var effects: [RaftEffect] = []

    /// A node starting from what its disk holds, as unattached in the durable epoch.
    public init(config: RaftConfig, persisted: RaftPersistentState, now: Tick) {
        self.config = config
        random = RaftRandom(seed: config.seed ^ (UInt64(UInt32(bitPattern: config.id)) &* 0x9E37_79B9))
        epoch = persisted.epoch
        votedFor = persisted.votedFor
        log = persisted.entries
        snapshot = persisted.snapshot
        logStartOffset = persisted.snapshot?.endOffset ?? 0
        logStartEpoch = persisted.snapshot?.lastEpoch ?? 0
        // The snapshot holds only committed entries, and the host's state machine starts from it.
        highWatermark = logStartOffset
        appliedOffset = logStartOffset
        durableEnd = logStartOffset + Int64(persisted.entries.count)
        durableEpoch = persisted.epoch
        durableVote = persisted.votedFor
        electionDeadline = now
        electionDeadline = now + randomElectionTimeout()
    }

    /// Advances the machine by one input at time `now` and returns what the host must do, in order.
    public mutating func step(_ input: RaftInput, now: Tick) -> [RaftEffect] {
        effects = []
        switch input {
        case .tick: onTick(now)
        case .message(let from, let message): receive(from: from, message, now: now)
        case .propose(let payloads): propose(payloads, now: now)
        case .persisted(let seq): onPersisted(seq, now: now)
        case .snapshotTaken(let snapshot): takeSnapshot(snapshot)
        case .resign: resign(now)
        }
        flushWrite()
        let out = effects
        effects = []
        return out
    }

    // MARK: Derived

    public var logEndOffset: Int64 { logStartOffset + Int64(log.count) }
    var lastEpoch: Int64 { log.last?.epoch ?? logStartEpoch }
    /// Only read while no fetched snapshot is being written (then `durableEnd >= logStartOffset`).
    var durableLastEpoch: Int64 { epoch(before: durableEnd) ?? 0 }
    var others: [RaftNodeId] { config.voters.filter { $0 != config.id } }
    /// Most observers a leader keeps progress for: ids come from the network, so the map is bounded.
    static let maxObservers = 256
    /// An observer silent for this long drops out of the leader's status (Kafka: 5 minutes).
    static let observerSessionMs: Int64 = 300_000

    /// The entry at absolute `offset`, or nil when it is in the snapshot or past the log end.
    public func entry(at offset: Int64) -> RaftEntry? {
        guard offset >= logStartOffset, offset < logEndOffset else { return nil }
        return log[Int(offset - logStartOffset)]
    }

    /// The epoch of the entry at `offset - 1` (0 before offset 0), or nil when that entry is
    /// unknown: inside the snapshot (not its last entry) or past the log end.
    func epoch(before offset: Int64) -> Int64? {
        if offset == 0 { return 0 }
        if offset == logStartOffset { return logStartEpoch }
        return entry(at: offset - 1)?.epoch
    }

    /// The largest epoch in the log not above `target`, and the offset after its last entry;
    /// (0, 0) when the whole log (from offset 0) has none; nil when the answer lies inside the
    /// snapshot, where the epochs are no longer known.
    func endOffset(forEpoch target: Int64) -> (epoch: Int64, endOffset: Int64)? {
        var i = log.count - 1
        while i >= 0 {
            if log[i].epoch <= target { return (log[i].epoch, logStartOffset + Int64(i + 1)) }
            i -= 1
        }
        if logStartOffset == 0 { return (0, 0) }
        // Every entry after the snapshot has a larger epoch: the snapshot's last epoch ends there.
        return logStartEpoch <= target ? (logStartEpoch, logStartOffset) : nil
    }

    /// Raft's "at least as up to date": compares last epochs, then end offsets.
    func isUpToDate(lastEpoch other: Int64, endOffset otherEnd: Int64) -> Bool {
        other > lastEpoch || (other == lastEpoch && otherEnd >= logEndOffset)
    }

    mutating func randomElectionTimeout() -> Int64 {
        config.electionTimeoutMs + random.next(below: config.electionTimeoutMs)
    }

    mutating func resetElectionTimer(_ now: Tick) {
        electionDeadline = now + randomElectionTimeout()
    }

    // MARK: Effects and writes

    mutating func send(_ to: RaftNodeId, _ message: RaftMessage) {
        effects.append(.send(to: to, message))
    }

    /// Sends `message` once the write this step makes (with the current epoch and vote) is durable.
    mutating func sendAfterPersist(_ to: RaftNodeId, _ message: RaftMessage) {
        hardStateDirty = true
        deferred.append((nextSeq, to, message))
    }

    mutating func refuse(_ from: RaftNodeId?, _ reason: String) {
        effects.append(.refused(RaftRefusal(from: from, reason: reason)))
    }

    mutating func setEpoch(_ e: Int64, votedFor vote: RaftNodeId?) {
        epoch = e
        votedFor = vote
        hardStateDirty = true
    }

    /// Appends entries to the log (written at the end of the step).
    mutating func append(_ entries: [RaftEntry]) {
        guard !entries.isEmpty else { return }
        markDirty(from: logEndOffset)
        log.append(contentsOf: entries)
    }

    /// Drops entries from `offset` on; never below the high watermark (committed entries stay),
    /// which is never below the log start.
    mutating func truncate(to offset: Int64) {
        precondition(offset >= highWatermark, "truncating committed entries at \(offset) < \(highWatermark)")
        guard offset < logEndOffset else { return }
        markDirty(from: offset)
        log.removeSubrange(Int(offset - logStartOffset)...)
    }

    mutating func markDirty(from offset: Int64) {
        dirtyFrom = min(dirtyFrom ?? offset, offset)
        // What is on disk beyond `offset` is no longer this log.
        durableEnd = min(durableEnd, offset)
    }

    /// Emits the step's write (hard state and the changed tail of the log, and `snapshot`), if any.
    mutating func flushWrite(snapshot: RaftSnapshot? = nil, install: Bool = false) {
        guard dirtyFrom != nil || hardStateDirty || snapshot != nil else { return }
        let from = dirtyFrom ?? logEndOffset
        let write = RaftWrite(
            seq: nextSeq, epoch: epoch, votedFor: votedFor, fromOffset: from,
            entries: Array(log[Int(from - logStartOffset)...]), snapshot: snapshot)
        if let snapshot { snapshotWrites.append((nextSeq, snapshot, install)) }
        pendingWrites.append(
            PendingWrite(seq: nextSeq, fromOffset: from, endOffset: logEndOffset, epoch: epoch, votedFor: votedFor))
        nextSeq += 1
        dirtyFrom = nil
        hardStateDirty = false
        effects.append(.persist(write))
    }

    mutating func onPersisted(_ seq: UInt64, now: Tick) {
        guard seq < nextSeq, let last = pendingWrites.last(where: { $0.seq <= seq }) else {
            refuse(nil, "persisted(seq: \(seq)) acknowledges no pending write")
            return
        }
        pendingWrites.removeAll { $0.seq <= seq }
        let before = durableEnd
        var end = last.endOffset
        for later in pendingWrites { end = min(end, later.fromOffset) }
        durableEnd = min(end, logEndOffset)
        let voteWasDurable = ownVoteIsDurable
        durableEpoch = last.epoch
        durableVote = last.votedFor
        // A candidate's round (and its election timer) starts once its vote is durable.
        if role == .candidate && !voteWasDurable && ownVoteIsDurable { resetElectionTimer(now) }
        var held: [(gate: UInt64, to: RaftNodeId, message: RaftMessage)] = []
        for d in deferred {
            if d.gate <= seq { send(d.to, d.message) } else { held.append(d) }
        }
        deferred = held
        snapshotsDurable(upTo: seq)
        switch role {
        case .candidate: checkElectionWon(now)
        case .leader: advanceHighWatermark()
        case .follower: if durableEnd > before { sendFetch(now) }
        case .unattached, .prospective: break
        }
    }

    /// Hands out newly committed entries (none while a fetched snapshot is not yet durable: the
    /// host's state machine resets to it first).
    mutating func applyCommitted() {
        guard highWatermark > appliedOffset, appliedOffset >= logStartOffset else { return }
        let from = Int(appliedOffset - logStartOffset)
        effects.append(
            .apply(offset: appliedOffset, entries: Array(log[from..<Int(highWatermark - logStartOffset)])))
        appliedOffset = highWatermark
    }

    // MARK: Roles

    /// Moves to `newEpoch` (if higher: no vote yet) as follower of `leader`, or unattached.
    /// `contact`: the leader itself said so (not a hint from another node), so it counts as alive
    /// when refusing pre-votes.
    mutating func transition(epoch newEpoch: Int64, leader: RaftNodeId?, now: Tick, contact: Bool = false) {
        if newEpoch > epoch { setEpoch(newEpoch, votedFor: nil) }
        let newRole: RaftRole = leader == nil ? .unattached : .follower
        let changed = newRole != role || leader != leaderId
        role = newRole
        leaderId = leader
        grants = []
        progress = [:]
        observers = [:]
        download = nil
        lastLeaderContact = contact ? now : nil
        resetElectionTimer(now)
        if changed { effects.append(.roleChanged(role, epoch: epoch, leader: leaderId)) }
        // An observer without a leader asks the voters for one at once.
        if role == .follower || config.isObserver { sendFetch(now) }
    }

    mutating func onTick(_ now: Tick) {
        if config.isObserver {
            observerTick(now)
            return
        }
        switch role {
        case .leader:
            if now >= nextFetchAt {
                forgetSilentObservers(now)
                nextFetchAt = now + config.fetchIntervalMs
                // Repeated to voters that have not fetched lately (lost the announcement, or
                // restarted), so they follow rather than campaign.
                for id in others {
                    if let t = progress[id]?.lastFetch, now - t < config.electionTimeoutMs { continue }
                    send(id, .beginQuorumEpoch(epoch: epoch))
                }
            }
            if now - leaderSince >= config.fetchTimeoutMs {
                var alive = 1
                for id in others {
                    if let t = progress[id]?.lastFetch, now - t < config.fetchTimeoutMs { alive += 1 }
                }
                if alive < config.majority {
                    // Cut off from the quorum (or paused): stop acting as leader. It keeps its
                    // vote in this epoch, so it cannot lead this epoch again.
                    transition(epoch: epoch, leader: nil, now: now)
                }
            }
        case .follower:
            if now >= electionDeadline {
                startPreVote(now)
            } else if now >= nextFetchAt {
                // Also repeats a lost FetchSnapshot: it asks for the next chunk of a download.
                sendFetch(now)
            }
        case .candidate:
            // The round starts when the candidate's vote is durable: its vote requests leave then
            // (and a single voter wins then). Timing out while that write is still under way would
            // only start another epoch and another write: on a disk slower than the timeout, forever.
            if now >= electionDeadline && ownVoteIsDurable { startPreVote(now) }
        case .unattached, .prospective:
            if now >= electionDeadline { startPreVote(now) }
        }
    }
}
