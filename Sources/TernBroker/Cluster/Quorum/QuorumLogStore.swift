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
/// - `raft.log`: the entries, each `length u32 | crc u32 | epoch i64 | payload`, where `length`
///   counts the epoch and payload and `crc` is their CRC-32C. Appended, cut back on divergence,
///   fdatasynced once per group of writes. On load, a torn or corrupt tail (short entry, bad
///   length or CRC, epochs going backwards) is cut with a log line: those entries were never
///   acknowledged as durable, or the disk lost them; either way the leader sends them again.
///
/// Write order within a group: the quorum state first, then the log, then one sync: an entry
/// of epoch E is never durable before the epoch is (a node restarting with a log ahead of its
/// epoch would send votes the core refuses as malformed).
public final class QuorumLogStore: RaftDurableStore {
    /// The directory's name under a log directory.
    public static let directoryName = "__cluster_metadata-0"
    static let stateFileName = "quorum-state"
    static let logFileName = "raft.log"
    /// Entry header: length u32 and crc u32.
    static let headerSize = 8
    /// The largest log ``load()`` reads.
    static let maxLoadBytes: Int64 = 1 << 31

    private struct State {
        var epoch: Int64 = 0
        var votedFor: RaftNodeId?
        /// Byte position where each entry starts, and where the log ends.
        var positions: [Int64] = []
        var end: Int64 = 0
        var lastEpoch: Int64 = 0
        var loaded = false
    }

    /// The directory holding the files.
    public let directory: String
    private let file: DurableFile
    private let logger: Logger
    private let state = Mutex(State())

    /// Opens (creating when missing) the quorum directory under `logDir`.
    /// - Throws: ``StorageError`` naming the directory or file.
    public init(logDir: String, logger: Logger) throws {
        directory = logDir + "/" + Self.directoryName
        try DurableFile.makeDirectories(directory)
        file = try DurableFile.open(directory + "/" + Self.logFileName, create: true)
        self.logger = logger
    }

    var statePath: String { directory + "/" + Self.stateFileName }

    public func load() throws -> RaftPersistentState {
        try state.withLock { state in
            precondition(!state.loaded, "QuorumLogStore.load() called twice")
            let (epoch, votedFor) = try readQuorumState()
            let size = try file.size()
            // The whole log is held in memory by the node anyway; refuse rather than fail to
            // allocate (snapshots will keep it far smaller).
            guard size <= Self.maxLoadBytes else {
                throw StorageError(
                    .corruptLog, "\(file.path) is \(size) bytes, more than the \(Self.maxLoadBytes) a node loads")
            }
            let bytes = try file.read(count: Int(size), at: 0)
            var entries: [RaftEntry] = []
            var positions: [Int64] = []
            var position = 0
            var lastEpoch: Int64 = 0
            var problem: String?
            while position < bytes.count {
                if let fault = Self.entryFault(bytes, at: position, after: lastEpoch) {
                    problem = fault
                    break
                }
                var reader = ByteReader(bytes, range: position..<bytes.count)
                let length = Int(try reader.readUInt32())
                _ = try reader.readUInt32()
                let entryEpoch = try reader.readInt64()
                let data = try reader.readBytes(count: length - 8)
                positions.append(Int64(position))
                entries.append(RaftEntry(epoch: entryEpoch, data: data))
                lastEpoch = entryEpoch
                position += Self.headerSize + length
            }
            if let problem {
                logger.warning(
                    "metadata log: cutting a torn or corrupt tail",
                    metadata: [
                        "tern_file": "\(file.path)", "tern_position": "\(position)",
                        "tern_entries_kept": "\(entries.count)", "tern_bytes_dropped": "\(bytes.count - position)",
                        "tern_reason": "\(problem)",
                    ])
                try file.truncate(to: Int64(position))
                try file.sync()
            }
            if lastEpoch > epoch {
                throw StorageError(
                    .corruptLog,
                    "\(statePath) holds epoch \(epoch) but \(file.path) has entries of epoch \(lastEpoch): "
                        + "the quorum state is missing or older than the log")
            }
            state.epoch = epoch
            state.votedFor = votedFor
            state.positions = positions
            state.end = Int64(position)
            state.lastEpoch = lastEpoch
            state.loaded = true
            return RaftPersistentState(epoch: epoch, votedFor: votedFor, entries: entries)
        }
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
            if last.epoch != state.epoch || last.votedFor != state.votedFor {
                try writeQuorumState(epoch: last.epoch, votedFor: last.votedFor)
                state.epoch = last.epoch
                state.votedFor = last.votedFor
            }
            var appended = false
            for write in writes {
                precondition(
                    write.fromOffset >= 0 && write.fromOffset <= Int64(state.positions.count),
                    "write \(write.seq) from offset \(write.fromOffset) past the log end \(state.positions.count)")
                if write.fromOffset < Int64(state.positions.count) {
                    let cut = state.positions[Int(write.fromOffset)]
                    state.positions.removeSubrange(Int(write.fromOffset)...)
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
                appended = true
            }
            if appended { try file.sync() }
        }
    }

    public func close() { file.close() }

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
