import Logging
import Synchronization

extension LogManager {
    /// Kafka's name for the per-directory checkpoint of replicated partitions' high watermarks.
    public static let replicationCheckpoint = "replication-offset-checkpoint"

    /// Writes each log directory's `replication-offset-checkpoint` (crash-safe replacement) with
    /// the high watermarks of the partitions it holds; partitions not in `highWatermarks` are
    /// left out.
    public func writeHighWatermarks(_ highWatermarks: [TopicPartition: Int64]) throws {
        let dirs = registry.state.withLock { $0.dirs }
        var byDir: [String: [TopicPartition: Int64]] = [:]
        for (tp, hw) in highWatermarks {
            guard let dir = dirs[tp] else { continue }
            byDir[dir, default: [:]][tp] = hw
        }
        for dir in logDirs {
            try OffsetCheckpoint.write(dir + "/" + Self.replicationCheckpoint, byDir[dir] ?? [:])
        }
    }

    /// The high watermarks checkpointed in every log directory (a missing or unreadable file
    /// counts as empty: the replicas then learn the high watermark from their leader).
    public func readHighWatermarks() -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for dir in logDirs {
            let path = dir + "/" + Self.replicationCheckpoint
            do {
                for (tp, hw) in try OffsetCheckpoint.read(path) { result[tp] = hw }
            } catch {
                logger.warning(
                    "ignoring an unreadable high-watermark checkpoint",
                    metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        return result
    }
}
