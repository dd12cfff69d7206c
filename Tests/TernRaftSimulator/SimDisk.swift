import TernRaft

/// One node's simulated disk: what is durable (epoch, vote, the latest snapshot and a log that
/// starts at `logStart`) and the writes handed to it but not yet fsynced, which a crash loses.
struct SimDisk {
    var epoch: Int64 = 0
    var votedFor: RaftNodeId?
    var snapshot: RaftSnapshot?
    /// Offset of `entries[0]`; below the snapshot's end until the host drops the prefix.
    var logStart: Int64 = 0
    var entries: [RaftEntry] = []
    /// Writes handed to the disk, not yet fsynced: lost on a crash.
    var pending: [(dueAt: Tick, write: RaftWrite)] = []

    var logEnd: Int64 { logStart + Int64(entries.count) }

    func entry(at offset: Int64) -> RaftEntry? {
        offset >= logStart && offset < logEnd ? entries[Int(offset - logStart)] : nil
    }

    /// What a restart reads: the snapshot and only the log entries after it.
    var persistentState: RaftPersistentState {
        let from = max(logStart, snapshot?.endOffset ?? 0)
        let after = from < logEnd ? Array(entries[Int(from - logStart)...]) : []
        return RaftPersistentState(epoch: epoch, votedFor: votedFor, snapshot: snapshot, entries: after)
    }

    /// Performs `w` as ``RaftWrite`` documents it; returns why it is impossible, or nil.
    mutating func perform(_ w: RaftWrite) -> String? {
        if let s = w.snapshot, let problem = storeSnapshot(s, of: w) { return problem }
        guard w.fromOffset >= logStart, w.fromOffset <= logEnd else {
            return "write \(w.seq) truncates at \(w.fromOffset) outside the disk's log \(logStart)..<\(logEnd)"
        }
        entries.removeSubrange(Int(w.fromOffset - logStart)...)
        entries.append(contentsOf: w.entries)
        epoch = w.epoch
        votedFor = w.votedFor
        return nil
    }

    /// The first part of a write carrying a snapshot, durable before the rest of it: a crash may
    /// land between the two.
    mutating func storeSnapshot(_ s: RaftSnapshot, of w: RaftWrite) -> String? {
        if let old = snapshot, s.endOffset < old.endOffset {
            return "write \(w.seq) stores \(s.id) older than the disk's \(old.id)"
        }
        // What follows the snapshot on this disk must continue it: a crash right after this
        // store would leave those entries after it.
        if logEnd > s.endOffset, let last = entry(at: s.endOffset - 1), last.epoch != s.lastEpoch {
            return
                "write \(w.seq) stores \(s.id) while the disk log holds \(last) at \(s.endOffset - 1) and more after it"
        }
        snapshot = s
        if logEnd <= s.endOffset {
            logStart = s.endOffset
            entries = []
        }
        return nil
    }

    /// Drops the log below `offset` (no fsync: a restart reads only what follows the snapshot).
    mutating func dropPrefix(before offset: Int64) -> String? {
        guard let s = snapshot, s.endOffset >= offset else {
            return
                "log prefix below \(offset) dropped while the disk's snapshot is \(snapshot.map(\.id.description) ?? "none")"
        }
        let cut = min(max(offset, logStart), logEnd)
        entries.removeFirst(Int(cut - logStart))
        logStart = cut
        return nil
    }
}
