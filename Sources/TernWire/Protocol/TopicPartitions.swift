/// A topic name with per-partition entries: the shape every partitioned request and response of
/// the protocol shares (`Produce`, `Fetch`, `ListOffsets`, …), each with its own `Partition`.
public struct TopicPartitions<Partition: Sendable>: Sendable {
    public var name: String
    public var partitions: [Partition]

    public init(name: String, partitions: [Partition]) {
        self.name = name
        self.partitions = partitions
    }
}

extension TopicPartitions: Equatable where Partition: Equatable {}
extension TopicPartitions: Hashable where Partition: Hashable {}

extension ByteReader {
    /// Reads `[name str16, [partition]]`, each partition decoded by `partition`.
    public mutating func readTopics<P>(
        minPartitionSize: Int, _ partition: (inout ByteReader) throws -> P
    ) throws -> [TopicPartitions<P>] {
        try readArray("topics", minElementSize: 6) { r in
            TopicPartitions(
                name: try r.readString("topic"),
                partitions: try r.readArray("partitions", minElementSize: minPartitionSize, partition))
        }
    }
}

extension ByteWriter {
    /// Writes `[name str16, [partition]]`, each partition encoded by `partition`.
    public mutating func writeTopics<P>(_ topics: [TopicPartitions<P>], _ partition: (inout ByteWriter, P) -> Void) {
        writeArray(topics) { w, t in
            w.writeString(t.name)
            w.writeArray(t.partitions, partition)
        }
    }
}
