import Logging
import Synchronization

/// One partition's log on disk: an ordered list of segments, the last one active.
///
/// All mutable state sits behind one `Mutex`. Appends, truncations and rolls hold it, so they
/// are serialized. Reads hold it only to find where to start (a binary search over segments and
/// one over an index) and then read the files without it: bytes below a segment's recorded size
/// are never rewritten, and each ``LogSlice`` keeps its file open. Flushes hold it only to note
/// what is dirty and to record what became durable; the `fdatasync` itself runs unlocked.
public final class PartitionLog: Sendable {
    /// The partition this log stores.
    public let topicPartition: TopicPartition
    /// The partition's directory, `<logDir>/<topic>-<partition>`.
    public let directory: String
    let logger: Logger
    let syncCounter: SyncCounter
    /// Where a roll asks for the log to be flushed in the background (nil: nobody listens).
    let flushRequests: FlushRequests?

    struct State: Sendable {
        var segments: [Segment]
        var logStartOffset: Int64
        var recoveryPoint: Int64
        var config: LogConfig
        var closed = false
        /// The log's directory has been deleted.
        var deleted = false
        /// Set when a flush failed: the page cache may have dropped the data, so nothing may
        /// claim durability again (Kafka takes the log directory offline for the same reason).
        var failure: StorageError?
        /// A file was created in the directory since it was last fsynced.
        var directoryDirty = false
        /// Bumped by truncations, so a flush that started before one does not advance the
        /// recovery point over offsets that were removed and appended again.
        var generation: UInt64 = 0
        /// The cleaner's checkpoint: offsets below it have been compacted (the dirty section
        /// starts here, clamped to the log start).
        var firstDirtyOffset: Int64 = 0
        /// Wall-clock milliseconds of the last completed cleaning; -1 when none since start-up.
        var lastCleanedMs: Int64 = -1
        /// When tombstones kept by the last cleaning become removable (wall-clock ms), if any were kept.
        var tombstonesDueMs: Int64?
        /// The idempotent producers writing here (checked and updated under this lock by appends).
        var producers: ProducerStateTable
        /// A snapshot of ``producers`` taken at a roll, written by the next flush (off the append path).
        var pendingProducerSnapshot: (offset: Int64, table: ProducerStateTable)?
        /// The leader-epoch history, as `leader-epoch-checkpoint` holds it (PartitionLog+LeaderEpoch).
        var epochs = LeaderEpochCache()

        var activeIndex: Int { segments.count - 1 }
        var logEndOffset: Int64 { segments[segments.count - 1].nextOffset }
    }

    let state: Mutex<State>
    /// Held for the whole of a flush, so that a flush finding nothing dirty cannot report
    /// durability while another is still syncing what it took. Lock order: `flushLock`, then
    /// `state`; nothing takes `flushLock` while holding `state`.
    let flushLock = Mutex(())
    /// Held by whatever replaces or removes segments below the active one (the cleaner's swap,
    /// retention, truncation, moving the log start), around its `state` sections: the cleaner
    /// holds it across the fsyncs of a swap, so that the segments it commits to replace on disk
    /// cannot change before it switches them in memory, without holding `state` (which produce
    /// and fetch take) meanwhile. Lock order: `maintenanceLock`, then `state`; never taken while
    /// holding `state` or `flushLock`, and never by produce, fetch or flushes.
    let maintenanceLock = Mutex(())
    /// Called by a cleaner swap just before its commit fsync (tests hold a swap there).
    let swapWillSync = Mutex<(@Sendable () -> Void)?>(nil)
    /// The key index's hash bits, or -1 when the log keeps none: a copy of the configuration an
    /// append reads before taking `state`, to hash its keys outside the lock.
    let keyIndexBits: Atomic<Int>
    /// Base offsets of sealed segments whose key index file failed a check when read: the next
    /// ``sealKeyIndexes()`` rebuilds them (queries scan those segments meanwhile). A leaf lock.
    let damagedKeyIndexes = Mutex<Set<Int64>>([])

