import Dispatch
import Glibc
import Logging
import Synchronization
import TernNet
import TernRaft

/// Snapshots of the host's state machine and graceful resignation, as the driver exposes them.
///
/// The host's side: set ``installSnapshotHandler`` before ``start()``; it is called on the
/// driver's queue with a snapshot's bytes and end offset — at start when the store loaded one
/// (`onApply` then receives only the entries after it), and whenever a snapshot fetched from
/// the leader is durable — always before any later `onApply`. After applying entries, the host
/// checks ``snapshotDue`` and, when true, serializes its state and calls
/// ``offerSnapshot(data:endOffset:)``; the driver makes it durable and then drops the log prefix
/// it covers.
extension QuorumDriver {
    /// Receives a snapshot's bytes and the offset after the last entry it covers; the host's state
    /// machine becomes exactly that state.
    public typealias SnapshotInstallHandler = @Sendable (_ data: [UInt8], _ endOffset: Int64) -> Void

    struct SnapshotState {
        var installHandler: SnapshotInstallHandler?
        var policy: QuorumSnapshotPolicy?
        var offered = 0
        var installed = 0
    }

    /// Called with a snapshot the host must reset its state machine to (see the extension's
    /// notes). Set it before ``start()``; without one, a loaded or fetched snapshot is logged and
    /// the host's state silently misses what it covers.
    public var installSnapshotHandler: SnapshotInstallHandler? {
        get { snapshots.withLock { $0.installHandler } }
        set { snapshots.withLock { $0.installHandler = newValue } }
    }

    /// True when the host should take a snapshot (``QuorumSnapshotPolicy``, configured by
    /// ``QuorumConfiguration/snapshotMaxRecordBytes`` and ``QuorumConfiguration/snapshotIntervalMs``).
    /// Any thread; typically read at the end of `onApply`.
    public var snapshotDue: Bool {
        let now = now()
        return snapshots.withLock { $0.policy?.isDue(now: now) ?? false }
    }

    /// Snapshots offered by the host and snapshots installed from a leader so far.
    public var snapshotCounts: (offered: Int, installed: Int) {
        snapshots.withLock { ($0.offered, $0.installed) }
    }

    /// The host's state machine after applying every entry below `endOffset` (the last `onApply`
    /// it handled ended there or later). The driver checks it against the log and steps
    /// ``TernRaft/RaftInput/snapshotTaken(_:)``: the snapshot is written durably, then the log
    /// prefix it covers is dropped. A snapshot the node cannot take (above the applied offset,
    /// not newer than the current one, larger than ``QuorumConfiguration/maxSnapshotBytes``) is
    /// logged and ignored. Any thread.
    public func offerSnapshot(data: [UInt8], endOffset: Int64) {
        guard data.count <= configuration.maxSnapshotBytes else {
            logger.error(
                "metadata snapshot refused: larger than maxSnapshotBytes (no follower could fetch it)",
                metadata: ["tern_size": "\(data.count)", "tern_max": "\(configuration.maxSnapshotBytes)"])
            return
        }
        queue.async {
            let lastEpoch = self.core.withLock { core -> Int64? in
                guard let node = core.node, endOffset > node.logStartOffset, endOffset <= node.logEndOffset else {
                    return nil
                }
                return node.log[Int(endOffset - 1 - node.logStartOffset)].epoch
            }
            guard let lastEpoch else {
                self.warnings.log(
                    self.logger, level: .info, "metadata snapshot ignored: its end is not in the log",
                    metadata: ["tern_end_offset": "\(endOffset)"])
                return
            }
            self.snapshots.withLock {
                $0.offered += 1
                $0.policy?.snapshotted(now: self.now())
            }
            self.step(.snapshotTaken(RaftSnapshot(endOffset: endOffset, lastEpoch: lastEpoch, data: data)))
        }
    }

    /// In ``start()``, before inputs are stepped: sets up the policy and hands the host the
    /// snapshot the store loaded, on the queue, so it precedes every `onApply`.
    func prepareSnapshots(loaded snapshot: RaftSnapshot?) {
        let now = now()
        let handler = snapshots.withLock { state -> SnapshotInstallHandler? in
            state.policy = QuorumSnapshotPolicy(
                maxRecordBytes: configuration.snapshotMaxRecordBytes, intervalMs: configuration.snapshotIntervalMs,
                now: now)
            return state.installHandler
        }
        guard let snapshot else { return }
        if let handler {
            queue.sync { handler(snapshot.data, snapshot.endOffset) }
        } else {
            logger.warning(
                "metadata quorum loaded a snapshot but the host set no installSnapshotHandler; its state starts after the snapshot",
                metadata: ["tern_end_offset": "\(snapshot.endOffset)"])
        }
    }

    /// On the queue: committed entries were applied (feeds the snapshot policy).
    func noteApplied(_ entries: [RaftEntry], now: Tick) {
        snapshots.withLock { $0.policy?.applied(entries) }
    }

    /// On the queue: a snapshot fetched from the leader is durable; the host's state machine
    /// resets to it before any later `onApply`.
    func installSnapshot(_ snapshot: RaftSnapshot, now: Tick) {
        let handler = snapshots.withLock { state -> SnapshotInstallHandler? in
            state.installed += 1
            state.policy?.snapshotted(now: now)
            return state.installHandler
        }
        logger.info(
            "metadata snapshot installed from the leader",
            metadata: [
                "tern_end_offset": "\(snapshot.endOffset)", "tern_epoch": "\(snapshot.lastEpoch)",
                "tern_bytes": "\(snapshot.data.count)",
            ])
        handler?(snapshot.data, snapshot.endOffset)
    }

    /// On the queue: the log prefix below `before` is covered by a durable snapshot. The writer
    /// thread rewrites the log after its current round (the store serializes it with writes).
    func dropLogPrefix(before: Int64) {
        let (writer, store) = parts.withLock { ($0.writer, $0.store) }
        guard let writer, let store else { return }
        writer.enqueue { try store.dropLogPrefix(before: before) }
    }

    /// The start of ``shutdown()``: a leader resigns (EndQuorumEpoch names its successors) and
    /// waits, at most `resignWait`, until its peers acknowledged what was sent, so the quorum
    /// elects a new leader at once instead of after an election timeout.
    func resignBeforeShutdown() {
        let leading = core.withLock { core in core.running && core.node?.role == .leader }
        // A single voter has no one to hand over to: its proposals end `unavailable` as before.
        guard leading, !links.isEmpty else { return }
        queue.sync { self.step(.resign) }
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.resignWaitNanoseconds
        while DispatchTime.now().uptimeNanoseconds < deadline, !links.values.allSatisfy(\.isIdle) {
            usleep(2_000)
        }
        logger.info(
            "metadata quorum leader resigned for shutdown",
            metadata: ["tern_peers_acknowledged": "\(links.values.filter(\.isIdle).map(\.id).sorted())"])
    }

    /// How long a resigning leader waits for its EndQuorumEpoch to be acknowledged (500 ms: a
    /// peer that is down does not hold up the shutdown for longer).
    static let resignWaitNanoseconds: UInt64 = 500_000_000
}
