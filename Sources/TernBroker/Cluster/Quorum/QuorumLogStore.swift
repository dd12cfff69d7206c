import Logging
import Synchronization
import TernRaft
import TernStorage
import TernWire

/// The metadata quorum's durable state on disk, in `<log.dir>/__cluster_metadata-0/`:
///
/// - `quorum-state`: the epoch and vote, as `key=value` text, replaced atomically (write
///   `quorum-state.tmp`, fsync, rename, fsync the directory) so a crash leaves the old or the new
///   one; a file that does not parse stops the node from starting.
/// - `<endOffset>-<lastEpoch>.snapshot`: the latest snapshot of the state machine
///   (``QuorumSnapshotFile``), written atomically and durable before the log part of the same
///   ``TernRaft/RaftWrite``.
/// - `raft.log`: a 28-byte header (`"TRNRLOG1" | baseOffset i64 | baseEpoch i64 | crc32c u32`:
///   the log's start offset and the epoch of the entry before it, i.e. the snapshot's), then the
///   entries from `baseOffset` on, each `length u32 | crc u32 | epoch i64 | payload`, where
///   `length` counts the epoch and payload and `crc` is their CRC-32C. Appended, cut back on
///   divergence, fdatasynced once per group of writes. On load, a torn or corrupt tail (short
///   entry, bad length or CRC, epochs going backwards) is cut with a log line: those entries were
///   never acknowledged as durable, or the disk lost them; either way the leader sends them again.
///   Dropping a prefix (``dropLogPrefix(before:)``) writes the kept entries under a new header to
///   `raft.log.tmp`, fsyncs it, renames it over `raft.log` and fsyncs the directory, then deletes
///   older snapshots: a crash at any point leaves the snapshot and a log that continues it.
///
/// Write order within a group: the quorum state first, then each write's snapshot (after the
/// log writes before it are synced), then the log, then one sync: an entry of epoch E is never
/// durable before the epoch is (a node restarting with a log ahead of its epoch would send votes
/// the core refuses as malformed).
///
/// Load validates what it reads against itself (``load()``): a snapshot whose offsets or epoch
/// contradict the log or the quorum state stops the start with an error naming the file.
public final class QuorumLogStore: RaftDurableStore {
    /// The directory's name under a log directory.
    public static let directoryName = "__cluster_metadata-0"
    static let stateFileName = "quorum-state"
    static let logFileName = "raft.log"
    /// Entry header: length u32 and crc u32.
    static let headerSize = 8
    /// The log file's header: magic, base offset, base epoch, CRC.
    static let logMagic: [UInt8] = Array("TRNRLOG1".utf8)
    static let logHeaderSize = 28
    /// The largest log ``load()`` reads.
    static let maxLoadBytes: Int64 = 1 << 31

    private struct State {
        var epoch: Int64 = 0
        var votedFor: RaftNodeId?
        var file: DurableFile?
        /// Offset of the log file's first entry, and the epoch of the entry before it.
        var base: Int64 = 0
        var baseEpoch: Int64 = 0
        /// Byte position where each entry starts, its epoch, and where the log ends.
        var positions: [Int64] = []
        var epochs: [Int64] = []
        var end: Int64 = Int64(QuorumLogStore.logHeaderSize)
        /// The durable snapshot the log continues.
        var snapshot: RaftSnapshotId?
        var loaded = false

        var logEnd: Int64 { base + Int64(positions.count) }

        /// Epoch of the entry at `offset - 1` as the file knows it (nil: not in the file).
        func epoch(before offset: Int64) -> Int64? {
            if offset == base { return baseEpoch }
            guard offset > base, offset <= logEnd else { return nil }
            return epochs[Int(offset - base - 1)]
        }
    }

    /// The directory holding the files.
    public let directory: String
    /// The largest snapshot loaded (or written): a larger file is refused as corrupt.
    public let maxSnapshotBytes: Int
    private let logger: Logger
    private let state = Mutex(State())

    /// Opens (creating when missing) the quorum directory under `logDir`.
    /// - Throws: ``StorageError`` naming the directory.
    public init(logDir: String, logger: Logger, maxSnapshotBytes: Int = QuorumConfiguration.defaultMaxSnapshotBytes)
        throws
    {
        directory = logDir + "/" + Self.directoryName
        try DurableFile.makeDirectories(directory)
        self.logger = logger
        self.maxSnapshotBytes = maxSnapshotBytes
    }

    var statePath: String { directory + "/" + Self.stateFileName }
    var logPath: String { directory + "/" + Self.logFileName }
    func snapshotPath(_ id: RaftSnapshotId) -> String { directory + "/" + QuorumSnapshotFile.name(for: id) }

