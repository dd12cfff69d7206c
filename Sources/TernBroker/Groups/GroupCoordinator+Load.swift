import Logging
import TernStorage
import TernWire

extension GroupCoordinator {
    /// Rebuilds every group from the `__consumer_offsets` partitions in `logs`, serving them at
    /// once (tests; the broker loads each partition as it comes to lead it: ``follow(_:logs:)``).
    func load(from logs: [PartitionLog]) {
        let settings = read { $0.settings }
        for log in logs {
            let partition = log.topicPartition.partition
            let loaded = Self.readGroups(from: log, upTo: log.logEndOffset, settings: settings, logger: logger)
            withState { $0.install(loaded.groups, partition: partition) }
            if loaded.records > 0 {
                logger.info(
                    "consumer groups loaded",
                    metadata: [
                        "tern_partition": "\(partition)", "groups": "\(loaded.groups.count)",
                        "records": "\(loaded.records)",
                    ])
            }
        }
    }

    /// The groups one `__consumer_offsets` partition's log holds, replayed from its start up to
    /// `end` (exclusive: its end as of the call, or a replicated partition's high watermark). Each batch is one group change, so replaying whole batches replays
    /// whole changes. A batch that cannot be read ends the replay there (logged): what comes
    /// before it is kept, as recovery keeps a log up to its first bad batch.
    static func readGroups(
        from log: PartitionLog, upTo end: Int64, settings: GroupCoordinatorState.Settings, logger: Logger
    ) -> (
        groups: [String: ConsumerGroup], records: Int
    ) {
        // A scratch machine serving every partition: only `replay` is used.
        var scratch = GroupCoordinatorState(settings: settings, newMemberId: { "" })
        scratch.settings.ledPartitions = nil
        let now = monotonicMs()
        var applied = 0
        var offset = log.logStartOffset
        while offset < end {
            let bytes: [UInt8]
            do {
                bytes = try log.read(from: offset, maxBytes: 1 << 20, maxOffset: end).readBytes()
            } catch {
                logger.error(
                    "cannot read __consumer_offsets",
                    metadata: ["tern_partition": "\(log.topicPartition.partition)", "error": "\(error)"])
                break
            }
            var records: [Record] = []
            var next = offset
            do {
                try RecordBatchDecoder.decode(bytes, minOffset: offset, into: &records)
                var position = 0
                while let header = RecordBatchHeader(bytes, at: position), position + header.totalSize <= bytes.count {
                    next = max(next, header.lastOffset + 1)
                    position += header.totalSize
                }
            } catch {
                logger.error(
                    "corrupt batch in __consumer_offsets",
                    metadata: ["tern_partition": "\(log.topicPartition.partition)", "error": "\(error)"])
                break
            }
            guard next > offset else { break }
            for record in records {
                guard let key = record.key else { continue }
                do {
                    scratch.replay(try GroupRecord.decode(key: key, value: record.value, nowMs: now))
                    applied += 1
                } catch {
                    logger.warning(
                        "skipping an unreadable __consumer_offsets record",
                        metadata: ["offset": "\(record.offset)", "error": "\(error)"])
                }
            }
            offset = next
        }
        return (scratch.groups, applied)
    }
}
