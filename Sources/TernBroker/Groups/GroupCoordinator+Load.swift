import Logging
import TernStorage
import TernWire

extension GroupCoordinator {
    /// Rebuilds every group from the `__consumer_offsets` partitions in `logs` (at start-up,
    /// before any request). Each batch is one group change, so replaying whole batches replays
    /// whole changes.
    func load(from logs: [PartitionLog]) {
        let now = Self.monotonicMs()
        var applied = 0
        for log in logs {
            var offset = log.logStartOffset
            let end = log.logEndOffset
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
                    while let header = RecordBatchHeader(bytes, at: position),
                        position + header.totalSize <= bytes.count
                    {
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
                let logger = self.logger
                applied += withState { state in
                    var count = 0
                    for record in records {
                        guard let key = record.key else { continue }
                        do {
                            state.replay(try GroupRecord.decode(key: key, value: record.value, nowMs: now))
                            count += 1
                        } catch {
                            logger.warning(
                                "skipping an unreadable __consumer_offsets record",
                                metadata: ["offset": "\(record.offset)", "error": "\(error)"])
                        }
                    }
                    return count
                }
                offset = next
            }
        }
        let groups = read { $0.groups.count }
        if applied > 0 {
            logger.info("consumer groups loaded", metadata: ["groups": "\(groups)", "records": "\(applied)"])
        }
    }
}