    init(
        topicPartition: TopicPartition, directory: String, segments: [Segment], logStartOffset: Int64,
        recoveryPoint: Int64, config: LogConfig, logger: Logger, syncCounter: SyncCounter, firstDirtyOffset: Int64 = 0,
        flushRequests: FlushRequests? = nil, producers: ProducerStateTable = ProducerStateTable(),
        epochs: LeaderEpochCache = LeaderEpochCache()
    ) {
        precondition(!segments.isEmpty, "a log has at least one segment")
        self.topicPartition = topicPartition
        self.directory = directory
        var logger = logger
        logger[metadataKey: "tern_topic"] = "\(topicPartition.topic)"
        logger[metadataKey: "tern_partition"] = "\(topicPartition.partition)"
        self.logger = logger
        self.syncCounter = syncCounter
        self.flushRequests = flushRequests
        keyIndexBits = Atomic(config.keyIndexEnabled ? config.keyIndexHashBits : -1)
        state = Mutex(
            State(
                segments: segments, logStartOffset: logStartOffset, recoveryPoint: recoveryPoint, config: config,
                firstDirtyOffset: firstDirtyOffset, producers: producers, epochs: epochs))
    }

    /// The first offset still in the log.
    public var logStartOffset: Int64 { state.withLock { $0.logStartOffset } }
    /// The offset the next appended record gets.
    public var logEndOffset: Int64 { state.withLock { $0.logEndOffset } }
    /// Every offset below this is on stable storage.
    public var recoveryPoint: Int64 { state.withLock { $0.recoveryPoint } }
    /// Bytes of all segment files.
    public var sizeInBytes: Int64 { state.withLock { $0.segments.reduce(0) { $0 + $1.size } } }
    /// Number of segments, the active one included.
    public var segmentCount: Int { state.withLock { $0.segments.count } }
    /// Base offsets of the segments, oldest first.
    public var segmentBaseOffsets: [Int64] { state.withLock { $0.segments.map(\.baseOffset) } }
    /// The cleaner's checkpoint: where the dirty (not yet compacted) part of the log starts.
    public var firstDirtyOffset: Int64 {
        state.withLock { max($0.firstDirtyOffset, $0.logStartOffset) }
    }
    /// Wall-clock milliseconds of the last completed cleaning of this log; -1 when none since start-up.
    public var lastCleanedMs: Int64 { state.withLock { $0.lastCleanedMs } }
    /// The log's current settings.
    public var config: LogConfig { state.withLock { $0.config } }

    /// Replaces the log's settings; they apply from the next append. Enabling the key index
    /// builds it here (the segments' index files are written or reloaded before this returns).
    public func update(config: LogConfig) {
        let buildKeyIndex = state.withLock { state in
            let old = state.config
            state.config = config
            return applyKeyIndexConfig(&state, old: old)
        }
        if buildKeyIndex { sealKeyIndexes() }
    }

    /// Throws when the log may not be used.
    func checkUsable(_ state: State) throws {
        if state.closed { throw StorageError(.closed, "\(topicPartition) is closed") }
        if let failure = state.failure {
            throw StorageError(
                failure.code, "\(topicPartition) is offline after an earlier failure: \(failure.message)")
        }
    }

    /// The index of the segment holding `offset`: the last one whose base offset is at or below
    /// it (the first one when the offset precedes them all).
    static func segmentIndex(_ segments: [Segment], containing offset: Int64) -> Int {
        var low = 0
        var high = segments.count
        while low < high {
            let mid = (low + high) / 2
            if segments[mid].baseOffset <= offset { low = mid + 1 } else { high = mid }
        }
        return max(0, low - 1)
    }

    /// Closes the log: refuses further appends and truncations (they throw `closed`), writes the
    /// active segment's index files, flushes everything and snapshots the producer state at the
    /// log end (so the next start replays no batch). Reads keep working on what is there.
    public func close() throws {
        if keyIndexBits.load(ordering: .relaxed) >= 0 { sealKeyIndexes() }
        let closedNow = try state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.closed = true
            try state.segments[state.activeIndex].writeIndexes(sealing: true)
            // The roll's snapshot is older than this one: superseded.
            state.pendingProducerSnapshot = (state.logEndOffset, state.producers)
            return true
        }
        if closedNow { try flush() }
    }

    /// Marks the log closed and deleted without flushing (its directory is about to go).
    func abandon() {
        state.withLock { state in
            state.closed = true
            state.deleted = true
            // Close the descriptors of the deleted files as soon as no read uses them.
            for segment in state.segments { segment.handle.retire() }
        }
    }
}
