/// Snapshots and log truncation (KIP-630): the host hands over snapshots of its state machine,
/// the node makes them durable before it drops the prefix they replace, serves them to followers
/// that fell behind its log start, and installs one fetched from the leader.
extension RaftNode {
    /// The end of the newest snapshot this node holds or is writing.
    var newestSnapshotEnd: Int64 {
        snapshotWrites.reduce(logStartOffset) { max($0, $1.snapshot.endOffset) }
    }

    /// True while a snapshot fetched from the leader is being written: the log then starts at a
    /// snapshot not yet on disk, so the node neither fetches nor applies until it is.
    var installingSnapshot: Bool { snapshotWrites.contains { $0.install } }

    /// The host took `s` after applying every entry below its end offset.
    mutating func takeSnapshot(_ s: RaftSnapshot) {
        if s.endOffset <= newestSnapshotEnd {
            refuse(nil, "\(s.id) is not above the newest snapshot's end \(newestSnapshotEnd)")
            return
        }
        if s.endOffset > appliedOffset {
            // Never beyond what was applied, which never passes the high watermark: a snapshot
            // holds only committed entries.
            refuse(nil, "\(s.id) is above the applied offset \(appliedOffset)")
            return
        }
        guard let e = entry(at: s.endOffset - 1)?.epoch, e == s.lastEpoch else {
            refuse(nil, "\(s.id) does not match the log's entry at \(s.endOffset - 1)")
            return
        }
        flushWrite(snapshot: s)
    }

    /// Snapshot writes up to `seq` are durable: drop the prefixes they replace, hand fetched ones
    /// to the host.
    mutating func snapshotsDurable(upTo seq: UInt64) {
        while let first = snapshotWrites.first, first.seq <= seq {
            snapshotWrites.removeFirst()
            let s = first.snapshot
            if first.install {
                // The log already starts at it (set when the download completed).
                if appliedOffset < s.endOffset {
                    appliedOffset = s.endOffset
                    effects.append(.installSnapshot(s))
                }
            } else {
                guard s.endOffset > logStartOffset else { continue }  // a fetched one overtook it
                log.removeFirst(Int(s.endOffset - logStartOffset))
                logStartOffset = s.endOffset
                logStartEpoch = s.lastEpoch
                snapshot = s
            }
            effects.append(.dropLogPrefix(before: s.endOffset))
        }
        applyCommitted()
    }

    // MARK: Leader side

