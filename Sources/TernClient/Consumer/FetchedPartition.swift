import TernWire

/// One partition of a fetch response, decoded for the application.
enum FetchedPartition: Sendable {
    /// Records at or after the fetch offset (possibly none), where the next fetch starts, and the
    /// leader epoch of the last complete batch (nil when there was none).
    case records([ConsumerRecord], nextOffset: Int64, bytes: Int, lastEpoch: Int32? = nil)
    /// The leader's log diverges from what this consumer fetched (KIP-595: its last fetched epoch
    /// ends at `endOffset` there, or is not in its log): no records.
    case diverged(epoch: Int32, endOffset: Int64)
    /// The fetch offset is outside the log.
    case offsetOutOfRange(TernError)
    /// An error that may go away after a metadata refresh (leadership moved).
    case retriable(TernError)
    /// An error the application must see.
    case failed(TernError)

    /// Decodes the complete batches of `partition`, skipping records below `fetchOffset` and a
    /// partial batch at the end; the next offset is one past the last complete batch.
    static func decode(
        _ partition: FetchResponse.Partition, topic: String, fetchOffset: Int64, peer: String
    ) -> FetchedPartition {
        let tp = TopicPartition(topic: topic, partition: partition.partition)
        guard partition.errorCode == .none else {
            var context = "fetch \(tp) at offset \(fetchOffset) from \(peer)"
            if partition.errorCode == .offsetOutOfRange, partition.logStartOffset >= 0 || partition.highWatermark >= 0 {
                context += " (log start \(partition.logStartOffset), high watermark \(partition.highWatermark))"
            }
            let error = TernError.broker(partition.errorCode, partition.errorMessage, context: context)
            if partition.errorCode == .offsetOutOfRange { return .offsetOutOfRange(error) }
            return partition.errorCode.isRetriable ? .retriable(error) : .failed(error)
        }
        if partition.divergingEpoch >= 0 || partition.divergingEndOffset >= 0 {
            return .diverged(epoch: partition.divergingEpoch, endOffset: partition.divergingEndOffset)
        }
        var records: [ConsumerRecord] = []
        let consumed: Int
        do {
            let number = partition.partition
            consumed = try RecordBatchDecoder.forEachRecord(in: partition.records, minOffset: fetchOffset) { storage, r in
                records.append(
                    ConsumerRecord(
                        topic: topic, partition: number, offset: r.offset, timestamp: r.timestamp,
                        key: r.key.map { storage[$0] }, value: r.value.map { storage[$0] }, headers: r.headers))
            }
        } catch {
            return .failed(TernError(.protocolError, "fetch \(tp) at offset \(fetchOffset) from \(peer): \(error)"))
        }
        var nextOffset = fetchOffset
        var lastEpoch: Int32?
        partition.records.withUnsafeBytes { raw in
            var position = 0
            while position < consumed, let header = RecordBatchHeader(raw, at: position) {
                nextOffset = max(nextOffset, header.lastOffset + 1)
                if header.partitionLeaderEpoch >= 0 { lastEpoch = header.partitionLeaderEpoch }
                position += header.totalSize
            }
        }
        return .records(records, nextOffset: nextOffset, bytes: consumed, lastEpoch: lastEpoch)
    }
}
