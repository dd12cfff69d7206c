import Dispatch
import Logging
import Synchronization
import TernStorage

/// Every `log.retention.check.interval.ms`, deletes whole segments past `retention.ms` or
/// `retention.bytes` from the partitions of topics whose `cleanup.policy` includes `delete`, and
/// checkpoints the new log start offsets.
final class RetentionService: Sendable {
    private let queue = DispatchQueue(label: "tern.retention", target: .global())
    private let stopped = Atomic<Bool>(false)
    private let intervalMs: Int
    private let logger: Logger

    init(intervalMs: Int64, logger: Logger) {
        self.intervalMs = Int(clamping: intervalMs)
        self.logger = logger
    }

    func start(_ broker: Broker) {
        schedule(broker)
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        queue.sync {}  // wait for a pass in progress
    }

    private func schedule(_ broker: Broker) {
        queue.asyncAfter(deadline: .now() + .milliseconds(intervalMs)) { [weak broker, self] in
            guard let broker, !stopped.load(ordering: .relaxed) else { return }
            runOnce(broker)
            schedule(broker)
        }
    }

    /// One pass over every topic (retention, and the expiry of idle idempotent producers);
    /// returns the number of segments deleted.
    @discardableResult
    func runOnce(_ broker: Broker) -> Int {
        var deleted = 0
        let now = Broker.wallClockMilliseconds()
        let producerExpirationMs = Int64(broker.config["producer.id.expiration.ms"] ?? "") ?? 86_400_000
        for topic in broker.topics.all {
            // Idle idempotent producers are forgotten whatever the cleanup policy.
            for partition in 0..<topic.partitionCount {
                broker.logManager.log(for: TopicPartition(topic.name, partition))?.expireProducers(
                    nowMs: now, expirationMs: producerExpirationMs)
            }
            let effective = Dictionary(
                uniqueKeysWithValues: broker.resolver.effective(topic.configs).map { ($0.name, $0.value) })
            guard (effective["cleanup.policy"] ?? "delete").split(separator: ",").contains("delete") else { continue }
            let retentionMs = Int64(effective["retention.ms"] ?? "") ?? -1
            let retentionBytes = Int64(effective["retention.bytes"] ?? "") ?? -1
            if retentionMs < 0 && retentionBytes < 0 { continue }
            for partition in topic.localPartitions {
                let tp = TopicPartition(topic.name, partition)
                guard let log = broker.logManager.log(for: tp) else { continue }
                // A replicated partition keeps what is not committed yet (Kafka's rule).
                let replica = broker.replication.hosted(tp)
                do {
                    let result = try log.applyRetention(
                        retentionMs: retentionMs, retentionBytes: retentionBytes, nowMs: now,
                        upTo: replica?.highWatermark ?? .max)
                    deleted += result.deletedSegments
                    if result.deletedSegments > 0, let replica {
                        replica.state.withLock {
                            _ = $0.step(.logStartAdvanced(to: result.logStartOffset), now: replicationNow())
                        }
                    }
                } catch {
                    logger.error(
                        "retention failed",
                        metadata: ["tern_topic": "\(topic.name)", "tern_partition": "\(partition)", "error": "\(error)"])
                }
            }
        }
        if deleted > 0 {
            do {
                try broker.logManager.writeCheckpoints()
            } catch {
                logger.error("cannot checkpoint log start offsets", metadata: ["error": "\(error)"])
            }
        }
        return deleted
    }
}
