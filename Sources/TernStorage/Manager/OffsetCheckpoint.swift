/// A per-directory checkpoint file in Kafka's text format: a version line (`0`), a count line,
/// then one `topic partition offset` line per partition. Replaced crash-safely (write-new, fsync,
/// rename, fsync the directory).
enum OffsetCheckpoint {
    static let version = 0

    /// The file's text for `offsets`, sorted by topic and partition.
    static func serialize(_ offsets: [TopicPartition: Int64]) -> String {
        var text = "\(version)\n\(offsets.count)\n"
        for (tp, offset) in offsets.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) })
        {
            text += "\(tp.topic) \(tp.partition) \(offset)\n"
        }
        return text
    }

    static func write(_ path: String, _ offsets: [TopicPartition: Int64]) throws {
        try AtomicFile.write(path, bytes: Array(serialize(offsets).utf8))
    }

    /// Reads a checkpoint; a missing file is empty.
    /// - Throws: `corruptLog` naming the file and line when it is malformed.
    static func read(_ path: String) throws -> [TopicPartition: Int64] {
        guard let bytes = try AtomicFile.readIfExists(path, limit: 16 << 20) else { return [:] }
        return try parse(bytes, path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> [TopicPartition: Int64] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StorageError(.corruptLog, "checkpoint \(path) is not UTF-8 text")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0)
        guard lines.count >= 2, Int(lines[0]) == version else {
            throw StorageError(.corruptLog, "checkpoint \(path): line 1 should be the version \(version)")
        }
        guard let count = Int(lines[1]), count == lines.count - 2 else {
            throw StorageError(
                .corruptLog, "checkpoint \(path): line 2 says \(lines[1]) entries but \(lines.count - 2) follow")
        }
        var result: [TopicPartition: Int64] = [:]
        for (number, line) in lines.dropFirst(2).enumerated() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[0].isEmpty, let partition = Int32(fields[1]), partition >= 0,
                let offset = Int64(fields[2]), offset >= 0
            else {
                throw StorageError(.corruptLog, "checkpoint \(path):\(number + 3): expected 'topic partition offset'")
            }
            result[TopicPartition(String(fields[0]), partition)] = offset
        }
        return result
    }
}
