/// One entry of a partition's leader-epoch history: the first offset written in `epoch`.
public struct EpochEntry: Sendable, Hashable, CustomStringConvertible {
    /// The leader epoch.
    public var epoch: Int32
    /// The offset of the first batch appended in it.
    public var startOffset: Int64

    /// Creates an entry.
    public init(epoch: Int32, startOffset: Int64) {
        self.epoch = epoch
        self.startOffset = startOffset
    }

    /// `epoch@startOffset`.
    public var description: String { "\(epoch)@\(startOffset)" }
}

/// An epoch with the offset its log ends at: the answer of OffsetForLeaderEpoch (KIP-101/279)
/// and the diverging epoch of a Fetch response (KIP-595). `undefined` (-1, -1) when unknown.
public struct EpochEndOffset: Sendable, Hashable, CustomStringConvertible {
    /// The largest epoch at or below the one asked about that the log holds; -1 when none.
    public var epoch: Int32
    /// The offset after that epoch's last record (the start of the next epoch, or the log end for
    /// the latest one); -1 when unknown.
    public var endOffset: Int64

    /// Creates an answer.
    public init(epoch: Int32, endOffset: Int64) {
        self.epoch = epoch
        self.endOffset = endOffset
    }

    /// Kafka's `UNDEFINED_EPOCH` / `UNDEFINED_EPOCH_OFFSET`.
    public static let undefined = EpochEndOffset(epoch: -1, endOffset: -1)

    /// `epoch:endOffset`.
    public var description: String { "epoch \(epoch) ends at \(endOffset)" }
}

/// Where a follower truncates its log after its leader named a diverging epoch, and whether it
/// is done (KIP-279: when the follower does not know the leader's epoch it truncates to the end
/// of its own largest epoch below it and asks again).
public struct TruncationTarget: Sendable, Hashable {
    /// The offset to truncate to (the new log end).
    public var offset: Int64
    /// False when the follower must ask its leader again about its (new) latest epoch.
    public var completed: Bool

    /// Creates a target.
    public init(offset: Int64, completed: Bool) {
        self.offset = offset
        self.completed = completed
    }
}

/// A partition's leader-epoch history (Kafka's `LeaderEpochFileCache` without the file): epochs
/// in increasing order, each with the first offset written in it, start offsets increasing too.
///
/// A pure value: no file, lock or clock. ``PartitionLog`` keeps one under its lock and writes it
/// to `leader-epoch-checkpoint` when it changes.
public struct LeaderEpochCache: Sendable, Hashable {
    /// The entries, oldest first; epochs and start offsets strictly increase.
    public private(set) var entries: [EpochEntry]

    /// A cache holding `entries` (kept only while epochs and start offsets increase; the rest is
    /// dropped, as a checkpoint that does not is damaged from that line on).
    public init(_ entries: [EpochEntry] = []) {
        self.entries = []
        for entry in entries {
            guard entry.epoch >= 0, entry.startOffset >= 0 else { break }
            if let last = self.entries.last, entry.epoch <= last.epoch || entry.startOffset <= last.startOffset {
                break
            }
            self.entries.append(entry)
        }
    }

    /// The newest epoch, or nil when there is no entry.
    public var latestEpoch: Int32? { entries.last?.epoch }

    /// Records that `epoch` starts at `startOffset` (the base offset of its first batch). Nothing
    /// changes when `epoch` is already the latest at or before that offset, or is negative (a
    /// batch that was never stamped). A record that contradicts the history — an epoch not above
    /// the latest, or a start offset not above the latest's — first removes the entries it
    /// contradicts, as Kafka does: the log being appended to is the truth.
    /// - Returns: true when the entries changed (the checkpoint needs rewriting).
    @discardableResult
    public mutating func assign(epoch: Int32, startOffset: Int64) -> Bool {
        guard epoch >= 0, startOffset >= 0 else { return false }
        if let last = entries.last, last.epoch == epoch, last.startOffset <= startOffset { return false }
        while let last = entries.last, last.epoch >= epoch || last.startOffset >= startOffset {
            entries.removeLast()
        }
        entries.append(EpochEntry(epoch: epoch, startOffset: startOffset))
        return true
    }

    /// The epoch of the record at `offset`: that of the last entry starting at or before it, or
    /// -1 when `offset` is below every entry (or there is none). `offset` is not checked against
    /// the log end: an offset past it answers the latest epoch.
    public func epoch(at offset: Int64) -> Int32 {
        // Binary search for the last entry starting at or before `offset`.
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].startOffset <= offset { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? -1 : entries[lo - 1].epoch
    }