    /// The durable snapshot the log continues (for tests and status).
    public var snapshotId: RaftSnapshotId? { state.withLock { $0.snapshot } }
    /// The log's start offset as the file records it.
    public var logStartOffset: Int64 { state.withLock { $0.base } }

    /// Reads and validates the directory: the quorum state, the newest snapshot and the log that
    /// continues it. A torn log tail is cut; a leftover `.tmp` is removed; a log that still holds
    /// entries the snapshot covers (a crash before the prefix was dropped) is trimmed.
    ///
    /// A newest snapshot that is corrupt (bad CRC, header or name) is set aside as `<name>.corrupt`
    /// and the next older one used only when the log still holds every entry up to the corrupt
    /// one's end: then nothing this node may have acknowledged is lost. Otherwise the start stops
    /// with an error naming the file (the node may have acknowledged entries it no longer holds;
    /// an operator replaces its directory to have it fetch everything from the leader again).
    /// - Throws: ``StorageError`` naming the file when the state cannot be trusted.
    public func load() throws -> RaftPersistentState {
        try state.withLock { state in
            precondition(!state.loaded, "QuorumLogStore.load() called twice")
            let (epoch, votedFor) = try readQuorumState()
            let names = try DurableFile.list(directory)
            for name in names where name.hasSuffix(".tmp") {
                // A snapshot or log rewrite a crash interrupted before its rename: never in use.
                try AtomicFile.remove(directory + "/" + name)
            }
            try readLog(&state)
            let snapshot = try chooseSnapshot(names.compactMap(QuorumSnapshotFile.id(fromName:)), &state)
            if let snapshot {
                if snapshot.lastEpoch > epoch {
                    throw StorageError(
                        .corruptLog,
                        "\(snapshotPath(snapshot.id)) covers epoch \(snapshot.lastEpoch) but \(statePath) holds epoch "
                            + "\(epoch): the quorum state is missing or older than the snapshot")
                }
                state.snapshot = snapshot.id
                if state.base < snapshot.endOffset {
                    try dropPrefix(&state, before: snapshot.endOffset, epoch: snapshot.lastEpoch)
                }
            } else if state.base != 0 {
                throw StorageError(
                    .corruptLog,
                    "\(logPath) starts at offset \(state.base) but no snapshot in \(directory) covers the offsets "
                        + "before it")
            }
            try deleteSnapshots(olderThan: state.snapshot)
            let lastEpoch = state.epochs.last ?? state.baseEpoch
            if lastEpoch > epoch {
                throw StorageError(
                    .corruptLog,
                    "\(statePath) holds epoch \(epoch) but \(logPath) has entries of epoch \(lastEpoch): "
                        + "the quorum state is missing or older than the log")
            }
            let entries = try readEntries(&state)
            state.epoch = epoch
            state.votedFor = votedFor
            state.loaded = true
            return RaftPersistentState(epoch: epoch, votedFor: votedFor, snapshot: snapshot, entries: entries)
        }
    }

    /// Opens `raft.log` (creating it with an empty log at 0), checks its header and indexes its
    /// entries, cutting a torn tail.
    private func readLog(_ state: inout State) throws {
        if !DurableFile.exists(logPath) {
            try AtomicFile.write(logPath, bytes: Self.logHeader(base: 0, epoch: 0))
        }
        let file = try DurableFile.open(logPath, create: false)
        state.file = file
        var size = try file.size()
        if size == 0 {
            // Created empty by an older build that wrote no header: an empty log at 0.
            try file.write(Self.logHeader(base: 0, epoch: 0), at: 0)
            try file.sync()
            size = Int64(Self.logHeaderSize)
        }
        // The whole log is held in memory by the node anyway; refuse rather than fail to allocate.
        guard size <= Self.maxLoadBytes else {
            throw StorageError(
                .corruptLog, "\(logPath) is \(size) bytes, more than the \(Self.maxLoadBytes) a node loads")
        }
        let bytes = try file.read(count: Int(size), at: 0)
        guard bytes.count >= Self.logHeaderSize, Array(bytes[0..<8]) == Self.logMagic,
            CRC32C.checksum(bytes, range: 0..<24) == Self.uint32(bytes, 24)
        else {
            throw StorageError(
                .corruptLog,
                "\(logPath): the header (start offset and epoch) is missing or corrupt; the node cannot know where "
                    + "its log starts")
        }
        let base = Self.int64(bytes, 8)
        let baseEpoch = Self.int64(bytes, 16)
        guard base >= 0, baseEpoch >= 0, baseEpoch <= RaftMessage.maxEpoch, (base == 0) == (baseEpoch == 0) else {
            throw StorageError(.corruptLog, "\(logPath): header with start offset \(base) and epoch \(baseEpoch)")
        }
        state.base = base
        state.baseEpoch = baseEpoch
        var position = Self.logHeaderSize
        var lastEpoch = baseEpoch
        var problem: String?
        while position < bytes.count {
            if let fault = Self.entryFault(bytes, at: position, after: lastEpoch) {
                problem = fault
                break
            }
            let length = Int(Self.uint32(bytes, position))
            lastEpoch = Self.int64(bytes, position + Self.headerSize)
            state.positions.append(Int64(position))
            state.epochs.append(lastEpoch)
            position += Self.headerSize + length
        }
        if let problem {
            logger.warning(
                "metadata log: cutting a torn or corrupt tail",
                metadata: [
                    "tern_file": "\(logPath)", "tern_position": "\(position)",
                    "tern_entries_kept": "\(state.positions.count)", "tern_bytes_dropped": "\(bytes.count - position)",
                    "tern_reason": "\(problem)",
                ])
            try file.truncate(to: Int64(position))
            try file.sync()
        }
        state.end = Int64(position)
    }