    mutating func handleFetchSnapshot(from: RaftNodeId, _ r: FetchSnapshotRequest, now: Tick) {
        if r.epoch > epoch && config.voters.contains(from) { transition(epoch: r.epoch, leader: nil, now: now) }
        guard role == .leader, r.epoch == epoch else {
            send(
                from,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(
                        epoch: epoch, leaderId: leaderId, failure: r.epoch < epoch ? .fencedEpoch : .notLeader,
                        snapshotId: r.snapshotId)))
            return
        }
        // A follower downloading a snapshot is alive and following.
        var p = fetchProgress(of: from)
        p.lastFetch = now
        recordFetchProgress(p, of: from)
        guard let s = snapshot, s.id == r.snapshotId else {
            send(
                from,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(
                        epoch: epoch, leaderId: config.id, failure: .snapshotNotFound, snapshotId: r.snapshotId)))
            return
        }
        let size = Int64(s.data.count)
        guard r.position <= size else {
            refuse(from, "FetchSnapshot at \(r.position) past the end \(size) of \(s.id)")
            return
        }
        let start = Int(r.position)
        let end = start + Int(min(size - r.position, Int64(min(r.maxBytes, config.snapshotChunkBytes))))
        send(
            from,
            .fetchSnapshotResponse(
                FetchSnapshotResponse(
                    epoch: epoch, leaderId: config.id, snapshotId: s.id, size: size, position: r.position,
                    chunk: Array(s.data[start..<end]))))
    }

    // MARK: Follower side

    /// Starts fetching snapshot `id` from the leader (its log starts after our fetch offset).
    mutating func startDownload(_ id: RaftSnapshotId, from leader: RaftNodeId, now: Tick) {
        guard id.endOffset > newestSnapshotEnd else { return }  // not newer than ours: a late answer
        if let d = download, d.id == id, d.leader == leader, d.epoch == epoch { return }
        download = SnapshotDownload(id: id, leader: leader, epoch: epoch)
        sendFetch(now)
    }

    mutating func handleFetchSnapshotResponse(from: RaftNodeId, _ r: FetchSnapshotResponse, now: Tick) {
        if r.epoch < epoch {
            refuse(from, "FetchSnapshot response from stale epoch \(r.epoch) < \(epoch)")
            return
        }
        if let hint = r.leaderId, !config.voters.contains(hint) {
            refuse(from, "FetchSnapshot response naming unknown leader \(hint)")
            return
        }
        if observerIgnoresLeaderlessEpoch(from: from, r.epoch, leader: r.leaderId, now: now) { return }
        if let failure = r.failure {
            if r.epoch > epoch {
                transition(epoch: r.epoch, leader: r.leaderId == config.id ? nil : r.leaderId, now: now)
            } else if role == .follower, leaderId == from {
                if failure == .snapshotNotFound, r.leaderId == from {
                    // The leader took a newer snapshot: a plain fetch learns its id.
                    download = nil
                    sendFetch(now)
                } else if r.leaderId != from {
                    transition(epoch: epoch, leader: nil, now: now)  // it resigned
                }
            }
            return
        }
        if r.leaderId != from {
            refuse(
                from, "FetchSnapshot response from node \(from) naming leader \(r.leaderId.map(String.init) ?? "none")")
            return
        }
        if r.epoch > epoch {
            // A leader of a newer epoch: follow it (the download, for an older epoch, is over).
            transition(epoch: r.epoch, leader: from, now: now)
            return
        }
        guard role == .follower, leaderId == from, var d = download, d.leader == from, d.epoch == epoch,
            d.id == r.snapshotId, r.position == Int64(d.data.count)
        else { return }  // a late or duplicated chunk
        if r.chunk.count > config.snapshotChunkBytes {
            refuse(
                from, "FetchSnapshot chunk of \(r.chunk.count) bytes above the \(config.snapshotChunkBytes) asked for")
            return
        }
        if let size = d.size, size != r.size {
            refuse(from, "FetchSnapshot response says \(r.snapshotId) has \(r.size) bytes, not \(size)")
            return
        }
        lastLeaderContact = now
        resetElectionTimer(now)
        d.size = r.size
        d.data.append(contentsOf: r.chunk)
        if Int64(d.data.count) < r.size {
            download = d
            sendFetch(now)
            return
        }
        download = nil
        install(RaftSnapshot(endOffset: d.id.endOffset, lastEpoch: d.id.lastEpoch, data: d.data), from: from)
    }

    /// A complete snapshot from the leader replaces the log up to its end. Entries after it stay if
    /// the log holds its last entry; otherwise the whole log goes.
    mutating func install(_ s: RaftSnapshot, from: RaftNodeId) {
        guard s.endOffset > newestSnapshotEnd else { return }
        let end = s.endOffset
        let matches = entry(at: end - 1)?.epoch == s.lastEpoch
        if !matches && logEndOffset >= end {
            // This log holds a different entry at end - 1, so nothing from there on can ever
            // commit. Drop it in a write before the snapshot's: a crash after the snapshot is
            // stored but before the log is cut must not leave those entries after it.
            guard end - 1 >= highWatermark else {
                refuse(from, "\(s.id) contradicts the committed entry at \(end - 1)")
                return
            }
            truncate(to: end - 1)
        }
        flushWrite()
        if matches {
            log.removeFirst(Int(end - logStartOffset))
        } else {
            log = []
        }
        logStartOffset = end
        logStartEpoch = s.lastEpoch
        snapshot = s
        markDirty(from: end)
        // The snapshot holds only committed entries.
        highWatermark = max(highWatermark, end)
        flushWrite(snapshot: s, install: true)
    }
}