    /// OffsetsForLeaderEpoch (KIP-101, KIP-279): the largest epoch at or below `requested` and
    /// the offset where it ends — the start of the next epoch, or `logEndOffset` for the latest.
    /// A request below every known epoch (their history was deleted) gets `requested` back with
    /// the start of the first epoch after it; one above the latest, or on an empty history,
    /// ``EpochEndOffset/undefined``.
    public func endOffset(for requested: Int32, logEndOffset: Int64) -> EpochEndOffset {
        guard requested >= 0, let last = entries.last else { return .undefined }
        if requested == last.epoch { return EpochEndOffset(epoch: requested, endOffset: logEndOffset) }
        // The first entry above the requested epoch.
        guard let higher = entries.firstIndex(where: { $0.epoch > requested }) else { return .undefined }
        if higher == 0 { return EpochEndOffset(epoch: requested, endOffset: entries[0].startOffset) }
        return EpochEndOffset(epoch: entries[higher - 1].epoch, endOffset: entries[higher].startOffset)
    }

    /// What a leader answers a follower that fetches from `fetchOffset` having last fetched a
    /// batch of `lastFetchedEpoch` (KIP-595): nil when the follower's log agrees with this one up
    /// to the fetch offset, else the epoch and end offset the follower must truncate to
    /// (``truncationTarget(leader:logEndOffset:highWatermark:)`` on the follower). A negative
    /// `lastFetchedEpoch` (the follower has nothing, or an old client) never diverges.
    public func divergingEpoch(lastFetchedEpoch: Int32, fetchOffset: Int64, logEndOffset: Int64) -> EpochEndOffset? {
        guard lastFetchedEpoch >= 0 else { return nil }
        let end = endOffset(for: lastFetchedEpoch, logEndOffset: logEndOffset)
        if end.epoch < lastFetchedEpoch || end.endOffset < fetchOffset { return end }
        return nil
    }

    /// A follower's truncation point after its leader answered `leader` (a diverging epoch or an
    /// OffsetForLeaderEpoch answer), Kafka's `getOffsetTruncationState` (KIP-279):
    /// - leader end offset unknown: truncate to the high watermark;
    /// - the follower holds the leader's epoch: truncate to the smaller of the two logs' ends of it;
    /// - it does not: truncate to the end of its own largest epoch below the leader's and ask
    ///   again (`completed` false), which converges however many failovers the logs went through.
    /// Never past `logEndOffset`.
    public func truncationTarget(leader: EpochEndOffset, logEndOffset: Int64, highWatermark: Int64) -> TruncationTarget
    {
        if leader.endOffset < 0 {
            return TruncationTarget(offset: min(max(highWatermark, 0), logEndOffset), completed: true)
        }
        if leader.epoch < 0 {
            return TruncationTarget(offset: min(leader.endOffset, logEndOffset), completed: true)
        }
        let mine = endOffset(for: leader.epoch, logEndOffset: logEndOffset)
        if mine.epoch < 0 || mine.endOffset < 0 {
            return TruncationTarget(offset: min(leader.endOffset, logEndOffset), completed: true)
        }
        if mine.epoch != leader.epoch {
            return TruncationTarget(offset: min(mine.endOffset, logEndOffset), completed: false)
        }
        return TruncationTarget(offset: min(mine.endOffset, leader.endOffset, logEndOffset), completed: true)
    }

    /// Drops what a truncation of the log to `offset` removed: entries starting at or after it.
    /// - Returns: true when entries were removed.
    @discardableResult
    public mutating func truncateFromEnd(endOffset offset: Int64) -> Bool {
        let before = entries.count
        while let last = entries.last, last.startOffset >= offset { entries.removeLast() }
        return entries.count != before
    }

    /// Drops what moving the log start to `offset` removed: entries wholly below it; the entry
    /// holding it starts at `offset` from now on (Kafka's `truncateFromStart`).
    /// - Returns: true when entries changed.
    @discardableResult
    public mutating func truncateFromStart(startOffset offset: Int64) -> Bool {
        var removed = 0
        while removed + 1 < entries.count, entries[removed + 1].startOffset <= offset { removed += 1 }
        var changed = removed > 0
        entries.removeFirst(removed)
        if let first = entries.first, first.startOffset < offset {
            entries[0].startOffset = offset
            changed = true
        }
        return changed
    }
}