    /// The newest snapshot the log continues (see ``load()``), or nil when there is none.
    private func chooseSnapshot(_ ids: [RaftSnapshotId], _ state: inout State) throws -> RaftSnapshot? {
        let candidates = ids.sorted { ($0.endOffset, $0.lastEpoch) > ($1.endOffset, $1.lastEpoch) }
        var setAside: [(RaftSnapshotId, StorageError)] = []
        /// A corrupt snapshot that nothing else on the disk replaces.
        func unrecoverable() -> StorageError {
            let (id, error) = setAside[0]
            return StorageError(
                .corruptLog,
                "\(error.message); no older snapshot and log (\(logPath), offsets \(state.base)..<\(state.logEnd)) "
                    + "hold what it covered (to offset \(id.endOffset)), so this node cannot restore its state. "
                    + "Replace the node's \(directory) to have it fetch the log from the leader again")
        }
        for id in candidates {
            let path = snapshotPath(id)
            switch QuorumSnapshotFile.read(path, id: id, maxBytes: maxSnapshotBytes) {
            case .failure(let error):
                setAside.append((id, error))
                // Falling back is safe only while the log holds everything the corrupt one covered.
                guard state.logEnd >= id.endOffset else { throw unrecoverable() }
                continue
            case .success(let snapshot):
                let end = snapshot.endOffset
                if state.base > end {
                    if !setAside.isEmpty { throw unrecoverable() }
                    throw StorageError(
                        .corruptLog,
                        "\(path) ends at offset \(end) but \(logPath) starts at \(state.base): the entries between "
                            + "are missing")
                }
                if let epoch = state.epoch(before: end), epoch != snapshot.lastEpoch {
                    throw StorageError(
                        .corruptLog,
                        "\(path) ends with an entry of epoch \(snapshot.lastEpoch) but \(logPath) holds epoch \(epoch) "
                            + "at offset \(end - 1): the snapshot contradicts the log")
                }
                for (bad, error) in setAside { try setAsideCorrupt(bad, error) }
                return snapshot
            }
        }
        if !setAside.isEmpty {
            guard state.base == 0 else { throw unrecoverable() }
            for (bad, error) in setAside { try setAsideCorrupt(bad, error) }
        }
        return nil
    }

    private func setAsideCorrupt(_ id: RaftSnapshotId, _ error: StorageError) throws {
        let path = snapshotPath(id)
        logger.error(
            "metadata snapshot corrupt; using the older snapshot and the log, which hold everything it covered",
            metadata: ["tern_file": "\(path)", "tern_reason": "\(error.message)"])
        try DurableFile.rename(path, to: path + ".corrupt")
    }

    /// The entries from the snapshot's end (the log's base, after load's trim) on.
    private func readEntries(_ state: inout State) throws -> [RaftEntry] {
        guard let file = state.file, !state.positions.isEmpty else { return [] }
        let first = state.positions[0]
        let bytes = try file.read(count: Int(state.end - first), at: first)
        var entries: [RaftEntry] = []
        entries.reserveCapacity(state.positions.count)
        for position in state.positions {
            let at = Int(position - first)
            let length = Int(Self.uint32(bytes, at))
            entries.append(
                RaftEntry(
                    epoch: Self.int64(bytes, at + Self.headerSize),
                    data: Array(bytes[(at + Self.headerSize + 8)..<(at + Self.headerSize + length)])))
        }
        return entries
    }

