import Logging
import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// Creates one of the broker's internal topics (`__consumer_offsets`), blocking until its
    /// logs exist; returns nil when it already exists. See ``createTopic(name:partitions:configs:by:)``.
    func createTopic(name: String, partitions: Int32, configs: [String: String]) throws -> TopicInfo? {
        try createTopic(name: name, partitions: partitions, configs: configs, by: .broker)
    }

    /// Creates a topic atomically: it is recorded (and so visible to Metadata, Produce and
    /// Fetch) only once every partition log exists on disk; on any failure what was made is
    /// removed and nothing is recorded. A crash midway leaves partition directories no topic
    /// records, which the next start-up removes. Returns nil when the topic already exists.
    ///
    /// Every creation path goes through here and through the same checks: the name and
    /// partition count (``TopicInfo/validateNew(name:partitions:by:)``), then the broker's
    /// budget (``checkPartitionBudget(name:partitions:)``), before anything touches the disk.
    ///
    /// Blocks on disk work (a directory, a segment and an fsync per partition): call it off the
    /// network queues. It holds `adminLock`, which produce and fetch never take; the log
    /// registry and the topic store are locked only to publish.
    /// - Throws: ``TopicAdminError`` when refused; a storage error when the logs or the topic
    ///   metadata cannot be written (nothing is then left behind).
    func createTopic(
        name: String, partitions: Int32, configs: [String: String], by creator: TopicCreator
    ) throws -> TopicInfo? {
        if let refused = TopicInfo.validateNew(name: name, partitions: partitions, by: creator) { throw refused }
        return try adminLock.withLock { _ -> TopicInfo? in
            guard topics.topic(name) == nil else { return nil }
            if let refused = checkPartitionBudget(name: name, partitions: partitions) { throw refused }
            let info = TopicInfo(
                name: name, id: Self.newTopicId(), partitionCount: partitions, replicationFactor: 1, configs: configs)
            let tps = (0..<partitions).map { TopicPartition(name, $0) }
            do {
                let prepared = try logManager.prepareLogs(
                    tps, config: resolver.logConfig(configs), shouldContinue: { !self.isStopping })
                try logManager.publish(prepared)
                do {
                    guard try topics.create(info) else {
                        // Unreachable under `adminLock`; undo rather than trust it.
                        try logManager.deleteLogs(tps)
                        return nil
                    }
                } catch {
                    try? logManager.deleteLogs(tps)
                    throw error
                }
            } catch {
                logger.error(
                    "topic creation failed; nothing of it is kept",
                    metadata: ["tern_topic": "\(name)", "partitions": "\(partitions)", "error": "\(error)"])
                throw error
            }
            logger.info("created topic", metadata: ["tern_topic": "\(name)", "partitions": "\(partitions)"])
            return info
        }
    }

    /// Deletes a topic: forgets it first (from then on Metadata, Produce and Fetch no longer see
    /// it), then removes its logs. A crash or stop midway leaves directories no topic records,
    /// which the next start-up removes. Blocks on disk work: call it off the network queues.
    /// - Throws: ``TopicAdminError`` when the topic does not exist or is internal; a storage
    ///   error when the metadata cannot be written (the topic is then kept). Logs that cannot be
    ///   removed are logged and left to the next start-up: the topic is gone either way.
    func deleteTopic(_ name: String) throws {
        try adminLock.withLock { _ in
            guard let info = topics.topic(name) else {
                throw TopicAdminError(.unknownTopicOrPartition, "topic '\(name)' does not exist")
            }
            guard !info.isInternal else {
                throw TopicAdminError(.invalidTopic, "internal topic '\(name)' cannot be deleted")
            }
            _ = try topics.delete(name)
            topicMetrics.forget(name)
            logger.info("deleted topic", metadata: ["tern_topic": "\(name)", "partitions": "\(info.partitionCount)"])
            do {
                try logManager.deleteLogs(
                    (0..<info.partitionCount).map { TopicPartition(name, $0) }, shouldContinue: { !self.isStopping })
            } catch {
                // The topic is gone either way: what is left on disk no topic records, and the
                // next start-up removes it.
                logger.warning(
                    "deleted topic left directories behind", metadata: ["tern_topic": "\(name)", "error": "\(error)"])
            }
        }
    }
}
