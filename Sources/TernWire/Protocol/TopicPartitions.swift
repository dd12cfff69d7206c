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

extension TopicPartitions {
    /// Groups `(topic, partition)` entries by topic, keeping the order in which topics first
    /// appear and the order of each topic's partitions (request order matters: the first
    /// partition of a fetch always gets data).
    public static func grouped(_ entries: some Sequence<(topic: String, partition: Partition)>) -> [Self] {
        var topics: [Self] = []
        var index: [String: Int] = [:]
        for (topic, partition) in entries {
            if let position = index[topic] {
                topics[position].partitions.append(partition)
            } else {
                index[topic] = topics.count
                topics.append(Self(name: topic, partitions: [partition]))
            }
        }
        return topics
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