    /// Big-endian reads at positions the caller has checked are within `bytes`.
    static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func int64(_ bytes: [UInt8], _ at: Int) -> Int64 {
        Int64(bitPattern: bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) })
    }

    static func logHeader(base: Int64, epoch: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: logHeaderSize)
        w.write(contentsOf: logMagic)
        w.write(base)
        w.write(epoch)
        w.write(CRC32C.checksum(w.bytes, range: 0..<24))
        return w.take()
    }

    /// Why the entry at `position` cannot be read, or nil when it is whole and valid.
    static func entryFault(_ bytes: [UInt8], at position: Int, after lastEpoch: Int64) -> String? {
        let left = bytes.count - position
        guard left >= headerSize + 8 else { return "\(left) bytes, less than an entry header" }
        var reader = ByteReader(bytes, range: position..<bytes.count)
        // Every read below is within the `left` bytes just checked.
        guard let length = try? Int(reader.readUInt32()), let crc = try? reader.readUInt32() else {
            return "unreadable header"
        }
        guard length >= 8, length - 8 <= RaftWireLimits.maxEntryBytes else { return "entry length \(length)" }
        guard length <= left - headerSize else { return "entry of \(length) bytes with \(left - headerSize) left" }
        let body = position + headerSize..<position + headerSize + length
        guard CRC32C.checksum(bytes, range: body) == crc else { return "CRC mismatch" }
        guard let epoch = try? reader.readInt64() else { return "unreadable epoch" }
        guard epoch >= 1, epoch <= RaftMessage.maxEpoch, epoch >= lastEpoch else {
            return "entry epoch \(epoch) after epoch \(lastEpoch)"
        }
        return nil
    }

    public func perform(_ writes: [RaftWrite]) throws {
        guard let last = writes.last else { return }
        try state.withLock { state in
            precondition(state.loaded, "QuorumLogStore.perform before load()")
            guard var file = state.file else { throw StorageError(.ioError, "\(logPath) is closed") }
            if last.epoch != state.epoch || last.votedFor != state.votedFor {
                try writeQuorumState(epoch: last.epoch, votedFor: last.votedFor)
                state.epoch = last.epoch
                state.votedFor = last.votedFor
            }
            var unsynced = false
            for write in writes {
                if let snapshot = write.snapshot {
                    // Every earlier write is durable before the snapshot (RaftWrite's order).
                    if unsynced { try file.sync() }
                    unsynced = false
                    try storeSnapshot(snapshot, &state)
                    file = state.file ?? file
                }
                guard write.fromOffset >= state.base, write.fromOffset <= state.logEnd else {
                    throw StorageError(
                        .ioError,
                        "write \(write.seq) from offset \(write.fromOffset) outside the log \(state.base)...\(state.logEnd)"
                    )
                }
                if write.fromOffset < state.logEnd {
                    let index = Int(write.fromOffset - state.base)
                    let cut = state.positions[index]
                    state.positions.removeSubrange(index...)
                    state.epochs.removeSubrange(index...)
                    state.end = cut
                    try file.truncate(to: cut)
                    // Made durable before anything is written past it: otherwise a crash could
                    // keep the old entries behind the new ones, which might then read as valid.
                    try file.sync()
                }
                guard !write.entries.isEmpty else { continue }
                var writer = ByteWriter(capacity: write.entries.reduce(0) { $0 + $1.data.count + 16 })
                for entry in write.entries {
                    state.positions.append(state.end + Int64(writer.count))
                    state.epochs.append(entry.epoch)
                    let start = writer.count
                    writer.write(UInt32(8 + entry.data.count))
                    writer.write(UInt32(0))
                    writer.write(entry.epoch)
                    writer.write(contentsOf: entry.data)
                    let crc = CRC32C.checksum(writer.bytes, range: start + Self.headerSize..<writer.count)
                    writer.patch(crc, at: start + 4)
                }
                try file.write(writer.bytes, at: state.end)
                state.end += Int64(writer.count)
                unsynced = true
            }
            if unsynced { try file.sync() }
        }
    }

    /// Makes `snapshot` durable; when the log ends at or before it, the log now starts empty at
    /// its end (RaftWrite's rule).
    private func storeSnapshot(_ snapshot: RaftSnapshot, _ state: inout State) throws {
        let end = snapshot.endOffset
        if state.logEnd > end, let epoch = state.epoch(before: end), epoch != snapshot.lastEpoch {
            // The core cuts a contradicting log before it installs a snapshot; a write that would
            // leave one after the snapshot must not reach the disk.
            throw StorageError(
                .ioError, "snapshot \(snapshot.id) contradicts \(logPath), which holds epoch \(epoch) at \(end - 1)")
        }
        try AtomicFile.write(snapshotPath(snapshot.id), bytes: QuorumSnapshotFile.encode(snapshot))
        state.snapshot = snapshot.id
        if state.logEnd <= end { try dropPrefix(&state, before: end, epoch: snapshot.lastEpoch) }
    }

    /// The snapshot covering offsets below `before` is durable: rewrites the log to start there
    /// (atomically) and deletes older snapshots. Ignored unless the store's snapshot covers it.
    public func dropLogPrefix(before: Int64) throws {
        try state.withLock { state in
            guard state.loaded, let snapshot = state.snapshot, before <= snapshot.endOffset else { return }
            if before > state.base {
                let epoch = state.epoch(before: before) ?? snapshot.lastEpoch
                try dropPrefix(&state, before: before, epoch: epoch)
            }
            // Also when the snapshot's write already started the log at it: the older snapshots
            // go once the log no longer continues them.
            try deleteSnapshots(olderThan: snapshot)
        }
    }

    /// Rewrites `raft.log` as the entries from `before` on (none when it ends before) under a
    /// header starting there: written to `raft.log.tmp`, fsynced, renamed, directory fsynced.
    private func dropPrefix(_ state: inout State, before: Int64, epoch: Int64) throws {
        guard let file = state.file else { throw StorageError(.ioError, "\(logPath) is closed") }
        var bytes = Self.logHeader(base: before, epoch: epoch)
        var positions: [Int64] = []
        var epochs: [Int64] = []
        if before < state.logEnd {
            let index = Int(before - state.base)
            let first = state.positions[index]
            let shift = first - Int64(Self.logHeaderSize)
            positions = state.positions[index...].map { $0 - shift }
            epochs = Array(state.epochs[index...])
            bytes += try file.read(count: Int(state.end - first), at: first)
        }
        try AtomicFile.write(logPath, bytes: bytes)
        file.close()
        state.file = try DurableFile.open(logPath, create: false)
        state.base = before
        state.baseEpoch = epoch
        state.positions = positions
        state.epochs = epochs
        state.end = Int64(bytes.count)
    }

    /// Deletes every snapshot file but `keep` (older ones: the log no longer continues them).
    private func deleteSnapshots(olderThan keep: RaftSnapshotId?) throws {
        for name in try DurableFile.list(directory) {
            guard let id = QuorumSnapshotFile.id(fromName: name), id != keep else { continue }
            if let keep, id.endOffset > keep.endOffset { continue }
            try AtomicFile.remove(directory + "/" + name)
        }
    }

    public func close() { state.withLock { $0.file?.close() } }

    // MARK: quorum-state

    private func writeQuorumState(epoch: Int64, votedFor: RaftNodeId?) throws {
        let text = """
            # Tern metadata quorum state (epoch and vote). Replaced atomically; do not edit.
            version=1
            epoch=\(epoch)
            voted_for=\(votedFor.map(String.init) ?? "none")

            """
        try AtomicFile.write(statePath, bytes: Array(text.utf8))
    }

    /// The durable epoch and vote; (0, nil) when the file does not exist yet.
    private func readQuorumState() throws -> (Int64, RaftNodeId?) {
        guard let bytes = try AtomicFile.readIfExists(statePath, limit: 4096) else { return (0, nil) }
        func fail(_ reason: String) -> StorageError {
            StorageError(.corruptLog, "\(statePath): \(reason); the node cannot know its epoch and vote")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("not UTF-8 text") }
        var values: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingPrefix(while: { $0 == " " })
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else { throw fail("line \(number + 1) is not key=value") }
            let key = String(line[..<eq])
            guard ["version", "epoch", "voted_for"].contains(key) else {
                throw fail("line \(number + 1): unknown key \(key)")
            }
            guard values[key] == nil else { throw fail("line \(number + 1): \(key) given twice") }
            values[key] = String(line[line.index(after: eq)...])
        }
        guard values["version"] == "1" else { throw fail("version \(values["version"] ?? "missing"), expected 1") }
        guard let epoch = values["epoch"].flatMap({ Int64($0) }), epoch >= 0, epoch <= RaftMessage.maxEpoch else {
            throw fail("epoch \(values["epoch"] ?? "missing") is not a number in 0…\(RaftMessage.maxEpoch)")
        }
        switch values["voted_for"] {
        case "none"?: return (epoch, nil)
        case let raw?:
            guard let id = RaftNodeId(raw), id >= 0 else { throw fail("voted_for \(raw) is not a node id") }
            return (epoch, id)
        case nil: throw fail("voted_for missing")
        }
    }
}
