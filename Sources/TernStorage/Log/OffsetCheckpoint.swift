/// A per-directory checkpoint file of `topic partition offset` lines (Kafka's format: a version
/// line, a count line, then one entry per line), replaced atomically.
enum OffsetCheckpoint {
    static func write(_ path: String, _ offsets: [TopicPartition: Int64]) throws {
        var text = "0\n\(offsets.count)\n"
        for (tp, offset) in offsets.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            text += "\(tp.topic) \(tp.partition) \(offset)\n"
        }
        try AtomicFile.write(path, bytes: Array(text.utf8))
    }

    /// Reads a checkpoint; a missing file is empty, a malformed one is an error naming the line.
    static func read(_ path: String) throws -> [TopicPartition: Int64] {
        guard let bytes = try AtomicFile.readIfExists(path) else { return [:] }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StorageError(.corruptLog, "\(path) is not UTF-8")
        }
        let lines = text.split(separator: "\n")
        guard lines.count >= 2, lines[0] == "0", let count = Int(lines[1]), count == lines.count - 2 else {
            throw StorageError(.corruptLog, "\(path): bad header")
        }
        var result: [TopicPartition: Int64] = [:]
        for (number, line) in lines.dropFirst(2).enumerated() {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let partition = Int32(fields[1]), let offset = Int64(fields[2]) else {
                throw StorageError(.corruptLog, "\(path):\(number + 3): expected 'topic partition offset'")
            }
            result[TopicPartition(String(fields[0]), partition)] = offset
        }
        return result
    }
}
