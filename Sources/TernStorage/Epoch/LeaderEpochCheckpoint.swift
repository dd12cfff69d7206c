/// A partition's `leader-epoch-checkpoint` file, in Kafka's text format: a version line (`0`), a
/// count line, then one `epoch startOffset` line per entry, oldest first. Replaced crash-safely
/// (``AtomicFile``: write `.tmp`, fsync, rename, fsync the directory).
enum LeaderEpochCheckpoint {
    static let fileName = "leader-epoch-checkpoint"
    static let version = 0
    /// Far more than any real history (an epoch per election); bounds what a damaged file costs.
    static let maxBytes: Int64 = 4 << 20

    static func path(in directory: String) -> String { directory + "/" + fileName }

    /// The file's text for `entries`.
    static func serialize(_ entries: [EpochEntry]) -> [UInt8] {
        var text = "\(version)\n\(entries.count)\n"
        for entry in entries { text += "\(entry.epoch) \(entry.startOffset)\n" }
        return Array(text.utf8)
    }

    /// Replaces the checkpoint in `directory` with `entries`, durably.
    /// - Throws: `ioError` naming the file.
    static func write(_ entries: [EpochEntry], directory: String) throws {
        try AtomicFile.write(path(in: directory), bytes: serialize(entries))
    }

    /// The entries of the checkpoint in `directory`; nil when there is none.
    /// - Throws: `corruptLog` naming the file and line when it is malformed (epochs or offsets
    ///   negative or not increasing count as malformed); `ioError` when it cannot be read.
    static func read(directory: String) throws -> [EpochEntry]? {
        let path = path(in: directory)
        guard let bytes = try AtomicFile.readIfExists(path, limit: maxBytes) else { return nil }
        return try parse(bytes, path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> [EpochEntry] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StorageError(.corruptLog, "\(path) is not UTF-8 text")
        }
        guard text.hasSuffix("\n") else { throw StorageError(.corruptLog, "\(path) does not end with a newline") }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.count >= 2, Int(lines[lines.startIndex]) == version else {
            throw StorageError(.corruptLog, "\(path): line 1 should be the version \(version)")
        }
        let declared = lines[lines.startIndex + 1]
        guard let count = Int(declared), count == lines.count - 2 else {
            throw StorageError(.corruptLog, "\(path): line 2 says \(declared) entries but \(lines.count - 2) follow")
        }
        var entries: [EpochEntry] = []
        entries.reserveCapacity(count)
        for (number, line) in lines.dropFirst(2).enumerated() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, let epoch = Int32(fields[0]), epoch >= 0, let start = Int64(fields[1]), start >= 0
            else {
                throw StorageError(.corruptLog, "\(path):\(number + 3): expected 'epoch startOffset'")
            }
            if let last = entries.last, epoch <= last.epoch || start <= last.startOffset {
                throw StorageError(
                    .corruptLog,
                    "\(path):\(number + 3): \(epoch)@\(start) does not follow \(last.epoch)@\(last.startOffset)")
            }
            entries.append(EpochEntry(epoch: epoch, startOffset: start))
        }
        return entries
    }
}
