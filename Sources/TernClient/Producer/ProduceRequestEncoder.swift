import TernWire

/// Encodes a Produce request frame as chunks, so the batches' bytes are handed to the socket's
/// `writev` as they are instead of being copied into one buffer. The chunks concatenated are
/// byte for byte what `Frame.request(ProduceRequest(...))` would build.
enum ProduceRequestEncoder {
    /// The frame chunks (size prefix included) of a produce request carrying `partitions`, each
    /// with one or more closed batches that travel back to back in its `records` field.
    static func encode(
        correlationId: UInt32, clientId: String, acks: Int16, timeoutMs: Int32,
        partitions: [(TopicPartition, [ProducerBatch])]
    ) -> [[UInt8]] {
        let byTopic = TopicPartitions<(Int32, [ProducerBatch])>.grouped(
            partitions.lazy.map { tp, batches in (tp.topic, (tp.partition, batches)) })

        // v0 unless a conditional batch goes along (v1 adds the condition fields per partition).
        let version = version(of: partitions)
        var chunks: [[UInt8]] = []
        var writer = ByteWriter(capacity: 128)
        writer.write(UInt32(0))  // size, patched below
        RequestHeader(
            apiKey: ProduceRequest.apiKey, apiVersion: version, correlationId: correlationId, clientId: clientId
        ).encode(into: &writer)
        writer.write(acks)
        writer.write(timeoutMs)
        writer.write(UInt32(byTopic.count))
        for topic in byTopic {
            writer.writeString(topic.name)
            writer.write(UInt32(topic.partitions.count))
            for (partition, batches) in topic.partitions {
                writer.write(partition)
                var length = 0
                for batch in batches { length += batch.encoded?.count ?? 0 }
                writer.write(Int32(length))
                chunks.append(writer.take())
                for batch in batches {
                    precondition(!batch.isOpen, "only closed batches are sent")
                    if let bytes = batch.encoded { chunks.append(bytes) }
                }
                if version >= 1 {
                    // A conditional batch travels alone in its partition (the accumulator sends it so).
                    precondition(
                        batches.count == 1 || !batches.contains { $0.condition != nil }, "a conditional batch goes alone")
                    let conditional = batches.count == 1 ? batches[0] : nil
                    ProduceRequest.writeCondition(
                        &writer, conditional?.condition, appendId: conditional?.condition == nil ? nil : conditional?.appendId)
                }
            }
        }
        if writer.count > 0 { chunks.append(writer.take()) }
        let total = chunks.reduce(0) { $0 + $1.count }
        chunks[0].withUnsafeMutableBytes { BigEndian.store(UInt32(total - Frame.prefixSize), at: 0, in: $0) }
        return chunks
    }

    /// The Produce version a request carrying `partitions` is encoded at (its response too).
    static func version(of partitions: [(TopicPartition, [ProducerBatch])]) -> UInt16 {
        partitions.contains { $0.1.contains { $0.condition != nil } } ? 1 : 0
    }
}
